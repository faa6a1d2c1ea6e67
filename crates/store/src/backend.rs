//! The interface both backends implement, and the rows they keep.
//!
//! Backends are storage only: SQL, transactions, locks. What an import, a close or a
//! proof means lives once, in the application layer (`revshare-app`), which calls
//! these traits. Every write happens inside [`Transactions::begin_write`] … `commit`, which
//! holds the store's one write lock: writers are serialized, so the audit log's head
//! cannot move under a transaction that appends to it.
//!
//! Every audited row carries `seq`, the audit entry that added it (or last changed
//! it); its serialized form (`seq` left out) is what that entry's `payload_sha256`
//! covers (docs/audit.md).

mod after_term;
mod audit;
pub mod copy;
mod disputes;
mod events;
mod ledger;
mod statements;
mod tables;

use revshare_core::audit::Head;
pub use revshare_core::records::{
    ClosedAfterTermRow, ContractRow, ContributionRow, FxRow, PartyRow, PaymentRow, RegistryRow, RollbackRow,
    SigningKeyRow, StatementRow, TokenRow, VoidRow, WitnessKeyRow,
};

pub use crate::event::{EventRow, EventView, HostPart, InsertOutcome, Visit};
pub use crate::rollup::{Recomputed, RollupKey, RollupLine, StoredRollup, VisitRollup};
pub use crate::segment::EventBatch;
use crate::StoreError;
pub use after_term::AfterTerm;
pub use audit::{AuditLog, CheckpointRow, CosignatureRow};
pub use copy::{CopyRow, CopyTable, Sink, StoreCopy, Value};
pub use disputes::{DisputeRow, Disputes};
pub(crate) use disputes::{DisputeText, DISPUTE_COLUMNS};
pub use events::{BatchRow, Events, KeyRow, Staged, StoredSegment};
pub use ledger::{AccountLeg, Ledger, LegRow};
pub use statements::{NoticeRow, StatementRead, Statements, TreeRow, LEAVES_PER_CHUNK};
pub use tables::{IdempotencyRow, JobRow, Tables};

pub type Result<T> = std::result::Result<T, StoreError>;

/// A store: every role below, on one connection. Reads may run inside or outside a
/// transaction; writes run inside [`Transactions::begin_write`], or
/// [`Events::insert_events`], which begins its own; the caller ends both with
/// `commit` or `rollback`.
pub trait Backend:
    Send + Transactions + AuditLog + Tables + Events + Statements + AfterTerm + Disputes + Ledger + StoreCopy
{
}

impl<
        T: Send
            + Transactions
            + AuditLog
            + Tables
            + Events
            + Statements
            + AfterTerm
            + Disputes
            + Ledger
            + StoreCopy
            + ?Sized,
    > Backend for T
{
}

/// The connection and its transactions (a role of [`Backend`]).
pub trait Transactions {
    fn name(&self) -> &'static str;

    /// A second connection for writing batches in parallel, where the backend gains
    /// from it (PostgreSQL's server works on both cores); `None` for SQLite, whose
    /// writes are serialized anyway.
    fn extra_writer(&mut self) -> Result<Option<Box<dyn Backend>>> {
        Ok(None)
    }

    /// Starts a transaction holding the store's write lock and returns the audit
    /// log's head, which stays put until `commit` or `rollback`.
    fn begin_write(&mut self) -> Result<Head>;
    /// Starts a read-only transaction: one consistent snapshot.
    fn begin_read(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;

    fn meta(&mut self, key: &str) -> Result<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;
}
