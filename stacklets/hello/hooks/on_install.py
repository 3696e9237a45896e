"""First run: create the web root and write the demo page (Python file I/O, idempotent)."""

import html
import os

PAGE = """<!doctype html>
<html lang="{language}">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Hello from your stack</title>
  <style>
    body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5; }}
    code {{ background: #f2f2f2; padding: 0 .25rem; border-radius: 3px; }}
  </style>
</head>
<body>
  <h1>Hello from your stack 👋</h1>
  <p>If you can read this, <code>stack</code> rendered this stacklet's settings, started its
     container and checked that it answers.</p>
  <ul>
    <li>Time zone: <strong>{timezone}</strong></li>
    <li>Language: <strong>{language}</strong></li>
  </ul>
  <p>Next: <code>stack up photos</code>, <code>stack up docs</code> … and <code>stack list</code>
     to see everything that is available.</p>
</body>
</html>
"""


def run(ctx):
    www = ctx.env["HELLO_WWW_DIR"]
    ctx.step(f"Preparing {www}")
    os.makedirs(www, exist_ok=True)

    page = PAGE.format(
        timezone=html.escape(ctx.env.get("HELLO_TIMEZONE") or "UTC"),
        language=html.escape(ctx.env.get("HELLO_LANGUAGE") or "en"),
    )
    index = os.path.join(www, "index.html")
    if os.path.exists(index):
        # The page belongs to the user once it exists: never overwrite their edits.
        print(f"{index} already exists, left as it is")
        return
    tmp = index + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.chmod(tmp, 0o644)
    os.replace(tmp, index)
    print(f"Wrote {index}")
