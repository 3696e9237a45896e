#!/usr/bin/env bash
# Prepares the Python virtualenv that the tests run a real Synapse (and matrix-nio) from:
# `matrix-synapse` at exactly the version `stacklets/messages/docker-compose.yml` pins, so the
# hooks are tested against the server the family will run. Idempotent and cached: a venv that
# already has that version is left alone. Prints the venv's path.
#   STACK_TEST_VENV  where the venv lives (default: ~/.cache/stack-test/venv)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${STACK_TEST_VENV:-$HOME/.cache/stack-test/venv}"
python="${PYTHON:-/usr/bin/python3}"
version=$(sed -n 's#^ *image: *docker.io/matrixdotorg/synapse:v\([0-9][0-9.]*\) *$#\1#p' stacklets/messages/docker-compose.yml)
[ -n "$version" ] || { echo "error: no matrixdotorg/synapse:v<version> image in stacklets/messages/docker-compose.yml" >&2; exit 1; }

have() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$version" <<'PY' 2>/dev/null
import sys
import nio  # noqa: F401
import synapse
sys.exit(0 if synapse.__version__ == sys.argv[1] else 1)
PY
}

if ! have; then
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$version" matrix-nio >&2
  have || { echo "error: $venv has no working matrix-synapse $version + matrix-nio" >&2; exit 1; }
fi
echo "$venv"
