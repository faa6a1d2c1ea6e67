-- Schema 9: the balance index carries the columns a balance reads (amount, day,
-- due), so `ledger balances` reads the receivable legs in account order from the
-- index alone instead of visiting the table a row at a time.
DROP INDEX ledger_legs_balance;
CREATE INDEX ledger_legs_balance ON ledger_legs (side, host, beneficiary, contract, currency)
    INCLUDE (amount, day, due);
