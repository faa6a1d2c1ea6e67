-- Schema 9: each segment's rollup (crates/store/src/rollup.rs): its events summed by
-- model, use case and currency, written with the segment, so that a host's days are
-- summed without decoding their events. A table of its own rather than a column of
-- `segments`: SQLite reaches a column stored after a segment's events only through
-- their overflow pages. Segments stored before this schema get theirs when the
-- store is opened (crates/store/src/sqlite/migrations.rs).
CREATE TABLE segment_rollups (
    number INTEGER PRIMARY KEY, -- the segment's
    rollup BLOB NOT NULL
);
