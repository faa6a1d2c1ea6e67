#!/usr/bin/env python3
"""The baseline for bench/rate.sh: DuckDB (2 threads) doing the equivalent of
`revshare rate`'s data work over the same NDJSON file: parse, deduplicate by
(source, id) (keeping any one: the generated duplicates are exact copies, and
asking for the first in file order would only slow DuckDB down), and group by host, month, model, use case and
currency with exact decimal sums and distinct customers.

    duckdb_rate.py usage.ndjson
"""
import sys, time
import duckdb

start = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads TO 2")
rows = con.execute(
    """
    WITH raw AS (
      SELECT source, id, "time" AS t, data
      FROM read_json(?, format = 'newline_delimited', columns = {
        'specversion': 'VARCHAR', 'type': 'VARCHAR', 'source': 'VARCHAR', 'id': 'VARCHAR', 'time': 'VARCHAR',
        'data': 'STRUCT(host VARCHAR, model VARCHAR, use_case VARCHAR, region VARCHAR, customer VARCHAR,
                        requests BIGINT, input_tokens BIGINT, output_tokens BIGINT, revenue VARCHAR, currency VARCHAR)'})
    ), first AS (
      SELECT * FROM raw QUALIFY row_number() OVER (PARTITION BY source, id) = 1
    )
    SELECT data.host, strftime(CAST(t AS TIMESTAMPTZ), '%Y-%m') AS period, data.model, data.use_case, data.currency,
           count(*), sum(coalesce(data.requests, 1)), sum(data.input_tokens), sum(data.output_tokens),
           sum(CAST(data.revenue AS DECIMAL(38, 12))), count(DISTINCT data.customer)
    FROM first GROUP BY ALL ORDER BY ALL
    """,
    [sys.argv[1]],
).fetchall()
print(f"{len(rows)} groups in {time.perf_counter() - start:.3f} s", file=sys.stderr)
for row in rows:
    print(*row, sep=",")
