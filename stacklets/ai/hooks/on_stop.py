"""Every down (and before destroy): stop the native services this stack started, and only
those — an oMLX the user runs on their own keeps running."""

from _host import marked, services, unmark


def run(ctx):
    for key, _url, _start, stop in services(ctx):
        if not marked(ctx, f"running-{key}"):
            print(f"{key} was not started by stack; left alone")
            continue
        ctx.step(f"Stopping {key}")
        try:
            ctx.shell(stop)
        except Exception as e:
            ctx.warn(f"Stopping {key} failed ({e}); it may already be stopped")
        unmark(ctx, f"running-{key}")
