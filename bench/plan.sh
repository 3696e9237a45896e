#!/usr/bin/env bash
# Benchmark (issue 13 §6): `stack plan` on a running 3-service stacklet vs a no-op `stack up` of
# the same stacklet, interleaved in the same loop, medians over N rounds. Goal: plan ≤ 2× no-op up.
# Uses the test image stack-test/busybox:1 (scripts/test-images.sh). Project `stack-pl-bench`.
# Usage: bench/plan.sh [path/to/stack] [rounds]   (default: target/release/stack, 21 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin="${1:-target/release/stack}"
rounds="${2:-21}"
if [ ! -x "$bin" ]; then cargo build --release --quiet; fi
bin="$(realpath "$bin")"
docker info >/dev/null 2>&1 || { echo "error: no Docker Engine answers" >&2; exit 1; }

repo="$(mktemp -d)"
cleanup() {
  (cd "$repo" && "$bin" destroy pl-bench --yes >/dev/null 2>&1) || true
  rm -rf "$repo"
}
trap cleanup EXIT
mkdir -p "$repo/stacklets/pl-bench"
printf '[core]\ndata_dir = "data"\n' > "$repo/stack.toml"
cat > "$repo/stacklets/pl-bench/stacklet.toml" <<'TOML'
id = "pl-bench"
name = "Plan bench"
description = "Three idle services"
version = "0.1.0"
category = "productivity"
[env.defaults]
GREETING = "hello"
TOML
{
  echo "name: stack-pl-bench"
  echo "services:"
  for s in a b c; do
    cat <<YAML
  $s:
    image: stack-test/busybox:1
    init: true
    command: ["sleep", "86400"]
    environment:
      GREETING: \${GREETING}
YAML
  done
} > "$repo/stacklets/pl-bench/docker-compose.yml"
(cd "$repo" && "$bin" up pl-bench >/dev/null 2>&1)

plan="" up=""
for _ in $(seq 1 "$rounds"); do
  plan+="$(time_us "$repo" "$bin" plan pl-bench) "
  up+="$(time_us "$repo" "$bin" up pl-bench) "
done
p=$(median "$plan"); u=$(median "$up")
echo "medians of $rounds interleaved rounds ($(nproc) cores)"
awk -v p="$p" -v u="$u" 'BEGIN {
  r = p / u
  printf "| stack plan (3 services) | %.2f ms | no-op stack up | %.2f ms | %.2f× | ≤ 2× %s |\n", p/1000, u/1000, r, (r <= 2) ? "ok" : "MISSED"
}'
