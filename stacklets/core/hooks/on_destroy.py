"""When core is destroyed: stop and remove the local API service that `on_start` installed."""


def run(ctx):
    ctx.step("Removing the local API service")
    ctx.shell(f'"{ctx.env["STACK_BIN"]}" serve --uninstall')
