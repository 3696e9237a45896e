#!/usr/bin/env bash
# Benchmark (issue 16): backup and restore throughput on 1 GB of generated files, in one run
# against `restic` and `tar | zstd` on the same data, same disk, medians over N rounds.
#   stack backup <id>  first (creates the repository)     vs `restic backup` first   ≤ 1.5×
#   stack backup <id>  second, nothing changed            vs stack's first            < 0.10×
#   stack restore <id> (restore, swap, `up`)              vs `restic restore latest` (shown)
#   tar -c | zstd -T0 / zstd -d | tar -x                   (the floor: no dedup, no encryption)
# Each stack step runs back to back with its restic counterpart (the order alternates between
# rounds) and the ratios are medians of the per-round ratios: load from other work drifts.
# The data (deterministic seed, 1 GB): 200 MB in ~51,000 small text files of 256 B–16 KB
# (documents, notes, mail; compressible), 450 MB in ~150 photo-sized files of 1–5 MB and 200 MB in
# one video (random bytes: incompressible), and a 150 MB database-like file of 8 KB pages (partly
# compressible). It lives in the data dir of a host stacklet without services in a temporary
# instance with `[backup] mode = "live"`: no container is stopped or started, so the numbers are
# the repository work alone. What `mode = "stop"` adds for a Docker stacklet (its `down` before
# and `up` after the snapshot) is measured apart, on a one-container busybox stacklet with a tiny
# data dir (stop-mode backup minus live-mode backup).
# Before each measured step everything written so far is flushed (`sync`: no step pays for an
# earlier one's writeback) and the data is read once (every tool starts from a warm page cache).
# The repositories, the restore targets and the archive are on the same disk as the data.
# restic's `init` is timed apart (its first backup does not include it; stack's does).
# Usage: bench/backup.sh [path/to/stack] [rounds]   (default: target/release/stack, 3 rounds)
#        BENCH_BYTES=200000000 bench/backup.sh …    (a smaller data set for a quick look)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/stack}"
rounds="${2:-3}"
bytes="${BENCH_BYTES:-1000000000}"
if [ ! -x "$bin" ]; then cargo build --release --locked --quiet; fi
bin="$(realpath "$bin")"
docker info >/dev/null 2>&1 || { echo "error: no Docker Engine answers" >&2; exit 1; }
scripts/test-images.sh >/dev/null
for tool in restic zstd tar python3; do
  command -v "$tool" >/dev/null || {
    echo "error: \`$tool\` is not installed (apt-get install restic zstd)" >&2
    exit 1
  }
done

tmp="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/stack-bench-backup.XXXXXX")"
web=bkbench-web
cleanup() {
  [ -d "$tmp/web" ] && (cd "$tmp/web" && "$bin" destroy "$web" --yes >/dev/null 2>&1) || true
  rm -rf "$tmp"
}
trap cleanup EXIT
id=bkbench
inst="$tmp/instance"
data="$inst/data/$id"
mkdir -p "$inst/stacklets/$id" "$data"
cat > "$inst/stack.toml" <<'TOML'
[core]
data_dir = "data"

[backup]
repository = "../stack-repo"
mode = "live"
TOML
cat > "$inst/stacklets/$id/stacklet.toml" <<TOML
id = "$id"
name = "Backup bench"
description = "1 GB of generated family files"
version = "0.1.0"
category = "infrastructure"
type = "host"
TOML

# The stop-mode probe: busybox httpd serving its data dir, nothing else.
mkdir -p "$tmp/web/stacklets/$web" "$tmp/web/data/$web"
echo hello > "$tmp/web/data/$web/index.html"
cat > "$tmp/web/stacklets/$web/stacklet.toml" <<TOML
id = "$web"
name = "Backup bench web"
description = "One busybox container"
version = "0.1.0"
category = "infrastructure"
port = 42991

[env.defaults]
WWW = "{data_dir}/$web"
TOML
cat > "$tmp/web/stacklets/$web/docker-compose.yml" <<YAML
name: stack-$web
services:
  web:
    container_name: stack-$web
    image: stack-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes:
      - \${WWW}:/www
    ports:
      - "127.0.0.1:42991:8080"
YAML
web_mode() { printf '[core]\ndata_dir = "data"\n\n[backup]\nrepository = "../web-repo"\nmode = "%s"\n' "$1" > "$tmp/web/stack.toml"; }
web_mode stop
# Up, and a first backup that creates its repository (not measured).
(cd "$tmp/web" && "$bin" up "$web" && "$bin" backup "$web") >"$tmp/log" 2>&1 || {
  echo "error: the stop-mode probe stacklet failed:" >&2
  cat "$tmp/log" >&2
  exit 1
}

echo "generating $bytes bytes of files in $data …" >&2
python3 - "$data" "$bytes" <<'PY'
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
syll = ["ka", "lo", "mi", "ne", "ru", "ta", "ve", "so", "pi", "da", "el", "or", "an", "us", "th", "ing", "er", "ch"]
words = ["".join(rng.choices(syll, k=rng.randint(1, 4))) for _ in range(3000)]
lines = [" ".join(rng.choices(words, k=rng.randint(6, 20))) + "\n" for _ in range(30000)]
written = 0
def put(rel, blob):
    global written
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(blob)
    written += len(blob)
def text(n):
    out, size = [], 0
    while size < n:
        l = lines[rng.randrange(len(lines))]
        out.append(l); size += len(l)
    return "".join(out).encode()[:n]
# Small files: 20% of the bytes, 256 B – 16 KB each (log-uniform): documents, notes, mail.
small = total * 20 // 100
i = 0
while written < small:
    n = int(256 * 64 ** rng.random())
    ext = ("txt", "md", "json", "eml")[i % 4]
    put(f"documents/{i // 500:03d}/note-{i:05d}.{ext}", f"{{\"n\": {i}}}\n".encode() + text(n))
    i += 1
# Photos: 45%, 1–5 MB of random bytes each (JPEG/HEIC do not compress).
photos = written + total * 45 // 100
i = 0
while written < photos:
    n = min(rng.randint(1_000_000, 5_000_000), photos - written)
    put(f"photos/{2019 + i % 7}/IMG_{i:04d}.jpg", rng.randbytes(n))
    i += 1
# A database: 15%, 8 KB pages of 2 KB random, 4 KB text rows, 2 KB zero fill.
db = total * 15 // 100
pages = []
for _ in range(db // 8192):
    pages.append(rng.randbytes(2048) + text(4096) + bytes(2048))
put("db/base/16384/2619", b"".join(pages))
# A video: the rest, random.
rest = total - written
chunks, left = [], rest
while left > 0:
    n = min(left, 8 << 20)
    chunks.append(rng.randbytes(n)); left -= n
put("videos/2024-summer.mp4", b"".join(chunks))
print(f"{written} bytes written", file=sys.stderr)
PY
# fbytes <dir>: the bytes of the files under dir (directory sizes differ between filesystems' histories).
fbytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
files=$(find "$data" -type f | wc -l)
size=$(fbytes "$data")
# digest: one hash over every file's path and content, in path order.
digest() { (cd "$data" && find . -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -d' ' -f1); }
generated=$(digest)
mb=$(awk -v b="$size" 'BEGIN {printf "%.0f", b / 1e6}')
echo "data: $files files, $mb MB" >&2

# seconds <command…>: wall seconds of one run; output to $tmp/log, shown when it fails.
seconds() {
  local start end
  start=$EPOCHREALTIME
  if ! "$@" >"$tmp/log" 2>&1; then
    echo "error: $* failed:" >&2
    cat "$tmp/log" >&2
    exit 1
  fi
  end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}'
}
# Before each measured step: everything written so far is on disk (`sync`, so no step pays for
# an earlier step's writeback), and the data to read is in the page cache.
warm() { sync; find "$data" -type f -exec cat {} + >/dev/null; }
st() { (cd "$inst" && "$bin" "$@"); }

password=""
rr() { RESTIC_PASSWORD="$password" RESTIC_CACHE_DIR="$tmp/restic-cache" restic -r "$tmp/restic-repo" "$@"; }
tar_c() { tar -C "$inst/data" -cf - "$id" | zstd -q -T0 -o "$tmp/data.tar.zst"; }
tar_x() { mkdir -p "$tmp/tar-out" && zstd -q -dc "$tmp/data.tar.zst" | tar -C "$tmp/tar-out" -xf -; }

wb() { (cd "$tmp/web" && "$bin" backup "$web"); }
names=(sb1 sb2 sr rinit rb1 rb2 rr tz tx wstop wlive)
declare -A samples
declare -A stored
parents=""
# Each stack step and its restic counterpart run back to back, so a change in the machine's load
# hits both alike; the order within a pair alternates between rounds (stack first in odd ones).
# The ratios below are medians of these paired per-round ratios.
pair() { # round, stack step name, restic step name: runs `step_<name>` in the round's order
  if [ $(($1 % 2)) -eq 1 ]; then "step_$2"; "step_$3"; else "step_$3"; "step_$2"; fi
}
step_sb1() { warm; samples[sb1]+="$(seconds st backup "$id") "; }
step_sb2() { warm; samples[sb2]+="$(seconds st backup "$id") "; }
step_sr() { sync; samples[sr]+="$(seconds st restore "$id" --yes) "; }
step_rb1() {
  sync; samples[rinit]+="$(seconds rr init --repository-version 2) "
  warm; samples[rb1]+="$(seconds rr backup "$data") "
}
step_rb2() { warm; samples[rb2]+="$(seconds rr backup "$data") "; }
step_rr() { sync; samples[rr]+="$(seconds rr restore latest --target "$tmp/restic-out") "; }
for round in $(seq 1 "$rounds"); do
  rm -rf "$tmp/stack-repo" "$tmp/restic-repo" "$tmp/restic-cache" "$tmp/restic-out" \
    "$tmp/tar-out" "$tmp/data.tar.zst"
  if [ -z "$password" ]; then
    # Round 1 (stack first) creates the password; restic's repositories use it too (the same
    # key derivation, the same repository type).
    step_sb1
    password=$(sed -n 's/^global__BACKUP_PASSWORD = "\(.*\)"$/\1/p' "$inst/.stack/secrets.toml")
    step_rb1
  else
    pair "$round" sb1 rb1
  fi
  pair "$round" sb2 rb2
  # The second snapshot must name the first as its parent (unchanged files are not read again).
  snaps=$(RESTIC_PASSWORD="$password" RESTIC_CACHE_DIR="$tmp/restic-cache" restic -r "$tmp/stack-repo" snapshots --json)
  parents+=$(python3 -c 'import json,sys; s=sorted(json.load(sys.stdin), key=lambda s: s["time"]); print("yes" if len(s) == 2 and s[1].get("parent") == s[0]["id"] else "NO")' <<<"$snaps")" "
  pair "$round" sr rr
  stored[stack]=$(du -sb "$tmp/stack-repo" | cut -f1)
  stored[restic]=$(du -sb "$tmp/restic-repo" | cut -f1)
  [ "$(fbytes "$tmp/restic-out$data")" = "$size" ] || { echo "error: restic restored another size" >&2; exit 1; }
  rm -rf "$tmp/restic-out"
  warm; samples[tz]+="$(seconds tar_c) "
  sync; samples[tx]+="$(seconds tar_x) "
  stored[tar]=$(stat -c %s "$tmp/data.tar.zst")
  [ "$(fbytes "$tmp/tar-out/$id")" = "$size" ] || { echo "error: tar extracted another size" >&2; exit 1; }
  sync; web_mode stop; samples[wstop]+="$(seconds wb) "
  web_mode live; samples[wlive]+="$(seconds wb) "
  for n in "${names[@]}"; do last="${samples[$n]% }"; printf '%s %ss  ' "$n" "${last##* }"; done >&2
  echo "round $round/$rounds done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
# After the rounds' `stack restore`s the data dir must hold exactly the generated files.
[ "$(digest)" = "$generated" ] || { echo "error: the data restored by stack differs from the generated data" >&2; exit 1; }

declare -A median
for n in "${names[@]}"; do
  median[$n]=$(printf '%s\n' ${samples[$n]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
done
rate() { awk -v s="$1" -v mb="$mb" 'BEGIN {printf "%.0f MB/s", mb / s}'; }
verdict() { awk -v r="$1" -v g="$2" -v op="$3" 'BEGIN {ok = (op == "<") ? (r < g) : (r <= g); print ok ? "ok" : "MISSED"}'; }
row() { # label, median name, note[, rate shown: yes]
  local r="—"
  [ "${4:-yes}" = no ] || r="$(rate "${median[$2]}")"
  printf '| %-36s | %8s s | %9s | %s |\n' "$1" "${median[$2]}" "$r" "$3"
}
mbs() { awk -v b="$1" 'BEGIN {printf "%.0f MB", b / 1e6}'; }
# pratio a b: the median over the rounds of a_i / b_i.
pratio() {
  paste -d' ' <(printf '%s\n' ${samples[$1]}) <(printf '%s\n' ${samples[$2]}) |
    awk '{print $1 / $2}' | sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}
r1=$(pratio sb1 rb1)
r2=$(pratio sb2 sb1)
echo "$files files, $mb MB; medians of $rounds rounds (ratios: medians of the rounds' ratios) ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)); second snapshot's parent is the first: $parents"
printf '| %-36s | %10s | %9s | %s |\n' step median rate note
printf '|%s|%s|%s|%s|\n' -------------------------------------- ------------ ----------- ------------------------------
row "stack backup, first (creates repo)" sb1 "$r1× restic (goal ≤ 1.5×: $(verdict "$r1" 1.5 '<=')); repo $(mbs "${stored[stack]}")"
row "stack backup, second (unchanged)" sb2 "$r2× the first (goal < 0.10×: $(verdict "$r2" 0.10 '<'))"
row "stack restore (restore, swap, up)" sr "$(pratio sr rr)× restic restore"
row "restic init" rinit "not in restic's first backup" no
row "restic backup, first" rb1 "repo $(mbs "${stored[restic]}")"
row "restic backup, second (unchanged)" rb2 "$(pratio rb2 rb1)× its first"
row "restic restore latest" rr ""
row "tar -c | zstd -T0" tz "archive $(mbs "${stored[tar]}")"
row "zstd -d | tar -x" tx ""
stopcost=$(awk -v a="${median[wstop]}" -v b="${median[wlive]}" 'BEGIN {printf "%.3f", a - b}')
echo
echo "mode = \"stop\" on a one-container stacklet: backup ${median[wstop]} s, in live mode ${median[wlive]} s: down + up add $stopcost s"
