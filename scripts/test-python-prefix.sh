#!/usr/bin/env bash
# Proves the embedded Python is not tied to `/usr` (issue 9 §2): builds `stack` against a CPython
# installed under another prefix — by default pyenv's 3.11.7, laid out like Homebrew's
# `/opt/homebrew/opt/python@3.x` — in a target dir of its own, and runs only the tests of the
# embedded Python (the hook unit tests and the `python` integration tests) with it.
# Usage: scripts/test-python-prefix.sh [/path/to/python3]   (CPython >= 3.10, shared libpython)
set -euo pipefail
cd "$(dirname "$0")/.."

py="${1:-/root/.pyenv/versions/3.11.7/bin/python3}"
if [ ! -x "$py" ]; then
  echo "error: no Python at \`$py\`" >&2
  echo "hint: \`pyenv install 3.11.7\` (with PYTHON_CONFIGURE_OPTS=--enable-shared), or pass another CPython >= 3.10: $0 /path/to/python3" >&2
  exit 1
fi
export PYO3_PYTHON="$py"
export CARGO_TARGET_DIR="target/second-python"
# The normal build links Debian's libpython statically (build.rs, docs/performance.md); this one
# links the shared libpython, as every macOS build does, so the rpath that makes build and run agree
# stays proven. `STACK_PYTHON_LINK=static scripts/test-python-prefix.sh` tries the other way.
export STACK_PYTHON_LINK="${STACK_PYTHON_LINK:-shared}"

# Seed the second target dir from the normal one (its dependencies, not its incremental caches),
# so only pyo3 and `stack` itself are rebuilt for the other interpreter instead of every
# dependency. No incremental cache either: this build is thrown away.
export CARGO_INCREMENTAL=0
if [ ! -d "$CARGO_TARGET_DIR/debug" ] && [ -d target/debug/deps ]; then
  mkdir -p "$CARGO_TARGET_DIR/debug"
  for d in deps build .fingerprint; do
    [ -d "target/debug/$d" ] && cp -a "target/debug/$d" "$CARGO_TARGET_DIR/debug/"
  done
  # The normal build's `stack` objects are for the other Python; drop them.
  rm -rf "$CARGO_TARGET_DIR"/debug/deps/{stack,integration}-* "$CARGO_TARGET_DIR"/debug/deps/libstack-*
fi

echo "embedded Python: $("$py" -c 'import sys; print(sys.version.split()[0], sys.base_prefix)') (libpython: $STACK_PYTHON_LINK)" >&2
cargo test --locked --lib hooks::
cargo test --locked --test integration python
