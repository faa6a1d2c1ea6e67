-- Schema 11: a statement tree's tiles and its leaf index, so that a proof or a page
-- of leaves reads a few stored hashes instead of the whole tree.
-- Level k ≥ 1 of a tree holds the roots of its complete subtrees of 256^k leaves, in
-- order (32 bytes each), in chunks of at most 2^13 hashes (256 KiB).
CREATE TABLE statement_tree_tiles (
    statement_id TEXT NOT NULL,
    tree         TEXT NOT NULL,
    level        INTEGER NOT NULL,
    chunk        INTEGER NOT NULL,
    hashes       BLOB NOT NULL,
    PRIMARY KEY (statement_id, tree, level, chunk)
);
-- Each leaf's first 6 bytes and its place in the tree (6 bytes, big-endian), sorted,
-- in chunks of at most 2^13 entries: where a leaf is, found by a binary search.
CREATE TABLE statement_tree_index (
    statement_id TEXT NOT NULL,
    tree         TEXT NOT NULL,
    chunk        INTEGER NOT NULL,
    entries      BLOB NOT NULL,
    PRIMARY KEY (statement_id, tree, chunk)
);
-- The trees stored by earlier schemas get theirs when the store is opened
-- (sqlite/migrations.rs), from their stored leaves.
