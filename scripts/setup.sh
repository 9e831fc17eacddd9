#!/usr/bin/env bash
# drdrill environment bootstrap. Idempotent; fast when everything is already in place.
#   1. Docker engine: install Debian's docker.io when no engine answers, start dockerd when none runs.
#   2. Base image debian:bookworm-slim: pull it, or build it locally with debootstrap + docker import.
#   3. Stack images from docker/: drdrill/postgres:15-2, drdrill/redis:7, drdrill/patroni:3,
#      drdrill/mariadb:10.11, ... (skipped when up to date). `drdrill run` builds the images
#      its drill needs by itself; scripts/drill.sh asks for the default drill's image alone
#      (--image postgres), or for none (--no-images).
# Every step says what it does, again every 10 s while it runs, and how long it took.
# DRDRILL_SETUP_YIELD=1: the heavy steps yield the CPU to a compile beside them (lib.sh).
# Usage: scripts/setup.sh [--no-images | --image NAME...]   (NAME: a folder of docker/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
me=setup
. "$here/scripts/lib.sh"
export DEBIAN_FRONTEND=noninteractive
started=$SECONDS

trap 'rm -f "$apt_stamp"' EXIT

images=all
only=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-images) images=none ;;
    --image)
      [ -d "$here/docker/${2:-}" ] || { log "--image needs a folder of docker/, found '${2:-}'"; exit 2; }
      images=some
      only+=("$2")
      shift ;;
    *) log "unknown option '$1' (usage: scripts/setup.sh [--no-images | --image NAME...])"; exit 2 ;;
  esac
  shift
done

engine_up() { timeout 10 docker info >/dev/null 2>&1; }
wait_engine() { for _ in $(seq 1 60); do engine_up && return 0; sleep 1; done; return 1; }

start_dockerd() {
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl start docker || true
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    # without docker-proxy: see above (a daemon.json that sets it already wins a conflict)
    local flag=--userland-proxy=false
    grep -qs userland-proxy /etc/docker/daemon.json && flag=
    as_root bash -c "nohup dockerd $flag >/var/log/drdrill-dockerd.log 2>&1 &"
  fi
}

# --- 1. engine -------------------------------------------------------------
if ! engine_up; then
  if ! command -v dockerd >/dev/null 2>&1; then
    # an engine we install publishes ports with iptables alone, without docker-proxy
    # (docs/accuracy.md); written before the package starts the engine.
    # An existing engine's configuration is left alone.
    if [ ! -e /etc/docker/daemon.json ]; then
      as_root mkdir -p /etc/docker
      echo '{"userland-proxy": false}' | as_root tee /etc/docker/daemon.json >/dev/null
    fi
    step "installing the Docker engine (Debian's docker.io)" apt_install docker.io iptables ca-certificates
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/drdrill-dockerd.log)"
    start_dockerd
  fi
  step "waiting for the Docker engine" wait_engine \
    || { log "Docker engine did not come up; see /var/log/drdrill-dockerd.log"; exit 3; }
  # an engine a package's script started from a yielding apt inherited nice 19, and so would
  # every database the drills run: back to normal priority
  if [ -n "$yield_cpu" ]; then
    for p in $(pgrep -x dockerd) $(pgrep -x containerd); do as_root renice -n 0 -p "$p" >/dev/null; done
  fi
fi
log "Docker engine answers: $(docker version --format '{{.Server.Version}}')"

# --- 2. base image ---------------------------------------------------------
base=debian:bookworm-slim
debootstrap_log=/tmp/drdrill-debootstrap.log
build_base() {
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local root mirror
  root=$(mktemp -d /tmp/drdrill-rootfs.XXXXXX)
  mirror=${DRDRILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  as_root $yield_cpu debootstrap --variant=minbase bookworm "$root" "$mirror" >"$debootstrap_log" 2>&1 \
    || { log "debootstrap failed, see $debootstrap_log"; return 3; }
  # same package sources and apt settings as this host, so image builds reach the same mirror
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    as_root cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
    as_root rm -f "$root/etc/apt/sources.list"
  fi
  [ -f /etc/apt/apt.conf.d/99artifact-registry ] && as_root cp /etc/apt/apt.conf.d/99artifact-registry "$root/etc/apt/apt.conf.d/"
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  as_root $yield_cpu tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  as_root rm -rf "$root"
}
if ! docker image inspect "$base" >/dev/null 2>&1; then
  if timeout 30 docker pull -q "$base" >/dev/null 2>&1; then
    log "pulled $base"
  else
    log "cannot pull $base: building it locally"
    : >"$debootstrap_log"
    step_log=$debootstrap_log step "building $base with debootstrap" build_base || exit 3
  fi
fi

# --- 3. stack images -------------------------------------------------------
# The context hash (drdrill computes the same one: src/docker/images.rs, `context_hash`):
# sha256sum of every file under the context, sorted bytewise, hashed again; 16 hex digits.
build_image() {
  local dir=$1 tag=$2 sum=$3 log_file=$4
  docker build "${yield_build[@]}" --network host --label "drdrill.context=$sum" -t "$tag" "$dir" >"$log_file" 2>&1 \
    || { tail -n 20 "$log_file" >&2; return 1; }
}
if [ "$images" != none ]; then
  for dir in "$here"/docker/*/; do
    name=$(basename "$dir")
    [ "$images" = all ] || [[ " ${only[*]} " == *" $name "* ]] || continue
    tag=$(cat "$dir/TAG")
    sum=$(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
    have=$(docker image inspect -f '{{ index .Config.Labels "drdrill.context" }}' "$tag" 2>/dev/null || true)
    if [ "$have" = "$sum" ]; then log "$tag up to date"; continue; fi
    build_log=/tmp/drdrill-build-$name.log
    : >"$build_log"
    step_log=$build_log step "building $tag from docker/$name" build_image "$dir" "$tag" "$sum" "$build_log"
  done
fi
log "ready ($(took "$started"))"
