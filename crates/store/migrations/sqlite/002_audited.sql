-- revshare embedded store, schema 2: every input row carries the audit seq that
-- added it (or last changed it), and the audit log chains every change.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    time           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    object         TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    digest         TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);

CREATE TABLE signing_keys (
    key_id     TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seq        INTEGER NOT NULL
);

-- Parties (operator, licensors, hosts, beneficiaries, auditors) and their tokens:
-- only SHA-256 of a whole token is stored.
CREATE TABLE parties (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seq        INTEGER NOT NULL
);

CREATE TABLE tokens (
    token_id    TEXT PRIMARY KEY,
    party       TEXT NOT NULL,
    role        TEXT NOT NULL,
    contracts   TEXT,          -- JSON array of contract ids, or NULL: all of the role's
    expires     TEXT,          -- YYYY-MM-DD: valid while now < that day at 00:00 UTC
    sha256      TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    seq         INTEGER NOT NULL
);

CREATE TABLE contracts (
    id        TEXT NOT NULL,
    version   INTEGER NOT NULL,
    licensor  TEXT NOT NULL,
    host      TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    toml      TEXT NOT NULL,
    added_at  TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE fx_rates (
    date          INTEGER NOT NULL,
    from_currency TEXT NOT NULL,
    to_currency   TEXT NOT NULL,
    rate          TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    PRIMARY KEY (date, from_currency, to_currency)
);

-- The model registry is versioned: each version is effective from a month start.
CREATE TABLE registry_versions (
    version        INTEGER PRIMARY KEY,
    effective_from INTEGER NOT NULL,
    file_name      TEXT NOT NULL,
    added_at       TEXT NOT NULL,
    rows           TEXT NOT NULL, -- JSON [[pattern, licensor], ...] in order
    seq            INTEGER NOT NULL
);

CREATE TABLE contributions (
    number       INTEGER PRIMARY KEY,
    contract     TEXT NOT NULL,
    by_party     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    date         INTEGER NOT NULL,
    status       TEXT NOT NULL,
    reference    TEXT NOT NULL,
    proposed_by  TEXT NOT NULL,
    proposed_at  TEXT NOT NULL,
    proposed_seq INTEGER NOT NULL,
    decided_by   TEXT,
    decided_at   TEXT,
    decided_seq  INTEGER,
    seq          INTEGER NOT NULL
);

-- The idempotency key of every event ever accepted, forever, with its leaf hash (a
-- repeated key with the same leaf is a duplicate, with another leaf a conflict) and
-- where its event lives.
CREATE TABLE event_keys (
    source TEXT NOT NULL,
    id     TEXT NOT NULL,
    leaf   BLOB NOT NULL,
    host   TEXT NOT NULL,
    day    INTEGER NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;

-- Events, in segments: the events of one host and UTC day accepted in one import
-- transaction, encoded together (crates/store/src/segment.rs). `seq` is the audit
-- entry of their batch. A close reads one host's period as a range scan.
CREATE TABLE segments (
    number INTEGER PRIMARY KEY,
    host   TEXT NOT NULL,
    day    INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    events BLOB NOT NULL
);
CREATE INDEX segments_period ON segments (host, day, seq);
CREATE INDEX segments_seq ON segments (seq);

CREATE TABLE voids (
    number    INTEGER PRIMARY KEY,
    source    TEXT NOT NULL,
    id        TEXT NOT NULL,
    host      TEXT NOT NULL,
    day       INTEGER NOT NULL,
    leaf      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    actor     TEXT NOT NULL,
    voided_at TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    UNIQUE (source, id)
);

CREATE TABLE statements (
    statement_id TEXT PRIMARY KEY,
    contract     TEXT NOT NULL,
    period       TEXT NOT NULL,
    host         TEXT NOT NULL,
    start_day    INTEGER NOT NULL,
    end_day      INTEGER NOT NULL,
    close_seq    INTEGER NOT NULL,
    settled      TEXT NOT NULL,
    json         TEXT NOT NULL,
    closed_at    TEXT NOT NULL,
    seq          INTEGER NOT NULL
);

-- Each tree of a closed statement: its leaf hashes in tree order, 32 bytes each.
CREATE TABLE statement_trees (
    statement_id TEXT NOT NULL,
    tree         TEXT NOT NULL,
    count        INTEGER NOT NULL,
    root         TEXT NOT NULL,
    leaves       BLOB NOT NULL,
    PRIMARY KEY (statement_id, tree)
);

CREATE TABLE payout_notices (
    statement_id TEXT NOT NULL,
    beneficiary  TEXT NOT NULL,
    json         TEXT NOT NULL,
    PRIMARY KEY (statement_id, beneficiary)
);

-- Idempotency keys of the API's POSTs (api.md), scoped to (token, method, path):
-- the first response is kept and answered again. Not audited: a record of answers,
-- not of the settlement.
CREATE TABLE idempotency (
    token_id     TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    key          TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    done         INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    response     BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (token_id, method, path, key)
);

-- Long work started over the API (audit verification), and its result.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    state       TEXT NOT NULL,
    result      TEXT,
    created_at  TEXT NOT NULL,
    finished_at TEXT
);
