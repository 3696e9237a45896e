#!/usr/bin/env bash
# Benchmark (issue 15 §5): the everyday commands against their yardsticks, run in the SAME loop
# (interleaved, so load from other processes hits both alike), medians over N rounds.
#   status, list   over the eight shipped stacklets, none running   vs `docker ps -a`      ≤ 0.85×
#   ps (no id)     over 30 and 200 generated stacklets              vs `docker ps -a --filter label=com.docker.compose.project`  ≤ 1.2×
#   --version                                                       vs `/bin/true`         ≤ 2.5×
# Each sample is the wall time of one fork+exec+wait from bash ($EPOCHREALTIME, no extra process).
# Usage: bench/everyday.sh [path/to/stack] [rounds]   (default: target/release/stack, 41 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin="${1:-target/release/stack}"
rounds="${2:-41}"
if [ ! -x "$bin" ]; then cargo build --release --quiet; fi
bin="$(realpath "$bin")"
docker info >/dev/null 2>&1 || { echo "error: no Docker Engine answers" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A repo with the shipped stacklets, and repos with n generated ones; none is set up or running.
shipped="$tmp/shipped"
mkdir -p "$shipped"
cp -r stacklets "$shipped/"
printf '[core]\ndata_dir = "data"\n' > "$shipped/stack.toml"
generated() {
  local repo="$tmp/gen$1"
  mkdir -p "$repo/stacklets"
  printf '[core]\ndata_dir = "data"\n' > "$repo/stack.toml"
  for i in $(seq 1 "$1"); do
    mkdir -p "$repo/stacklets/s$i"
    cat > "$repo/stacklets/s$i/stacklet.toml" <<TOML
id = "s$i"
name = "Stacklet $i"
description = "Generated stacklet $i"
version = "0.1.0"
category = "productivity"
port = $((42000 + i))
TOML
  done
  echo "$repo"
}
gen30="$(generated 30)"
gen200="$(generated 200)"


label=com.docker.compose.project
declare -A samples
names=(status list docker_ps ps30 dps30 ps200 dps200 version true)
for _ in $(seq 1 "$rounds"); do
  samples[status]+="$(time_us "$shipped" "$bin" status) "
  samples[docker_ps]+="$(time_us "$shipped" docker ps -a) "
  samples[list]+="$(time_us "$shipped" "$bin" list) "
  samples[ps30]+="$(time_us "$gen30" "$bin" ps) "
  samples[dps30]+="$(time_us "$gen30" docker ps -a --filter "label=$label") "
  samples[ps200]+="$(time_us "$gen200" "$bin" ps) "
  samples[dps200]+="$(time_us "$gen200" docker ps -a --filter "label=$label") "
  samples[version]+="$(time_us "$tmp" "$bin" --version) "
  samples[true]+="$(time_us "$tmp" /bin/true) "
done

declare -A median
for n in "${names[@]}"; do
  median[$n]=$(median "${samples[$n]}")
done
ms() { awk -v us="$1" 'BEGIN {printf "%.2f ms", us / 1000}'; }
row() { # name, yardstick name, label, yardstick label, goal
  local ratio
  ratio=$(awk -v a="${median[$1]}" -v b="${median[$2]}" 'BEGIN {printf "%.2f", a / b}')
  local verdict
  verdict=$(awk -v r="$ratio" -v g="$5" 'BEGIN {print (r <= g) ? "ok" : "MISSED"}')
  printf '| %-22s | %10s | %-44s | %10s | %5s× | ≤ %s× %s |\n' "$3" "$(ms "${median[$1]}")" "$4" "$(ms "${median[$2]}")" "$ratio" "$5" "$verdict"
}
echo "medians of $rounds interleaved rounds ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
printf '| %-22s | %10s | %-44s | %10s | %6s | %s |\n' command median yardstick median ratio goal
printf '|%s|%s|%s|%s|%s|%s|\n' ------------------------ ------------ ---------------------------------------------- ------------ -------- ----------
row status docker_ps "stack status (8)" "docker ps -a" 0.85
row list docker_ps "stack list (8)" "docker ps -a" 0.85
row ps30 dps30 "stack ps (30)" "docker ps -a --filter label=… (30)" 1.2
row ps200 dps200 "stack ps (200)" "docker ps -a --filter label=… (200)" 1.2
row version true "stack --version" "/bin/true" 2.5
