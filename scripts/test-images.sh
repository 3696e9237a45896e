#!/usr/bin/env bash
# Builds the local test images without any registry (none is reachable on test machines):
#   stack-test/busybox:1  a rootfs holding the static busybox and its applet symlinks
#   stack-test/caddy:1    the caddy binary with the shared libraries it links (Debian's build links
#                         libc and libzstd), plus busybox for sh/wget in healthchecks
#   stack-test/postgres:1 Debian's PostgreSQL server and client programs with their shared
#                         libraries and share/ files, busybox, a `postgres` user (uid 70) and an
#                         entrypoint that does what the official image's does with POSTGRES_USER,
#                         POSTGRES_PASSWORD, POSTGRES_DB and PGDATA (tests/it/backup.rs dumps it)
#   stack-test/python:3.11  a stand-in for `python:3.11-slim`, the base of core's bot-runner image:
#                         the host's CPython 3.11 (interpreter, standard library, the shared
#                         libraries they link), pip, and exactly the packages of
#                         stacklets/core/bot-runner/requirements.txt at their pinned versions,
#                         copied file by file from the Synapse test venv (scripts/test-synapse.sh
#                         installs that list there), plus busybox for `/bin/sh`. The bot-runner
#                         Dockerfile's `pip install --no-deps -r requirements.txt` then finds every
#                         pin satisfied and needs no index (tests/it/bot_container.rs).
# All come from `docker import` of a tar made here, so this takes a few seconds at most.
# Idempotent: an image that already exists is left alone (pass --force to rebuild).
# `--busybox-tag TAG` builds only the busybox image, under TAG instead (the offline demo uses it
# to stand in for `busybox:1.36.1`: scripts/demo.sh).
# Needs: docker CLI talking to an engine, /bin/busybox (Debian `busybox-static`), /usr/bin/caddy,
# /usr/lib/postgresql/<major>/bin (Debian `postgresql`), /usr/bin/python3.11 and the venv of
# scripts/test-synapse.sh (STACK_TEST_VENV).
set -euo pipefail

force=0
busybox_tag=stack-test/busybox:1
only_busybox=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --busybox-tag) busybox_tag="${2:?--busybox-tag needs a tag}"; only_busybox=1; shift ;;
    *) echo "usage: $0 [--force] [--busybox-tag TAG]" >&2; exit 2 ;;
  esac
  shift
done

busybox="${BUSYBOX:-/bin/busybox}"
caddy="${CADDY:-/usr/bin/caddy}"

have() { docker image inspect "$1" >/dev/null 2>&1; }

# A static binary is required: the image has no libc. `file` is not always installed, so ask ldd.
static_or_die() {
  if ldd "$1" >/dev/null 2>&1; then
    echo "error: $1 is dynamically linked; install busybox-static / a static build" >&2
    exit 1
  fi
}

# Copies the shared libraries (and the loader) a dynamic binary needs into the rootfs at the same
# paths, so a distribution build runs in a FROM-scratch image. No-op for a static binary.
copy_libs() {
  local bin="$1" root="$2" lib
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# Writes a busybox rootfs into $1: /bin/busybox plus one symlink per applet, /tmp, /etc/passwd.
busybox_rootfs() {
  local root="$1"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/www" "$root/root"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  mkdir -p "$root/usr/bin" "$root/sbin" "$root/usr/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

import() {
  local root="$1" tag="$2"
  shift 2
  tar -C "$root" -c . | docker import "$@" - "$tag" >/dev/null
  echo "built $tag"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$force" = 1 ] || ! have "$busybox_tag"; then
  [ -x "$busybox" ] || { echo "error: $busybox missing: apt-get install -y busybox-static" >&2; exit 1; }
  static_or_die "$busybox"
  busybox_rootfs "$work/busybox"
  import "$work/busybox" "$busybox_tag" \
    --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
    --change 'CMD ["sh"]'
else
  echo "exists $busybox_tag"
fi

[ "$only_busybox" = 1 ] && exit 0

if [ "$force" = 1 ] || ! have stack-test/caddy:1; then
  [ -x "$caddy" ] || { echo "error: $caddy missing: apt-get install -y caddy" >&2; exit 1; }
  busybox_rootfs "$work/caddy"
  mkdir -p "$work/caddy/usr/bin" "$work/caddy/etc/caddy" "$work/caddy/data" "$work/caddy/config"
  cp "$caddy" "$work/caddy/usr/bin/caddy"
  copy_libs "$caddy" "$work/caddy"
  printf ':80 {\n\trespond "ok"\n}\n' >"$work/caddy/etc/caddy/Caddyfile"
  import "$work/caddy" stack-test/caddy:1 \
    --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
    --change 'ENV XDG_CONFIG_HOME=/config' \
    --change 'ENV XDG_DATA_HOME=/data' \
    --change 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
else
  echo "exists stack-test/caddy:1"
fi

# The newest PostgreSQL Debian installed (/usr/lib/postgresql/<major>).
postgres_dir() { ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -1 | sed 's,/bin/postgres$,,'; }

if [ "$force" = 1 ] || ! have stack-test/postgres:1; then
  pg="${POSTGRES_DIR:-$(postgres_dir)}"
  [ -n "$pg" ] && [ -x "$pg/bin/postgres" ] || { echo "error: no /usr/lib/postgresql/*/bin/postgres: apt-get install -y postgresql" >&2; exit 1; }
  major="${pg##*/}"
  root="$work/postgres"
  busybox_rootfs "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\npostgres:x:70:\nnogroup:x:65534:\n' >"$root/etc/group"
  mkdir -p "$root$pg/bin" "$root$pg/lib" "$root/usr/share/postgresql" "$root/var/lib/postgresql" "$root/var/run/postgresql"
  for program in postgres initdb pg_ctl pg_dump pg_restore psql pg_isready createdb dropdb; do
    cp "$pg/bin/$program" "$root$pg/bin/"
    copy_libs "$pg/bin/$program" "$root"
  done
  # The server's modules (plpgsql, the snowball dictionaries initdb loads); not the JIT (LLVM).
  for module in "$pg"/lib/*.so; do
    case "$module" in */llvmjit*.so) continue ;; esac
    cp "$module" "$root$pg/lib/"
    copy_libs "$module" "$root"
  done
  cp -a "/usr/share/postgresql/$major" "$root/usr/share/postgresql/"
  rm -rf "$root/usr/share/postgresql/$major/man"
  # Debian builds against the system's time zone files; the image runs in UTC.
  mkdir -p "$root/usr/share/zoneinfo/Etc"
  cp -L /usr/share/zoneinfo/UTC "$root/usr/share/zoneinfo/UTC"
  cp -L /usr/share/zoneinfo/Etc/UTC "$root/usr/share/zoneinfo/Etc/UTC"
  cat >"$root/usr/bin/stack-postgres-entrypoint" <<'ENTRYPOINT'
#!/bin/sh
# After docker-library/postgres' docker-entrypoint.sh: as root, hand PGDATA to postgres, initdb it
# once (POSTGRES_USER as superuser with POSTGRES_PASSWORD, local connections trusted, others by
# password), create POSTGRES_DB, then run the server as postgres.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile
  chown postgres /tmp/pwfile
  su postgres -s /bin/sh -c 'initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C' 2>&1 >/dev/null | grep -v 'locale: not found\|no usable system locales' >&2 || true
  rm -f /tmp/pwfile
  [ -s "$PGDATA/PG_VERSION" ] || { echo "initdb failed" >&2; exit 1; }
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    printf 'CREATE DATABASE "%s";\n' "$POSTGRES_DB" | su postgres -s /bin/sh -c 'postgres --single -D "$PGDATA" -j postgres' >/dev/null
  fi
  echo "stack-test/postgres: initialised $PGDATA with database $POSTGRES_DB"
fi
exec su postgres -s /bin/sh -c 'exec postgres -D "$PGDATA"'
ENTRYPOINT
  chmod 755 "$root/usr/bin/stack-postgres-entrypoint"
  import "$root" stack-test/postgres:1 \
    --change "ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin:$pg/bin" \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'ENV TZ=UTC' \
    --change 'CMD ["stack-postgres-entrypoint"]'
else
  echo "exists stack-test/postgres:1"
fi

# The Python stand-in. The venv must hold every pin of the bot runner's requirements (it is checked
# below, package by package); the rootfs mirrors Debian's layout, where the interpreter looks for
# packages in /usr/local/lib/python3.11/dist-packages.
python_tag=stack-test/python:3.11
if [ "$force" = 1 ] || ! have "$python_tag"; then
  python=/usr/bin/python3.11
  venv="${STACK_TEST_VENV:-$HOME/.cache/stack-test/venv}"
  requirements="$(cd "$(dirname "$0")/.." && pwd)/stacklets/core/bot-runner/requirements.txt"
  [ -x "$python" ] || { echo "error: $python missing: apt-get install -y python3.11" >&2; exit 1; }
  [ -x "$venv/bin/python" ] || { echo "error: no venv at $venv: run scripts/test-synapse.sh" >&2; exit 1; }
  root="$work/python"
  busybox_rootfs "$root"
  mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/local/bin"
  cp "$python" "$root/usr/bin/python3.11"
  ln -s python3.11 "$root/usr/bin/python3"
  ln -s /usr/bin/python3.11 "$root/usr/local/bin/python"
  ln -s /usr/bin/python3.11 "$root/usr/local/bin/python3"
  # The standard library, without Debian's "externally managed" marker (python:*-slim has none,
  # and pip would refuse to run) and without the test suite.
  cp -a /usr/lib/python3.11 "$root/usr/lib/python3.11"
  rm -rf "$root/usr/lib/python3.11/EXTERNALLY-MANAGED" "$root/usr/lib/python3.11/test"
  site="$root/usr/local/lib/python3.11/dist-packages"
  mkdir -p "$site"
  "$venv/bin/python" - "$requirements" "$site" <<'PY'
import importlib.metadata as md, os, re, shutil, sys

requirements, site = sys.argv[1], sys.argv[2]
wanted = {"pip": None}
for line in open(requirements):
    line = line.split("#", 1)[0].strip()
    if line:
        name, version = line.split("==")
        wanted[name] = version
for name, version in wanted.items():
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        sys.exit(f"error: the venv has no {name}; run scripts/test-synapse.sh")
    if version is not None and dist.version != version:
        sys.exit(f"error: the venv has {name} {dist.version}, requirements.txt pins {version}; "
                 "run scripts/test-synapse.sh")
    base = dist.locate_file("")
    for f in dist.files or []:
        source = os.path.normpath(os.path.join(str(base), str(f)))
        if not source.startswith(str(base) + os.sep) or "__pycache__" in source:
            continue  # console scripts in bin/, byte code
        target = os.path.join(site, os.path.relpath(source, str(base)))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
PY
  # The shared libraries of the interpreter and of every extension module.
  copy_libs "$python" "$root"
  find "$root/usr/lib/python3.11" "$site" -name '*.so*' -type f | while read -r so; do
    copy_libs "$so" "$root"
  done
  import "$root" "$python_tag" \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin:/usr/sbin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]'
  # The stand-in must run what the bot runner runs.
  docker run --rm "$python_tag" python -c 'import nio, aiohttp, ssl, json, asyncio' \
    || { echo "error: $python_tag cannot import matrix-nio" >&2; exit 1; }
else
  echo "exists $python_tag"
fi
