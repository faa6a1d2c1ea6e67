//! The interface both backends implement, and the rows they keep.
//!
//! Backends are storage only: SQL, transactions, locks. What an import, a close or a
//! proof means lives once, in the application layer (`revshare-app`), which calls
//! this trait. Every write happens inside [`Backend::begin_write`] … `commit`, which
//! holds the store's one write lock: writers are serialized, so the audit log's head
//! cannot move under a transaction that appends to it.
//!
//! Every audited row carries `seq`, the audit entry that added it (or last changed
//! it); its serialized form (`seq` left out) is what that entry's `payload_sha256`
//! covers (docs/audit.md).

use revshare_core::audit::{Entry, Head, Seq};
pub use revshare_core::records::{
    ContractRow, ContributionRow, FxRow, PartyRow, PaymentRow, RegistryRow, RollbackRow, SigningKeyRow, StatementRow,
    TokenRow, VoidRow, WitnessKeyRow,
};

mod disputes;
pub use disputes::{DisputeRow, Disputes};
pub(crate) use disputes::{DisputeText, DISPUTE_COLUMNS};

pub use crate::event::{EventRow, EventView, HostPart, InsertOutcome, Visit};
pub use crate::segment::EventBatch;
use crate::StoreError;

pub type Result<T> = std::result::Result<T, StoreError>;

/// What [`Backend::insert_events`] decided under the write lock, for the caller to
/// chain one audit entry per host part and hand back to [`Backend::finish_events`].
pub struct Staged {
    head: Head,
    outcomes: Vec<InsertOutcome>,
    parts: Vec<HostPart>,
    /// PostgreSQL's batch number per part (its segments, already stored, name it);
    /// empty where segments carry their seq.
    pub(crate) batches: Vec<i64>,
}

impl Staged {
    pub(crate) fn new(head: Head, outcomes: Vec<InsertOutcome>, parts: Vec<HostPart>, batches: Vec<i64>) -> Staged {
        Staged {
            head,
            outcomes,
            parts,
            batches,
        }
    }

    /// The log's head, which stays put until the transaction ends.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Per event of the batch, in order.
    pub fn outcomes(&self) -> &[InsertOutcome] {
        &self.outcomes
    }

    /// The accepted events per host, in order of first appearance: one entry each.
    pub fn parts(&self) -> &[HostPart] {
        &self.parts
    }

    pub fn into_outcomes(self) -> Vec<InsertOutcome> {
        self.outcomes
    }

    /// The entries must be one per part, chained on the head in order: their seqs
    /// are what the batch's stored rows carry.
    pub(crate) fn check(&self, entries: &[Entry]) -> Result<()> {
        if entries.len() != self.parts.len() {
            return Err(StoreError::Database(format!(
                "{} audit entries for {} stored batches",
                entries.len(),
                self.parts.len()
            )));
        }
        let mut seq = self.head.seq;
        let follows = entries.iter().all(|e| {
            seq = seq.next();
            e.seq == seq
        });
        if !follows {
            return Err(StoreError::Database(format!(
                "audit entries not numbered on from the head (seq {})",
                self.head.seq
            )));
        }
        Ok(())
    }

    /// The seq of the entry of `host`'s part.
    pub(crate) fn seq_of(&self, host: &str, entries: &[Entry]) -> Result<i64> {
        let index = self
            .parts
            .iter()
            .position(|p| p.host == host)
            .ok_or_else(|| StoreError::Database(format!("accepted events of {host} without a batch")))?;
        crate::seq_i64(entries[index].seq)
    }
}

/// Where a stored key's event lives: its leaf hash, host and UTC day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub source: String,
    pub id: String,
    pub leaf: [u8; 32],
    pub host: String,
    pub day: i32,
}

/// A stored statement with what checking it takes, read together: the audit entry
/// its seq names and the store's signing keys. The entry is none if it is missing
/// or does not decode: the statement then fails its check (after the reader's access
/// is decided), and `audit verify` names the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRead {
    pub row: StatementRow,
    pub entry: Option<Entry>,
    pub keys: Vec<SigningKeyRow>,
}

/// The most leaves one stored chunk of a tree holds (32 MiB): a whole tree in one
/// value would pass the 1 GB both SQLite and PostgreSQL allow a value.
pub const LEAVES_PER_CHUNK: usize = 1 << 20;

/// One of a statement's Merkle trees as closed: its leaves in tree order (32 bytes
/// each). Derived: checked against the signed roots, not audited on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeRow {
    pub statement_id: String,
    pub tree: String,
    pub count: i64,
    pub root: String,
    pub leaves: Vec<u8>,
}

impl TreeRow {
    /// The leaves as stored: chunks of at most [`LEAVES_PER_CHUNK`] leaves, numbered
    /// from 0 in tree order.
    pub fn chunks(&self) -> impl Iterator<Item = (i32, &[u8])> {
        self.leaves
            .chunks(LEAVES_PER_CHUNK * 32)
            .zip(0..)
            .map(|(leaves, chunk)| (chunk, leaves))
    }
}

/// A beneficiary's signed payout notice. Derived from its statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRow {
    pub statement_id: String,
    pub beneficiary: String,
    pub json: String,
}

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

/// One idempotency record of the API: the first response to a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRow {
    pub token_id: String,
    pub method: String,
    pub path: String,
    pub key: String,
    pub body_sha256: String,
    /// `false` while the first request is still running.
    pub done: bool,
    pub status: i32,
    pub content_type: String,
    pub response: Vec<u8>,
    pub created_at: String,
}

/// Long work started over the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub actor: String,
    pub state: String,
    pub result: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

/// A segment as stored: its columns, and its events decoded on demand.
pub struct StoredSegment<'r> {
    pub number: i64,
    pub host: &'r str,
    pub day: i32,
    pub seq: Seq,
    /// The stored count (derived: `audit verify` compares it with the events).
    pub count: i64,
    pub(crate) bytes: &'r [u8],
}

impl StoredSegment<'_> {
    /// Visits its events; bytes that do not decode are [`StoreError::Corrupt`],
    /// naming the segment.
    pub fn events(&self, visit: &mut Visit<'_>) -> Result<()> {
        crate::segment::decode(
            &crate::segment::SegmentRow {
                number: self.number,
                host: self.host,
                day: self.day,
                seq: self.seq.to_stored(),
                bytes: self.bytes,
            },
            visit,
        )
    }
}

/// PostgreSQL's row of a stored batch: segments name their batch, the batch its seq.
/// `host`, the day range and `count` are derived from its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchRow {
    pub batch: i64,
    pub seq: Seq,
    pub host: String,
    pub first_day: i32,
    pub last_day: i32,
    pub count: i64,
}

/// A signed checkpoint of the log, as its C2SP note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: i64,
    pub note: String,
}

/// A witness's cosignature line for the checkpoint of one size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureRow {
    pub size: i64,
    /// The witness key (C2SP verifier key) that made it.
    pub vkey: String,
    pub line: String,
    pub received_at: String,
}

/// Storage operations. Reads may run inside or outside a transaction; writes run
/// inside [`Backend::begin_write`], or [`Backend::insert_events`], which begins its
/// own; the caller ends both with `commit` or `rollback`.
pub trait Backend: Send + Disputes {
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

    fn append_audit(&mut self, entries: &[Entry]) -> Result<()>;
    fn audit_head(&mut self) -> Result<Head>;
    /// Up to `limit` entries with `seq > after`, ascending.
    fn audit_entries(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>>;
    fn audit_entry(&mut self, seq: Seq) -> Result<Option<Entry>>;

    fn add_signing_key(&mut self, row: &SigningKeyRow) -> Result<()>;
    fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>>;

    fn add_party(&mut self, row: &PartyRow) -> Result<()>;
    /// Every party, by id.
    fn parties(&mut self) -> Result<Vec<PartyRow>>;

    fn add_token(&mut self, row: &TokenRow) -> Result<()>;
    /// Replaces a token's row (a revocation).
    fn update_token(&mut self, row: &TokenRow) -> Result<()>;
    /// Every token, by creation (`created_at`, then `token_id`).
    fn tokens(&mut self) -> Result<Vec<TokenRow>>;
    fn token(&mut self, token_id: &str) -> Result<Option<TokenRow>>;

    fn add_contract(&mut self, row: &ContractRow) -> Result<()>;
    /// Every stored version, by `(id, version)`.
    fn contracts(&mut self) -> Result<Vec<ContractRow>>;

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()>;
    /// Every stored rate, by `(from, to, date)`.
    fn fx(&mut self) -> Result<Vec<FxRow>>;

    fn add_registry(&mut self, row: &RegistryRow) -> Result<()>;
    /// Every registry version, by version.
    fn registries(&mut self) -> Result<Vec<RegistryRow>>;

    /// Stores a new contribution (its `number` is assigned) and returns the number.
    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64>;
    /// Replaces a contribution's row (a decision).
    fn update_contribution(&mut self, row: &ContributionRow) -> Result<()>;
    /// Every contribution, by number.
    fn contributions(&mut self) -> Result<Vec<ContributionRow>>;

    /// Begins a write transaction, claims the batch's idempotency keys (each stored
    /// with its event) and takes the write lock: the caller chains one entry per
    /// host part on the staged head and hands them to [`Backend::finish_events`],
    /// then seals the log and commits, or rolls back (then none of the batch is
    /// stored). On an error the backend has rolled back.
    fn insert_events(&mut self, batch: &EventBatch) -> Result<Staged>;
    /// Stores the accepted events of a staged batch, each host's under its entry's
    /// seq, and appends the entries, in the transaction `insert_events` left open.
    /// On an error the backend has rolled back.
    fn finish_events(&mut self, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()>;
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
    /// The legs on receivable accounts (what balances sum), by `(host, beneficiary,
    /// contract, currency, seq, txn)`.
    fn receivable_legs(&mut self) -> Result<Vec<LegRow>>;

    /// Visits the events of `host` with `day` in `[start, end)` stored at an audit
    /// seq in `(after, through]`, in no particular order.
    fn scan_events(
        &mut self,
        host: &str,
        start: i32,
        end: i32,
        after: Seq,
        through: Seq,
        visit: &mut Visit<'_>,
    ) -> Result<()>;
    /// Whether any event of `host` with `day` in `[start, end)` was stored at a seq
    /// in `(after, through]` (from the segments' own rows, not their counts).
    fn has_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool>;
    /// Visits the events of the batch stored at `seq` that lie outside `host`'s days
    /// `[start, end)` (what a close reads besides a period, to check whole batches).
    fn scan_batch_except(&mut self, seq: Seq, host: &str, start: i32, end: i32, visit: &mut Visit<'_>) -> Result<()>;
    /// How many events of `host` with `day` in `[start, end)` were stored at a seq
    /// in `(after, through]` (from the segments' counts, which `audit verify`
    /// recomputes).
    fn count_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<u64>;
    /// The hosts with events dated in `[start, end)` stored at a seq of at most
    /// `through`, with how many each.
    fn event_hosts(&mut self, start: i32, end: i32, through: Seq) -> Result<Vec<(String, u64)>>;
    /// Visits every stored segment with its stored columns, those of one seq
    /// together (for `audit verify`, which decodes each and names those that fail).
    fn scan_all_segments(&mut self, visit: &mut dyn FnMut(&StoredSegment<'_>) -> Result<()>) -> Result<()>;
    /// Visits every stored event, the events of one seq together.
    fn scan_all_events(&mut self, visit: &mut Visit<'_>) -> Result<()> {
        self.scan_all_segments(&mut |segment| segment.events(visit))
    }
    /// The rows that give segments their seq where a backend keeps them apart
    /// (PostgreSQL's `event_batches`); none where segments carry their seq.
    fn batch_rows(&mut self) -> Result<Vec<BatchRow>> {
        Ok(Vec::new())
    }
    fn event_key(&mut self, source: &str, id: &str) -> Result<Option<KeyRow>>;
    /// Visits every idempotency key (for `audit verify`).
    fn scan_keys(&mut self, visit: &mut dyn FnMut(&KeyRow) -> Result<()>) -> Result<()>;

    fn add_void(&mut self, row: &VoidRow) -> Result<i64>;
    /// Every void, by number.
    fn voids(&mut self) -> Result<Vec<VoidRow>>;
    /// The void of event `(source, id)`, if it was voided.
    fn void_of(&mut self, source: &str, id: &str) -> Result<Option<VoidRow>>;

    /// Claims an idempotency key: stores `row` unless the key is taken, and returns
    /// the row that holds it (the one stored before, or `row`). One statement.
    fn claim_idempotency(&mut self, row: &IdempotencyRow) -> Result<IdempotencyRow>;
    /// Records the response to a claimed key.
    fn finish_idempotency(&mut self, row: &IdempotencyRow) -> Result<()>;
    /// Forgets a claim whose request failed before it answered.
    fn release_idempotency(&mut self, row: &IdempotencyRow) -> Result<()>;
    /// Forgets keys created before `before` (RFC 3339).
    fn purge_idempotency(&mut self, before: &str) -> Result<u64>;

    fn add_job(&mut self, row: &JobRow) -> Result<()>;
    fn update_job(&mut self, row: &JobRow) -> Result<()>;
    fn job(&mut self, id: &str) -> Result<Option<JobRow>>;

    fn statement(&mut self, statement_id: &str) -> Result<Option<StatementRow>>;
    /// A statement with its audit entry and the signing keys, read together.
    fn statement_read(&mut self, statement_id: &str) -> Result<Option<StatementRead>>;
    /// A token and, only if that token holds `token_sha256` and is not revoked, a
    /// statement read: what answering a bearer's request for a statement reads (one
    /// round trip where the backend can). The caller still checks the token in full;
    /// the condition only keeps a statement from being read for a token that fails.
    fn token_and_statement(
        &mut self,
        token_id: &str,
        token_sha256: &str,
        statement_id: &str,
    ) -> Result<(Option<TokenRow>, Option<StatementRead>)> {
        let token = self.token(token_id)?;
        // Comparing digests of a 256-bit secret: how long a prefix matches tells nothing.
        let holds = token
            .as_ref()
            .is_some_and(|t| t.sha256 == token_sha256 && t.revoked_at.is_none());
        let read = if holds {
            self.statement_read(statement_id)?
        } else {
            None
        };
        Ok((token, read))
    }
    /// Every statement, by `(contract, start_day)`.
    fn statements(&mut self) -> Result<Vec<StatementRow>>;
    /// Stores a statement with its trees and payout notices; `false` (nothing
    /// stored) when one with its id exists.
    fn insert_statement(&mut self, row: &StatementRow, trees: &[TreeRow], notices: &[NoticeRow]) -> Result<bool>;
    fn tree(&mut self, statement_id: &str, tree: &str) -> Result<Option<TreeRow>>;
    /// A statement's trees without their leaves (`leaves` empty).
    fn tree_summaries(&mut self, statement_id: &str) -> Result<Vec<TreeRow>>;
    fn notices(&mut self, statement_id: &str) -> Result<Vec<NoticeRow>>;

    /// The entries with these seqs (those that exist), ascending.
    fn audit_entries_at(&mut self, seqs: &[Seq]) -> Result<Vec<Entry>>;
    /// The seq of the latest entry about `object`.
    fn latest_entry_about(&mut self, object: &str) -> Result<Option<Seq>>;

    /// The log tree's stored hashes at these indexes, in that order; a missing one is
    /// corrupt.
    fn log_nodes(&mut self, indexes: &[u64]) -> Result<Vec<[u8; 32]>>;
    /// Stores the log tree's hashes from index `first` on.
    fn add_log_nodes(&mut self, first: u64, hashes: &[[u8; 32]]) -> Result<()>;
    /// Visits every stored hash of the log tree by index (for `audit verify`).
    fn scan_log_nodes(&mut self, visit: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()>;

    /// The stored checkpoint of the largest size.
    fn newest_checkpoint(&mut self) -> Result<Option<CheckpointRow>>;
    fn checkpoint(&mut self, size: i64) -> Result<Option<CheckpointRow>>;
    /// Every stored checkpoint, by size.
    fn checkpoints(&mut self) -> Result<Vec<CheckpointRow>>;
    /// Stores a checkpoint unless one of its size is stored.
    fn put_checkpoint(&mut self, row: &CheckpointRow) -> Result<()>;
    fn drop_checkpoint(&mut self, size: i64) -> Result<()>;
    /// Whether a stored statement anchors the log at `size` (closed as of that seq).
    fn anchored(&mut self, size: i64) -> Result<bool>;

    /// Stores a cosignature, replacing the same key's earlier one for that size.
    fn put_cosignature(&mut self, row: &CosignatureRow) -> Result<()>;
    /// The cosignatures of one size (`None`: of every size), by size and key.
    fn cosignatures(&mut self, size: Option<i64>) -> Result<Vec<CosignatureRow>>;

    /// Stores a witness key and returns its number.
    fn add_witness_key(&mut self, row: &WitnessKeyRow) -> Result<i64>;
    /// Every registered witness key, by number.
    fn witness_keys(&mut self) -> Result<Vec<WitnessKeyRow>>;

    /// Stores an accepted rollback and returns its number.
    fn add_rollback(&mut self, row: &RollbackRow) -> Result<i64>;
    fn rollbacks(&mut self) -> Result<Vec<RollbackRow>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_stored_in_numbered_chunks_that_make_it_again() {
        let leaves: Vec<u8> = (0..(2 * LEAVES_PER_CHUNK + 3) * 32).map(|i| (i % 251) as u8).collect();
        let tree = TreeRow {
            statement_id: "s".into(),
            tree: "events".into(),
            count: (2 * LEAVES_PER_CHUNK + 3) as i64,
            root: String::new(),
            leaves,
        };
        let chunks: Vec<(i32, &[u8])> = tree.chunks().collect();
        let sizes: Vec<(i32, usize)> = chunks.iter().map(|(n, c)| (*n, c.len())).collect();
        assert_eq!(
            sizes,
            [(0, LEAVES_PER_CHUNK * 32), (1, LEAVES_PER_CHUNK * 32), (2, 3 * 32)]
        );
        assert!(chunks.iter().map(|(_, c)| *c).collect::<Vec<&[u8]>>().concat() == tree.leaves);
        let empty = TreeRow {
            leaves: Vec::new(),
            count: 0,
            ..tree
        };
        assert_eq!(empty.chunks().count(), 0, "an empty tree stores no chunk");
    }
}
