-- Schema 7: periods closed after a contract's term without a statement (nothing to
-- carry): each counts as closed for the contract and records what its close settled;
-- audited (`period_closed_after_term`).
CREATE TABLE closed_after_term (
    statement_id text PRIMARY KEY,
    contract     text NOT NULL,
    period       text NOT NULL,
    close_seq    bigint NOT NULL,
    settled      text NOT NULL,
    closed_at    text NOT NULL,
    seq          bigint NOT NULL
);
