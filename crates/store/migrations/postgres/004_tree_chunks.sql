-- Schema 4: a statement tree's leaves in chunks of at most 2^20 leaves (32 MiB).
-- One value per tree could not hold a tree of more than ~31 million leaves: both
-- SQLite and PostgreSQL refuse a value over 1 GB, and a month of one contract can
-- count more events than that. Readers concatenate a tree's chunks in chunk order.
CREATE TABLE statement_tree_leaves (
    statement_id text NOT NULL,
    tree         text NOT NULL,
    chunk        integer NOT NULL,
    leaves       bytea NOT NULL,
    PRIMARY KEY (statement_id, tree, chunk)
);
-- A tree stored by an earlier schema keeps its leaves as its one chunk.
INSERT INTO statement_tree_leaves (statement_id, tree, chunk, leaves)
    SELECT statement_id, tree, 0, leaves FROM statement_trees;
ALTER TABLE statement_trees DROP COLUMN leaves;
-- Hashes do not compress: stored out of line as they are.
ALTER TABLE statement_tree_leaves ALTER COLUMN leaves SET STORAGE EXTERNAL;
