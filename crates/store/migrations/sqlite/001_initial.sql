-- revshare embedded store, schema 1.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE contracts (
    id        TEXT NOT NULL,
    version   INTEGER NOT NULL,
    licensor  TEXT NOT NULL,
    host      TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    toml      BLOB NOT NULL,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE fx_rates (
    date          INTEGER NOT NULL,
    from_currency TEXT NOT NULL,
    to_currency   TEXT NOT NULL,
    rate          TEXT NOT NULL,
    PRIMARY KEY (date, from_currency, to_currency)
);

CREATE TABLE models (
    position INTEGER PRIMARY KEY,
    pattern  TEXT NOT NULL,
    licensor TEXT NOT NULL
);

CREATE TABLE contributions (
    number      INTEGER PRIMARY KEY,
    contract    TEXT NOT NULL,
    by_party    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    date        INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reference   TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    decided_at  TEXT
);

-- Events, clustered by (host, day, seq): a close reads one host's period as a range
-- scan. `seq` numbers events in arrival order (assigned by the single writer from
-- `next_seq`). `(source, id)` is the idempotency key, forever.
CREATE TABLE events (
    host          TEXT NOT NULL,
    day           INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    source        TEXT NOT NULL,
    id            TEXT NOT NULL,
    leaf          BLOB NOT NULL,
    model         TEXT NOT NULL,
    use_case      TEXT NOT NULL,
    currency      TEXT NOT NULL,
    customer      BLOB,
    utc_seconds   INTEGER NOT NULL,
    requests      INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    revenue_units TEXT NOT NULL,
    late          INTEGER NOT NULL,
    PRIMARY KEY (host, day, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_key ON events (source, id);
-- Settlement finds late events without scanning their period.
CREATE INDEX events_late ON events (host, day, seq) WHERE late = 1;

CREATE TABLE next_seq (value INTEGER NOT NULL);
INSERT INTO next_seq (value) VALUES (1);

CREATE TABLE statements (
    statement_id TEXT PRIMARY KEY,
    contract     TEXT NOT NULL,
    period       TEXT NOT NULL,
    host         TEXT NOT NULL,
    start_day    INTEGER NOT NULL,
    end_day      INTEGER NOT NULL,
    watermark    INTEGER NOT NULL,
    settled      TEXT NOT NULL,
    json         TEXT NOT NULL,
    closed_at    TEXT NOT NULL
);
