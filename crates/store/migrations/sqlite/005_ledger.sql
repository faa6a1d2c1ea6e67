-- Schema 5: payments and the ledger (statements.md, Ledger).

-- Payments between a contract's host and a beneficiary, either way; audited
-- (`payment_recorded`, `_confirmed`, `_withdrawn`, `_reversed`).
CREATE TABLE payments (
    payment_id      TEXT PRIMARY KEY,
    contract        TEXT NOT NULL,
    currency        TEXT NOT NULL,
    payer           TEXT NOT NULL,
    payee           TEXT NOT NULL,
    amount          TEXT NOT NULL,
    date            INTEGER NOT NULL,
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_seq    INTEGER NOT NULL,
    confirmed_by    TEXT,
    confirmed_at    TEXT,
    withdrawn_by    TEXT,
    withdrawn_at    TEXT,
    reversed_by     TEXT,
    reversed_at     TEXT,
    reversal_reason TEXT,
    seq             INTEGER NOT NULL
);
CREATE INDEX payments_recorded ON payments (recorded_seq);

-- The ledger's legs, written in the transaction of the close or payment step that
-- posts them. Derived from statements' payouts and payments: recomputed and
-- compared by `audit verify` (check 4). `txn` is `statement:<id>`,
-- `payment:<id>` or `reversal:<id>`; `side` names the account with `host` and
-- `beneficiary` (`receivable:<b>/<h>` or `payable:<h>/<b>`); `amount` is exact, at
-- the contract's scale; `due` is a statement's due day.
CREATE TABLE ledger_legs (
    txn         TEXT NOT NULL,
    contract    TEXT NOT NULL,
    currency    TEXT NOT NULL,
    host        TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    side        TEXT NOT NULL,
    amount      TEXT NOT NULL,
    day         INTEGER NOT NULL,
    due         INTEGER,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (txn, beneficiary, side)
);
CREATE INDEX ledger_legs_balance ON ledger_legs (side, host, beneficiary, contract, currency);

-- The statements of a store upgraded to this schema were closed before closes
-- posted legs: the application posts theirs once, as their closes would have, and
-- marks it done (a new store has none to post).
INSERT INTO meta (key, value) VALUES ('ledger', 'to post');
