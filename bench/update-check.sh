#!/usr/bin/env bash
# Benchmark (issue 13): `stack update --check` on a running 5-service stacklet against a local
# registry (Debian's docker-registry on a free loopback port, temporary storage), and a no-op
# `stack up` of the same stacklet as the yardstick, interleaved; medians over N rounds.
# Usage: bench/update-check.sh [path/to/stack] [rounds]   (default: target/release/stack, 15 rounds)
# Needs: docker, docker-registry, stack-test/busybox:1 (scripts/test-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin="${1:-target/release/stack}"
rounds="${2:-15}"
if [ ! -x "$bin" ]; then cargo build --release --quiet; fi
bin="$(realpath "$bin")"
docker info >/dev/null 2>&1 || { echo "error: no Docker Engine answers" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "error: apt-get install docker-registry" >&2; exit 1; }
scripts/test-images.sh >/dev/null

tmp="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$tmp/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry_pid=$!
repo="$tmp/repo"
cleanup() {
  (cd "$repo" 2>/dev/null && "$bin" destroy reg-bench --yes >/dev/null 2>&1) || true
  kill "$registry_pid" 2>/dev/null || true
  docker images --format '{{.Repository}} {{.ID}}' | awk -v h="127.0.0.1:$port/" 'index($1, h) == 1 {print $2}' | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

# Five images, one per service, each a distinct manifest on the registry.
mkdir -p "$repo/stacklets/reg-bench" "$tmp/ctx"
printf 'FROM stack-test/busybox:1\nCOPY version /version\n' > "$tmp/ctx/Dockerfile"
services=""
for i in 1 2 3 4 5; do
  image="127.0.0.1:$port/bench/svc$i:1"
  echo "bench-$i-$RANDOM" > "$tmp/ctx/version"
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$tmp/ctx" >/dev/null 2>&1
  docker push -q "$image" >/dev/null
  docker rmi "$image" >/dev/null
  services+="  svc$i:
    image: $image
    init: true
    command: [sleep, '86400']
"
done
printf '[core]\ndata_dir = "data"\n' > "$repo/stack.toml"
cat > "$repo/stacklets/reg-bench/stacklet.toml" <<TOML
id = "reg-bench"
name = "Bench"
description = "Five services from a local registry"
version = "0.1.0"
category = "infrastructure"
TOML
printf 'name: stack-reg-bench\nservices:\n%s' "$services" > "$repo/stacklets/reg-bench/docker-compose.yml"
(cd "$repo" && "$bin" up reg-bench >/dev/null 2>&1) || { echo "error: stack up reg-bench failed" >&2; exit 1; }
(cd "$repo" && "$bin" update reg-bench --check --json) | grep -q '"update": false' || { echo "error: --check did not answer" >&2; exit 1; }

check="" up=""
for _ in $(seq 1 "$rounds"); do
  check+="$(time_us "$repo" "$bin" update reg-bench --check) "
  up+="$(time_us "$repo" "$bin" up reg-bench) "
done
median_ms() { awk -v us="$(median "$1")" 'BEGIN {printf "%.1f ms", us / 1000}'; }
echo "medians of $rounds interleaved rounds ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
echo "| command | median |"
echo "|---|---|"
echo "| stack update reg-bench --check (5 services, local registry) | $(median_ms "$check") |"
echo "| stack up reg-bench (no-op, 5 services) | $(median_ms "$up") |"
