"""First run: data directories, homeserver.yaml, the signing key and Element's config.json."""

import os

from stack_postgres import prepare_data_dir

from _synapse import write_files


def run(ctx):
    ctx.step("Writing the Synapse and Element configuration")
    for key in ("MESSAGES_DATA_DIR", "SYNAPSE_DATA_DIR"):
        os.makedirs(ctx.env[key], exist_ok=True)
    prepare_data_dir(ctx.env["MESSAGES_DB_DIR"])
    write_files(ctx)
