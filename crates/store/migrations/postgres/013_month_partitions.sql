-- Schema 13: segments partitioned by the month of their day (a partition
-- `segments_YYYY_MM` each, made when its first events arrive), so that an old month
-- can move to cheaper storage (`ALTER TABLE segments_2026_01 SET TABLESPACE …`,
-- docs/operations.md) while every check and proof still reads it through
-- `segments`. The rows of an earlier schema's table are moved into the partitions
-- by the code that applies this file (crates/store/src/postgres/migrations.rs).
ALTER TABLE segments RENAME TO segments_before_partitions;
DROP INDEX segments_period;
DROP INDEX segments_batch;
ALTER SEQUENCE segments_number_seq OWNED BY NONE;
CREATE TABLE segments (
    number bigint NOT NULL DEFAULT nextval('segments_number_seq'),
    batch  bigint NOT NULL,
    host   text NOT NULL,
    day    integer NOT NULL,
    count  integer NOT NULL,
    events bytea NOT NULL,
    PRIMARY KEY (number, day)
) PARTITION BY RANGE (day);
ALTER SEQUENCE segments_number_seq OWNED BY segments.number;
-- Segments are already compact: stored out of line as they are, not compressed again
-- (each partition is made with this storage too).
ALTER TABLE segments ALTER COLUMN events SET STORAGE EXTERNAL;
CREATE INDEX segments_period ON segments (host, day);
CREATE INDEX segments_batch ON segments (batch);
