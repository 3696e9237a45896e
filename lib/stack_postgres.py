"""Host folders for the official Postgres images (docs, messages), shared by their hooks.

Postgres 18+ images mount the folder at /var/lib/postgresql and keep PGDATA one level down, in
`18/docker`. Their entrypoint, as root, creates that subfolder and hands only it to the postgres
user (uid 70 on Alpine, 999 on Debian), then runs initdb as that user. The mount root itself keeps
the owner and mode it has on the host, so it must let other users through: with 0700 owned by
the person running `stack` (or by root), uid 70 cannot reach PGDATA and initdb fails with
"Permission denied". 0711 lets Postgres through without letting anyone list the folder; the data
itself stays private because Postgres keeps PGDATA at 0700 (docs/stacklets.md, "Postgres 18").
"""

import os

MOUNT_ROOT_MODE = 0o711


def prepare_data_dir(path):
    """Create the folder that is mounted at /var/lib/postgresql, traversable by the postgres user."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, MOUNT_ROOT_MODE)
