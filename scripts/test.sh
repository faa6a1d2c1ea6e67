#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every test, then
# schemathesis against the live server.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# The live server against its own OpenAPI document (PyPI's schemathesis).
scripts/schemathesis.sh
