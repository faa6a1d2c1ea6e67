#!/usr/bin/env bash
# `ledger balances` (balances and ageing per host, beneficiary, contract and
# currency, as the CLI and GET /v1/ledger/balances compute them) over STATEMENTS
# statements and PAYMENTS payments, on both backends, printed beside a plain
# `SELECT sum(…) GROUP BY` over the same legs in the same run (medians of 7 runs):
# target at most 100 ms.
#
#   bench/ledger.sh                (STATEMENTS=10000 PAYMENTS=50000 by default)
#
# Needs createdb and PostgreSQL on 127.0.0.1:5432 (trust).
set -euo pipefail
cd "$(dirname "$0")/.."
statements=${STATEMENTS:-10000}
payments=${PAYMENTS:-50000}
out=bench/out/ledger
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source bench/lib.sh
pg_db=revshare_bench_ledger
trap drop_pg EXIT

cargo build --release --locked --quiet -p revshare-app --example ledger_balances
bin=target/release/examples/ledger_balances
rm -f "$out/ledger.db"*
"$bin" "$out/ledger.db" "$statements" "$payments"
drop_pg
createdb -h "$pg_host" -U postgres "$pg_db"
"$bin" "$(pg_url)" "$statements" "$payments"
