"""Shared by the ai hooks: where things live on the Mac, and the macOS + Homebrew check."""

import os
import platform
import shutil

PLIST_LABEL = "dev.famstack.whisper"
PLIST = os.path.expanduser(f"~/Library/LaunchAgents/{PLIST_LABEL}.plist")
# Marker that this stack started a service (on_stop stops only what we manage).
STATE_DIR_NAME = ".state"


def require_macos_brew():
    if platform.system() != "Darwin" or shutil.which("brew") is None:
        found = platform.system() if platform.system() != "Darwin" else "macOS without Homebrew"
        raise RuntimeError(
            "The `ai` stacklet needs macOS with Homebrew (Apple Silicon runs oMLX and whisper.cpp "
            f"on the GPU); found {found}. On other machines point [ai].openai_url and "
            "[ai].whisper_url in stack.toml at an existing OpenAI-compatible server instead."
        )


def state_dir(ctx):
    return os.path.join(ctx.env["AI_DATA_DIR"], STATE_DIR_NAME)


def mark(ctx, name):
    os.makedirs(state_dir(ctx), exist_ok=True)
    open(os.path.join(state_dir(ctx), name), "w").close()


def marked(ctx, name):
    return os.path.exists(os.path.join(state_dir(ctx), name))


def unmark(ctx, name):
    try:
        os.remove(os.path.join(state_dir(ctx), name))
    except FileNotFoundError:
        pass


def services(ctx):
    """(key, check URL, start command, stop command) of the native services, as in stacklet.toml."""
    return [
        ("omlx", ctx.env["OPENAI_URL"].rstrip("/") + "/models",
         "brew services start omlx", "brew services stop omlx"),
        ("whisper", f"http://localhost:{ctx.env.get('WHISPER_PORT') or '42062'}/",
         f"launchctl load {PLIST}", f"launchctl unload {PLIST}"),
    ]


def responding(ctx, url):
    """Anything that answers HTTP counts (a 401 from a server with an API key too)."""
    try:
        ctx.http_get(url)
        return True
    except Exception as e:
        return getattr(e, "status", None) is not None


def brew_has(ctx, formula):
    try:
        ctx.shell(f"brew list --formula {formula} >/dev/null 2>&1")
        return True
    except Exception:
        return False
