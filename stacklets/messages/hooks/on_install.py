"""First run: data directories, homeserver.yaml, the signing key and Element's config.json."""

import os

from _synapse import write_files


def run(ctx):
    ctx.step("Writing the Synapse and Element configuration")
    for key in ("MESSAGES_DATA_DIR", "SYNAPSE_DATA_DIR", "MESSAGES_DB_DIR"):
        os.makedirs(ctx.env[key], exist_ok=True)
    os.chmod(ctx.env["MESSAGES_DB_DIR"], 0o700)
    write_files(ctx)
