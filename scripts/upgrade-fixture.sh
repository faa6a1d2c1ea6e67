#!/usr/bin/env bash
# Makes fixtures/schema3: a store of each backend made by the build before the audit
# log was a tree (commit 1ef1b0a, SQLite schema 3, PostgreSQL schema 4), for the
# upgrade tests (crates/app/tests/upgrade.rs). Run once, with that build's binary:
#
#   git worktree add /tmp/old 1ef1b0a && cargo build --release --manifest-path /tmp/old/Cargo.toml
#   scripts/upgrade-fixture.sh /tmp/old/target/release/revshare
#
# The stores hold the small example (contracts, FX, contributions, usage), September
# and October closed, a September event voided between them, a party and a token
# (the example's first 600 events: every kind of row, and small enough to keep).
set -euo pipefail
old=$(realpath "$1")
cd "$(dirname "$0")/.."
out=fixtures/schema3
examples=fixtures/spec-examples
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
database=revshare_schema3_fixture
rm -rf "$out" && mkdir -p "$out"
usage=$(mktemp --suffix .ndjson)
trap 'rm -f "$usage"' EXIT
head -n 600 "$examples/usage-small.ndjson" >"$usage"

scenario() { # the store's options
    "$old" "$@" init
    for c in "$examples"/contracts/*.toml; do "$old" "$@" contract add "$c"; done
    "$old" "$@" fx add "$examples/fx.csv"
    "$old" "$@" contribution propose --contract acme-llama --by host --kind maintenance \
        --date 2026-10-03 --reference "security patch"
    "$old" "$@" contribution accept 1 --as meta
    "$old" "$@" contribution propose --contract acme-llama --by host --kind maintenance \
        --date 2026-10-20 --reference "awaiting acceptance"
    "$old" "$@" import "$usage"
    "$old" "$@" close 2026-09
    local first
    first=$(grep -m1 '"time":"2026-09.*"host":"acme-cloud"' "$usage")
    "$old" "$@" void --reason "sent twice" \
        "$(jq -r .source <<<"$first")" "$(jq -r .id <<<"$first")"
    "$old" "$@" close 2026-10
    "$old" "$@" party add audit-firm --name "Audit Firm" >/dev/null
    "$old" "$@" token create --party acme-cloud --role host >/dev/null
    "$old" "$@" audit verify
}

statements() { # the folder, then the store's options
    mkdir -p "$out/statements/$1"
    for id in $("$old" "${@:2}" statement list --format csv | awk -F, 'NR > 1 { print $1 }'); do
        "$old" "${@:2}" statement show "$id" --format json >"$out/statements/$1/${id//\//_}.json"
    done
}

scenario --db "$out/store.db"
statements sqlite --db "$out/store.db"
python3 -c 'import sys, sqlite3; sqlite3.connect(sys.argv[1]).execute("VACUUM")' "$out/store.db"

psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $database" -c "CREATE DATABASE $database"
url=${pg_admin%/*}/$database
scenario --database-url "$url" --key-file "$out/postgres.key"
statements postgres --database-url "$url" --key-file "$out/postgres.key"
# (without pg_dump's \restrict lines, so that it runs as plain SQL)
pg_dump --inserts --no-owner --no-privileges "$url" | grep -v '^\\\(un\)\?restrict ' >"$out/postgres.sql"
psql "$pg_admin" -qc "DROP DATABASE $database"
ls -l "$out"
