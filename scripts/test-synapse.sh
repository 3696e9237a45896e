#!/usr/bin/env bash
# Prepares the Python virtualenv that the tests run a real Synapse (and matrix-nio) from:
# `matrix-synapse` at exactly the version `stacklets/messages/docker-compose.yml` pins, so the
# hooks are tested against the server the family will run — plus matrix-nio and its dependencies at
# exactly the versions of core's bot-runner image (stacklets/core/bot-runner/requirements.txt), so
# the native runner is tested with what the container runs and scripts/test-images.sh can build
# its offline Python image from this venv. Idempotent and cached: a venv that already has those
# versions is left alone. Prints the venv's path.
#   STACK_TEST_VENV  where the venv lives (default: ~/.cache/stack-test/venv)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${STACK_TEST_VENV:-$HOME/.cache/stack-test/venv}"
python="${PYTHON:-/usr/bin/python3}"
version=$(sed -n 's#^ *image: *docker.io/matrixdotorg/synapse:v\([0-9][0-9.]*\) *$#\1#p' stacklets/messages/docker-compose.yml)
[ -n "$version" ] || { echo "error: no matrixdotorg/synapse:v<version> image in stacklets/messages/docker-compose.yml" >&2; exit 1; }

requirements=stacklets/core/bot-runner/requirements.txt

have() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$version" "$requirements" <<'PY' 2>/dev/null
import importlib.metadata as md
import sys
import nio  # noqa: F401
import synapse
pins = [l.split("#", 1)[0].strip().split("==") for l in open(sys.argv[2])]
ok = all(md.version(p[0]) == p[1] for p in pins if p != [""])
sys.exit(0 if ok and synapse.__version__ == sys.argv[1] else 1)
PY
}

if ! have; then
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$version" -r "$requirements" >&2
  have || { echo "error: $venv has no working matrix-synapse $version + matrix-nio" >&2; exit 1; }
fi
echo "$venv"
