"""stack messages setup: create the Matrix accounts of users.toml again (after editing it)."""

HELP = "Create missing Matrix accounts from users.toml (same as stack setup messages)"

import sys


def run(args, stacklet, config):
    if args:
        sys.exit("usage: stack messages setup")
    stacklet.shell(f'"{stacklet.env["STACK_BIN"]}" setup messages')
