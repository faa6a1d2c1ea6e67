#!/usr/bin/env bash
# Benchmark of the ingest hot path: `revshare import` of the same 1M events durably
# into the embedded store and into PostgreSQL, `close` of the 1M-event month on
# each (the first close: settlement starts there, `--settlement-start`), `audit verify` of the store that holds it (target: at most 3x that close),
# and in the same run the naive baseline: PostgreSQL COPY into a staging table
# then INSERT ... ON CONFLICT DO NOTHING into a table keyed by (source, id). Peak RSS
# of the embedded import is measured for 1M and for 4M events (streaming: it must
# not grow with the file).
#
#   bench/ingest.sh              (needs python3, psql and PostgreSQL on 127.0.0.1:5432)
#   SKIP_4M=1 bench/ingest.sh    (skips the 4M-event memory check)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
out=bench/out
pg_admin=postgres://postgres@127.0.0.1:5432/postgres
mkdir -p "$out"

generate() { # events, file
  if [ ! -s "$2" ]; then
    echo "generating $1 events..." >&2
    python3 "$shared/bench/gen_usage.py" --events "$1" --late-rate 0.002 > "$2.tmp"
    mv "$2.tmp" "$2"
  fi
}
usage="$out/usage-1000000.ndjson"
generate 1000000 "$usage"
cargo build --release --quiet
bin=$PWD/target/release/revshare
ex="$shared/examples"
measure() { python3 bench/measure.py "$@"; }
results=()

setup_store() { # store args...
  "$bin" "$@" init > /dev/null
  for c in acme-llama nimbus-llama orbit-llama; do "$bin" "$@" contract add "$ex/contracts/$c.toml" > /dev/null; done
  "$bin" "$@" fx add "$ex/fx.csv" > /dev/null
}

# Embedded store.
db="$out/ingest.db"
rm -f "$db" "$db-wal" "$db-shm" "$db.key"
setup_store --db "$db"
results+=("$(measure sqlite-import -- "$bin" --db "$db" import "$usage")")
results+=("$(measure sqlite-close -- "$bin" --db "$db" close 2026-10 --settlement-start)")
results+=("$(measure sqlite-audit-verify -- "$bin" --db "$db" audit verify --format json)")

# PostgreSQL backend.
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS revshare_bench WITH (FORCE)" -c "CREATE DATABASE revshare_bench"
url=postgres://postgres@127.0.0.1:5432/revshare_bench
rm -f "$out/pg.key"
setup_store --database-url "$url" --key-file "$out/pg.key"
results+=("$(measure postgres-import -- "$bin" --database-url "$url" --key-file "$out/pg.key" import "$usage")")
results+=("$(measure postgres-close -- "$bin" --database-url "$url" --key-file "$out/pg.key" close 2026-10 --settlement-start)")
results+=("$(measure postgres-audit-verify -- "$bin" --database-url "$url" --key-file "$out/pg.key" audit verify --format json)")

# The naive baseline, on its own database.
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS revshare_baseline WITH (FORCE)" -c "CREATE DATABASE revshare_baseline"
base=postgres://postgres@127.0.0.1:5432/revshare_baseline
cat > "$out/baseline.sql" <<SQL
CREATE TABLE staging (doc jsonb);
CREATE TABLE events (source text, id text, doc jsonb NOT NULL, PRIMARY KEY (source, id));
\copy staging (doc) FROM '$PWD/$usage' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
INSERT INTO events SELECT doc->>'source', doc->>'id', doc FROM staging ON CONFLICT DO NOTHING;
SQL
results+=("$(measure baseline-import -- psql -q -v ON_ERROR_STOP=1 "$base" -f "$out/baseline.sql")")

# Streaming: the embedded import's peak memory for 4M events.
if [ -z "${SKIP_4M:-}" ]; then
  usage4="$out/usage-4000000.ndjson"
  generate 4000000 "$usage4"
  db4="$out/ingest4.db"
  rm -f "$db4" "$db4-wal" "$db4-shm" "$db4.key"
  setup_store --db "$db4"
  results+=("$(measure sqlite-import-4m -- "$bin" --db "$db4" import "$usage4")")
  rm -f "$db4" "$db4-wal" "$db4-shm" "$db4.key"
fi
psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS revshare_bench WITH (FORCE)" -c "DROP DATABASE IF EXISTS revshare_baseline WITH (FORCE)"

python3 - "${results[@]}" <<'PY'
import json, sys
r = {x["label"]: x for x in map(json.loads, sys.argv[1:])}
n = 1_000_000
base = r["baseline-import"]["wall_s"]
print("ingest benchmark: 1M events (gen_usage.py --late-rate 0.002), durable, 2 cores")
print(f"{'':20} {'wall s':>8} {'events/s':>11} {'vs baseline':>12} {'peak RSS MiB':>13}")
for label in ("sqlite-import", "postgres-import", "baseline-import"):
    x = r[label]
    print(f"{label:20} {x['wall_s']:8.2f} {n / x['wall_s']:11,.0f} {base / x['wall_s']:11.2f}x {x['peak_rss_mib']:13.1f}")
for label in ("sqlite-close", "postgres-close"):
    x = r[label]
    print(f"{label:20} {x['wall_s']:8.2f} {'':11} {'':12} {x['peak_rss_mib']:13.1f}   (target <= 2 s)")
for store in ("sqlite", "postgres"):
    close, check = r[f"{store}-close"], r[f"{store}-audit-verify"]
    ratio = check["wall_s"] / close["wall_s"]
    print(f"{store + '-audit-verify':20} {check['wall_s']:8.2f} {'':11} {ratio:11.2f}x {check['peak_rss_mib']:13.1f}   (x the close; target <= 3x)")
print("targets: embedded >= 500,000 events/s, PostgreSQL >= 100,000 events/s")
if "sqlite-import-4m" in r:
    a, b = r["sqlite-import"]["peak_rss_mib"], r["sqlite-import-4m"]["peak_rss_mib"]
    print(f"streaming: embedded import peak RSS {a:.1f} MiB for 1M events, {b:.1f} MiB for 4M ({b / a:.2f}x)")
PY
