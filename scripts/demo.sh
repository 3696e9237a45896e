#!/usr/bin/env bash
# The quick start in one command (README "Quick start"): builds `stack`, brings up the `hello`
# stacklet (busybox httpd serving one page), fetches the page and prints it. Safe to run again.
#
# `stack up hello` pulls `busybox:1.36.1` like any image. Where no registry is reachable (an
# offline machine, CI sandboxes) the image is made locally instead, under that exact tag, from
# Debian's static busybox (scripts/test-images.sh --busybox-tag), so the demo works offline.
#
# The build is a debug build: with the checkout's `target/` it is incremental, and from scratch it
# is a few minutes faster than `--release` on a small machine. STACK_RELEASE=1 builds a release.
set -euo pipefail
cd "$(dirname "$0")/.."

image=busybox:1.36.1
port=42000

step() { printf '\n==> %s\n' "$*"; }

step "Building stack"
profile=debug
[ "${STACK_RELEASE:-0}" = 1 ] && profile=release
log=$(mktemp)
messages=$(mktemp)
trap 'rm -f "$log" "$messages"' EXIT
# Compiler output only matters when the build fails. Cargo itself says where the binary went, so
# `CARGO_TARGET_DIR`, `build.target-dir` and `--target` layouts all work.
if ! cargo build --locked $([ "$profile" = release ] && echo --release) \
  --message-format=json-render-diagnostics >"$messages" 2>"$log"; then
  cat "$log" >&2
  exit 1
fi
stack=$(sed -n 's/.*"executable":"\([^"]*\/stack\)".*/\1/p' "$messages" | tail -n 1)
if [ -z "$stack" ] || [ ! -x "$stack" ]; then
  echo "error: cargo built \`stack\` but did not say where the binary is" >&2
  exit 1
fi
"$stack" --version

# Only for the image check: `stack` itself talks to the Docker Engine API and needs no docker CLI.
if command -v docker >/dev/null 2>&1; then
  step "Making sure $image is available"
  if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image is present"
  elif timeout 60 docker pull --quiet "$image" >/dev/null 2>&1; then
    echo "pulled $image"
  else
    echo "no registry answers: building $image locally from Debian's static busybox"
    if ! { [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd; }; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
      else
        echo "error: Debian's static busybox is missing" >&2
        echo "hint: sudo apt-get install busybox-static" >&2
        exit 1
      fi
    fi
    scripts/test-images.sh --busybox-tag "$image"
  fi
fi

step "stack up hello"
"$stack" up hello

step "The page at http://localhost:$port/"
page=""
for _ in $(seq 1 20); do
  if page=$(curl -fsS "http://localhost:$port/" 2>/dev/null); then break; fi
  sleep 0.5
done
if [ -z "$page" ]; then
  echo "error: http://localhost:$port/ does not answer" >&2
  exit 1
fi
printf '%s\n' "$page"

cat <<EOF

hello is running: open http://localhost:$port/ (from another machine: this machine's address).
  stop it:     $stack down hello
  remove it:   $stack destroy hello --yes   (containers, its secrets and its data folder)
  everything:  $stack list
EOF
