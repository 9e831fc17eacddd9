#!/usr/bin/env bash
# Sets up everything the tests need (Docker engine, base image, every stack image, Chromium,
# python3-venv, cargo-nextest), then runs every test: unit tests and the drills in real
# containers, up to three drills at once and the timing-sensitive ones alone
# (.config/nextest.toml; docs/testing.md). A missing engine fails here. The setup runs in
# the background while the tests compile. Arguments go to `cargo nextest run` (e.g.
# `scripts/test.sh -- --skip seed`, `scripts/test.sh -E 'test(/^drills::/)'`).
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
# the test runner: cargo-nextest, built from crates.io when the machine lacks it
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo_step "installing cargo-nextest" install --locked cargo-nextest || exit 2
fi
built=0
# the benchmarks are not run here (they measure, they assert nothing), but they must build:
# built beside the tests in the dev profile, on the same compiled crates (a separate
# `cargo check` compiled every crate again: 3 min 5 s of a fresh clone's run)
# a first build (a fresh clone, CI) without incremental compilation: drdrill's own crates
# built in 126 s instead of 145 s here; once target/debug/incremental exists (a developer's
# tree) the default stays, so an edit rebuilds incrementally
[ -d target/debug/incremental ] || export CARGO_INCREMENTAL=0
cargo_step "compiling drdrill, its tests and its benchmarks" build --locked --tests --bench accuracy --bench throughput || built=$?
prep_rc=0
wait "$prep" || prep_rc=$?
[ "$built" = 0 ] || exit 2
[ "$prep_rc" = 0 ] || { log "setup failed (exit $prep_rc)"; exit "$prep_rc"; }
log "set up and built in $(took "$started"); running the tests"
# --no-tests=fail: a filter that matches nothing is a mistake, not a pass
rc=0
rm -f target/quiet-runs.log
cargo nextest run --locked --no-tests=fail "$@" || rc=$?
# drill tests whose bound was missed on a run the host disturbed, run again (tests/common:
# on_a_quiet_run): every attempt, said here so that a busy run shows
if [ -s target/quiet-runs.log ]; then
  log "drill tests run again after a bound missed on a disturbed run (target/quiet-runs.log):"
  sed 's/^/  /' target/quiet-runs.log >&2
fi
log "tests done in $(took "$started") from the start (exit $rc); per test: target/nextest/default/junit.xml"
exit "$rc"
