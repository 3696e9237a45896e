#!/usr/bin/env bash
# Benchmark: `stack list --json` over 200 generated stacklets. Target (issue 2): median < 50 ms.
# Usage: bench/list.sh [path/to/stack]   (default: target/release/stack, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/stack}"
if [ ! -x "$bin" ]; then cargo build --release --quiet; fi
bin="$(realpath "$bin")"
repo="$(mktemp -d)"
trap 'rm -rf "$repo"' EXIT
mkdir -p "$repo/stacklets"
printf '[core]\ndata_dir = "data"\n' > "$repo/stack.toml"
for i in $(seq 1 200); do
  id="s$i"
  mkdir -p "$repo/stacklets/$id"
  dep=""
  if [ "$i" -gt 1 ]; then dep="requires = [\"s$((i - 1))\"]"; fi
  cat > "$repo/stacklets/$id/stacklet.toml" <<TOML
id = "$id"
name = "Stacklet $i"
description = "Generated stacklet $i"
version = "0.1.0"
category = "productivity"
port = $((42000 + i))
$dep
hints = ["Open {url}"]

[env]
generate = ["DB_PASSWORD", "SECRET_KEY"]

[env.defaults]
DATA = "{data_dir}/$id"
TZ = "{timezone}"

[health]
url = "http://localhost:$((42000 + i))/"
TOML
done
cd "$repo"
runs=30
times=()
for _ in $(seq 1 $runs); do
  start=$(date +%s%N)
  "$bin" list --json > /dev/null
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
median=${sorted[$((runs / 2))]}
min=${sorted[0]}
max=${sorted[$((runs - 1))]}
printf 'stack list --json, 200 stacklets, %d runs: median %d.%03d ms (min %d.%03d, max %d.%03d); target < 50 ms\n' \
  "$runs" $((median / 1000)) $((median % 1000)) $((min / 1000)) $((min % 1000)) $((max / 1000)) $((max % 1000))
