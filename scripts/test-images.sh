#!/usr/bin/env bash
# Builds the local test images without any registry (none is reachable on test machines):
#   stack-test/busybox:1  a rootfs holding the static busybox and its applet symlinks
#   stack-test/caddy:1    the caddy binary with the shared libraries it links (Debian's build links
#                         libc and libzstd), plus busybox for sh/wget in healthchecks
# Both come from `docker import` of a tar made here, so this takes well under a second.
# Idempotent: an image that already exists is left alone (pass --force to rebuild).
# `--busybox-tag TAG` builds only the busybox image, under TAG instead (the offline demo uses it
# to stand in for `busybox:1.36.1`: scripts/demo.sh).
# Needs: docker CLI talking to an engine, /bin/busybox (Debian `busybox-static`), /usr/bin/caddy.
set -euo pipefail

force=0
busybox_tag=stack-test/busybox:1
only_busybox=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --busybox-tag) busybox_tag="${2:?--busybox-tag needs a tag}"; only_busybox=1; shift ;;
    *) echo "usage: $0 [--force] [--busybox-tag TAG]" >&2; exit 2 ;;
  esac
  shift
done

busybox="${BUSYBOX:-/bin/busybox}"
caddy="${CADDY:-/usr/bin/caddy}"

have() { docker image inspect "$1" >/dev/null 2>&1; }

# A static binary is required: the image has no libc. `file` is not always installed, so ask ldd.
static_or_die() {
  if ldd "$1" >/dev/null 2>&1; then
    echo "error: $1 is dynamically linked; install busybox-static / a static build" >&2
    exit 1
  fi
}

# Copies the shared libraries (and the loader) a dynamic binary needs into the rootfs at the same
# paths, so a distribution build runs in a FROM-scratch image. No-op for a static binary.
copy_libs() {
  local bin="$1" root="$2" lib
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# Writes a busybox rootfs into $1: /bin/busybox plus one symlink per applet, /tmp, /etc/passwd.
busybox_rootfs() {
  local root="$1"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/var/www" "$root/root"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  mkdir -p "$root/usr/bin" "$root/sbin" "$root/usr/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

import() {
  local root="$1" tag="$2"
  shift 2
  tar -C "$root" -c . | docker import "$@" - "$tag" >/dev/null
  echo "built $tag"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$force" = 1 ] || ! have "$busybox_tag"; then
  [ -x "$busybox" ] || { echo "error: $busybox missing: apt-get install -y busybox-static" >&2; exit 1; }
  static_or_die "$busybox"
  busybox_rootfs "$work/busybox"
  import "$work/busybox" "$busybox_tag" \
    --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
    --change 'CMD ["sh"]'
else
  echo "exists $busybox_tag"
fi

[ "$only_busybox" = 1 ] && exit 0

if [ "$force" = 1 ] || ! have stack-test/caddy:1; then
  [ -x "$caddy" ] || { echo "error: $caddy missing: apt-get install -y caddy" >&2; exit 1; }
  busybox_rootfs "$work/caddy"
  mkdir -p "$work/caddy/usr/bin" "$work/caddy/etc/caddy" "$work/caddy/data" "$work/caddy/config"
  cp "$caddy" "$work/caddy/usr/bin/caddy"
  copy_libs "$caddy" "$work/caddy"
  printf ':80 {\n\trespond "ok"\n}\n' >"$work/caddy/etc/caddy/Caddyfile"
  import "$work/caddy" stack-test/caddy:1 \
    --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
    --change 'ENV XDG_CONFIG_HOME=/config' \
    --change 'ENV XDG_DATA_HOME=/data' \
    --change 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
else
  echo "exists stack-test/caddy:1"
fi
