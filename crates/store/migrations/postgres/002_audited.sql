-- revshare PostgreSQL store, schema 2: every input row carries the audit seq that
-- added it (or last changed it), and the audit log chains every change. Keys compare
-- bytewise (COLLATE "C"), as the spec orders Merkle leaves.
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE audit_log (
    seq            bigint PRIMARY KEY,
    time           text NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    object         text NOT NULL,
    payload_sha256 text NOT NULL,
    digest         text NOT NULL,
    prev_hash      text NOT NULL,
    hash           text NOT NULL
);

CREATE TABLE signing_keys (
    key_id     text PRIMARY KEY,
    alg        text NOT NULL,
    public_key text NOT NULL,
    created_at text NOT NULL,
    seq        bigint NOT NULL
);

-- Parties (operator, licensors, hosts, beneficiaries, auditors) and their tokens:
-- only SHA-256 of a whole token is stored.
CREATE TABLE parties (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at text NOT NULL,
    seq        bigint NOT NULL
);

CREATE TABLE tokens (
    token_id    text PRIMARY KEY,
    party       text NOT NULL,
    role        text NOT NULL,
    contracts   text,          -- JSON array of contract ids, or NULL: all of the role's
    expires     text,          -- YYYY-MM-DD: valid while now < that day at 00:00 UTC
    sha256      text NOT NULL UNIQUE,
    created_at  text NOT NULL,
    revoked_at  text,
    seq         bigint NOT NULL
);

CREATE TABLE contracts (
    id        text NOT NULL,
    version   bigint NOT NULL,
    licensor  text NOT NULL,
    host      text NOT NULL,
    file_name text NOT NULL,
    sha256    text NOT NULL,
    toml      text NOT NULL,
    added_at  text NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE fx_rates (
    date          integer NOT NULL,
    from_currency text COLLATE "C" NOT NULL,
    to_currency   text COLLATE "C" NOT NULL,
    rate          text NOT NULL,
    seq           bigint NOT NULL,
    PRIMARY KEY (date, from_currency, to_currency)
);

CREATE TABLE registry_versions (
    version        bigint PRIMARY KEY,
    effective_from integer NOT NULL,
    file_name      text NOT NULL,
    added_at       text NOT NULL,
    rows           text NOT NULL,
    seq            bigint NOT NULL
);

CREATE TABLE contributions (
    number       bigserial PRIMARY KEY,
    contract     text NOT NULL,
    by_party     text NOT NULL,
    kind         text NOT NULL,
    date         integer NOT NULL,
    status       text NOT NULL,
    reference    text NOT NULL,
    proposed_by  text NOT NULL,
    proposed_at  text NOT NULL,
    proposed_seq bigint NOT NULL,
    decided_by   text,
    decided_at   text,
    decided_seq  bigint,
    seq          bigint NOT NULL
);

-- The idempotency key, forever, across all partitions of `events`, and where its
-- event lives.
CREATE TABLE event_keys (
    source text COLLATE "C" NOT NULL,
    id     text COLLATE "C" NOT NULL,
    leaf   bytea NOT NULL,
    host   text NOT NULL,
    day    integer NOT NULL,
    PRIMARY KEY (source, id)
);

-- A batch is the events of one host stored in one transaction. Its id is drawn
-- before the write lock, so that batches are written in parallel; its audit seq is
-- assigned under the lock, at the end of the transaction.
CREATE SEQUENCE batch_ids;
CREATE TABLE event_batches (
    batch     bigint PRIMARY KEY,
    seq       bigint NOT NULL UNIQUE,
    host      text NOT NULL,
    first_day integer NOT NULL,
    last_day  integer NOT NULL,
    count     bigint NOT NULL
);
CREATE INDEX event_batches_host ON event_batches (host, seq);

-- Events partitioned by month of their UTC day (partitions are made on demand), so
-- that a close reads one partition and a year of usage stays fast.
CREATE TABLE events (
    batch         bigint NOT NULL,
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
    revenue_units text NOT NULL
) PARTITION BY RANGE (day);
-- `audit verify` reads events batch by batch; an index on a rising number costs an
-- insert little.
CREATE INDEX events_batch ON events (batch);

CREATE TABLE voids (
    number    bigserial PRIMARY KEY,
    source    text COLLATE "C" NOT NULL,
    id        text COLLATE "C" NOT NULL,
    host      text NOT NULL,
    day       integer NOT NULL,
    leaf      text NOT NULL,
    reason    text NOT NULL,
    actor     text NOT NULL,
    voided_at text NOT NULL,
    seq       bigint NOT NULL,
    UNIQUE (source, id)
);

CREATE TABLE statements (
    statement_id text PRIMARY KEY,
    contract     text NOT NULL,
    period       text NOT NULL,
    host         text NOT NULL,
    start_day    integer NOT NULL,
    end_day      integer NOT NULL,
    close_seq    bigint NOT NULL,
    settled      text NOT NULL,
    json         text NOT NULL,
    closed_at    text NOT NULL,
    seq          bigint NOT NULL
);

CREATE TABLE statement_trees (
    statement_id text NOT NULL,
    tree         text NOT NULL,
    count        bigint NOT NULL,
    root         text NOT NULL,
    leaves       bytea NOT NULL,
    PRIMARY KEY (statement_id, tree)
);

CREATE TABLE payout_notices (
    statement_id text NOT NULL,
    beneficiary  text NOT NULL,
    json         text NOT NULL,
    PRIMARY KEY (statement_id, beneficiary)
);

-- Idempotency keys of the API's POSTs (api.md), scoped to (token, method, path):
-- the first response is kept and answered again. Not audited: a record of answers,
-- not of the settlement.
CREATE TABLE idempotency (
    token_id     text NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    key          text NOT NULL,
    body_sha256  text NOT NULL,
    done         integer NOT NULL,
    status       integer NOT NULL,
    content_type text NOT NULL,
    response     bytea NOT NULL,
    created_at   text NOT NULL,
    PRIMARY KEY (token_id, method, path, key)
);

-- Long work started over the API (audit verification), and its result.
CREATE TABLE jobs (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    actor       text NOT NULL,
    state       text NOT NULL,
    result      text,
    created_at  text NOT NULL,
    finished_at text
);
