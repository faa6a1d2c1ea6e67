-- Schema 6: payments and the ledger (statements.md, Ledger).

-- Payments between a contract's host and a beneficiary, either way; audited
-- (`payment_recorded`, `_confirmed`, `_withdrawn`, `_reversed`).
CREATE TABLE payments (
    payment_id      text PRIMARY KEY,
    contract        text NOT NULL,
    currency        text NOT NULL,
    payer           text NOT NULL,
    payee           text NOT NULL,
    amount          text NOT NULL,
    date            integer NOT NULL,
    reference       text NOT NULL,
    status          text NOT NULL,
    recorded_by     text NOT NULL,
    recorded_at     text NOT NULL,
    recorded_seq    bigint NOT NULL,
    confirmed_by    text,
    confirmed_at    text,
    withdrawn_by    text,
    withdrawn_at    text,
    reversed_by     text,
    reversed_at     text,
    reversal_reason text,
    seq             bigint NOT NULL
);
CREATE INDEX payments_recorded ON payments (recorded_seq);

-- The ledger's legs, written in the transaction of the close or payment step that
-- posts them. Derived from statements' payouts and payments: recomputed and
-- compared by `audit verify` (check 4). `txn` is `statement:<id>`,
-- `payment:<id>` or `reversal:<id>`; `side` names the account with `host` and
-- `beneficiary` (`receivable:<b>/<h>` or `payable:<h>/<b>`); `amount` is exact, at
-- the contract's scale; `due` is a statement's due day.
CREATE TABLE ledger_legs (
    txn         text NOT NULL,
    contract    text NOT NULL,
    currency    text NOT NULL,
    host        text NOT NULL,
    beneficiary text NOT NULL,
    side        text NOT NULL,
    amount      text NOT NULL,
    day         integer NOT NULL,
    due         integer,
    seq         bigint NOT NULL,
    PRIMARY KEY (txn, beneficiary, side)
);
CREATE INDEX ledger_legs_balance ON ledger_legs (side, host, beneficiary, contract, currency);

-- The statements of a store upgraded to this schema were closed before closes
-- posted legs: the application posts theirs once, as their closes would have, and
-- marks it done (a new store has none to post).
INSERT INTO meta (key, value) VALUES ('ledger', 'to post');
