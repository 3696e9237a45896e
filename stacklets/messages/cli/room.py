"""stack messages room <name>: show the room, or create it (private, the family's admins invited)."""

HELP = "Show a room, creating it when it does not exist: room <name>"

import sys
from urllib.parse import quote

import _matrix


def run(args, stacklet, config):
    if len(args) != 1:
        sys.exit("usage: stack messages room <name>")
    ctx = stacklet
    tok = _matrix.token(ctx)
    room_id = _matrix.resolve(ctx, tok, args[0])
    alias = _matrix.alias(ctx, args[0])
    if room_id is None:
        if alias.startswith("!"):
            sys.exit(f"No room {alias}")
        local = alias[1:].split(":")[0]
        me = ctx.http_get(f"{_matrix.api(ctx)}/_matrix/client/v3/account/whoami", headers=_matrix.bearer(tok))["user_id"]
        admins = [
            f"@{u['id'].lower()}:{_matrix.server_name(ctx)}"
            for u in (ctx.users or [])
            if u.get("role") == "admin"
        ]
        ctx.step(f"Creating the room {alias}")
        room_id = ctx.http_post(
            f"{_matrix.api(ctx)}/_matrix/client/v3/createRoom",
            {
                "room_alias_name": local,
                "name": local.capitalize(),
                "preset": "private_chat",
                "invite": [a for a in admins if a != me],
            },
            headers=_matrix.bearer(tok),
        )["room_id"]
    else:
        _matrix.join(ctx, tok, room_id)
    members = ctx.http_get(
        f"{_matrix.api(ctx)}/_matrix/client/v3/rooms/{quote(room_id)}/joined_members",
        headers=_matrix.bearer(tok),
    )["joined"]
    print(f"{alias}\t{room_id}\t{len(members)} member(s): {', '.join(sorted(members))}")
