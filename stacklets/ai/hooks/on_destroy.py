"""Destroy: remove the whisper LaunchAgent and uninstall what on_install installed (and only
that). Models oMLX downloaded live in ~/.omlx and are kept; the whisper model goes with the
data directory, which the runtime deletes after this hook."""

import os
import platform

from _host import PLIST, marked


def run(ctx):
    if platform.system() != "Darwin":
        print("Not macOS: nothing was installed")
        return
    if os.path.exists(PLIST):
        ctx.step(f"Removing {PLIST}")
        try:
            ctx.shell(f"launchctl unload {PLIST} 2>/dev/null || true")
        finally:
            os.remove(PLIST)
    for formula in ("whisper-cpp", "omlx"):
        if marked(ctx, f"installed-{formula}"):
            ctx.step(f"Uninstalling {formula}")
            try:
                ctx.shell(f"brew uninstall {formula}")
            except Exception as e:
                ctx.warn(f"brew uninstall {formula} failed ({e}); remove it by hand if you like")
        else:
            print(f"{formula} was not installed by stack; kept")
