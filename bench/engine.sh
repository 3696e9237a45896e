#!/usr/bin/env bash
# Benchmark (issue 3): `stack up` against Docker Compose v2 on the same 3-service project
# (db with a healthcheck ← api waiting for it healthy, plus a web server), same machine, same run.
#   cold:  from no containers to running and healthy  — `stack up`  vs `docker compose up -d --wait`
#   no-op: the project already running                  — `stack up`  vs `docker compose up -d`
# Targets: no-op ≤ 0.2× compose, cold ≤ 1.0× compose. Prints medians and ratios.
# Usage: bench/engine.sh [path/to/stack] [runs]   (default: target/release/stack, 7 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin="${1:-target/release/stack}"
runs="${2:-7}"
if [ ! -x "$bin" ]; then cargo build --release --quiet; fi
bin="$(realpath "$bin")"
compose=/usr/local/bin/docker-compose-v2
[ -x "$compose" ] || scripts/install-compose.sh >/dev/null
scripts/test-images.sh >/dev/null

repo="$(mktemp -d)"
cleanup() {
  (cd "$repo" && "$bin" destroy bench --yes >/dev/null 2>&1) || true
  "$compose" -p stack-bench down >/dev/null 2>&1 || true
  rm -rf "$repo"
}
trap cleanup EXIT
mkdir -p "$repo/stacklets/bench"
printf '[core]\ndata_dir = "data"\n' > "$repo/stack.toml"
cat > "$repo/stacklets/bench/stacklet.toml" <<'TOML'
id = "bench"
name = "Bench"
description = "Three busybox services"
version = "0.1.0"
category = "development"
port = 42990
TOML
cat > "$repo/stacklets/bench/docker-compose.yml" <<'YAML'
name: stack-bench
x-common: &common
  image: stack-test/busybox:1
  init: true
  restart: unless-stopped
  networks: [stack]
services:
  stack-bench-db:
    <<: *common
    container_name: stack-bench-db
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 3600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 500ms
      retries: 10
  stack-bench-api:
    <<: *common
    container_name: stack-bench-api
    command: ["sleep", "3600"]
    depends_on:
      stack-bench-db:
        condition: service_healthy
  stack-bench-web:
    <<: *common
    container_name: stack-bench-web
    command: ["httpd", "-f", "-p", "8080"]
    ports:
      - "${PORT_BIND_IP:-127.0.0.1}:42990:8080"
networks:
  stack:
    external: true
YAML
cd "$repo"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
dc() { "$compose" -f stacklets/bench/docker-compose.yml --project-directory stacklets/bench "$@"; }

"$bin" up bench >/dev/null 2>&1   # renders stacklets/bench/.env for compose too; creates the network
"$bin" destroy bench --yes >/dev/null 2>&1

stack_cold=(); stack_noop=(); compose_cold=(); compose_noop=()
for _ in $(seq 1 "$runs"); do
  t=$(date +%s%N); "$bin" up bench >/dev/null 2>&1; stack_cold+=("$(ms "$t")")
  t=$(date +%s%N); "$bin" up bench >/dev/null 2>&1; stack_noop+=("$(ms "$t")")
  "$bin" destroy bench --yes >/dev/null 2>&1
done
"$bin" up bench >/dev/null 2>&1; cp stacklets/bench/.env /tmp/bench.env; "$bin" destroy bench --yes >/dev/null 2>&1
cp /tmp/bench.env stacklets/bench/.env
for _ in $(seq 1 "$runs"); do
  t=$(date +%s%N); dc up -d --wait >/dev/null 2>&1; compose_cold+=("$(ms "$t")")
  t=$(date +%s%N); dc up -d >/dev/null 2>&1; compose_noop+=("$(ms "$t")")
  dc down >/dev/null 2>&1
done
sc=$(median "${stack_cold[@]}"); sn=$(median "${stack_noop[@]}")
cc=$(median "${compose_cold[@]}"); cn=$(median "${compose_noop[@]}")
printf 'runs: %s each (medians)\n' "$runs"
printf 'cold start to healthy: stack %5d ms   docker compose up -d --wait %5d ms   ratio %s (target <= 1.0)\n' \
  "$sc" "$cc" "$(awk -v a="$sc" -v b="$cc" 'BEGIN{printf "%.2f", a/b}')"
printf 'no-op converge:        stack %5d ms   docker compose up -d        %5d ms   ratio %s (target <= 0.2)\n' \
  "$sn" "$cn" "$(awk -v a="$sn" -v b="$cn" 'BEGIN{printf "%.2f", a/b}')"
