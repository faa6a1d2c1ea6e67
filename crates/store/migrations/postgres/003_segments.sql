-- Schema 3: events in segments, as the embedded store keeps them
-- (crates/store/src/segment.rs): the events of one host and UTC day in one stored
-- batch, encoded together. A row per event cost PostgreSQL a tuple, fifteen parsed
-- columns and an index entry per event; a segment costs that once per batch and day.
-- The idempotency key keeps its own indexed row per event (`event_keys`).
-- Converting a schema-2 database's `events` rows is done by the code that applies
-- this file (crates/store/src/postgres.rs), which then drops `events`.
CREATE TABLE segments (
    number bigserial PRIMARY KEY,
    batch  bigint NOT NULL,
    host   text NOT NULL,
    day    integer NOT NULL,
    count  integer NOT NULL,
    events bytea NOT NULL
);
-- Segments are already compact: stored out of line as they are, not compressed again.
ALTER TABLE segments ALTER COLUMN events SET STORAGE EXTERNAL;
-- A close reads one host's days; `audit verify` reads batch by batch.
CREATE INDEX segments_period ON segments (host, day);
CREATE INDEX segments_batch ON segments (batch);
