#!/usr/bin/env bash
# Sets up everything the tests need (Docker engine, base image, stack images), then runs
# every test: unit tests and the drills in real containers. A missing engine fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 2; }
scripts/setup.sh
# the Toxiproxy-client compatibility test installs toxiproxy-python into a venv
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "[test] installing python3-venv from Debian" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi
# report.html is opened in headless Chromium by tests/campaign.rs
if ! command -v chromium >/dev/null; then
  echo "[test] installing chromium from Debian" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
cargo build --locked --quiet
# the benchmarks are not run here (they measure, they assert nothing), but they must build
cargo check --locked --quiet --bench accuracy --bench throughput
cargo test --locked "$@"
