"""MicroBot: the small base class every stacklet bot extends (docs/bots.md), on matrix-nio.

A bot logs in with its password once and keeps its session (device id, access token) in its state
folder, so a restart reuses the device instead of piling up new ones. Its read position is kept
there too — the sync token plus, per room, the time of the last event it handled — so a restart
never answers old messages again, and a bot never answers itself. Callbacks (`on_message`,
`on_file`, `on_audio`, `on_invite`) run isolated: an exception is logged and the bot goes on.
A lost connection is retried with backoff. `emit_event` is the best-effort bus of the reference's
Bot Events: it returns False instead of raising.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request

from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    LoginResponse,
    RoomCreateResponse,
    RoomMessageAudio,
    RoomMessageFile,
    RoomMessageText,
    RoomPutStateResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)
from nio.api import RoomPreset

log = logging.getLogger("microbot")


def register(homeserver, shared_secret, localpart, password, displayname):
    """Create the account through Synapse's shared-secret registration. True when created, False
    when it already existed (registration is idempotent for bots)."""
    url = homeserver.rstrip("/") + "/_synapse/admin/v1/register"
    nonce = json.load(urllib.request.urlopen(url, timeout=10))["nonce"]
    body = {
        "nonce": nonce,
        "username": localpart,
        "password": password,
        "displayname": displayname,
        "admin": False,
        "mac": _mac(shared_secret, nonce, localpart, password),
    }
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        return True
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read() or b"{}")
        if answer.get("errcode") == "M_USER_IN_USE":
            return False
        raise RuntimeError(f"registering {localpart}: {e.code} {answer}") from e


def _mac(shared_secret, nonce, user, password):
    mac = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
    return mac.hexdigest()


class MicroBot:
    """Subclass it and override the `on_*` callbacks. `settings` from bot.toml arrive as
    attributes (`self.settings`)."""

    def __init__(self, *, bot_id, name, homeserver, server_name, password, state_dir,
                 room=None, room_topic=None, admins=(), **settings):
        self.bot_id = bot_id
        self.name = name
        self.homeserver = homeserver.rstrip("/")
        self.server_name = server_name
        self.password = password
        self.state_dir = state_dir
        self.room = room
        self.room_topic = room_topic
        self.admins = list(admins)
        self.settings = settings
        self.user_id = f"@{bot_id}:{server_name}"
        self.room_id = None
        self.client = None
        self._cursors = {}
        self._since = None

    # -- callbacks to override ------------------------------------------------------------
    async def on_message(self, room_id, sender, text, event):
        pass

    async def on_file(self, room_id, sender, event):
        pass

    async def on_audio(self, room_id, sender, event):
        pass

    async def on_invite(self, room_id, sender):
        """Default: accept invitations from the family's admins."""
        if sender in self.admins:
            await self.client.join(room_id)

    # -- helpers --------------------------------------------------------------------------
    async def send(self, room_id, text, reply_to=None):
        content = {"msgtype": "m.text", "body": text}
        if reply_to is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": reply_to,
                                       "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": reply_to}}
        answer = await self.client.room_send(room_id, "m.room.message", content,
                                             ignore_unverified_devices=True)
        return getattr(answer, "event_id", None)

    async def emit_event(self, room_id, event_type, body):
        """Send a `dev.famstack.*` event; True on success, False (logged) on any failure."""
        try:
            answer = await self.client.room_send(room_id, event_type, body,
                                                 ignore_unverified_devices=True)
            if isinstance(answer, RoomSendResponse):
                return True
            log.warning("%s: emitting %s failed: %s", self.bot_id, event_type, answer)
        except Exception as e:  # noqa: BLE001 - the bus is best effort by contract
            log.warning("%s: emitting %s failed: %s", self.bot_id, event_type, e)
        return False

    async def ensure_room(self, local, topic=None):
        """The room `#<local>:<server>`: joined when it exists, else created with the topic and
        the admins invited. Returns its id."""
        alias = f"#{local}:{self.server_name}"
        answer = await self.client.room_resolve_alias(alias)
        if isinstance(answer, RoomResolveAliasResponse):
            await self.client.join(answer.room_id)
            return answer.room_id
        created = await self.client.room_create(
            alias=local, name=local.capitalize(), topic=topic,
            preset=RoomPreset.private_chat,
            invite=[a for a in self.admins if a != self.user_id])
        if not isinstance(created, RoomCreateResponse):
            raise RuntimeError(f"cannot create {alias}: {created}")
        return created.room_id

    # -- running --------------------------------------------------------------------------
    def _path(self, name):
        return os.path.join(self.state_dir, name)

    def _load(self, name):
        try:
            with open(self._path(name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _save(self, name, value):
        os.makedirs(self.state_dir, exist_ok=True)
        tmp = self._path(name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        os.replace(tmp, self._path(name))

    async def login(self):
        config = AsyncClientConfig(store_sync_tokens=False, encryption_enabled=False)
        session = self._load("session.json")
        self.client = AsyncClient(self.homeserver, self.user_id, config=config)
        if session:
            self.client.restore_login(self.user_id, session["device_id"], session["access_token"])
            if isinstance(await self.client.whoami(), WhoamiResponse):
                return
        answer = await self.client.login(self.password, device_name=self.name)
        if not isinstance(answer, LoginResponse):
            raise RuntimeError(f"{self.bot_id} cannot log in: {answer}")
        self._save("session.json", {"device_id": answer.device_id, "access_token": answer.access_token})
        await self.client.set_displayname(self.name)

    def _fresh(self, room, event):
        """Not ours, and newer than the last event handled in this room (saved per room)."""
        if event.sender == self.user_id:
            return False
        last = self._cursors.get(room.room_id, 0)
        if event.server_timestamp <= last:
            return False
        self._cursors[room.room_id] = event.server_timestamp
        return True

    def _isolated(self, name, callback):
        async def run(room, event):
            if not self._fresh(room, event):
                return
            try:
                await callback(room, event)
            except Exception:  # noqa: BLE001 - one bad message must not stop the bot
                log.exception("%s: %s failed", self.bot_id, name)
        return run

    async def _pending_invites(self, sync):
        """Invitations that arrived before the bot first ran are answered like new ones."""
        for room_id, info in sync.rooms.invite.items():
            for event in info.invite_state:
                if (isinstance(event, InviteMemberEvent) and event.state_key == self.user_id
                        and event.membership == "invite"):
                    try:
                        await self.on_invite(room_id, event.sender)
                    except Exception:  # noqa: BLE001
                        log.exception("%s: on_invite failed", self.bot_id)

    async def run(self):
        """Log in, take the room, then handle new events until cancelled."""
        await self.login()
        state = self._load("cursor.json") or {}
        self._since = state.get("since")
        self._cursors = state.get("rooms", {})
        if self._since is None:
            # First start: everything already in the rooms is history, not work.
            first = await self.client.sync(timeout=0, full_state=True)
            if isinstance(first, SyncResponse):
                self._since = first.next_batch
                now = int(time.time() * 1000)
                for room_id in first.rooms.join:
                    self._cursors.setdefault(room_id, now)
                await self._pending_invites(first)
        if self.room:
            self.room_id = await self.ensure_room(self.room, self.room_topic)
        c = self.client
        c.add_event_callback(self._isolated("on_message", lambda r, e: self.on_message(r.room_id, e.sender, e.body, e)), RoomMessageText)
        c.add_event_callback(self._isolated("on_file", lambda r, e: self.on_file(r.room_id, e.sender, e)), RoomMessageFile)
        c.add_event_callback(self._isolated("on_audio", lambda r, e: self.on_audio(r.room_id, e.sender, e)), RoomMessageAudio)

        async def invited(room, event):
            if event.state_key == self.user_id and event.membership == "invite":
                try:
                    await self.on_invite(room.room_id, event.sender)
                except Exception:  # noqa: BLE001
                    log.exception("%s: on_invite failed", self.bot_id)
        c.add_event_callback(invited, InviteMemberEvent)
        delay = 1
        while True:
            try:
                answer = await c.sync(timeout=30000, since=self._since)
            except Exception as e:  # noqa: BLE001 - reconnect
                answer = e
            if isinstance(answer, SyncResponse):
                self._since = answer.next_batch
                self._save("cursor.json", {"since": self._since, "rooms": self._cursors})
                delay = 1
            else:
                log.warning("%s: sync failed (%s); retrying in %ss", self.bot_id, answer, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
