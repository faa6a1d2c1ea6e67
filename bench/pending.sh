#!/usr/bin/env bash
# What settlement adds to a close: closing October 2026 (EVENTS events a month, the
# example's contracts) on a store that also holds DISPUTES resolved disputes waiting
# to be carried (the next statement carries each as a `dispute` adjustment) and
# PAYMENTS confirmed payments with their ledger legs, against the same store without
# them, in the same run: RUNS alternating runs, each close on a fresh copy of its
# store, medians; target at most 1.10x. Both backends.
#
#   bench/pending.sh            (EVENTS=300000 DISPUTES=1000 PAYMENTS=100000 RUNS=5)
#
# The disputes are opened and resolved with the CLI (each step an audited write); the
# payments are written straight into their tables (a close never reads them: they
# only make the tables it writes its legs into larger). Needs python3, sqlite3, psql,
# createdb and PostgreSQL on 127.0.0.1:5432 (trust).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-300000}
disputes=${DISPUTES:-1000}
payments=${PAYMENTS:-100000}
runs=${RUNS:-5}
out=bench/out/pending
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap 'for d in plain pending run; do pg_db=revshare_bench_pending_$d drop_pg; done' EXIT

cargo build --release --locked --quiet -p revshare-cli
bin=target/release/revshare
for month in 2026-09 2026-10; do
  usage="$out/usage-$month-$events.ndjson"
  if [ ! -s "$usage" ]; then
    # A seed per month: event ids name their seed.
    python3 ../shared/bench/gen_usage.py --events "$events" --month "$month" --seed "${month#2026-}" --late-rate 0 \
      > "$usage.tmp"
    mv "$usage.tmp" "$usage"
  fi
done

# The two stores of a backend: September closed, October imported; `pending` also
# holds the disputes and the payments.
make_store() { # embedded|postgres plain|pending
  local args
  rm -rf "${out:?}/$2" && mkdir -p "$out/$2"
  if [ "$1" = embedded ]; then
    args=(--db "$out/$2/store.db")
  else
    pg_db=revshare_bench_pending_$2
    drop_pg
    createdb -h "$pg_host" -U postgres "$pg_db"
    args=(--database-url "$(pg_url)" --key-file "$out/$2/pg.key")
  fi
  new_store "${args[@]}"
  "$bin" "${args[@]}" import "$out/usage-2026-09-$events.ndjson" > /dev/null
  "$bin" "${args[@]}" close 2026-09 --settlement-start > /dev/null
  "$bin" "${args[@]}" import "$out/usage-2026-10-$events.ndjson" > /dev/null
  if [ "$2" = pending ]; then
    for _ in $(seq "$disputes"); do
      id=$("$bin" "${args[@]}" dispute open acme-llama/2026-09 --as acme-cloud --amount -0.01 --reason "a rate")
      "$bin" "${args[@]}" dispute resolve "$id" --as meta --amount -0.01 > /dev/null
    done
    add_payments "$1"
  fi
}

# PAYMENTS confirmed payments from acme-cloud to meta, each with its two legs.
add_payments() { # embedded|postgres
  local series legs_sql payments_sql
  payments_sql="INSERT INTO payments (payment_id, contract, currency, payer, payee, amount, date, reference, status,
      recorded_by, recorded_at, recorded_seq, confirmed_by, confirmed_at, seq)
    SELECT 'P-' || printf_id, 'acme-llama', 'USD', 'acme-cloud', 'meta', '1.00', 20750, 'bench', 'confirmed',
      'cli', '2026-11-01T00:00:00Z', 1, 'cli', '2026-11-01T00:00:00Z', 1 FROM ids"
  legs_sql="INSERT INTO ledger_legs (txn, contract, currency, host, beneficiary, side, amount, day, due, seq)
    SELECT 'payment:P-' || printf_id, 'acme-llama', 'USD', 'acme-cloud', 'meta', side, amount, 20750, NULL, 1
    FROM ids, (SELECT 'receivable' AS side, '-1.00' AS amount UNION ALL SELECT 'payable', '1.00') AS sides"
  if [ "$1" = embedded ]; then
    series="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $payments),
      ids AS (SELECT printf('%012x', i) AS printf_id FROM n)"
    sqlite3 "$out/pending/store.db" "$series $payments_sql; $series $legs_sql;"
  else
    series="WITH ids AS (SELECT lpad(to_hex(i), 12, '0') AS printf_id FROM generate_series(1, $payments) AS i)"
    psql -q "$(pg_url)" -c "$series $payments_sql" -c "$series $legs_sql"
  fi
}

# A fresh copy of a store to close once.
copy() { # embedded|postgres plain|pending -> store args on stdout
  if [ "$1" = embedded ]; then
    rm -rf "$out/run" && cp -a "$out/$2" "$out/run"
    echo --db "$out/run/store.db"
  else
    pg_db=revshare_bench_pending_run
    drop_pg
    createdb -h "$pg_host" -U postgres -T "revshare_bench_pending_$2" "$pg_db"
    rm -rf "$out/run" && cp -a "$out/$2" "$out/run"
    echo --database-url "$(pg_url)" --key-file "$out/run/pg.key"
  fi
}

results="$out/results.jsonl"
: > "$results"
for name in embedded postgres; do
  echo "$name: making the stores ($events events a month, $disputes disputes, $payments payments)..." >&2
  make_store "$name" plain
  make_store "$name" pending
  for run in $(seq "$runs"); do
    order=(plain pending)
    [ $((run % 2)) -eq 0 ] && order=(pending plain)
    for variant in "${order[@]}"; do
      # shellcheck disable=SC2207
      args=($(copy "$name" "$variant"))
      sync
      wall=$(python3 bench/measure.py close -- "$bin" "${args[@]}" close 2026-10 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])')
      echo "{\"backend\":\"$name\",\"variant\":\"$variant\",\"run\":$run,\"wall_s\":$wall}" >> "$results"
    done
  done
done

python3 - "$results" "$events" "$disputes" "$payments" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
events, disputes, payments = sys.argv[2:5]
print(f"bench/pending.sh: close of a month of {events} events, with {disputes} resolved disputes to carry and "
      f"{payments} payments against without; medians of alternating runs, each on a fresh copy")
print(f"{'backend':10} {'without (s)':>12} {'with (s)':>10} {'ratio':>7}   target")
for backend in ("embedded", "postgres"):
    wall = lambda v: statistics.median(r["wall_s"] for r in rows if r["backend"] == backend and r["variant"] == v)
    plain, pending = wall("plain"), wall("pending")
    ratio = pending / plain
    print(f"{backend:10} {plain:12.2f} {pending:10.2f} {ratio:7.3f}   <= 1.10 {'ok' if ratio <= 1.10 else 'MISSED'}")
print(f"every figure: {sys.argv[1]}")
PY
