#!/usr/bin/env bash
# drdrill environment bootstrap. Idempotent; fast when everything is already in place.
#   1. Docker engine: install Debian's docker.io when no engine answers, start dockerd when none runs.
#   2. Base image debian:bookworm-slim: pull it, or build it locally with debootstrap + docker import.
#   3. Stack images from docker/: drdrill/postgres:15, drdrill/redis:7, drdrill/patroni:3,
#      drdrill/mariadb:10.11 (skipped when up to date).
# Usage: scripts/setup.sh [--no-images]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[setup] %s\n' "$*" >&2; }
export DEBIAN_FRONTEND=noninteractive

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_up() { timeout 10 docker info >/dev/null 2>&1; }

# --- 1. engine -------------------------------------------------------------
if ! engine_up; then
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Docker engine (docker.io) from Debian"
    # an engine we install publishes ports with iptables alone, without docker-proxy
    # (README, "How accurate is RTO?"); written before the package starts the engine.
    # An existing engine's configuration is left alone.
    if [ ! -e /etc/docker/daemon.json ]; then
      as_root mkdir -p /etc/docker
      echo '{"userland-proxy": false}' | as_root tee /etc/docker/daemon.json >/dev/null
    fi
    apt_install docker.io iptables ca-certificates
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/drdrill-dockerd.log)"
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
      as_root systemctl start docker || true
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
      # without docker-proxy: see above (a daemon.json that sets it already wins a conflict)
      flag=--userland-proxy=false
      grep -qs userland-proxy /etc/docker/daemon.json && flag=
      as_root bash -c "nohup dockerd $flag >/var/log/drdrill-dockerd.log 2>&1 &"
    fi
  fi
  for _ in $(seq 1 60); do engine_up && break; sleep 1; done
  engine_up || { log "Docker engine did not come up; see /var/log/drdrill-dockerd.log"; exit 3; }
fi
log "Docker engine answers: $(docker version --format '{{.Server.Version}}')"

# --- 2. base image ---------------------------------------------------------
base=debian:bookworm-slim
if ! docker image inspect "$base" >/dev/null 2>&1; then
  if timeout 30 docker pull -q "$base" >/dev/null 2>&1; then
    log "pulled $base"
  else
    log "cannot pull $base: building it with debootstrap"
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    root=$(mktemp -d /tmp/drdrill-rootfs.XXXXXX)
    mirror=${DRDRILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    as_root debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/drdrill-debootstrap.log 2>&1 \
      || { log "debootstrap failed, see /tmp/drdrill-debootstrap.log"; exit 3; }
    # same package sources and apt settings as this host, so image builds reach the same mirror
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      as_root cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
      as_root rm -f "$root/etc/apt/sources.list"
    fi
    [ -f /etc/apt/apt.conf.d/99artifact-registry ] && as_root cp /etc/apt/apt.conf.d/99artifact-registry "$root/etc/apt/apt.conf.d/"
    as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    as_root tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
    as_root rm -rf "$root"
    log "imported $base"
  fi
fi

# --- 3. stack images -------------------------------------------------------
[ "${1:-}" = "--no-images" ] && exit 0
for dir in "$here"/docker/*/; do
  name=$(basename "$dir")
  tag=$(cat "$dir/TAG")
  sum=$(cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{ index .Config.Labels "drdrill.context" }}' "$tag" 2>/dev/null || true)
  if [ "$have" = "$sum" ]; then log "$tag up to date"; continue; fi
  log "building $tag from docker/$name"
  docker build -q --network host --label "drdrill.context=$sum" -t "$tag" "$dir" >/dev/null
done
log "ready"
