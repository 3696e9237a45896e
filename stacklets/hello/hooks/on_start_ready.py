"""Every up, once healthy: say where the page is."""


def run(ctx):
    ctx.step(f"Hello is serving {ctx.env.get('HELLO_URL') or 'http://localhost:42000/'}")
