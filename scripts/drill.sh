#!/usr/bin/env bash
# Sets up what a drill needs and runs it: the default scenario, or the one given.
#   - the Docker engine and the base image (scripts/setup.sh --no-images), in the background
#     while drdrill compiles: the one mostly waits on downloads, the other on the CPU;
#   - drdrill itself (release build, cargo's progress shown);
#   - `drdrill run`, which builds the stack images its scenario uses when they are missing
#     or out of date, and only those.
# Exit code is drdrill's (docs/exit-codes.md).
set -euo pipefail
cd "$(dirname "$0")/.."
me=drill
. scripts/lib.sh
command -v cargo >/dev/null || { log "cargo not found: install Rust (rustup) first"; exit 2; }
started=$SECONDS
scripts/setup.sh --no-images &
setup=$!
built=0
cargo_step "compiling drdrill" build --locked --release || built=$?
setup_rc=0
wait "$setup" || setup_rc=$?
[ "$built" = 0 ] || exit 2
[ "$setup_rc" = 0 ] || exit "$setup_rc"
log "set up and built in $(took "$started"); running the drill"
exec target/release/drdrill run "${1:-scenarios/postgres-async-primary-kill.yaml}" "${@:2}"
