#!/usr/bin/env bash
# The project's test command (README): formatting, lints, every test, then
# schemathesis against the live server.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The dashboard's browser test (crates/server/tests/access/browser.rs) drives
# Debian's Chromium through its WebDriver and reads the printed PDF with pdftotext.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v pdftotext >/dev/null; then
  if command -v apt-get >/dev/null; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver poppler-utils >/dev/null
  fi
fi
cargo test --workspace --locked
# The live server against its own OpenAPI document (PyPI's schemathesis).
scripts/schemathesis.sh
