#!/usr/bin/env bash
# What the audit log as a Merkle tree with signed checkpoints costs (a checkpoint per
# write, a close's input checks, check 6): an A/B of this build against BASE (by
# default 1ef1b0a, the commit before it), same machine, RUNS alternating runs each
# (the builds take turns going first, each step of both measured back to back), medians:
#   - `revshare import` of 1M events (gen_usage.py --late-rate 0.002), embedded and
#     PostgreSQL: target within 5 % of BASE;
#   - usage ingest over HTTP (bench/http.lua: batches of 1,000 over 8 keep-alive
#     connections for API_SECONDS): target within 5 %;
#   - `close` of that month: target within 15 %;
#   - `audit verify` of the store: target at most 3x this build's close;
#   - `revshare rate` of the same usage, offline: target within 3 %;
# then, for this build alone, inclusion and consistency proofs in a log of ENTRIES
# entries (crates/app/examples/log_proofs.rs): target at most 5 ms.
#
#   bench/history.sh [BASE]        (RUNS=5 API_SECONDS=15 ENTRIES=1000000 by default)
#
# Needs python3, curl, git, createdb and PostgreSQL on 127.0.0.1:5432 (trust). BASE
# is built once into bench/out/history/build (a release build: minutes); wrk is installed
# with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
base=$(git rev-parse "${1:-1ef1b0a}")
runs=${RUNS:-5}
api_seconds=${API_SECONDS:-15}
entries=${ENTRIES:-1000000}
root=bench/out/history
out=$root
mkdir -p "$root"
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap 'stop_server; for b in base head; do pg_db=revshare_bench_history_$b drop_pg; done' EXIT
need_wrk

usage=bench/out/usage-1000000.ndjson
if [ ! -s "$usage" ]; then
  python3 ../shared/bench/gen_usage.py --events 1000000 --late-rate 0.002 > "$usage.tmp"
  mv "$usage.tmp" "$usage"
fi
cargo build --release --locked --quiet -p revshare-cli
cargo build --release --locked --quiet -p revshare-app --example log_proofs
head_bin=$(realpath target/release/revshare)
if [ "$(cat "$root/build/commit" 2> /dev/null)" != "$base" ]; then
  echo "building $base..." >&2
  rm -rf "$root/build" && mkdir -p "$root/build/src"
  git archive "$base" | tar -x -C "$root/build/src"
  cargo build --release --locked --quiet -p revshare-cli --manifest-path "$root/build/src/Cargo.toml"
  echo "$base" > "$root/build/commit"
fi
base_bin=$(realpath "$root/build/src/target/release/revshare")
python3 bench/http_events.py template 1000 > "$root/batch.ndjson"
results="$root/results.jsonl"
ex=../shared/examples
rate_args=(--contract "$ex/contracts/acme-llama.toml" --contract "$ex/contracts/nimbus-llama.toml"
  --contract "$ex/contracts/orbit-llama.toml" --usage "$usage" --fx "$ex/fx.csv"
  --contributions "$ex/contributions.csv")
: > "$results"

record() { # build, label, value
  echo "{\"build\":\"$1\",\"label\":\"$2\",\"value\":$3}" >> "$results"
}
# Each measured command starts with nothing of the last one left to write back.
settle() {
  sync
  psql -q "postgres://postgres@$pg_host:5432/postgres" -c CHECKPOINT
}
wall() {
  settle
  python3 bench/measure.py "$1" -- "${@:2}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])'
}

# A build's binary, and its own stores (a file, a database) in its own folder.
use() { # base|head
  bin=$base_bin
  [ "$1" = head ] && bin=$head_bin
  out=$root/$1
  pg_db=revshare_bench_history_$1
  mkdir -p "$out"
}

# Usage posted over HTTP to a new store for api_seconds: events/s stored.
api_ingest() { # build, embedded|postgres
  local args host_token before after
  # shellcheck disable=SC2207
  args=($(fresh "$2"))
  new_store "${args[@]}"
  host_token=$("$bin" "${args[@]}" token create --party acme-cloud --role host 2> /dev/null)
  settle
  start_server "$out/serve.log" "${args[@]}"
  before=$(accepted)
  wrk -t2 -c8 -d"${api_seconds}s" --timeout 30s -s bench/http.lua "http://$address/v1/events" \
    -- "$root/batch.ndjson" "$host_token" "$1$2$RANDOM" > "$out/wrk.txt"
  after=$(accepted)
  stop_server
  record "$1" "$2-api-ingest" "$(((after - before) / api_seconds))"
}

# Each step is measured for both builds one right after the other (the builds take
# turns going first), so that the machine's drift falls on both alike.
for run in $(seq "$runs"); do
  order=(base head)
  [ $((run % 2)) -eq 0 ] && order=(head base)
  for build in "${order[@]}"; do
    use "$build"
    record "$build" rate "$(wall rate "$bin" rate "${rate_args[@]}")"
  done
  for name in embedded postgres; do
    echo "run $run/$runs, $name: ${order[*]}..." >&2
    declare -A stores=()
    for build in "${order[@]}"; do
      use "$build"
      stores[$build]=$(fresh "$name")
      # shellcheck disable=SC2086
      new_store ${stores[$build]}
    done
    for step in "import $usage" "close 2026-10" "audit verify --format json"; do
      label=${step%% *}
      [ "$label" = audit ] && label=audit-verify
      for build in "${order[@]}"; do
        use "$build"
        extra=
        [ "$label" = close ] && extra=$(settlement_start "$bin")
        # shellcheck disable=SC2086
        record "$build" "$name-$label" "$(wall "$label" "$bin" ${stores[$build]} $step $extra)"
      done
    done
    for build in "${order[@]}"; do
      use "$build"
      api_ingest "$build" "$name"
    done
  done
done

# Proofs in a log of $entries entries, on each backend (this build only: BASE has none).
echo "proofs in a log of $entries entries..." >&2
use head
for name in embedded postgres; do
  # shellcheck disable=SC2207
  args=($(fresh "$name"))
  store=${args[1]}
  key=${args[3]:-$out/store.db.key}
  target/release/examples/log_proofs "$store" "$key" "$entries" 1000 |
    python3 -c "
import json, sys
for line in sys.stdin:
    x = json.loads(line)
    if x['label'] != 'fill':
        print(json.dumps({'build': 'head', 'label': '$name-' + x['label'], 'value': x['median_ms'], 'p99': x['p99_ms']}))
" >> "$results"
done

python3 - "$results" "$runs" "$base" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
runs, base = int(sys.argv[2]), sys.argv[3][:7]
def values(build, label):
    return [r["value"] for r in rows if r["build"] == build and r["label"] == label]
def median(build, label):
    return statistics.median(values(build, label))
print(f"bench/history.sh: this build against {base}, {runs} alternating runs each, medians; 1M events")
print(f"{'measure':34} {'base':>10} {'this':>10} {'this/base':>10}   target")
b, h = median("base", "rate"), median("head", "rate")
print(f"{'rate, offline (s)':34} {b:10.2f} {h:10.2f} {h / b:10.3f}   <= 1.03 {'ok' if h / b <= 1.03 else 'MISSED'}")
for backend in ("embedded", "postgres"):
    for label, unit, target, higher_is_better in (
        ("import", "s", 1.05, False),
        ("api-ingest", "ev/s", 0.95, True),
        ("close", "s", 1.15, False),
    ):
        b, h = median("base", f"{backend}-{label}"), median("head", f"{backend}-{label}")
        ratio = h / b
        ok = ratio >= target if higher_is_better else ratio <= target
        bound = f">= {target:.2f}" if higher_is_better else f"<= {target:.2f}"
        print(f"{backend + ' ' + label + ' (' + unit + ')':34} {b:10.2f} {h:10.2f} {ratio:10.3f}   {bound} {'ok' if ok else 'MISSED'}")
    close, check = median("head", f"{backend}-close"), median("head", f"{backend}-audit-verify")
    b = median("base", f"{backend}-audit-verify")
    print(f"{backend + ' audit verify (s)':34} {b:10.2f} {check:10.2f} {check / b:10.3f}   {check / close:.2f}x this close, <= 3 {'ok' if check / close <= 3 else 'MISSED'}")
for backend in ("embedded", "postgres"):
    for kind in ("inclusion", "consistency"):
        x = [r for r in rows if r["label"] == f"{backend}-{kind}"][0]
        print(f"{backend + ' ' + kind + ' proof (ms)':34} {'':10} {x['value']:10.3f} {'':10}   p99 {x['p99']:.3f}; <= 5 {'ok' if x['p99'] <= 5 else 'MISSED'}")
print(f"every figure: {sys.argv[1]}")
PY
