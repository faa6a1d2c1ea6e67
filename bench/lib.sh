# What the bench scripts share (sourced, from the repository's root): a new store of
# the example's contracts and FX, a server on a free port, the events it accepted.
# The script sets `bin` (a revshare binary), `out` (its folder) and `pg_db` (its
# PostgreSQL database) first.
examples=fixtures/spec-examples
pg_host=127.0.0.1
pg_url() { echo "postgres://postgres@$pg_host:5432/$pg_db"; }

new_store() { # store args...
  "$bin" "$@" init > /dev/null
  for contract in "$examples"/contracts/*.toml; do "$bin" "$@" contract add "$contract" > /dev/null; done
  "$bin" "$@" fx add "$examples/fx.csv" > /dev/null
}

# A bench's first close starts settlement mid-term (the example contracts start before
# its usage; nimbus-llama owes a minimum guarantee from July), which it confirms:
# `--settlement-start`, printed only where the binary has it (an A/B's older build).
settlement_start() { # bin
  # The help is read whole first: `grep -q` stopping early would break the pipe,
  # and with pipefail the test would fail.
  local help
  help=$("$1" close --help 2> /dev/null || true)
  if grep -q -- --settlement-start <<< "$help"; then echo --settlement-start; fi
}

drop_pg() { dropdb -h "$pg_host" -U postgres --if-exists --force "$pg_db" 2> /dev/null || true; }

fresh() { # embedded|postgres -> its store args on stdout, the store removed first
  case $1 in
    embedded)
      rm -f "$out/store.db" "$out/store.db-wal" "$out/store.db-shm" "$out/store.db.key" "$out"/store.db.key.*
      echo --db "$out/store.db" ;;
    postgres)
      drop_pg
      createdb -h "$pg_host" -U postgres "$pg_db"
      rm -f "$out/pg.key" "$out"/pg.key.*
      echo --database-url "$(pg_url)" --key-file "$out/pg.key" ;;
  esac
}

server=
address=
start_server() { # log file, store args... -> sets server (its pid) and address
  local log=$1
  shift
  "$bin" "$@" serve --listen 127.0.0.1:0 --rate-limit 1000000 --burst 1000000 --writers "${writers:-2}" \
    2> "$log" &
  server=$!
  address=
  for _ in $(seq 100); do
    address=$(sed -n 's|.*"listening":"\([^"]*\)".*|\1|p' "$log" | head -1)
    [ -n "$address" ] && return
    sleep 0.1
  done
  cat "$log" >&2
  exit 1
}

stop_server() {
  if [ -n "$server" ]; then
    kill -TERM "$server" 2> /dev/null || true
    wait "$server" 2> /dev/null || true
    server=
  fi
}

accepted() { curl -sf "http://$address/metrics" | awk '/^revshare_events_total\{outcome="accepted"\}/ {print $2}'; }

need_wrk() { # from Debian, if missing
  if ! command -v wrk > /dev/null; then
    apt-get install -y -q wrk > /dev/null 2>&1 || { apt-get update -q > /dev/null && apt-get install -y -q wrk > /dev/null; }
  fi
}
