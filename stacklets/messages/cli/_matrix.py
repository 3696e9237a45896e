"""The Matrix client side of `stack messages …`: the homeserver's URL, the stack admin's access
token, and room names. Commands act as the stack admin (the account `stack up messages` makes).
"""

import re
import sys
import uuid
from urllib.parse import quote

from stack_family import http_status

ROOM_NAME = re.compile(r"^[a-z0-9._=-]+$")


def api(ctx):
    return ctx.env["SYNAPSE_API_URL"].rstrip("/")


def server_name(ctx):
    return ctx.cfg("server_name") or ctx.env.get("MESSAGES_SERVER_NAME") or "home"


def fail(message):
    """End the command with `error: message` (exit 1)."""
    sys.exit(message)


def token(ctx):
    """The stack admin's access token: the stored one while Synapse accepts it, else a fresh login
    with the admin password (stored again)."""
    stored = ctx.secret("ADMIN_ACCESS_TOKEN")
    if stored:
        try:
            ctx.http_get(f"{api(ctx)}/_matrix/client/v3/account/whoami", headers=bearer(stored))
            return stored
        except Exception as e:
            if http_status(e) is None:
                fail(f"Synapse does not answer at {api(ctx)}: {e}\nhint: stack up messages")
            if http_status(e) != 401:
                raise
    user = ctx.env["ADMIN_USER"].lstrip("@").split(":")[0].lower()
    try:
        answer = ctx.http_post(
            f"{api(ctx)}/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": ctx.env["ADMIN_PASSWORD"],
                "initial_device_display_name": "stack",
            },
        )
    except Exception as e:
        if http_status(e) is None:
            fail(f"Synapse does not answer at {api(ctx)}: {e}\nhint: stack up messages")
        fail(f"The stack admin `{user}` cannot log in to Synapse ({http_status(e)})\nhint: stack setup messages")
    ctx.secret("ADMIN_ACCESS_TOKEN", answer["access_token"])
    return answer["access_token"]


def bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def alias(ctx, room):
    """`family` → `#family:<server>`; full aliases and room ids are kept."""
    if room.startswith(("#", "!")):
        return room
    name = room.lower()
    if not ROOM_NAME.match(name):
        fail(f"`{room}` is not a room name: use lowercase letters, digits and . _ = -")
    return f"#{name}:{server_name(ctx)}"


def resolve(ctx, tok, room):
    """The room id of `room` (name, alias or id), or None when no such alias exists."""
    target = alias(ctx, room)
    if target.startswith("!"):
        return target
    try:
        return ctx.http_get(
            f"{api(ctx)}/_matrix/client/v3/directory/room/{quote(target)}", headers=bearer(tok)
        )["room_id"]
    except Exception as e:
        if http_status(e) == 404:
            return None
        raise


def join(ctx, tok, room):
    """Join `room` as the stack admin (a no-op when already in it); returns the room id."""
    target = alias(ctx, room)
    try:
        return ctx.http_post(f"{api(ctx)}/_matrix/client/v3/join/{quote(target)}", {}, headers=bearer(tok))["room_id"]
    except Exception as e:
        if http_status(e) in (403, 404):
            fail(f"Cannot join {target} ({http_status(e)}): it does not exist, or the stack admin is not invited")
        raise


def send_text(ctx, tok, room_id, text):
    txn = uuid.uuid4().hex
    return ctx.http_put(
        f"{api(ctx)}/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": text},
        headers=bearer(tok),
    )["event_id"]
