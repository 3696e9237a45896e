"""Before a backup: a pg_dump of Synapse's database into postgres-dump/, while Synapse keeps
running (Synapse's own advice for a consistent backup). The live database folder stays out of the
snapshot (`[backup] exclude`); the media store, signing key and configuration go in as files."""

from stack_postgres import dump


def run(ctx):
    dump(ctx, "stack-messages-db", ctx.env["DB_USER"], ctx.env["DB_NAME"])
