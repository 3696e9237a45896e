"""After a restore came up (with a fresh, empty database): load the dump on_backup made.
`stack` restarts Synapse afterwards: it keeps stream positions and caches from its start in
memory, so it must start again on the loaded database."""

from stack_postgres import load


def run(ctx):
    env = ctx.env
    load(ctx, "stack-messages-db", env["DB_USER"], env["DB_NAME"], env["MESSAGES_DB_DUMP_DIR"])
