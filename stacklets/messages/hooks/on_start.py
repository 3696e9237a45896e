"""Every up, before the containers: keep homeserver.yaml and Element's config.json in step with
stack.toml (public URLs change between port and domain mode), and make sure the database folders
exist (a restore leaves out the live database folder; installs older than backups have no dump
folder yet; a folder the engine would create instead belongs to root)."""

from stack_postgres import MOUNT_ROOT_MODE, ensure_dir, prepare_dump_dir

from _synapse import write_files


def run(ctx):
    ensure_dir(ctx.env["MESSAGES_DB_DIR"], MOUNT_ROOT_MODE)
    prepare_dump_dir(ctx.env["MESSAGES_DB_DUMP_DIR"])
    if write_files(ctx):
        ctx.warn("The Synapse/Element configuration changed: run `stack restart messages` if they were already running")
