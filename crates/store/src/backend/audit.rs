//! The audit log's storage: entries, signing keys, the log's tree nodes,
//! checkpoints, cosignatures, witness keys and rollbacks.

use std::collections::HashMap;

use revshare_core::audit::{Entry, Head, Seq};

use super::{Result, RollbackRow, SigningKeyRow, WitnessKeyRow};

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

/// The audit log (a role of [`super::Backend`]).
pub trait AuditLog {
    fn append_audit(&mut self, entries: &[Entry]) -> Result<()>;
    fn audit_head(&mut self) -> Result<Head>;
    /// Up to `limit` entries with `seq > after`, ascending.
    fn audit_entries(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>>;
    fn audit_entry(&mut self, seq: Seq) -> Result<Option<Entry>>;

    /// The entries with these seqs (those that exist), ascending.
    fn audit_entries_at(&mut self, seqs: &[Seq]) -> Result<Vec<Entry>>;
    /// The seq of the latest entry about `object`.
    fn latest_entry_about(&mut self, object: &str) -> Result<Option<Seq>>;
    /// The seq of the latest entry about each of `objects` that has one, in one read.
    fn latest_entries_about(&mut self, objects: &[String]) -> Result<HashMap<String, Seq>>;

    fn add_signing_key(&mut self, row: &SigningKeyRow) -> Result<()>;
    fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>>;

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
