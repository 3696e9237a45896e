#!/usr/bin/env bash
# The test command (README "Tests", and what CI runs): makes sure the prerequisites of the
# integration tests are present — a running Docker Engine, Debian's static busybox, caddy and
# PostgreSQL (test images are built from them, no registry needed), Docker Compose v2 as a test
# oracle, a Synapse virtualenv (scripts/test-synapse.sh; needs PyPI the first time) — then runs
# the whole suite. As root on Debian/Ubuntu it installs what is missing; otherwise it says what to
# install. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# The embedded Python: `PYO3_PYTHON` when set, else `python3` on PATH (docs/python.md), with its
# shared libpython.
python="${PYO3_PYTHON:-python3}"
"$python" -c 'import os, sys, sysconfig as c; v = c.get_config_var; sys.exit(not (v("PYTHONFRAMEWORK") or os.path.exists(os.path.join(v("LIBDIR"), v("LDLIBRARY")))))' 2>/dev/null || need+=(python3 python3-dev)
command -v bash >/dev/null || need+=(bash)
# The start page tests render in a real headless Chromium and decode its QR codes with zbarimg; the
# wizard tests drive `stack install` in a tmux pseudo-terminal.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# The backup tests read `stack`'s repositories with Debian's restic (format interoperability).
command -v restic >/dev/null 2>&1 || need+=(restic)
# ... and dump a real PostgreSQL server, an image built from Debian's binaries (scripts/test-images.sh).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# The registry tests (tests/it/registry.rs) run Debian's distribution registry on loopback, with
# htpasswd (bcrypt) auth for the credentials test.
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then need+=(docker.io); fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "error: missing test prerequisites: ${need[*]}" >&2
    echo "hint: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

# A Docker Engine must answer; start one when this machine has dockerd but it is not running.
if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null; then
    (dockerd >/tmp/dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || { echo "error: no Docker Engine answers (see /tmp/dockerd.log)" >&2; exit 1; }
fi

# The integration tests publish fixed host ports in 42000-47999 (each test its own). Linux hands out
# ephemeral ports for outgoing connections from 32768 up, so a test's port could be taken for a
# moment by any client socket; as root, keep the kernel from choosing ports in that range.
reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
if [ -w "$reserved" ] && ! grep -q '42000-47999' "$reserved"; then
  current="$(cat "$reserved")"
  echo "${current:+$current,}42000-47999" >"$reserved"
fi

scripts/install-compose.sh >/dev/null
# A real Synapse (and matrix-nio) in a cached venv, for the messages tests (tests/it/synapse.rs).
PYTHON=/usr/bin/python3 scripts/test-synapse.sh >/dev/null
# After the venv: the bot runner's offline Python image is assembled from it (scripts/test-images.sh).
if [ -x scripts/test-images.sh ]; then scripts/test-images.sh >/dev/null; fi

cargo test --locked "$@"
