//! The column lists both backends read, in the order their row readers take them.

pub(crate) const VOID_COLUMNS: &str = "number, source, id, host, day, leaf, reason, actor, voided_at, seq";
pub(crate) const TOKEN_COLUMNS: &str = "token_id, party, role, contracts, expires, sha256, created_at, revoked_at, seq";
pub(crate) const ENTRY_COLUMNS: &str = "seq, time, actor, action, object, payload_sha256, digest, prev_hash, hash";
pub(crate) const STATEMENT_COLUMNS: &str =
    "statement_id, contract, period, host, start_day, end_day, close_seq, settled, json, closed_at, seq";
pub(crate) const CONTRIBUTION_COLUMNS: &str =
    "number, contract, by_party, kind, date, status, reference, proposed_by, \
     proposed_at, proposed_seq, decided_by, decided_at, decided_seq, seq";
pub(crate) const PAYMENT_COLUMNS: &str =
    "payment_id, contract, currency, payer, payee, amount, date, reference, status, \
     recorded_by, recorded_at, recorded_seq, confirmed_by, confirmed_at, withdrawn_by, withdrawn_at, reversed_by, \
     reversed_at, reversal_reason, seq";
pub(crate) const LEG_COLUMNS: &str = "txn, contract, currency, host, beneficiary, side, amount, day, due, seq";
pub(crate) const CLOSED_AFTER_TERM_COLUMNS: &str = "statement_id, contract, period, close_seq, settled, closed_at, seq";
