#!/usr/bin/env bash
# `revshare store copy` of a 1M-event store (gen_usage.py --late-rate 0.002, closed
# for its month: statements, trees, the audit log and its tree): the embedded store
# into PostgreSQL, then that PostgreSQL store back into a new file, each timed with
# its peak RSS (streamed in bounded batches: memory must not grow with the store),
# then `audit verify` of the last copy.
#
#   bench/copy.sh                  (EVENTS=1000000 by default)
#
# Needs python3, createdb and PostgreSQL on 127.0.0.1:5432 (trust).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-1000000}
out=bench/out/copy
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source bench/lib.sh
pg_db=revshare_bench_copy
trap drop_pg EXIT

usage=bench/out/usage-$events.ndjson
if [ ! -s "$usage" ]; then
  python3 ../shared/bench/gen_usage.py --events "$events" --late-rate 0.002 > "$usage.tmp"
  mv "$usage.tmp" "$usage"
fi
cargo build --release --locked --quiet -p revshare-cli
bin=$PWD/target/release/revshare
measure() { python3 bench/measure.py "$@"; }

read -r -a source <<< "$(fresh embedded)"
new_store "${source[@]}"
"$bin" "${source[@]}" import "$usage" > /dev/null
# October is the store's first close, as in bench/ingest.sh: settlement starts there
# (said explicitly).
"$bin" "${source[@]}" close 2026-10 --settlement-start > /dev/null
drop_pg
createdb -h "$pg_host" -U postgres "$pg_db"
back="$out/back.db"
rm -f "$back" "$back-wal" "$back-shm" "$back.key" "$back".key.*
rm -f "$out/pg.key" "$out"/pg.key.*
results=()
results+=("$(measure sqlite-to-postgres -- "$bin" "${source[@]}" store copy --to "$(pg_url)" --to-key-file "$out/pg.key")")
results+=("$(measure postgres-to-sqlite -- "$bin" --database-url "$(pg_url)" --key-file "$out/pg.key" store copy --to "$back")")
results+=("$(measure audit-verify-copy -- "$bin" --db "$back" audit verify --format json)")
printf '%s\n' "${results[@]}" > "$out/results.jsonl"
python3 - "$events" "$out/results.jsonl" <<'PY'
import json, sys
events, path = int(sys.argv[1]), sys.argv[2]
print(f"store copy benchmark: {events:,} events, closed, 2 cores")
for line in open(path):
    r = json.loads(line)
    print(f"  {r['label']:<20} {r['wall_s']:>8.2f} s   peak RSS {r['peak_rss_mib']:>7.1f} MiB")
PY
