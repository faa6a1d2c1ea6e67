#!/usr/bin/env bash
# Logarithmic proofs (issue 23, point 2): a proof and a page of 1000 leaves in one
# statement tree of LEAVES leaves (30M by default), read from its tiles and leaf index,
# beside the same answers made the way this project made them before the tiles (the
# whole tree read and checked against its root), measured in the same run on the same
# store. Each step is a process of its own under /usr/bin/time -v: its wall time as
# the process sees it (open, read, check, print), the read alone as the step times
# it, and its peak RSS. Both ways' answers must be the same (their digests are compared).
#
#   bench/proofs.sh                        (LEAVES=30000000, the embedded store)
#   LEAVES=1000000 BACKEND=postgres bench/proofs.sh
#
# The tree is stored by the tree_reads example straight into a new store (leaves,
# tiles, leaf index, as a close stores them), not by importing and closing 30M events
# (an hour and ~10 GB of usage on this machine): only the tree's shape matters to a
# proof. Each step runs RUNS times (3 by default); the first of each is the cold one.
# Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
leaves=${LEAVES:-30000000}
runs=${RUNS:-3}
backend=${BACKEND:-embedded}
out=bench/out/proofs
mkdir -p "$out"
cargo build --release --locked --quiet -p revshare-app --example tree_reads
bin=target/release/examples/tree_reads
case $backend in
  embedded)
    rm -f "$out/tree.db" "$out/tree.db-wal" "$out/tree.db-shm"
    store=$out/tree.db ;;
  postgres)
    pg_db=revshare_bench_proofs
    dropdb -h 127.0.0.1 -U postgres --if-exists --force "$pg_db" 2> /dev/null || true
    createdb -h 127.0.0.1 -U postgres "$pg_db"
    store=postgres://postgres@127.0.0.1:5432/$pg_db ;;
esac

measure() { # step: one JSON line with the step's own figures and /usr/bin/time's
  local step=$1 line
  line=$(/usr/bin/time -v -o "$out/time.txt" "$bin" "$store" "$step")
  python3 - "$line" "$out/time.txt" <<'PY'
import json, re, sys
row = json.loads(sys.argv[1])
text = open(sys.argv[2]).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
h, m, s = wall.groups()
row["wall_ms"] = round(((int(h or 0) * 60 + int(m)) * 60 + float(s)) * 1000, 1)
row["peak_rss_mib"] = round(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024, 1)
print(json.dumps(row))
PY
}

echo "storing a tree of $leaves leaves ($backend)..." >&2
/usr/bin/time -v -o "$out/time.txt" "$bin" "$store" make "$leaves" >&2
grep -E "Elapsed|Maximum resident" "$out/time.txt" >&2
results=$out/results.jsonl
: > "$results"
for step in prove page prove-whole page-whole; do
  for _ in $(seq "$runs"); do
    measure "$step" | tee -a "$results"
  done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["step"], []).append(r)
print()
print(f"{'step':<12} {'runs':>4} {'read ms (best/worst)':>22} {'wall ms (best/worst)':>22} {'peak RSS MiB':>13}")
for step in ["prove", "page", "prove-whole", "page-whole"]:
    rs = by.get(step, [])
    if not rs:
        continue
    ms = [r["ms"] for r in rs]
    wall = [r["wall_ms"] for r in rs]
    rss = max(r["peak_rss_mib"] for r in rs)
    print(f"{step:<12} {len(rs):>4} {min(ms):>10.1f} / {max(ms):>9.1f} {min(wall):>10.1f} / {max(wall):>9.1f} {rss:>13.1f}")
for new, old in [("prove", "prove-whole"), ("page", "page-whole")]:
    digests = {r["answer_digest"] for r in by.get(new, []) + by.get(old, [])}
    print(f"{new} and {old} answer the same: {len(digests) == 1}")
    if len(digests) != 1:
        sys.exit(1)
PY
