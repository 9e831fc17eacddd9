#!/usr/bin/env bash
# Sets up what a drill needs and runs it: the default scenario, or the one given.
#   - the Docker engine, the base image and, for the default scenario, its stack image
#     (scripts/setup.sh), in the background while drdrill compiles. The compile is the
#     longest step, so setup yields to it (DRDRILL_SETUP_YIELD=1): it runs on the CPU and
#     disk the compile leaves idle (downloads, and the single-threaded part of drdrill's own
#     crate), and is done before the compile is;
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
default=scenarios/postgres-async-primary-kill.yaml
# the default scenario's one image (drdrill/postgres); another scenario's are built by drdrill
if [ $# = 0 ]; then images=(--image postgres); else images=(--no-images); fi
DRDRILL_SETUP_YIELD=1 scripts/setup.sh "${images[@]}" &
setup=$!
built=0
cargo_step "compiling drdrill" build --locked --release || built=$?
setup_rc=0
wait "$setup" || setup_rc=$?
[ "$built" = 0 ] || exit 2
[ "$setup_rc" = 0 ] || exit "$setup_rc"
log "set up and built in $(took "$started"); running the drill"
exec target/release/drdrill run "${1:-$default}" "${@:2}"
