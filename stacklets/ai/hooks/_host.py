"""Shared by the ai hooks: where things live on the Mac, and the prerequisite checks (macOS 15+\non Apple Silicon with Homebrew for oMLX, a whisper.cpp build that ships `whisper-server`)."""

import os
import platform
import shutil

PLIST_LABEL = "dev.famstack.whisper"
PLIST = os.path.expanduser(f"~/Library/LaunchAgents/{PLIST_LABEL}.plist")
# Marker that this stack started a service (on_stop stops only what we manage).
STATE_DIR_NAME = ".state"


# oMLX is built on MLX for Apple Silicon and supports macOS 15 (Sequoia) and newer.
OMLX_MIN_MACOS = 15
ELSEWHERE = ("On other machines point [ai].openai_url and [ai].whisper_url in stack.toml at an "
             "existing OpenAI-compatible server instead of running `stack up ai`.")


def facts(ctx):
    """What the prerequisites depend on, found without running brew."""
    release = platform.mac_ver()[0] if platform.system() == "Darwin" else ""
    return {
        "system": platform.system(),
        "macos": release,
        "machine": platform.machine(),
        "brew": shutil.which("brew") or _in_brew_prefix("brew"),
        "whisper_server": whisper_server(ctx),
    }


def whisper_server(ctx):
    """The whisper-server binary: [ai].whisper_server in stack.toml, else on PATH, else in the
    Homebrew prefix (without asking brew). None when there is none."""
    configured = ctx.cfg("whisper_server") if hasattr(ctx, "cfg") else None
    if configured:
        path = os.path.expanduser(str(configured))
        return path if os.access(path, os.X_OK) else None
    return shutil.which("whisper-server") or _in_brew_prefix("whisper-server")


def _in_brew_prefix(program):
    for prefix in (os.environ.get("HOMEBREW_PREFIX"), "/opt/homebrew", "/usr/local"):
        if prefix and os.access(os.path.join(prefix, "bin", program), os.X_OK):
            return os.path.join(prefix, "bin", program)
    return None


def missing_prerequisites(found):
    """One sentence per missing prerequisite, each saying what to do; empty when all are met.
    `found` is what facts() returns."""
    if found["system"] != "Darwin":
        return [
            "The `ai` stacklet runs oMLX and whisper.cpp on a Mac's GPU and needs macOS with "
            f"Homebrew; this is {found['system'] or 'an unknown system'}. " + ELSEWHERE
        ]
    problems = []
    major = int((found["macos"] or "0").split(".")[0] or 0)
    if found["machine"] != "arm64":
        problems.append(f"oMLX needs Apple Silicon (arm64); this Mac is {found['machine']}. " + ELSEWHERE)
    if major < OMLX_MIN_MACOS:
        problems.append(
            f"oMLX needs macOS {OMLX_MIN_MACOS} (Sequoia) or newer; this Mac runs macOS "
            f"{found['macos'] or 'unknown'}. Update macOS in System Settings › General › Software "
            "Update, then run `stack up ai` again. " + ELSEWHERE
        )
    if not found["brew"]:
        problems.append("Homebrew is not installed: install it from https://brew.sh, then run `stack up ai` again.")
    if not found["whisper_server"]:
        problems.append(
            "No `whisper-server` found (on PATH, in the Homebrew prefix, or [ai].whisper_server in "
            "stack.toml). Homebrew's whisper-cpp formula builds without the server, so build it: "
            "`git clone https://github.com/ggml-org/whisper.cpp && cd whisper.cpp && "
            "cmake -B build -DWHISPER_BUILD_SERVER=ON && cmake --build build -j --target whisper-server`, "
            "then set [ai].whisper_server = \"<that folder>/build/bin/whisper-server\" in stack.toml "
            "and run `stack up ai` again. Or point [ai].whisper_url at another OpenAI-compatible "
            "speech-to-text server."
        )
    return problems


def require_prerequisites(ctx):
    """Stops the hook before anything is installed when a prerequisite is missing."""
    problems = missing_prerequisites(facts(ctx))
    if problems:
        raise RuntimeError("\n".join(problems))


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
