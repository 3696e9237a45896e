"""Every up, before the containers: the database folders exist. A restore leaves out the live
database folder, and installs older than backups have no dump folder yet; a folder the engine
would create instead belongs to root."""

from stack_postgres import ensure_dir, prepare_dump_dir


def run(ctx):
    # Postgres refuses a data directory that others can read; the image fixes the owner itself.
    ensure_dir(ctx.env["PHOTOS_DB_DIR"], 0o700)
    prepare_dump_dir(ctx.env["PHOTOS_DB_DUMP_DIR"])
