-- revshare PostgreSQL store, schema 1. Keys compare bytewise (COLLATE "C"), as the
-- spec orders Merkle leaves, and because it is much faster than a locale collation.
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE contracts (
    id        text NOT NULL,
    version   bigint NOT NULL,
    licensor  text NOT NULL,
    host      text NOT NULL,
    file_name text NOT NULL,
    sha256    text NOT NULL,
    toml      bytea NOT NULL,
    added_at  text NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE fx_rates (
    date          integer NOT NULL,
    from_currency text NOT NULL,
    to_currency   text NOT NULL,
    rate          text NOT NULL,
    PRIMARY KEY (date, from_currency, to_currency)
);

CREATE TABLE models (
    position integer PRIMARY KEY,
    pattern  text NOT NULL,
    licensor text NOT NULL
);

CREATE TABLE contributions (
    number      bigserial PRIMARY KEY,
    contract    text NOT NULL,
    by_party    text NOT NULL,
    kind        text NOT NULL,
    date        integer NOT NULL,
    status      text NOT NULL,
    reference   text NOT NULL,
    proposed_at text NOT NULL,
    decided_at  text
);

-- The idempotency key, forever, across all partitions of `events`.
CREATE TABLE event_keys (
    source text COLLATE "C" NOT NULL,
    id     text COLLATE "C" NOT NULL,
    leaf   bytea NOT NULL,
    PRIMARY KEY (source, id)
);

CREATE SEQUENCE event_seq;

-- Events partitioned by month of their UTC day (partitions are made on demand), so
-- that a close reads one partition and a year of usage stays fast.
CREATE TABLE events (
    seq           bigint NOT NULL,
    source        text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    leaf          bytea NOT NULL,
    host          text NOT NULL,
    model         text NOT NULL,
    use_case      text NOT NULL,
    currency      text NOT NULL,
    customer      bytea,
    utc_seconds   bigint NOT NULL,
    day           integer NOT NULL,
    requests      bigint NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    revenue_units text NOT NULL,
    late          boolean NOT NULL
) PARTITION BY RANGE (day);
-- No (host, day) index: a close reads one month's partition, which holds exactly
-- that period; an index would cost every insert more than it saves that scan.
CREATE INDEX events_late ON events (host, day, seq) WHERE late;

CREATE TABLE statements (
    statement_id text PRIMARY KEY,
    contract     text NOT NULL,
    period       text NOT NULL,
    host         text NOT NULL,
    start_day    integer NOT NULL,
    end_day      integer NOT NULL,
    watermark    bigint NOT NULL,
    settled      text NOT NULL,
    json         text NOT NULL,
    closed_at    text NOT NULL
);
