#!/usr/bin/env bash
# Sets up everything (Docker engine, base image, stack images), builds drdrill and runs a
# drill: the default scenario, or the one given. Exit code is drdrill's (README, "Exit codes").
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 2; }
scripts/setup.sh
cargo build --locked --release --quiet
exec target/release/drdrill run "${1:-scenarios/postgres-async-primary-kill.yaml}" "${@:2}"
