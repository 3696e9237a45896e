"""Every up, before the containers: the database folders exist. A restore leaves out the live
database folder, and installs older than backups have no dump folder yet; a folder the engine
would create instead belongs to root."""

from stack_postgres import MOUNT_ROOT_MODE, ensure_dir, prepare_dump_dir


def run(ctx):
    ensure_dir(ctx.env["DOCS_DB_DIR"], MOUNT_ROOT_MODE)
    prepare_dump_dir(ctx.env["DOCS_DB_DUMP_DIR"])
