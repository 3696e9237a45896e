"""First run: create the document, consume/export and database directories (idempotent)."""

import os

from stack_postgres import prepare_data_dir

DIRS = ("DOCS_DATA_DIR", "DOCS_MEDIA_DIR", "DOCS_EXPORT_DIR", "DOCS_CONSUME_DIR")


def run(ctx):
    ctx.step("Creating document directories")
    for key in DIRS:
        path = ctx.env[key]
        os.makedirs(path, exist_ok=True)
        print(path)
    prepare_data_dir(ctx.env["DOCS_DB_DIR"])
    print(ctx.env["DOCS_DB_DIR"])
