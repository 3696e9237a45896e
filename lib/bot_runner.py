"""The bot runner: every active bot of the instance in one asyncio process (docs/bots.md).

Its configuration is one JSON document: the homeserver, the server name, the family's admins, the
registration secret, the signed API's address and key, and one entry per bot of
`.stack/bots.json` with its password and state folder. `stack bots run` hands it over on stdin;
core's `bot-runner` container runs `bot_runner.py --config FILE` with the file the runtime writes
(`.stack/bot-runner/config.json`, mounted read-only). With `--config` the runner watches the file
and starts over — a fresh process, so changed bot modules load too — when the runtime rewrites
it (a stacklet with a bot came up or went away); while the file is missing it runs no bot.

Each bot's account is registered through Synapse's shared-secret registration (idempotent), then
the bot runs; a bot that crashes is logged and restarted with backoff and never takes the others
down.
"""

import asyncio
import hashlib
import importlib.util
import json
import logging
import os
import sys

# How often the configuration file is looked at (seconds).
WATCH_INTERVAL = 2

import microbot

log = logging.getLogger("bot-runner")


def load_class(entry):
    spec = importlib.util.spec_from_file_location(entry["module_name"], entry["module"])
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, entry["dir"])
    spec.loader.exec_module(module)
    return getattr(module, entry["class"])


def make(config, entry):
    cls = load_class(entry)
    settings = dict(entry.get("settings") or {})
    settings.setdefault("api", config.get("api"))
    return cls(
        bot_id=entry["id"],
        name=entry["name"],
        homeserver=config["homeserver"],
        server_name=config["server_name"],
        password=entry["password"],
        state_dir=entry["state_dir"],
        room=entry.get("room"),
        room_topic=entry.get("room_topic"),
        admins=config.get("admins", []),
        **settings,
    )


async def supervise(config, entry):
    """Run one bot forever: register its account, run it, restart it with backoff on a crash."""
    delay = 1
    while True:
        try:
            created = await asyncio.to_thread(
                microbot.register, config["homeserver"], config["registration_secret"],
                entry["id"], entry["password"], entry["name"])
            log.info("%s: account %s", entry["id"], "created" if created else "exists")
            bot = make(config, entry)
            log.info("%s: starting", entry["id"])
            await bot.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bot's crash is logged, the others go on
            log.exception("%s crashed; restarting in %ss", entry["id"], delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 60)


async def main(config):
    bots = config.get("bots", [])
    if not bots:
        log.info("no active bots")
        return
    await asyncio.gather(*(supervise(config, entry) for entry in bots))


def fingerprint(path):
    """The file's content hash, or None while it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


async def watched(path):
    """Run the bots of the configuration file until the file changes; then start over."""
    seen = fingerprint(path)
    bots = None
    if seen is None:
        log.warning("no configuration at %s (is `messages` set up? `stack up core` writes it); "
                    "waiting for it", path)
    else:
        try:
            with open(path) as f:
                bots = asyncio.ensure_future(main(json.load(f)))
        except (OSError, ValueError) as e:
            log.error("cannot read %s: %s; waiting for a new one", path, e)
    while fingerprint(path) == seen:
        await asyncio.sleep(WATCH_INTERVAL)
    log.info("%s changed; restarting with the new configuration", path)
    if bots is not None:
        bots.cancel()
    os.execv(sys.executable, [sys.executable, *sys.argv])


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    try:
        if sys.argv[1:2] == ["--config"] and len(sys.argv) == 3:
            asyncio.run(watched(sys.argv[2]))
        elif len(sys.argv) == 1:
            asyncio.run(main(json.load(sys.stdin)))
        else:
            sys.exit("usage: bot_runner.py [--config FILE]   (without it, the configuration on stdin)")
    except KeyboardInterrupt:
        pass
