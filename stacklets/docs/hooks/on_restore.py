"""After a restore came up (with a fresh, empty database): load the dump on_backup made.
`stack` restarts Paperless afterwards, so it starts on the loaded database."""

from stack_postgres import load


def run(ctx):
    env = ctx.env
    load(ctx, "stack-docs-db", env["DB_USER"], env["DB_NAME"], env["DOCS_DB_DUMP_DIR"])
