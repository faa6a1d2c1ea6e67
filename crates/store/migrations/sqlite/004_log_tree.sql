-- Schema 4: the audit log is also an append-only Merkle tree, with signed
-- checkpoints and the witnesses who cosign them (statements.md, Checkpoints and
-- witnesses). The store id (`meta`) names the log: its origin is revshare/<store id>.

-- Every stored hash of the log's tree (leaf i is SHA-256(0x00 ‖ digest of entry
-- i + 1)), at its stored hash index (Go sumdb/tlog order): derived from the entries,
-- recomputed by `audit verify` (check 6).
CREATE TABLE audit_tree (
    idx  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- Signed checkpoints (C2SP tlog-checkpoint in a signed note). The newest is kept,
-- and every one a statement anchors or a witness cosigned; checked by check 6.
CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);

-- Witnesses' cosignatures (C2SP tlog-cosignature v1 lines), per checkpoint size and
-- witness key; checked by check 6 against the registered keys.
CREATE TABLE cosignatures (
    size        INTEGER NOT NULL,
    vkey        TEXT NOT NULL,
    line        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (size, vkey)
);

-- Parties' witness keys (C2SP verifier keys of type 0x04), registered by proof of
-- possession; audited (`witness_key_added`).
CREATE TABLE witness_keys (
    number   INTEGER PRIMARY KEY,
    party    TEXT NOT NULL,
    vkey     TEXT NOT NULL UNIQUE,
    added_at TEXT NOT NULL,
    seq      INTEGER NOT NULL
);

-- Rollbacks the operator accepted after restoring a backup; audited
-- (`rollback_accepted`).
CREATE TABLE rollbacks (
    number      INTEGER PRIMARY KEY,
    from_size   INTEGER NOT NULL,
    from_root   TEXT NOT NULL,
    to_size     INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    seq         INTEGER NOT NULL
);

-- A close checks that each row it uses answers to the latest entry about it.
CREATE INDEX audit_log_object ON audit_log (object, seq);
