"""First run: check the prerequisites (before any brew call), install oMLX with Homebrew, fetch
the whisper model and write a LaunchAgent that serves it with the `whisper-server` found on this
Mac. Idempotent: every step checks before it acts. What this hook installed is marked in
<data>/ai/.state/, so on_destroy removes only that."""

import os
import shlex
from xml.sax.saxutils import escape

from _host import PLIST, PLIST_LABEL, brew_has, mark, require_prerequisites, state_dir, whisper_server

MODEL_URL = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-{model}.bin"


def run(ctx):
    require_prerequisites(ctx)
    os.makedirs(state_dir(ctx), exist_ok=True)

    if brew_has(ctx, "omlx"):
        print("oMLX is installed")
    else:
        ctx.step("Installing oMLX (brew tap jundot/omlx)")
        ctx.shell("brew tap jundot/omlx https://github.com/jundot/omlx")
        ctx.shell("brew install omlx")
        mark(ctx, "installed-omlx")

    server = whisper_server(ctx)
    print(f"whisper.cpp server: {server}")

    models = os.path.join(ctx.env["AI_DATA_DIR"], "whisper")
    os.makedirs(models, exist_ok=True)
    model = ctx.env.get("WHISPER_MODEL") or "large-v3-turbo"
    model_file = os.path.join(models, f"ggml-{model}.bin")
    if os.path.exists(model_file):
        print(f"Whisper model {model} is present")
    else:
        ctx.step(f"Downloading the whisper model {model}")
        partial = model_file + ".part"
        ctx.shell(f"curl -fL --retry 3 -o {shlex.quote(partial)} {shlex.quote(MODEL_URL.format(model=model))}")
        os.replace(partial, model_file)

    plist = launch_agent(ctx, server, model_file, models)
    current = open(PLIST, encoding="utf-8").read() if os.path.exists(PLIST) else None
    if current == plist:
        print(f"{PLIST} is up to date")
    else:
        ctx.step(f"Writing {PLIST}")
        os.makedirs(os.path.dirname(PLIST), exist_ok=True)
        with open(PLIST, "w", encoding="utf-8") as f:
            f.write(plist)


def launch_agent(ctx, server, model_file, log_dir):
    language = (ctx.env.get("WHISPER_LANGUAGE") or "auto").split("-")[0]
    args = [
        server, "--host", "127.0.0.1", "--port", ctx.env.get("WHISPER_PORT") or "42062",
        "--model", model_file, "--language", language,
        # OpenAI-compatible route, so {ai_whisper_url} (…/v1) works for Open WebUI and bots.
        "--inference-path", "/v1/audio/transcriptions",
    ]
    items = "\n".join(f"    <string>{escape(a)}</string>" for a in args)
    log = escape(os.path.join(log_dir, "whisper-server.log"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{PLIST_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{items}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>StandardOutPath</key>
  <string>{log}</string>
  <key>StandardErrorPath</key>
  <string>{log}</string>
</dict>
</plist>
"""
