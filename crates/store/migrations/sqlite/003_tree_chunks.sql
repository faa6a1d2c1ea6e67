-- Schema 3: a statement tree's leaves in chunks of at most 2^20 leaves (32 MiB),
-- read back in chunk order. One value per tree could not hold a tree of more than
-- ~31 million leaves: SQLite refuses a value over 1 GB.
CREATE TABLE statement_tree_leaves (
    statement_id TEXT NOT NULL,
    tree         TEXT NOT NULL,
    chunk        INTEGER NOT NULL,
    leaves       BLOB NOT NULL,
    PRIMARY KEY (statement_id, tree, chunk)
);
-- A tree stored by schema 2 is cut the same way (32 chunks cover the 1 GB limit); an
-- empty tree has no chunk, as a close stores it.
WITH RECURSIVE chunks(chunk) AS (SELECT 0 UNION ALL SELECT chunk + 1 FROM chunks WHERE chunk < 31)
INSERT INTO statement_tree_leaves (statement_id, tree, chunk, leaves)
    SELECT statement_id, tree, chunk, substr(leaves, chunk * 33554432 + 1, 33554432)
    FROM statement_trees JOIN chunks ON chunk * 33554432 < length(leaves);
ALTER TABLE statement_trees DROP COLUMN leaves;
