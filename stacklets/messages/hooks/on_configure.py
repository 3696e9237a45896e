"""First run: the Matrix server name (the part after the colon in @arthur:home).

Stored as [messages].server_name in stack.toml, which is also what {messages_server_name}
reads. Idempotent: asks only when it is missing, and takes the default `home` without asking
when there is no terminal.
"""

import sys

from _synapse import DEFAULT_SERVER_NAME, valid_server_name


def run(ctx):
    current = ctx.cfg("server_name")
    if current:
        print(f"Matrix server name: {current}")
        return

    value = DEFAULT_SERVER_NAME
    if sys.stdin is not None and sys.stdin.isatty():
        for _ in range(3):
            # print() + input() without a prompt: the prompt of input() has no newline and
            # would wait in the line-buffered hook output.
            print(f"Matrix server name — user names will look like @you:<name>, and it cannot be "
                  f"changed later [{DEFAULT_SERVER_NAME}]:")
            answer = input().strip()
            if not answer:
                break
            if valid_server_name(answer):
                value = answer
                break
            ctx.warn(f"`{answer}` is not a valid server name (letters, digits, dots, dashes, optional :port)")
    else:
        print(f"No terminal: using the default server name `{DEFAULT_SERVER_NAME}`")

    ctx.cfg("server_name", value)
    ctx.step(f"Matrix server name set to {value} ([messages].server_name in stack.toml)")
