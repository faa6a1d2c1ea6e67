-- Schema 13: a statement tree's tiles and its leaf index, so that a proof or a page
-- of leaves reads a few stored hashes instead of the whole tree.
-- A process of an earlier build still connected waits here instead of storing a tree
-- without them.
LOCK TABLE statement_trees IN ACCESS EXCLUSIVE MODE;
-- Level k ≥ 1 of a tree holds the roots of its complete subtrees of 256^k leaves, in
-- order (32 bytes each), in chunks of at most 2^13 hashes (256 KiB).
CREATE TABLE statement_tree_tiles (
    statement_id text NOT NULL,
    tree         text NOT NULL,
    level        integer NOT NULL,
    chunk        integer NOT NULL,
    hashes       bytea NOT NULL,
    PRIMARY KEY (statement_id, tree, level, chunk)
);
-- Each leaf's first 6 bytes and its place in the tree (6 bytes, big-endian), sorted,
-- in chunks of at most 2^13 entries: where a leaf is, found by a binary search.
CREATE TABLE statement_tree_index (
    statement_id text NOT NULL,
    tree         text NOT NULL,
    chunk        integer NOT NULL,
    entries      bytea NOT NULL,
    PRIMARY KEY (statement_id, tree, chunk)
);
-- Hashes do not compress: stored out of line as they are, so that substring() reads
-- only the TOAST chunks it needs.
ALTER TABLE statement_tree_tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;
ALTER TABLE statement_tree_index ALTER COLUMN entries SET STORAGE EXTERNAL;
-- The trees stored by earlier schemas get theirs when the store is opened
-- (postgres/migrations.rs), from their stored leaves.
