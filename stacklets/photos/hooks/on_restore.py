"""After a restore came up (with a fresh, empty database): load the dump on_backup made.
`stack` restarts Immich afterwards, so it starts on the loaded database."""

from stack_postgres import load


def run(ctx):
    env = ctx.env
    load(ctx, "stack-photos-db", env["DB_USERNAME"], env["DB_DATABASE_NAME"], env["PHOTOS_DB_DUMP_DIR"])
