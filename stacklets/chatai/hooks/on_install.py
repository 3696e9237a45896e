"""First run: create Open WebUI's data directory (idempotent)."""

import os


def run(ctx):
    path = ctx.env["CHATAI_DATA_DIR"]
    ctx.step(f"Creating {path}")
    os.makedirs(path, exist_ok=True)
