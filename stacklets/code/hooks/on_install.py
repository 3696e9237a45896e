"""First run: create Forgejo's data directory (idempotent). The image's entrypoint gives it to
the `git` user itself."""

import os


def run(ctx):
    path = ctx.env["CODE_DATA_DIR"]
    ctx.step(f"Creating {path}")
    os.makedirs(path, exist_ok=True)
