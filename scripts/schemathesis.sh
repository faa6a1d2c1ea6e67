#!/usr/bin/env bash
# Schemathesis (PyPI) against the live server, for every operation of the OpenAPI
# document it serves, once with a host token (acme-cloud) and once with an operator
# token: no response may be a 500, and every response must match the document
# (status code, content type, body schema). Exits non-zero on any failure. The
# document's `servers` names the default address: `--url` points it at this server.
#
#   scripts/schemathesis.sh                   (debug build; installs schemathesis in a venv)
#   PROFILE=release scripts/schemathesis.sh   (the release build)
#   MAX_EXAMPLES=200 SEED=7 scripts/schemathesis.sh
#
# Needs python3 with venv and pip, and access to PyPI the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
examples=$root/fixtures/spec-examples
version=4.32.5
venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/revshare/schemathesis-$version}
profile=${PROFILE:-debug}
max_examples=${MAX_EXAMPLES:-60}

# schemathesis, pinned (its CLI flags change between versions), in its own venv.
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 ships venv separately.
    rm -rf "$venv"
    if command -v apt-get >/dev/null; then
      apt-get install -y -q python3-venv >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null; }
    fi
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version"
fi
schemathesis=$venv/bin/schemathesis

# The binary.
if [ -n "${REVSHARE_BIN:-}" ]; then
  bin=$REVSHARE_BIN
else
  if [ "$profile" = release ]; then
    cargo build --release --locked --quiet -p revshare-cli
  else
    cargo build --locked --quiet -p revshare-cli
  fi
  bin=$(realpath "${CARGO_TARGET_DIR:-target}/$profile/revshare")
fi

# A store with the example contracts, FX, usage, a closed period and the two tokens.
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
rs() { "$bin" --db "$work/store.db" "$@"; }
rs init > /dev/null
for contract in "$examples"/contracts/*.toml; do rs contract add "$contract" > /dev/null; done
rs fx add "$examples/fx.csv" > /dev/null
rs import "$examples/usage-small.ndjson" > /dev/null
rs close 2026-10 --settlement-start > /dev/null  # where this store starts settling
rs party add operations > /dev/null
host_token=$(rs token create --party acme-cloud --role host 2>/dev/null)
operator_token=$(rs token create --party operations --role operator 2>/dev/null)

# The server, on a free port it picks itself; a high rate limit so that 429s do not
# take the place of real answers. Started directly, not through `rs`: `$!` of a
# function is a subshell, and stopping it would leave the server running.
"$bin" --db "$work/store.db" serve --listen 127.0.0.1:0 --rate-limit 100000 --burst 100000 2> "$work/serve.log" &
server=$!
address=
for _ in $(seq 100); do
  address=$(sed -n 's|.*"listening":"\([^"]*\)".*|\1|p' "$work/serve.log" | head -1)
  [ -n "$address" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { echo "the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }

# One worker: with two, hypothesis parses lambda sources on two threads at once and
# CPython 3.11's `ast` module trips over its own recursion counter ("AST constructor
# recursion depth mismatch"), an error of the tool, not of the server.
status=0
for who in host operator; do
  token_var=${who}_token
  echo "== schemathesis, $who token" >&2
  (
    cd "$work"
    PYTHONPATH=$root/scripts SCHEMATHESIS_HOOKS=schemathesis_hooks "$schemathesis" run \
      "http://$address/v1/openapi.json" \
      --url "http://$address" \
      -H "Authorization: Bearer ${!token_var}" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --max-examples "$max_examples" \
      ${SEED:+--seed "$SEED"} \
      --workers 1 \
      --request-timeout 30 \
      --generation-database none \
      --no-color
  ) || status=1
done
if [ "$status" != 0 ]; then
  echo "schemathesis found failures (server log: below)" >&2
  tail -n 20 "$work/serve.log" >&2
fi
exit "$status"
