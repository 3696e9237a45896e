"""stacker-bot: the family server from chat, in the server room (docs/bots.md).

`status`, `list` and `help` answer anyone; `up <id>`, `down <id>` and `restart <id>` change state
only for the family's admins (`role = "admin"` in users.toml) and everyone else gets a polite
no. Every call goes through the signed local API (`stack serve`) with the sender as its actor, so
the history says who asked. After a change the bot emits a `dev.famstack.stacklet` event for
other bots.
"""

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request

from microbot import MicroBot

HELP = (
    "I run the family server. Say:\n"
    "  status — what runs and how it is doing\n"
    "  list — every service and its address\n"
    "  up <id>, down <id>, restart <id> — start, stop or restart a service (admins only)\n"
    "  help — this text"
)
CHANGES = {"up": "running", "down": "stopped", "restart": "running"}


class StackerBot(MicroBot):
    def __init__(self, *, api=None, **kwargs):
        super().__init__(**kwargs)
        self.api = api or {}

    def _call(self, method, path, actor=None):
        """One signed API call (blocking; run in a thread). Returns (status, JSON answer)."""
        ts, nonce = str(int(time.time())), secrets.token_urlsafe(24)
        text = "\n".join([method, path, ts, nonce, hashlib.sha256(b"").hexdigest()])
        signature = hmac.new(self.api["key"].encode(), text.encode(), hashlib.sha256).hexdigest()
        headers = {"X-Stack-Timestamp": ts, "X-Stack-Nonce": nonce, "X-Stack-Signature": signature}
        if actor:
            headers["X-Stack-Actor"] = actor
        request = urllib.request.Request(self.api["url"] + path, data=b"" if method == "POST" else None,
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    async def call(self, method, path, actor=None):
        try:
            return await asyncio.to_thread(self._call, method, path, actor)
        except OSError as e:
            return None, {"error": f"the stack API does not answer ({e})"}

    async def names(self):
        status, stacklets = await self.call("GET", "/v1/stacklets")
        if status != 200:
            return {}
        return {s["id"]: s.get("name") or s["id"] for s in stacklets}

    async def on_message(self, room_id, sender, text, event):
        words = text.strip().split()
        if not words:
            return
        command, args = words[0].lower(), words[1:]
        if command == "help":
            await self.send(room_id, HELP)
        elif command in ("status", "list"):
            await self.send(room_id, await self.overview())
        elif command in CHANGES:
            await self.change(room_id, sender, command, args)

    async def overview(self):
        status, stacklets = await self.call("GET", "/v1/stacklets")
        if status != 200:
            return f"I cannot ask the server right now: {stacklets.get('error') if stacklets else status}"
        lines = []
        for s in stacklets:
            url = f" — {s['url']}" if s.get("url") and s.get("state") == "running" else ""
            lines.append(f"{s.get('name') or s['id']} ({s['id']}): {s.get('state')}{url}")
        return "\n".join(lines) or "No services yet."

    async def change(self, room_id, sender, command, args):
        if len(args) != 1:
            await self.send(room_id, f"Say `{command} <id>`, for example `{command} photos`.")
            return
        if sender not in self.admins:
            await self.send(room_id, "Sorry, only the family's admins can start or stop services. "
                                     "Ask one of them, or say `status` to see what runs.")
            return
        target = args[0].lower()
        names = await self.names()
        name = names.get(target, target)
        await self.send(room_id, f"{command.capitalize()} {name}…")
        status, answer = await self.call("POST", f"/v1/stacklets/{target}/{command}", actor=sender)
        if status == 200:
            state = answer.get("state")
            text = f"{name} is running." if state == "running" else f"{name} was stopped." if state == "stopped" else f"{name} is {state}."
            await self.emit_event(room_id, "dev.famstack.stacklet",
                                  {"id": target, "action": command, "state": state, "actor": sender})
        elif status == 404:
            text = f"There is no service `{target}`. Say `list` to see them."
        elif status == 409:
            text = "The server is busy with another change; try again in a minute."
        else:
            error = (answer or {}).get("error") or f"HTTP {status}"
            text = f"{name} failed to {command}: {error}"
        await self.send(room_id, text)
