//! Payments and the ledger's legs.

use revshare_core::audit::Seq;

use super::{PaymentRow, Result};

/// One leg of the ledger (statements.md, Ledger). Derived from a statement's payouts
/// or a payment's confirmation or reversal, and written in that step's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegRow {
    /// `statement:<id>`, `payment:<id>` or `reversal:<id>`.
    pub txn: String,
    pub contract: String,
    pub currency: String,
    pub host: String,
    pub beneficiary: String,
    /// `receivable` or `payable`.
    pub side: String,
    /// Exact, at the contract's scale.
    pub amount: String,
    pub day: i32,
    /// A statement's due day.
    pub due: Option<i32>,
    /// The entry of the step that posted it.
    pub seq: Seq,
}

/// Payments and ledger legs (a role of [`super::Backend`]).
pub trait Ledger {
    /// Stores a new payment.
    fn add_payment(&mut self, row: &PaymentRow) -> Result<()>;
    /// Replaces a payment's row (a step taken on it).
    fn update_payment(&mut self, row: &PaymentRow) -> Result<()>;
    fn payment(&mut self, payment_id: &str) -> Result<Option<PaymentRow>>;
    /// Every payment, in the order they were recorded (`recorded_seq`).
    fn payments(&mut self) -> Result<Vec<PaymentRow>>;
    /// Stores ledger legs (in the write transaction of what posts them).
    fn add_legs(&mut self, legs: &[LegRow]) -> Result<()>;
    /// Every leg, by `(seq, txn, beneficiary, side)`: in the order they were posted.
    fn legs(&mut self) -> Result<Vec<LegRow>>;
    /// Visits the legs on receivable accounts (what balances sum), by `(host,
    /// beneficiary, contract, currency)`, borrowed from the rows.
    fn scan_receivable(&mut self, visit: &mut dyn FnMut(&AccountLeg<'_>) -> Result<()>) -> Result<()>;
}

/// A leg on a receivable account as balances read it (an account, an amount and its
/// days), borrowed from the stored row.
#[derive(Clone, Copy, Debug)]
pub struct AccountLeg<'a> {
    pub host: &'a str,
    pub beneficiary: &'a str,
    pub contract: &'a str,
    pub currency: &'a str,
    pub amount: &'a str,
    pub day: i32,
    pub due: Option<i32>,
}
