#!/usr/bin/env bash
# Months of any size (issue 23): for each SIZE in SIZES events, a month of usage
# (gen_usage.py, October 2026) imported into a new embedded store, closed, one event
# proved and located, the statement's leaves read, and `audit verify` run;
# each step's wall time and peak memory (bench/measure.py), then the cost growth
# from the smallest size: time per event and peak memory as multiples of the
# smallest's. Not run by CI (the largest sizes take hours and tens of GB of disk).
#
#   bench/scale.sh                     (SIZES="1000000 10000000" by default)
#   SIZES="1000000 10000000 100000000" bench/scale.sh
#
# The usage files stay in bench/out/scale/ (about 300 bytes an event) and are
# reused by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-1000000 10000000}
out=bench/out/scale
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source bench/lib.sh
cargo build --release --locked --quiet -p revshare-cli
bin=target/release/revshare
results="$out/results.jsonl"
: > "$results"

step() { # size label command... : one measured step, its figures appended
  local size=$1 label=$2
  shift 2
  python3 bench/measure.py "$label" -- "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); r["events"]=int(sys.argv[1]); print(json.dumps(r))' "$size" \
      >> "$results"
  tail -1 "$results" >&2
}

for size in $sizes; do
  usage="$out/usage-$size.ndjson"
  if [ ! -s "$usage" ]; then
    echo "generating $size events..." >&2
    python3 ../shared/bench/gen_usage.py --events "$size" --month 2026-10 --late-rate 0 > "$usage.tmp"
    mv "$usage.tmp" "$usage"
  fi
  # shellcheck disable=SC2207
  args=($(fresh embedded))
  new_store "${args[@]}"
  step "$size" import "$bin" "${args[@]}" import "$usage"
  # October is the first period these contracts settle: said so explicitly.
  step "$size" close "$bin" "${args[@]}" close 2026-10 --settlement-start
  read -r source id < <(head -1 "$usage" | python3 -c 'import json,sys; e=json.load(sys.stdin); print(e["source"], e["id"])')
  statement=$("$bin" "${args[@]}" locate "$source" "$id" --format json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(next(p["statement_id"] for p in r["places"]))')
  step "$size" prove "$bin" "${args[@]}" prove "$statement" "$source" "$id"
  step "$size" locate "$bin" "${args[@]}" locate "$source" "$id"
  step "$size" leaves "$bin" "${args[@]}" statement leaves "$statement"
  step "$size" verify "$bin" "${args[@]}" audit verify
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
sizes = sorted({r["events"] for r in rows})
steps = list(dict.fromkeys(r["label"] for r in rows))
at = {(r["label"], r["events"]): r for r in rows}
print("bench/scale.sh: one month of usage, embedded store; wall s / peak MiB per step")
print(f"{'step':8}" + "".join(f"{n:>22,}" for n in sizes))
for s in steps:
    print(f"{s:8}" + "".join(f"{at[s, n]['wall_s']:>12.2f} s {at[s, n]['peak_rss_mib']:>6.0f} MiB" for n in sizes))
print()
first = sizes[0]
print(f"growth from {first:,} events: time per event (x) / peak memory (x); target within 1.3x")
for s in ("import", "close", "verify"):
    base = at[s, first]
    cells = []
    for n in sizes[1:]:
        r = at[s, n]
        per_event = (r["wall_s"] / n) / (base["wall_s"] / first)
        cells.append(f"{n:>12,}: {per_event:4.2f} / {r['peak_rss_mib'] / base['peak_rss_mib']:4.2f}")
    print(f"{s:8}" + "   ".join(cells))
print(f"every figure: {sys.argv[1]}")
PY
