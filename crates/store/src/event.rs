//! The events a backend stores and reads back: borrowed views out, what storing
//! each one came to, and an owned form for events built one at a time.

use revshare_core::audit::Seq;

use crate::StoreError;

/// One event, owned: the fields rating needs, the leaf hash, never content and never
/// the raw customer reference (only its keyed pseudonym). Imports go through a
/// table ([`crate::backend::EventBatch`]); this form serves what builds events one
/// at a time (PostgreSQL's schema-2 upgrade, tests), into a batch by
/// [`crate::backend::EventBatch::from_rows`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub source: String,
    pub id: String,
    pub leaf: [u8; 32],
    pub host: String,
    pub model: String,
    pub use_case: String,
    pub currency: String,
    pub customer: Option<[u8; 16]>,
    pub utc_seconds: i64,
    pub day: i32,
    /// As rated: a missing `requests` counts 1.
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Revenue in units of 10^-12, as decimal text (it may exceed 64 bits).
    pub revenue_units: String,
}

impl EventRow {
    pub fn view(&self, seq: Seq) -> EventView<'_> {
        EventView {
            seq,
            source: &self.source,
            id: &self.id,
            leaf: &self.leaf,
            host: &self.host,
            model: &self.model,
            use_case: &self.use_case,
            currency: &self.currency,
            customer: self.customer.as_ref().map(|c| &c[..]),
            utc_seconds: self.utc_seconds,
            day: self.day,
            requests: self.requests,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            revenue_units: &self.revenue_units,
        }
    }
}

/// The accepted events of one host in a stored batch (indices into the batch's rows,
/// in batch order): each becomes one audit entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPart {
    pub host: String,
    pub rows: Vec<usize>,
}

/// An event as read back, borrowed from the database row (reading a month of events
/// allocates nothing per event), with the audit seq of the batch that stored it.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    pub seq: Seq,
    pub source: &'a str,
    pub id: &'a str,
    pub leaf: &'a [u8],
    pub host: &'a str,
    pub model: &'a str,
    pub use_case: &'a str,
    pub currency: &'a str,
    pub customer: Option<&'a [u8]>,
    pub utc_seconds: i64,
    pub day: i32,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub revenue_units: &'a str,
}

/// Receives events one by one.
pub type Visit<'v> = dyn FnMut(&EventView<'_>) -> Result<(), StoreError> + 'v;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Accepted,
    Duplicate,
    Conflict,
}
