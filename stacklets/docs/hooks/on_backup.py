"""Before a backup: a pg_dump of Paperless' database into postgres-dump/, while Paperless keeps
running. The live database folder stays out of the snapshot (`[backup] exclude`)."""

from stack_postgres import dump


def run(ctx):
    dump(ctx, "stack-docs-db", ctx.env["DB_USER"], ctx.env["DB_NAME"])
