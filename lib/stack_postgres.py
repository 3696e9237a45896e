"""Postgres for the shipped stacklets (photos, docs, messages): host folders, and the dump that
makes a backup consistent (docs/backups.md, "Postgres stacklets").

Folders. Postgres 18+ images mount the folder at /var/lib/postgresql and keep PGDATA one level
down, in `18/docker`. Their entrypoint, as root, creates that subfolder and hands only it to the
postgres user (uid 70 on Alpine, 999 on Debian), then runs initdb as that user. The mount root
itself keeps the owner and mode it has on the host, so it must let other users through: with 0700
owned by the person running `stack` (or by root), uid 70 cannot reach PGDATA and initdb fails with
"Permission denied". 0711 lets Postgres through without letting anyone list the folder; the data
itself stays private because Postgres keeps PGDATA at 0700 (docs/stacklets.md, "Postgres 18").

Dumps. The live database folder is left out of snapshots (`[backup] exclude` in stacklet.toml):
files copied while Postgres writes them can come back broken. Instead `on_backup` calls `dump`,
which runs `pg_dump` in the database container (through `ctx.exec`, as the container's root user,
over the local socket, which the official images trust) into the dump folder, a second mount of
the database container (`DUMP_MOUNT`) that lives in the stacklet's data dir and so goes into the
snapshot. The dump is plain SQL: readable, loadable by hand with `psql`, and deduplicated well by
the repository from one day to the next.

`load` (from `on_restore`, once the restored stacklet is up with a fresh, empty database) loads
the dump into a new database beside the live one, in one transaction, and only then swaps it in
(`DROP DATABASE … WITH (FORCE)`, `ALTER DATABASE … RENAME`): a dump that does not load leaves the
running database as it was. `stack` restarts the stacklet after `on_restore`, so the
applications start on the loaded data.
"""

import os

MOUNT_ROOT_MODE = 0o711
# Where the database container sees the dump folder.
DUMP_MOUNT = "/stack-dump"
# pg_dump writes `SELECT pg_catalog.set_config('search_path', '', false);` at the top of a dump.
# Immich's indexes call extension functions (earthdistance, vectors) by their unqualified names,
# which an empty search path cannot resolve, so the load keeps `public` on it (the same rewrite
# Immich's own restore instructions make).
_EMPTY_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', '', false);"
_PUBLIC_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', 'public, pg_catalog', true);"

# Positional parameters: $1 dump folder, $2 user, $3 database.
_DUMP_SCRIPT = r"""
set -eu
dir=$1 user=$2 db=$3
part="$dir/.$db.sql.partial"
rm -f "$part"
pg_dump --username="$user" --dbname="$db" --no-password --file="$part"
chmod 600 "$part"
# The file belongs to whoever owns the folder (the person running `stack`), so the backup can
# read it; where ownership cannot change (some file sharing of desktop engines) it stays as is.
chown "$(stat -c %u:%g "$dir")" "$part" 2>/dev/null || true
mv -f "$part" "$dir/$db.sql"
echo "dumped $db: $(wc -c <"$dir/$db.sql") bytes"
"""

# $1 dump file, $2 user, $3 database, $4 the database the dump is loaded into first,
# $5 and $6 the search-path lines (see above).
_LOAD_SCRIPT = r"""
set -eu
file=$1 user=$2 db=$3 incoming=$4 empty=$5 public=$6
# Only warnings and errors: not `NOTICE: database … does not exist, skipping`.
export PGOPTIONS="-c client_min_messages=warning"
sql() { psql --username="$user" --dbname=postgres --no-password --quiet -v ON_ERROR_STOP=1 -c "$1"; }
quoted() { printf '"%s"' "$(printf %s "$1" | sed 's/"/""/g')"; }
sql "DROP DATABASE IF EXISTS $(quoted "$incoming")"
sql "CREATE DATABASE $(quoted "$incoming") TEMPLATE template0"
if ! sed "s/^$empty\$/$public/" "$file" | psql --username="$user" --dbname="$incoming" --no-password \
    --quiet -v ON_ERROR_STOP=1 --single-transaction --output=/dev/null; then
  sql "DROP DATABASE IF EXISTS $(quoted "$incoming")" || true
  echo "the dump $file did not load; the database was not changed" >&2
  exit 1
fi
sql "DROP DATABASE IF EXISTS $(quoted "$db") WITH (FORCE)"
sql "ALTER DATABASE $(quoted "$incoming") RENAME TO $(quoted "$db")"
echo "loaded $db from $(basename "$file")"
"""


def prepare_data_dir(path):
    """Create the folder that is mounted at /var/lib/postgresql, traversable by the postgres user."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, MOUNT_ROOT_MODE)


def ensure_dir(path, mode):
    """Create `path` with `mode` when it is missing; an existing folder is left as it is (the
    database container may have handed it to its own user)."""
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)


def prepare_dump_dir(path):
    """The host folder mounted at DUMP_MOUNT: private to the person running `stack` and made
    before the container starts (otherwise the engine creates it, owned by root)."""
    ensure_dir(path, 0o700)


def dump_file(dump_dir, database):
    """The dump of `database` in the host folder `dump_dir`."""
    return os.path.join(dump_dir, f"{database}.sql")


def dump(ctx, container, user, database):
    """`on_backup`: dump `database` (as `user`) from `container` into DUMP_MOUNT/<database>.sql,
    written under a temporary name and renamed when complete."""
    ctx.step(f"Dumping the database {database} ({container})")
    ctx.exec(container, ["sh", "-c", _DUMP_SCRIPT, "stack-dump", DUMP_MOUNT, user, database])


def load(ctx, container, user, database, dump_dir):
    """`on_restore`: load DUMP_MOUNT/<database>.sql into `database`, replacing it. A snapshot
    without a dump (made before the stacklet had `on_backup`) holds the database folder itself,
    so there is nothing to load."""
    if not os.path.exists(dump_file(dump_dir, database)):
        print(f"No dump {dump_file(dump_dir, database)} in the snapshot; nothing to load")
        return False
    ctx.step(f"Loading the database {database} from its dump ({container})")
    ctx.exec(
        container,
        [
            "sh",
            "-c",
            _LOAD_SCRIPT,
            "stack-load",
            f"{DUMP_MOUNT}/{database}.sql",
            user,
            database,
            f"{database}_stack_restore",
            _sed_literal(_EMPTY_SEARCH_PATH),
            _sed_literal(_PUBLIC_SEARCH_PATH, replacement=True),
        ],
    )
    return True


def _sed_literal(text, replacement=False):
    """`text` escaped for a sed pattern (or, with `replacement`, a replacement) between `/`."""
    special = "\\/&" if replacement else "\\/.*[]^$"
    return "".join("\\" + c if c in special else c for c in text)
