//! The interface both backends implement, and the rows they keep.
//!
//! Backends are storage only: SQL, transactions, locks. What an import, a close or a
//! proof means lives once, in the modules that call this trait.

use crate::StoreError;

pub type Result<T> = std::result::Result<T, StoreError>;

/// One stored event: the fields rating needs, the leaf hash, never content and never
/// the raw customer reference (only its keyed pseudonym).
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
    /// Its period was already closed for a contract of its host when it arrived.
    pub late: bool,
}

/// How a backend keeps events, so that an import prepares its batches on the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventLayout {
    /// A row per event (PostgreSQL).
    Rows,
    /// Segments of events per host and day (the embedded store, see `segment.rs`).
    Segments,
}

/// The events one transaction stores, with the segments already encoded when the
/// backend keeps segments.
pub struct EventBatch {
    pub rows: Vec<EventRow>,
    pub(crate) segments: Option<Vec<crate::segment::Group>>,
}

impl EventBatch {
    pub fn new(rows: Vec<EventRow>, layout: EventLayout) -> Result<EventBatch> {
        let segments = match layout {
            EventLayout::Rows => None,
            EventLayout::Segments => Some(crate::segment::encode_groups(&rows)?),
        };
        Ok(EventBatch { rows, segments })
    }
}

/// An event as read back, borrowed from the database row (reading a month of events
/// allocates nothing per event), with the order in which it was stored.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    pub seq: i64,
    pub source: &'a str,
    pub id: &'a str,
    pub leaf: &'a [u8],
    pub host: &'a str,
    pub model: &'a str,
    pub use_case: &'a str,
    pub currency: &'a str,
    pub customer: Option<&'a [u8]>,
    pub day: i32,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub revenue_units: &'a str,
}

/// Receives events one by one.
pub type Visit<'v> = dyn FnMut(&EventView<'_>) -> Result<()> + 'v;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    Accepted,
    Duplicate,
    Conflict,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractRow {
    pub id: String,
    pub version: i64,
    pub licensor: String,
    pub host: String,
    pub file_name: String,
    pub sha256: String,
    pub toml: Vec<u8>,
    pub added_at: String,
}

impl ContractRow {
    /// The row of a validated contract, with the exact file bytes it came from.
    pub fn of(
        contract: &revshare_core::contract::Contract,
        file_name: &str,
        toml: &[u8],
        added_at: &str,
    ) -> ContractRow {
        ContractRow {
            id: contract.id.clone(),
            version: i64::from(contract.version),
            licensor: contract.licensor.clone(),
            host: contract.host.clone(),
            file_name: file_name.to_string(),
            sha256: contract.sha256.clone(),
            toml: toml.to_vec(),
            added_at: added_at.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRow {
    pub date: i32,
    pub from: String,
    pub to: String,
    pub rate: String,
}

impl FxRow {
    /// The rows of a validated FX table.
    pub fn all(table: &revshare_core::tables::FxTable) -> Vec<FxRow> {
        table
            .rows()
            .map(|(date, from, to, rate)| FxRow {
                date: date.0,
                from: from.to_string(),
                to: to.to_string(),
                rate: rate.to_normalized_string(),
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionRow {
    pub number: i64,
    pub contract: String,
    pub by: String,
    pub kind: String,
    pub date: i32,
    pub status: String,
    pub reference: String,
    pub proposed_at: String,
    pub decided_at: Option<String>,
}

/// A closed statement: its exact JSON bytes (signed, never rewritten) and the
/// bookkeeping that late-usage settlement needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRow {
    pub statement_id: String,
    pub contract: String,
    pub period: String,
    pub host: String,
    pub start_day: i32,
    pub end_day: i32,
    /// The highest event `seq` stored when it closed: its own tree holds the period's
    /// events up to here.
    pub watermark: i64,
    /// JSON list of the prior-period windows it settled:
    /// `[{"period", "statement_id", "after", "through"}]`.
    pub settled: String,
    pub json: String,
    pub closed_at: String,
}

/// Storage operations. Every method is one statement or one transaction unless it
/// runs inside [`Backend::begin_close`].
pub trait Backend {
    fn name(&self) -> &'static str;

    fn event_layout(&self) -> EventLayout {
        EventLayout::Rows
    }

    /// A second connection for writing batches in parallel, where the backend gains
    /// from it (PostgreSQL's server works on both cores); `None` for SQLite, whose
    /// writes are serialized anyway.
    fn extra_writer(&mut self) -> Result<Option<Box<dyn Backend + Send>>> {
        Ok(None)
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;

    /// Adds a contract version; `false` if that `(id, version)` is already stored.
    fn add_contract(&mut self, row: &ContractRow) -> Result<bool>;
    fn contracts(&mut self) -> Result<Vec<ContractRow>>;

    /// Adds FX rows; all or none (a repeated `(date, from, to)` fails the batch).
    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()>;
    fn fx(&mut self) -> Result<Vec<FxRow>>;

    /// Replaces the model registry `(pattern, licensor)` in order.
    fn set_models(&mut self, rows: &[(String, String)]) -> Result<()>;
    fn models(&mut self) -> Result<Vec<(String, String)>>;

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64>;
    /// Moves a proposed contribution to `status`; `false` if it is not proposed.
    fn decide_contribution(&mut self, number: i64, status: &str, at: &str) -> Result<bool>;
    fn contributions(&mut self) -> Result<Vec<ContributionRow>>;

    /// Stores a batch in one transaction: all valid events or, on failure, none. The
    /// idempotency key is committed with its event. Inside the transaction it marks
    /// events late whose period is closed ([`mark_late`]), so that no close can slip
    /// between the check and the insert.
    fn insert_events(&mut self, batch: &mut EventBatch) -> Result<Vec<InsertOutcome>>;

    /// Visits the events of `host` with `day` in `[start, end)` and `seq` in
    /// `(after, through]`, in no particular order.
    fn scan_events(
        &mut self,
        host: &str,
        start: i32,
        end: i32,
        after: i64,
        through: i64,
        visit: &mut Visit<'_>,
    ) -> Result<()>;
    /// Late events of `host` with `day` in `[start, end)` and `seq > after`: a count.
    fn late_events_after(&mut self, host: &str, start: i32, end: i32, after: i64) -> Result<u64>;
    fn max_seq(&mut self) -> Result<i64>;

    fn statement(&mut self, statement_id: &str) -> Result<Option<StatementRow>>;
    fn statements(&mut self) -> Result<Vec<StatementRow>>;
    /// Stores a statement unless one with its id exists; returns the stored one.
    fn insert_statement(&mut self, row: &StatementRow) -> Result<StatementRow>;

    /// Starts the close transaction: a consistent view, and no event can be stored
    /// until [`Backend::commit`] or [`Backend::rollback`].
    fn begin_close(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;
}

/// Marks events whose host and day fall in a closed `(host, start_day, end_day)`.
pub fn mark_late(events: &mut [EventRow], closed: &[(String, i32, i32)]) {
    if closed.is_empty() {
        return;
    }
    for event in events {
        event.late = closed
            .iter()
            .any(|(host, start, end)| *host == event.host && (*start..*end).contains(&event.day));
    }
}
