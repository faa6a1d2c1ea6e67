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

-- The idempotency key of every event ever accepted, forever, with its leaf hash: a
-- repeated key with the same leaf is a duplicate, with another leaf a conflict.
CREATE TABLE event_keys (
    source TEXT NOT NULL,
    id     TEXT NOT NULL,
    leaf   BLOB NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;

-- Events, in segments: the events of one host and UTC day accepted in one import
-- transaction, encoded together (crates/store/src/segment.rs). Their `seq` numbers
-- are `seq_first` up to `seq_first + count - 1`, assigned in arrival order by the
-- single writer from `next_seq`. A close reads one host's period as a range scan.
CREATE TABLE segments (
    number    INTEGER PRIMARY KEY,
    host      TEXT NOT NULL,
    day       INTEGER NOT NULL,
    seq_first INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    late      INTEGER NOT NULL,
    events    BLOB NOT NULL
);
CREATE INDEX segments_period ON segments (host, day, seq_first);
-- Settlement finds late events without scanning their period.
CREATE INDEX segments_late ON segments (host, day, seq_first) WHERE late = 1;

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
