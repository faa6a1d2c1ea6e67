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
# axe-core (npm), pinned, for the same test's accessibility check.
axe_dir=${XDG_CACHE_HOME:-$HOME/.cache}/revshare/axe-core-4.14.1
if [ ! -f "$axe_dir/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm >/dev/null
  fi
  mkdir -p "$axe_dir"
  npm install --prefix "$axe_dir" --no-audit --no-fund --silent axe-core@4.14.1
fi
export AXE_CORE_JS=$axe_dir/node_modules/axe-core/axe.min.js
cargo test --workspace --locked
# The live server against its own OpenAPI document (PyPI's schemathesis).
scripts/schemathesis.sh
