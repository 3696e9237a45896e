"""Every start, before the containers: install (or refresh) the signed local API as a background
service, and let Caddy start even before its first Caddyfile exists.

The API (`stack serve`, docs/api.md) runs as a launchd agent on macOS or a systemd unit on Linux,
always with the `stack` binary that runs this hook; where no service manager runs, the runtime
says so and nothing is installed.

In domain mode Caddy loads $CADDY_CONFIG_DIR/Caddyfile when its container starts and exits when
the file is missing. The runtime assembles the real Caddyfile after every `up` (and reloads
Caddy), so on the very first start there may be none yet: write a comment-only placeholder,
which Caddy accepts as an empty configuration. An existing Caddyfile is never touched. Port mode:
Caddy does not run, nothing to do.
"""

import os


def run(ctx):
    ctx.step("Installing the local API service")
    ctx.shell(f'"{ctx.env["STACK_BIN"]}" serve --install')
    placeholder_caddyfile(ctx)


def placeholder_caddyfile(ctx):
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
