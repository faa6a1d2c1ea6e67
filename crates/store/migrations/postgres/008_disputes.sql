-- Schema 8: disputes of closed statements (statements.md, Disputes).

-- One row per dispute, replaced by each step; audited (`dispute_opened`,
-- `_answered`, `_resolved`, `_accepted`, `_rejected`, `_withdrawn`, `_escalated`,
-- `_decided`: each entry covers the whole row). `evidence` and `steps` are JSON
-- arrays; `model` and `use_case` are NULL for a dispute of the whole statement;
-- `resolved_seq` is the entry that resolved it, which a close as of that seq or
-- later carries once.
CREATE TABLE disputes (
    dispute_id    TEXT PRIMARY KEY,
    contract      TEXT NOT NULL,
    statement_id  TEXT NOT NULL,
    model         TEXT,
    use_case      TEXT,
    opener        TEXT NOT NULL,
    opener_side   TEXT NOT NULL,
    counterparty  TEXT NOT NULL,
    reason        TEXT NOT NULL,
    claim         TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    window_ends   TEXT NOT NULL,
    status        TEXT NOT NULL,
    amount        TEXT,
    steps         TEXT NOT NULL,
    opened_seq    BIGINT NOT NULL,
    resolved_seq  BIGINT,
    seq           BIGINT NOT NULL
);
CREATE INDEX disputes_opened ON disputes (opened_seq);
CREATE INDEX disputes_statement ON disputes (statement_id);
