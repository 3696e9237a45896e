"""First run: create Caddy's directories so the bind mounts exist before the containers do."""

import os


def run(ctx):
    ctx.step("Creating Caddy directories")
    for key in ("CADDY_CONFIG_DIR", "CADDY_DATA_DIR", "CADDY_STATE_DIR"):
        path = ctx.env[key]
        os.makedirs(path, exist_ok=True)
        print(path)
