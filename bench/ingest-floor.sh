#!/usr/bin/env bash
# Where the embedded import's time goes, against what no implementation of the same
# work can avoid on this machine (bench/ingest-floor.md reads the figures):
#   - validation on one thread (`examples/phases`): parse, validate, canonicalize
#     (RFC 8785) and leaf-hash each event, against parsing and hashing alone and
#     SHA-256 of the raw record alone;
#   - the one serial write no layout of this store escapes: inserting each event's
#     key into the `(source, id)` B-tree that makes the first copy win (the schema's
#     own `event_keys` table), done by SQLite alone from a staging table in one
#     transaction, so that nothing of revshare is in it;
#   - `revshare import` of the same 1M events into a new embedded store: wall and
#     CPU time (user + system), peak RSS;
#   - PostgreSQL: the keys by `COPY` alone into the schema's `event_keys`, beside
#     `revshare import` of the same events into a new database (wall).
# RUNS runs each, medians.
#
#   bench/ingest-floor.sh          (RUNS=3; needs python3, sqlite3, psql and
#                                   PostgreSQL on 127.0.0.1:5432, trust)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
out=bench/out/floor
mkdir -p "$out"
usage=bench/out/usage-1000000.ndjson
if [ ! -s "$usage" ]; then
  python3 ../shared/bench/gen_usage.py --events 1000000 --late-rate 0.002 > "$usage.tmp"
  mv "$usage.tmp" "$usage"
fi
cargo build --release --locked --quiet -p revshare-cli
cargo build --release --locked --quiet -p revshare-ingest --example phases
bin=target/release/revshare
ex=../shared/examples

# The keys in file order, for SQLite alone.
if [ ! -s "$out/keys.csv" ]; then
  python3 - "$usage" "$out/keys.csv" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        e = json.loads(line)
        o.write(f'{e["source"]},{e["id"]},{e["data"]["host"]}\n')
PY
fi

results="$out/results.jsonl"
: > "$results"
for run in $(seq "$runs"); do
  echo "run $run/$runs..." >&2
  target/release/examples/phases "$usage" |
    python3 -c '
import json, re, sys
for line in sys.stdin:
    m = re.match(r"(.+?) ([0-9.]+)(ns|µs)/event", line)
    if m:
        ns = float(m.group(2)) * (1000 if m.group(3) == "µs" else 1)
        print(json.dumps({"label": m.group(1), "ns_per_event": ns}))' >> "$results"

  rm -f "$out/keys.db" "$out/keys.db-wal" "$out/keys.db-shm"
  sqlite3 "$out/keys.db" > /dev/null <<SQL
PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
CREATE TABLE staging (source TEXT, id TEXT, host TEXT);
.mode csv
.import $out/keys.csv staging
CREATE TABLE staged AS SELECT source, id, randomblob(32) AS leaf, host FROM staging;
CREATE TABLE event_keys (source TEXT NOT NULL, id TEXT NOT NULL, leaf BLOB NOT NULL, host TEXT NOT NULL,
  day INTEGER NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID;
SQL
  python3 - "$out/keys.db" >> "$results" <<'PY'
import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA synchronous=NORMAL")
t = time.perf_counter()
db.execute("SELECT count(*), sum(length(source) + length(id) + length(leaf)) FROM staged").fetchall()
scan = time.perf_counter() - t
t = time.perf_counter()
db.execute("BEGIN")
db.execute("INSERT OR IGNORE INTO event_keys SELECT source, id, leaf, host, 0 FROM staged ORDER BY rowid")
db.execute("COMMIT")
insert = time.perf_counter() - t
n = db.execute("SELECT count(*) FROM staged").fetchone()[0]
print(json.dumps({"label": "sqlite key inserts alone", "ns_per_event": (insert - scan) * 1e9 / n}))
PY

  rm -rf "$out/store" && mkdir -p "$out/store"
  "$bin" --db "$out/store/s.db" init > /dev/null
  for c in acme-llama nimbus-llama orbit-llama; do "$bin" --db "$out/store/s.db" contract add "$ex/contracts/$c.toml" > /dev/null; done
  "$bin" --db "$out/store/s.db" fx add "$ex/fx.csv" > /dev/null
  sync
  python3 - "$bin" --db "$out/store/s.db" import "$usage" >> "$results" <<'PY'
import json, resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"label": "import wall", "ns_per_event": wall * 1000}))
print(json.dumps({"label": "import cpu (user+sys)", "ns_per_event": (used.ru_utime + used.ru_stime) * 1000}))
print(json.dumps({"label": "import peak rss MiB", "ns_per_event": used.ru_maxrss / 1024}))
PY
done

# PostgreSQL: the same keys by `COPY` into the schema's own `event_keys` (its primary
# key on (source, id)), all new, as the import claims a batch whose keys are all new,
# beside `revshare import` of the same events into a new database.
pg_host=127.0.0.1
pg_db=revshare_bench_floor
pg_url="postgres://postgres@$pg_host:5432/$pg_db"
trap 'dropdb -h $pg_host -U postgres --if-exists --force $pg_db 2> /dev/null || true' EXIT
if [ ! -s "$out/keys-pg.csv" ]; then
  python3 - "$out/keys.csv" "$out/keys-pg.csv" <<'PY'
import hashlib, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for line in f:
        source, id, host = line.rstrip("\n").split(",")
        leaf = hashlib.sha256(line.encode()).hexdigest()
        o.write(f"{source},{id},\\x{leaf},{host},0\n")
PY
fi
for run in $(seq "$runs"); do
  echo "postgres run $run/$runs..." >&2
  dropdb -h $pg_host -U postgres --if-exists --force $pg_db 2> /dev/null || true
  createdb -h $pg_host -U postgres $pg_db
  psql -q "$pg_url" -c 'CREATE TABLE event_keys (source text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL,
    leaf bytea NOT NULL, host text NOT NULL, day integer NOT NULL, PRIMARY KEY (source, id))'
  psql -q "$pg_url" -c CHECKPOINT
  python3 - "$pg_url" "$out/keys-pg.csv" >> "$results" <<'PY'
import json, subprocess, sys, time
t = time.perf_counter()
subprocess.run(["psql", "-q", sys.argv[1], "-c", f"\\copy event_keys FROM '{sys.argv[2]}' CSV"], check=True)
wall = time.perf_counter() - t
print(json.dumps({"label": "postgres key COPY alone", "ns_per_event": wall * 1000}))
PY
  dropdb -h $pg_host -U postgres --force $pg_db
  createdb -h $pg_host -U postgres $pg_db
  rm -f "$out/pg.key" "$out"/pg.key.*
  pg=(--database-url "$pg_url" --key-file "$out/pg.key")
  "$bin" "${pg[@]}" init > /dev/null
  for c in acme-llama nimbus-llama orbit-llama; do "$bin" "${pg[@]}" contract add "$ex/contracts/$c.toml" > /dev/null; done
  "$bin" "${pg[@]}" fx add "$ex/fx.csv" > /dev/null
  psql -q "$pg_url" -c CHECKPOINT
  python3 - "$bin" "${pg[@]}" import "$usage" >> "$results" <<'PY'
import json, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"label": "postgres import wall", "ns_per_event": (time.perf_counter() - t) * 1000}))
PY
done

python3 - "$results" <<'PY'
import collections, json, statistics, sys
values = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    values[r["label"]].append(r["ns_per_event"])
print("bench/ingest-floor.sh: 1M events, medians; ns an event (MiB for RSS)")
for label, v in values.items():
    print(f"{label:40s} {statistics.median(v):10.1f}")
PY
