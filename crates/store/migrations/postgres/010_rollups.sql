-- Schema 10: each segment's rollup (crates/store/src/rollup.rs): its events summed
-- by model, use case and currency, written with the segment, so that a host's days
-- are summed without decoding their events. Segments stored before this schema get
-- theirs when the store is opened (crates/store/src/postgres/migrations.rs).
CREATE TABLE segment_rollups (
    number bigint PRIMARY KEY, -- the segment's
    rollup bytea NOT NULL
);
