//! Disputes of closed statements: one row per dispute, replaced by each step.

pub use revshare_core::dispute::DisputeRow;

use super::Result;

/// The columns of `disputes`, in the order both backends read them.
pub(crate) const DISPUTE_COLUMNS: &str = "dispute_id, contract, statement_id, model, use_case, opener, opener_side, \
     counterparty, reason, claim, evidence, window_ends, status, amount, steps, opened_seq, resolved_seq, seq";

/// Storage of disputes (a role of [`super::Backend`]).
pub trait Disputes {
    /// Stores a new dispute.
    fn add_dispute(&mut self, row: &DisputeRow) -> Result<()>;
    /// Replaces a dispute's row (a step taken on it).
    fn update_dispute(&mut self, row: &DisputeRow) -> Result<()>;
    fn dispute(&mut self, dispute_id: &str) -> Result<Option<DisputeRow>>;
    /// Every dispute, in the order they were opened (`opened_seq`).
    fn disputes(&mut self) -> Result<Vec<DisputeRow>>;
    /// The disputes of one contract, in the order they were opened.
    fn disputes_of(&mut self, contract: &str) -> Result<Vec<DisputeRow>>;
}

/// The text columns of a dispute decoded into its row: a value the application
/// never writes is corrupt, naming the dispute.
pub(crate) struct DisputeText {
    pub opener_side: String,
    pub evidence: String,
    pub status: String,
    pub steps: String,
}

impl DisputeText {
    pub(crate) fn of(row: &DisputeRow) -> DisputeText {
        DisputeText {
            opener_side: row.opener_side.as_str().to_string(),
            evidence: serde_json::to_string(&row.evidence).expect("evidence serializes"),
            status: row.status.as_str().to_string(),
            steps: serde_json::to_string(&row.steps).expect("steps serialize"),
        }
    }

    /// Fills the decoded columns of `row` (whose other columns are read).
    pub(crate) fn decode(self, row: &mut DisputeRow) -> Result<()> {
        let corrupt = |what: &str| crate::StoreError::corrupt(format!("dispute:{}", row.dispute_id), what.to_string());
        row.opener_side = revshare_core::contract::Party::parse(&self.opener_side)
            .ok_or_else(|| corrupt(&format!("unknown opener side `{}`", self.opener_side)))?;
        row.status = revshare_core::dispute::DisputeStatus::parse(&self.status)
            .filter(|s| *s != revshare_core::dispute::DisputeStatus::Expired)
            .ok_or_else(|| corrupt(&format!("unknown status `{}`", self.status)))?;
        row.evidence = serde_json::from_str(&self.evidence).map_err(|e| corrupt(&format!("evidence: {e}")))?;
        row.steps = serde_json::from_str(&self.steps).map_err(|e| corrupt(&format!("steps: {e}")))?;
        Ok(())
    }
}
