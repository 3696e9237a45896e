"""stack messages join <room>: the stack admin joins a room (by name, alias or id)."""

HELP = "Join a room as the stack admin: join <room>"

import sys

import _matrix


def run(args, stacklet, config):
    if len(args) != 1:
        sys.exit("usage: stack messages join <room>")
    tok = _matrix.token(stacklet)
    print(_matrix.join(stacklet, tok, args[0]))
