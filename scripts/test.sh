#!/usr/bin/env bash
# Sets up everything the tests need (Docker engine, base image, stack images), then runs
# every test: unit tests and the drills in real containers. A missing engine fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 2; }
scripts/setup.sh
cargo build --locked --quiet
# the accuracy benchmark is not run here (it measures, it asserts nothing), but it must build
cargo check --locked --quiet --bench accuracy
cargo test --locked "$@"
