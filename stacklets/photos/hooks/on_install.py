"""First run: create the library, database and model-cache directories (idempotent)."""

import os


def run(ctx):
    ctx.step("Creating photo library directories")
    for key in ("PHOTOS_UPLOAD_DIR", "PHOTOS_DB_DIR", "PHOTOS_MODEL_CACHE_DIR"):
        path = ctx.env[key]
        os.makedirs(path, exist_ok=True)
        print(path)
    # Postgres refuses a data directory that others can read; the image fixes the owner itself.
    os.chmod(ctx.env["PHOTOS_DB_DIR"], 0o700)
