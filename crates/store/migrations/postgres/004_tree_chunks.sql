-- Schema 4: a statement tree's leaves in chunks of at most 2^20 leaves (32 MiB),
-- read back in chunk order. One value per tree could not hold a tree of more than
-- ~31 million leaves: PostgreSQL refuses a value over 1 GB.
-- A process of an earlier build still connected waits here, then fails on the
-- dropped column, instead of storing a tree the move below would miss.
LOCK TABLE statement_trees IN ACCESS EXCLUSIVE MODE;
CREATE TABLE statement_tree_leaves (
    statement_id text NOT NULL,
    tree         text NOT NULL,
    chunk        integer NOT NULL,
    leaves       bytea NOT NULL,
    PRIMARY KEY (statement_id, tree, chunk)
);
-- Hashes do not compress: stored out of line as they are.
ALTER TABLE statement_tree_leaves ALTER COLUMN leaves SET STORAGE EXTERNAL;
-- A tree stored by schema 3 is cut the same way; an empty tree has no chunk, as a
-- close stores it.
INSERT INTO statement_tree_leaves (statement_id, tree, chunk, leaves)
    SELECT statement_id, tree, chunk, substr(leaves, chunk * 33554432 + 1, 33554432)
    FROM statement_trees, generate_series(0, (length(leaves) - 1) / 33554432) AS chunk
    WHERE length(leaves) > 0;
ALTER TABLE statement_trees DROP COLUMN leaves;
