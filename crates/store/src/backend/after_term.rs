//! Periods closed after a contract's term without a statement.

use super::{ClosedAfterTermRow, Result};

pub trait AfterTerm {
    /// Stores the record unless one for its period is stored: whether it was stored.
    fn add_closed_after_term(&mut self, row: &ClosedAfterTermRow) -> Result<bool>;
    /// Every record, by contract and period.
    fn closed_after_term(&mut self) -> Result<Vec<ClosedAfterTermRow>>;
}
