"""Before a backup: a pg_dump of Immich's database into postgres-dump/, while Immich keeps
running. The live database folder stays out of the snapshot (`[backup] exclude`)."""

from stack_postgres import dump


def run(ctx):
    dump(ctx, "stack-photos-db", ctx.env["DB_USERNAME"], ctx.env["DB_DATABASE_NAME"])
