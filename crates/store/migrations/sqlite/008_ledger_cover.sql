-- Schema 8: the balance index carries the columns a balance reads (amount, day,
-- due), so `ledger balances` reads the receivable legs in account order from the
-- index alone instead of looking each row up in the table.
DROP INDEX ledger_legs_balance;
CREATE INDEX ledger_legs_balance ON ledger_legs (side, host, beneficiary, contract, currency, amount, day, due);
