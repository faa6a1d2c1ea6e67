#!/usr/bin/env bash
# The dashboard's overview (GET /) as the operator, on a store holding EVENTS events
# of the current month, on both backends: the server's own time for the page (its
# request log's latency_ms, median of RUNS requests) and the page's weight, beside the
# API calls that give the same figures in the same run:
#   - GET /v1/statements, the closed statements the page's tables sum;
#   - POST /v1/periods/{month}/close?dry_run=true, the open month rated from its events,
#     which is what the page's accrual computes from the rollups stored at import.
# Targets: the page in at most 200 ms of server time and at most 200 KB.
#
#   bench/overview.sh              (EVENTS=1000000 RUNS=11 by default)
#
# Needs python3, curl, createdb and PostgreSQL on 127.0.0.1:5432 (trust).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${EVENTS:-1000000}
runs=${RUNS:-11}
out=bench/out/overview
pg_db=revshare_bench_overview
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source bench/lib.sh

cargo build --release --locked --quiet -p revshare-cli
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/revshare")
month=$(date -u +%Y-%m)
[ "$(date -u +%d)" = 01 ] && month=$(date -u -d yesterday +%Y-%m)
usage=$out/usage-$month-$events.ndjson
if [ ! -s "$usage" ]; then
  echo "generating $events events of $month..." >&2
  # A store refuses events dated ahead of its clock: the month's events are folded
  # into its days before today (on the 1st, the month before is the one generated).
  python3 ../shared/bench/gen_usage.py --events "$events" --month "$month" --seed 7 |
    python3 -c '
import re, sys, time
today = int(time.strftime("%d", time.gmtime()))
days = max(today - 1, 1)
fold = lambda m: "%s%02d" % (m.group(1), (int(m.group(2)) - 1) % days + 1)
for line in sys.stdin:
    sys.stdout.write(re.sub(r"(\"time\":\"\d{4}-\d{2}-)(\d{2})", fold, line, count=1))' > "$usage.tmp"
  mv "$usage.tmp" "$usage"
fi
trap 'stop_server; drop_pg' EXIT

# The median of the server's latency_ms for METHOD ROUTE in a log, from line FROM on.
median_ms() { # log from method route
  tail -n +"$2" "$1" | python3 -c '
import json, statistics, sys
method, route = sys.argv[1], sys.argv[2]
ms = [l["latency_ms"] for l in map(json.loads, (x for x in sys.stdin if x.startswith("{")))
      if l.get("method") == method and l.get("route") == route and l.get("status", 500) < 300]
print(f"{statistics.median(ms):.1f}" if ms else "n/a")' "$3" "$4"
}

run_backend() { # name
  local name=$1 args log jar
  # shellcheck disable=SC2207
  args=($(fresh "$name"))
  new_store "${args[@]}"
  "$bin" "${args[@]}" party add operations > /dev/null
  "$bin" "${args[@]}" import "$usage" 2>&1 | tail -1 >&2
  local token
  token=$("$bin" "${args[@]}" token create --party operations --role operator 2> /dev/null)
  log=$out/serve-$name.log
  start_server "$log" "${args[@]}"
  jar=$out/cookies-$name.txt
  rm -f "$jar"
  curl -sf -c "$jar" -o /dev/null --data-urlencode "token=$token" "http://$address/sign-in"
  curl -sf -b "$jar" -o "$out/overview-$name.html" "http://$address/" # warm-up
  local from size
  from=$(($(wc -l < "$log") + 1))
  for _ in $(seq "$runs"); do
    size=$(curl -sf -b "$jar" -o /dev/null -w '%{size_download}' "http://$address/")
    curl -sf -H "Authorization: Bearer $token" -o /dev/null "http://$address/v1/statements"
    curl -sf -X POST -H "Authorization: Bearer $token" -o /dev/null \
      "http://$address/v1/periods/$month/close?dry_run=true&settlement_start=true&allow_empty=true"
  done
  grep -q 'accrual so far' "$out/overview-$name.html" || { echo "$name: the page shows no accrual" >&2; exit 1; }
  printf '%-9s | %9s ms | %6s KB | %17s ms | %23s ms\n' "$name" \
    "$(median_ms "$log" "$from" GET /)" "$((size / 1024))" \
    "$(median_ms "$log" "$from" GET /v1/statements)" \
    "$(median_ms "$log" "$from" POST /v1/periods/{period}/close)"
  stop_server
}

echo "overview of $events events of $month (medians of $runs requests, server time)"
printf '%-9s | %12s | %9s | %20s | %26s\n' backend "GET / (page)" weight "GET /v1/statements" "dry run of $month (events)"
run_backend embedded
run_backend postgres
