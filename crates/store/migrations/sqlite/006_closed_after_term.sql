-- Schema 6: periods closed after a contract's term without a statement; audited
-- (`period_closed_after_term`).
-- Periods closed after a contract's term without a statement (nothing to carry):
-- each counts as closed for the contract and records what its close settled.
CREATE TABLE closed_after_term (
    statement_id TEXT PRIMARY KEY,
    contract     TEXT NOT NULL,
    period       TEXT NOT NULL,
    close_seq    INTEGER NOT NULL,
    settled      TEXT NOT NULL,
    closed_at    TEXT NOT NULL,
    seq          INTEGER NOT NULL
);
