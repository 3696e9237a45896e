#!/usr/bin/env bash
# Reliability evidence for contract §4 ("an interrupted first run is retried from on_configure and
# nothing is half-marked"; "Ctrl-C during `up` leaves no half-written file"; secrets "generated once,
# never overwritten").
#
# Builds `stack`, writes a temp repo with one stacklet whose first run has several steps (generated
# secrets and the global admin password, on_configure writing `ctx.cfg`, on_install, a busybox
# container, a health check, on_install_success writing a secret), then N times (default 50):
#   1. start `stack up`, SIGKILL it after a random delay within one run's duration;
#   2. check: `.stack/secrets.toml` and `stack.toml` parse, no secret ever seen changed value, the
#      marker exists only if on_install_success finished (the hook records that), the `.env` (if
#      any) holds the current secrets;
#   3. run `stack up` to completion and check again (now the marker must exist);
#   4. `stack destroy --yes` so the next round is a first run again (`global__*` survives, so the
#      admin password must stay the same across all rounds).
# Prints one summary line. Exit 0 only when every check passed.
#
# Usage: bench/kill-first-run.sh [rounds]      STACK_BIN=path/to/stack to skip the build.
# Needs: Docker, the local test image (scripts/test-images.sh), python3 >= 3.11 (tomllib).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
port="${KFR_PORT:-43190}"
id="kfr"

if [ -z "${STACK_BIN:-}" ]; then
  cargo build --quiet 2>/dev/null || cargo build
  STACK_BIN=target/debug/stack
fi
bin="$(realpath "$STACK_BIN")"
scripts/test-images.sh >/dev/null

repo="$(mktemp -d /tmp/stack-kfr-XXXXXX)"
cleanup() {
  (cd "$repo" && "$bin" destroy "$id" --yes >/dev/null 2>&1) || true
  docker ps -aq --filter "label=com.docker.compose.project=stack-$id" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "label=com.docker.compose.project=stack-$id" | xargs -r docker volume rm >/dev/null
  rm -rf "$repo"
}
trap cleanup EXIT

s="$repo/stacklets/$id"
mkdir -p "$s/hooks"
printf '[core]\ndata_dir = "data"\n\n# settings of the bench stacklet\n[%s]\n' "$id" >"$repo/stack.toml"
cat >"$s/stacklet.toml" <<TOML
id = "$id"
name = "Kill first run"
description = "Bench stacklet: a first run with several steps"
version = "0.1.0"
category = "infrastructure"
port = $port

[env]
generate = ["DB_PASSWORD", "SECRET_KEY"]

[env.defaults]
ADMIN_PASSWORD = "{admin_password}"
WWW = "{data_dir}/$id/www"

[health]
url = "http://127.0.0.1:$port/health.json"
path = "\$.res"
expect = "pong"
timeout = 30
TOML
cat >"$s/docker-compose.yml" <<YAML
name: stack-$id
services:
  web:
    container_name: stack-$id-web
    image: stack-test/busybox:1
    init: true
    command: ["sh", "-c", "sleep 0.3; mkdir -p /www && echo '{\"res\": \"pong\"}' > /www/health.json && exec httpd -f -p 8080 -h /www"]
    volumes:
      - cache:/cache
    ports:
      - "127.0.0.1:$port:8080"
volumes:
  cache:
YAML
cat >"$s/hooks/on_configure.py" <<'PY'
import time

def run(ctx):
    if ctx.cfg("mode") is None:
        ctx.cfg("mode", "configured")
    time.sleep(0.1)
PY
cat >"$s/hooks/on_install.sh" <<'SH'
mkdir -p "$WWW"
sleep 0.1
SH
cat >"$s/hooks/on_install_success.py" <<'PY'
import os, secrets

def run(ctx):
    if not ctx.secret("API_TOKEN"):
        ctx.secret("API_TOKEN", secrets.token_hex(16))
    # Recorded last: the runtime may write the marker only after this line ran.
    with open(os.path.join(ctx.env["STACK_DATA_DIR"], "install-success.done"), "a") as f:
        f.write("done\n")
PY

# The checker: parses the files, compares every secret with what earlier checks saw (kept in a JSON
# file; `reset` forgets the stacklet's own secrets after a destroy, keeping `global__*`).
cat >"$repo/check.py" <<'PY'
import json, os, sys, tomllib
repo, phase = sys.argv[1], sys.argv[2]
sid = "kfr"
state_path = os.path.join(repo, "seen.json")
seen = json.load(open(state_path)) if os.path.exists(state_path) else {}
if phase == "reset":
    seen = {k: v for k, v in seen.items() if not k.startswith(sid + "__")}
    json.dump(seen, open(state_path, "w"))
    sys.exit(0)
problems = []
secrets_path = os.path.join(repo, ".stack/secrets.toml")
secrets = {}
if os.path.exists(secrets_path):
    try:
        secrets = tomllib.load(open(secrets_path, "rb"))
    except Exception as e:
        problems.append(f"secrets.toml does not parse: {e}")
try:
    tomllib.load(open(os.path.join(repo, "stack.toml"), "rb"))
except Exception as e:
    problems.append(f"stack.toml does not parse: {e}")
for k, v in secrets.items():
    if k in seen and seen[k] != v:
        problems.append(f"secret {k} changed")
    seen[k] = v
marker = os.path.exists(os.path.join(repo, f".stack/{sid}.setup-done"))
done = os.path.exists(os.path.join(repo, "data/install-success.done"))
if marker and not done:
    problems.append("marker without a finished on_install_success")
if phase == "complete" and not marker:
    problems.append("no marker after a complete run")
env_path = os.path.join(repo, f"stacklets/{sid}/.env")
if os.path.exists(env_path):
    text = open(env_path).read()
    for name in ("DB_PASSWORD", "SECRET_KEY"):
        want = secrets.get(f"{sid}__{name}")
        if want is None or f"{name}={want}\n" not in text:
            problems.append(f".env {name} does not match secrets.toml")
json.dump(seen, open(state_path, "w"))
# Temporary files of atomic writes that a SIGKILL interrupted before the rename: never a torn
# target, but left behind. Recorded by name so the summary counts each once.
litter = [os.path.join(d, n) for d in (".stack", f"stacklets/{sid}", "") for n in os.listdir(os.path.join(repo, d)) if n.startswith(".tmp-")]
with open(os.path.join(repo, "litter.txt"), "a") as f:
    f.writelines(l + "\n" for l in litter)
print(json.dumps({"problems": problems, "marker": marker, "done": done}))
PY

cd "$repo"
run_check() { python3 check.py "$repo" "$1"; }

# Calibrate: one complete first run gives the window the kills are spread over.
start=$(date +%s%N)
"$bin" up "$id" >/dev/null 2>&1 || { echo "error: calibration run failed" >&2; "$bin" up "$id"; exit 1; }
# 10% beyond one run, so some kills land after `up` finished (the marker must then be there).
window_ms=$(( ($(date +%s%N) - start) / 1000000 * 11 / 10 ))
run_check complete >/dev/null
"$bin" destroy "$id" --yes >/dev/null 2>&1
rm -f data/install-success.done
run_check reset

killed=0 finished_early=0 marker_after_kill=0 failures=0 completed=0
: >litter.txt
for round in $(seq 1 "$rounds"); do
  delay_ms=$(( RANDOM % window_ms ))
  "$bin" up "$id" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  if wait "$pid" 2>/dev/null; then finished_early=$((finished_early + 1)); fi
  out=$(run_check killed)
  case "$out" in *'"problems": []'*) ;; *) failures=$((failures + 1)); echo "round $round after kill at ${delay_ms}ms: $out" >&2 ;; esac
  case "$out" in *'"marker": true'*) marker_after_kill=$((marker_after_kill + 1)) ;; esac

  if "$bin" up "$id" >"$repo/last-up.log" 2>&1; then
    completed=$((completed + 1))
  else
    failures=$((failures + 1)); echo "round $round: re-run failed:" >&2; cat "$repo/last-up.log" >&2
  fi
  out=$(run_check complete)
  case "$out" in *'"problems": []'*) ;; *) failures=$((failures + 1)); echo "round $round after re-run: $out" >&2 ;; esac

  "$bin" destroy "$id" --yes >/dev/null 2>&1 || { failures=$((failures + 1)); echo "round $round: destroy failed" >&2; }
  rm -f data/install-success.done
  run_check reset
done

litter=$(sort -u litter.txt | wc -l)
litter_where=$(sort -u litter.txt | xargs -r -n1 dirname | sort | uniq -c | awk '{printf "%s%s:%s", sep, ($2 == "." ? "root" : $2), $1; sep=","}')
echo "kill-first-run: rounds=$rounds window=${window_ms}ms killed=$killed finished-before-kill=$finished_early marker-after-kill=$marker_after_kill re-runs-completed=$completed tmp-litter=$litter${litter_where:+ ($litter_where)} failures=$failures"
[ "$failures" -eq 0 ]
