"""The bot runner: every active bot of the instance in one asyncio process (docs/bots.md).

`stack bots run` starts it with a JSON config on stdin: the homeserver, the server name, the
family's admins, the registration secret, the signed API's address and key, and one entry per
bot of `.stack/bots.json` with its password and state folder. Each bot's account is registered
through Synapse's shared-secret registration (idempotent), then the bot runs; a bot that crashes
is logged and restarted with backoff and never takes the others down.
"""

import asyncio
import importlib.util
import json
import logging
import sys

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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    try:
        asyncio.run(main(json.load(sys.stdin)))
    except KeyboardInterrupt:
        pass
