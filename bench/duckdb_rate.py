#!/usr/bin/env python3
"""The baseline for bench/rate.sh: DuckDB (2 threads) doing the equivalent of
`revshare rate`'s data work over the same NDJSON file: parse, deduplicate by
(source, id), and group by host, month, model, use case and currency with exact
decimal sums and distinct customers.

    duckdb_rate.py usage.ndjson [first|any]

`first` (the default) keeps the first occurrence of each key in file order, the
spec's rule and what revshare does. `any` keeps any one copy: the same result on the
generator's data (its duplicates are exact copies) and a lighter query for DuckDB,
measured too so that the comparison does not rest on the baseline's choice. Neither
does revshare's other work: strict validation, conflict detection, canonical JSON,
SHA-256 leaf hashes and Merkle roots. `first+sha256` runs `first` and then hashes
every line with DuckDB's `sha256`: not the rating issue's baseline, but a measure of
what the hashing the spec requires of revshare costs DuckDB (still without canonical
JSON or Merkle trees).
"""
import sys, time
import duckdb

path = sys.argv[1]
keep = sys.argv[2] if len(sys.argv) > 2 else "first"
if keep not in ("first", "any", "first+sha256"):
    sys.exit(f"keep must be first, any or first+sha256, not {keep!r}")
start = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads TO 2")
order = "" if keep == "any" else "ORDER BY n"
rows = con.execute(
    f"""
    WITH raw AS (
      SELECT source, id, "time" AS t, data, ordinality AS n
      FROM read_json(?, format = 'newline_delimited', columns = {{
        'specversion': 'VARCHAR', 'type': 'VARCHAR', 'source': 'VARCHAR', 'id': 'VARCHAR', 'time': 'VARCHAR',
        'data': 'STRUCT(host VARCHAR, model VARCHAR, use_case VARCHAR, region VARCHAR, customer VARCHAR,
                        requests BIGINT, input_tokens BIGINT, output_tokens BIGINT, revenue VARCHAR, currency VARCHAR)'}})
        WITH ORDINALITY
    ), first AS (
      SELECT * FROM raw QUALIFY row_number() OVER (PARTITION BY source, id {order}) = 1
    )
    SELECT data.host, strftime(CAST(t AS TIMESTAMPTZ), '%Y-%m') AS period, data.model, data.use_case, data.currency,
           count(*), sum(coalesce(data.requests, 1)), sum(data.input_tokens), sum(data.output_tokens),
           sum(CAST(data.revenue AS DECIMAL(38, 12))), count(DISTINCT data.customer)
    FROM first GROUP BY ALL ORDER BY ALL
    """,
    [path],
).fetchall()
if keep == "first+sha256":
    # Each line whole, as text: no delimiter, quote or escape character occurs in it.
    con.execute(
        """SELECT count(*), bit_xor(hash(sha256(line)))
           FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '',
                         escape = '', header = false, auto_detect = false)""",
        [path],
    ).fetchall()
print(f"{len(rows)} groups in {time.perf_counter() - start:.3f} s (keep {keep})", file=sys.stderr)
for row in rows:
    print(*row, sep=",")
