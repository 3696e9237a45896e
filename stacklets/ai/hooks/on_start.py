"""Every up: start oMLX and whisper.cpp when they are not answering, and remember that this
stack started them (<data>/ai/.state/running-<service>) so on_stop stops only those."""

import os

from _host import mark, require_prerequisites, responding, services


def run(ctx):
    require_prerequisites(ctx)
    for key, url, start, _stop in services(ctx):
        if responding(ctx, url):
            print(f"{key} is answering at {url}")
            continue
        if key == "whisper" and not os.path.exists(start.split()[-1]):
            raise RuntimeError(f"{start.split()[-1]} is missing: run `stack destroy ai` and `stack up ai` to reinstall")
        ctx.step(f"Starting {key}")
        ctx.shell(start)
        mark(ctx, f"running-{key}")
