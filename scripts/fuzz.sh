#!/usr/bin/env bash
# Fuzz the parsers of the files users write (manifest, template, compose with interpolation,
# `.env`, `secrets.toml`, `users.toml`, the Caddy snippet lexer) with cargo-fuzz / libFuzzer.
#
#   scripts/fuzz.sh                 # every target, 1 000 000 executions each
#   RUNS=50000 scripts/fuzz.sh dotenv compose
#   SANITIZER=none scripts/fuzz.sh manifest   # faster, without AddressSanitizer
#
# The targets live in `fuzz/` (a package of its own, not built by `cargo test`); seeds are in
# `fuzz/seeds/<target>/`, what libFuzzer learns goes to `fuzz/corpus/<target>/` (git-ignored) and a
# crashing input to `fuzz/artifacts/<target>/`. cargo-fuzz needs nightly compiler flags; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them. Exits non-zero on the first target that finds a panic.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
runs="${RUNS:-1000000}"
# AddressSanitizer (cargo-fuzz's default) also checks the `unsafe` inside dependencies.
sanitizer="${SANITIZER:-address}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== $t ($runs runs)"
  # -max_len: user files are small; -timeout: a single input taking 10 s is a hang (a finding).
  status=0
  cargo fuzz run --sanitizer "$sanitizer" -O "$t" "corpus/$t" "seeds/$t" -- \
    -runs="$runs" -max_len=8192 -timeout=10 -print_final_stats=1 >"logs/$t.log" 2>&1 || status=$?
  grep -E "^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)" "logs/$t.log" || true
  if [ "$status" -ne 0 ]; then
    grep -E "panicked|Test unit written|Timeout|ERROR" "logs/$t.log" >&2 || true
    echo "error: fuzz target \`$t\` failed; see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
