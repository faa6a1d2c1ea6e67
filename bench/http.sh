#!/usr/bin/env bash
# Benchmark of the HTTP API under load (wrk, from Debian), on the embedded store and on
# PostgreSQL, each next to `revshare import` of the same number of events:
#   - usage ingest: a host posts batches of 1,000 new events (bench/http.lua) over
#     keep-alive connections for DURATION seconds: events/s sustained;
#   - batch latency at half that load: the same connections, each pausing between its
#     batches (the pause set by a short calibration run) so that together they offer
#     half the rate just measured; its p99 and the rate actually reached;
#   - GET /v1/statements/{contract}/{period} after a close: requests/s and p99;
#   - the server's peak RSS (VmHWM) after start-up, after the full-load ingest, after
#     the half-load ingest (ingest: flat once loaded), and at the end (the statement
#     reads; the close runs in its own `revshare close` process).
#
#   bench/http.sh                     (DURATION=60 by default)
#   DURATION=10 bench/http.sh         (a quick run)
#   CONNECTIONS=8 WRK_THREADS=2 WRITERS=2 bench/http.sh
#
# Needs python3, curl, psql/createdb and PostgreSQL on 127.0.0.1:5432 (trust); installs
# wrk with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-60}
connections=${CONNECTIONS:-8}
wrk_threads=${WRK_THREADS:-2}
writers=${WRITERS:-2}
out=bench/out/http
pg_db=revshare_bench_http
mkdir -p "$out"
# shellcheck source=bench/lib.sh
source bench/lib.sh

need_wrk
cargo build --release --locked --quiet -p revshare-cli
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/revshare")
measure() { python3 bench/measure.py "$@"; }

period=$(python3 bench/http_events.py month)
python3 bench/http_events.py template 1000 > "$out/batch.ndjson"
trap 'stop_server; drop_pg' EXIT

hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# wrk's "Requests/sec" and 99th percentile (in ms) of an output file.
wrk_rate() { awk '/^Requests\/sec/ {print $2}' "$1"; }
wrk_p99_ms() {
  awk '$1 == "99%" {
    v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
    if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000; else if (unit == "m") v *= 60000;
    printf "%.1f", v }' "$1"
}
wrk_errors() { # non-2xx responses and socket errors
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$1"
}

declare -A figure
run_backend() { # name
  local name=$1 args
  # shellcheck disable=SC2207
  args=($(fresh "$name"))
  new_store "${args[@]}"
  "$bin" "${args[@]}" party add operations > /dev/null
  local host_token operator_token
  host_token=$("$bin" "${args[@]}" token create --party acme-cloud --role host 2> /dev/null)
  operator_token=$("$bin" "${args[@]}" token create --party operations --role operator 2> /dev/null)

  start_server "$out/serve-$name.log" "${args[@]}"
  figure[$name-rss-start]=$(hwm_kib "$server")

  # One batch by hand: the template's events are all valid and accepted.
  sed 's/@P@/check/g' "$out/batch.ndjson" |
    curl -sf -H "Authorization: Bearer $host_token" -H 'Content-Type: application/x-ndjson' \
      --data-binary @- "http://$address/v1/events" > "$out/check-$name.json"
  python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["accepted"]==1000 and not o["rejected"], o' \
    "$out/check-$name.json"

  echo "$name: ingest at full load (${duration}s, $connections connections)..." >&2
  local before after
  before=$(accepted)
  wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency --timeout 30s -s bench/http.lua \
    "http://$address/v1/events" -- "$out/batch.ndjson" "$host_token" "${name}full" > "$out/wrk-$name-full.txt"
  after=$(accepted)
  figure[$name-events]=$((after - before))
  figure[$name-events-s]=$(python3 -c "print(round(($after - $before) / $duration))")
  figure[$name-full-errors]=$(wrk_errors "$out/wrk-$name-full.txt")
  figure[$name-full-p99]=$(wrk_p99_ms "$out/wrk-$name-full.txt")
  figure[$name-rss-load]=$(hwm_kib "$server")

  # Half load: each connection pauses between its batches so that together they offer
  # half the batches/s just reached. wrk paces closed-loop (a connection's cycle is its
  # pause plus its batch's latency), so a short calibration run at the naive pause
  # measures the cycle actually reached, and the measured run pauses for the cycle's rest.
  local half_rate cycle_ms pause calibration_s=$((duration < 10 ? duration : 10))
  half_rate=$(python3 -c "print(max(($after - $before) / $duration / 1000 / 2, 0.1))")
  cycle_ms=$(python3 -c "print($connections * 1000 / $half_rate)")
  pause=$(python3 -c "print(max(1, round($cycle_ms)))")
  echo "$name: calibrating the half load (${calibration_s}s, pausing ${pause} ms)..." >&2
  before=$(accepted)
  HTTP_BENCH_PAUSE_MS=$pause wrk -t"$wrk_threads" -c"$connections" -d"${calibration_s}s" --timeout 30s \
    -s bench/http.lua "http://$address/v1/events" -- "$out/batch.ndjson" "$host_token" "${name}calibrate" \
    > "$out/wrk-$name-calibrate.txt"
  after=$(accepted)
  pause=$(python3 -c "
reached = max(($after - $before) / $calibration_s / 1000, 0.1)  # batches/s
latency_ms = $connections * 1000 / reached - $pause
print(max(1, round($cycle_ms - latency_ms)))")
  echo "$name: ingest at half load (${duration}s, $connections connections pausing ${pause} ms)..." >&2
  before=$(accepted)
  HTTP_BENCH_PAUSE_MS=$pause wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency --timeout 30s \
    -s bench/http.lua "http://$address/v1/events" -- "$out/batch.ndjson" "$host_token" "${name}half" \
    > "$out/wrk-$name-half.txt"
  after=$(accepted)
  figure[$name-half-events-s]=$(python3 -c "print(round(($after - $before) / $duration))")
  figure[$name-half-p99]=$(wrk_p99_ms "$out/wrk-$name-half.txt")
  figure[$name-half-errors]=$(($(wrk_errors "$out/wrk-$name-calibrate.txt") + $(wrk_errors "$out/wrk-$name-half.txt")))
  figure[$name-rss-ingest]=$(hwm_kib "$server")

  # The statement of acme-llama for the period, closed with the CLI beside the running
  # server: a month this large takes longer to close than a request may run (30 s).
  # Its first close: settlement starts there (its term began in January).
  echo "$name: revshare close $period (acme-llama)..." >&2
  "$bin" "${args[@]}" close "$period" --contract acme-llama --settlement-start > /dev/null
  curl -sf -H "Authorization: Bearer $operator_token" \
    "http://$address/v1/statements/acme-llama/$period" > /dev/null
  echo "$name: GET /v1/statements/acme-llama/$period (${duration}s)..." >&2
  wrk -t"$wrk_threads" -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $operator_token" \
    "http://$address/v1/statements/acme-llama/$period" > "$out/wrk-$name-statement.txt"
  figure[$name-get-rate]=$(wrk_rate "$out/wrk-$name-statement.txt")
  figure[$name-get-p99]=$(wrk_p99_ms "$out/wrk-$name-statement.txt")
  figure[$name-get-errors]=$(wrk_errors "$out/wrk-$name-statement.txt")
  figure[$name-rss-end]=$(hwm_kib "$server")
  stop_server

  # `revshare import` of as many events as the full-load run stored, into a new store.
  echo "$name: revshare import of ${figure[$name-events]} events..." >&2
  python3 bench/http_events.py file "${figure[$name-events]}" "import" > "$out/import-$name.ndjson"
  args=($(fresh "$name"))
  new_store "${args[@]}"
  local wall
  wall=$(measure "$name-import" -- "$bin" "${args[@]}" import "$out/import-$name.ndjson" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_s"])')
  figure[$name-import-events-s]=$(python3 -c "print(round(${figure[$name-events]} / $wall))")
  rm -f "$out/import-$name.ndjson"
}

run_backend embedded
run_backend postgres

# The table.
mib() { python3 -c "print(f'{$1 / 1024:.0f}')"; }
echo
echo "bench/http.sh: ${duration}s per measurement, wrk $wrk_threads threads x $connections connections, $writers writer threads, $(nproc) cores, period $period"
printf '%-44s %14s %14s   %s\n' "measure" "embedded" "postgres" "target"
row() { printf '%-44s %14s %14s   %s\n' "$1" "$2" "$3" "$4"; }
row "POST /v1/events, events/s (full load)" "${figure[embedded-events-s]}" "${figure[postgres-events-s]}" \
  ">= 250000 embedded, >= 120000 postgres"
row "  p99 batch latency at full load, ms" "${figure[embedded-full-p99]}" "${figure[postgres-full-p99]}" ""
row "revshare import, same events, events/s" "${figure[embedded-import-events-s]}" "${figure[postgres-import-events-s]}" ""
row "half load: events/s reached" "${figure[embedded-half-events-s]}" "${figure[postgres-half-events-s]}" "half the full load"
row "half load: p99 batch latency, ms" "${figure[embedded-half-p99]}" "${figure[postgres-half-p99]}" "<= 50"
row "GET statement, requests/s" "${figure[embedded-get-rate]}" "${figure[postgres-get-rate]}" ">= 5000"
row "GET statement, p99 ms" "${figure[embedded-get-p99]}" "${figure[postgres-get-p99]}" "<= 10"
row "server VmHWM after start-up, MiB" "$(mib "${figure[embedded-rss-start]}")" "$(mib "${figure[postgres-rss-start]}")" ""
row "server VmHWM after the full-load ingest, MiB" "$(mib "${figure[embedded-rss-load]}")" "$(mib "${figure[postgres-rss-load]}")" ""
row "server VmHWM after the half-load ingest, MiB" "$(mib "${figure[embedded-rss-ingest]}")" "$(mib "${figure[postgres-rss-ingest]}")" "flat after the full load"
row "server VmHWM after the statement GETs, MiB" "$(mib "${figure[embedded-rss-end]}")" "$(mib "${figure[postgres-rss-end]}")" ""
row "failed requests (non-2xx, socket errors)" \
  "$((figure[embedded-full-errors] + figure[embedded-half-errors] + figure[embedded-get-errors]))" \
  "$((figure[postgres-full-errors] + figure[postgres-half-errors] + figure[postgres-get-errors]))" "0"
echo "wrk paces closed-loop (no coordinated-omission correction): the half-load p99 is the"
echo "latency of batches sent at the rate reached (each connection's pause set by a short"
echo "calibration run to offer half the full load), not at a fixed arrival rate. wrk runs"
echo "on the same cores as the server. wrk outputs: $out/wrk-*.txt"
