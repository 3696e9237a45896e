"""stack messages send <room> <text>: post a message as the stack admin."""

HELP = "Send a message to a room: send <room> <text…>"

import sys

import _matrix


def run(args, stacklet, config):
    if len(args) < 2:
        sys.exit("usage: stack messages send <room> <text…>")
    ctx = stacklet
    tok = _matrix.token(ctx)
    room_id = _matrix.join(ctx, tok, args[0])
    event = _matrix.send_text(ctx, tok, room_id, " ".join(args[1:]))
    print(event)
