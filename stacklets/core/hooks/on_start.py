"""Every start, before the containers: let Caddy start even before its first Caddyfile exists.

In domain mode Caddy loads $CADDY_CONFIG_DIR/Caddyfile when its container starts and exits when
the file is missing. The runtime assembles the real Caddyfile after every `up` (and reloads
Caddy), so on the very first start there may be none yet: write a comment-only placeholder,
which Caddy accepts as an empty configuration. An existing Caddyfile is never touched. Port mode:
Caddy does not run, nothing to do.
"""

import os


def run(ctx):
    if not ctx.env.get("FAMSTACK_DOMAIN"):
        return
    config_dir = ctx.env["CADDY_CONFIG_DIR"]
    caddyfile = os.path.join(config_dir, "Caddyfile")
    if os.path.exists(caddyfile):
        return
    ctx.step("Writing a placeholder Caddyfile")
    os.makedirs(config_dir, exist_ok=True)
    with open(caddyfile, "w") as f:
        f.write("# Placeholder: `stack` assembles the real Caddyfile after `up`.\n")
