#!/usr/bin/env bash
# Sets up everything the tests need (Docker engine, base image, every stack image, Chromium,
# python3-venv), then runs every test: unit tests and the drills in real containers. A
# missing engine fails here. The setup runs in the background while the tests compile.
# Arguments go to `cargo test` (e.g. `scripts/test.sh -- --skip seed`).
set -euo pipefail
cd "$(dirname "$0")/.."
me=test
. scripts/lib.sh
command -v cargo >/dev/null || { log "cargo not found: install Rust (rustup) first"; exit 2; }
started=$SECONDS
trap 'rm -f "$apt_stamp"' EXIT

apt_for_tests() {
  local missing=()
  # the Toxiproxy-client compatibility test installs toxiproxy-python into a venv
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3 python3-venv)
  # report.html is opened in headless Chromium by tests/campaign.rs
  command -v chromium >/dev/null || missing+=(chromium)
  [ "${#missing[@]}" = 0 ] && return 0
  apt_install "${missing[@]}"
}
# one after the other: both may need apt, which takes one caller at a time
prepare() { scripts/setup.sh && step "installing what the tests need from Debian (chromium, python3-venv)" apt_for_tests; }
prepare &
prep=$!
built=0
cargo_step "compiling drdrill and its tests" build --locked --tests || built=$?
# the benchmarks are not run here (they measure, they assert nothing), but they must build
[ "$built" = 0 ] && { cargo_step "checking the benchmarks build" check --locked --bench accuracy --bench throughput || built=$?; }
prep_rc=0
wait "$prep" || prep_rc=$?
[ "$built" = 0 ] || exit 2
[ "$prep_rc" = 0 ] || { log "setup failed (exit $prep_rc)"; exit "$prep_rc"; }
log "set up and built in $(took "$started"); running the tests"
cargo test --locked "$@"
