//! Events in segments, their idempotency keys, and voids.

use revshare_core::audit::{Entry, Head, Seq};

use super::{EventBatch, HostPart, InsertOutcome, Recomputed, Result, Visit, VisitRollup, VoidRow};
use crate::StoreError;

/// What [`Events::insert_events`] decided under the write lock, for the caller to
/// chain one audit entry per host part and hand back to [`Events::finish_events`].
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

/// Where a stored key's event lives: its leaf hash, host, UTC day and stored batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    pub source: String,
    pub id: String,
    pub leaf: [u8; 32],
    pub host: String,
    pub day: i32,
    /// The stored batch that holds the event ([`StoredSegment::batch`]): with the
    /// host and day, one segment. None for a key stored before the stores kept it
    /// (SQLite schema 10, PostgreSQL 11): its event is found in its host's day.
    pub batch: Option<i64>,
}

/// A segment as stored: its columns, and its events decoded on demand.
pub struct StoredSegment<'r> {
    pub number: i64,
    /// The stored batch it belongs to, as key rows name it: SQLite numbers a batch
    /// by its entry's seq, PostgreSQL from `batch_ids` (its `event_batches` row
    /// gives the seq).
    pub batch: i64,
    pub host: &'r str,
    pub day: i32,
    pub seq: Seq,
    /// The stored count (derived: `audit verify` compares it with the events).
    pub count: i64,
    pub(crate) bytes: &'r [u8],
    /// Its rollup as stored (`None`: it has none).
    pub(crate) rollup: Option<&'r [u8]>,
}

impl StoredSegment<'_> {
    /// Whether its stored rollup is exactly `computed`, the one its events make
    /// (`audit verify` computes it while it reads them).
    pub fn rollup_is(&self, computed: &Recomputed) -> Result<bool> {
        let Some(stored) = self.rollup else {
            return Ok(false);
        };
        Ok(stored == computed.encode()?.as_slice())
    }

    /// Visits its events; bytes that do not decode are [`StoreError::Corrupt`],
    /// naming the segment.
    pub fn events(&self, visit: &mut Visit<'_>) -> Result<()> {
        crate::segment::decode(
            &crate::segment::SegmentRow {
                number: self.number,
                host: self.host,
                day: self.day,
                seq: crate::seq_i64(self.seq)?,
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

/// Usage events, their keys and voids (a role of [`super::Backend`]).
pub trait Events {
    /// Begins a write transaction, claims the batch's idempotency keys (each stored
    /// with its event) and takes the write lock: the caller chains one entry per
    /// host part on the staged head and hands them to [`Events::finish_events`],
    /// then seals the log and commits, or rolls back (then none of the batch is
    /// stored). On an error the backend has rolled back.
    fn insert_events(&mut self, batch: &EventBatch) -> Result<Staged>;
    /// Stores the accepted events of a staged batch, each host's under its entry's
    /// seq, and appends the entries, in the transaction `insert_events` left open.
    /// On an error the backend has rolled back.
    fn finish_events(&mut self, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()>;
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
    /// Visits the rollups of `host`'s segments with `day` in `[start, end)` stored at
    /// a seq of at most `through`, in no particular order; a segment without one is
    /// [`StoreError::Corrupt`].
    fn scan_rollups(
        &mut self,
        host: &str,
        start: i32,
        end: i32,
        through: Seq,
        visit: &mut VisitRollup<'_>,
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
    /// Visits the events of the segment that holds `key`'s event (the one its
    /// batch, host and day name), or, for a key without a batch, of its host's whole
    /// day: the stored event of a key is among them, unless the store was edited.
    fn scan_key_events(&mut self, key: &KeyRow, visit: &mut Visit<'_>) -> Result<()>;
    /// Visits `key`'s stored event, read as [`Events::scan_key_events`] reads it;
    /// whether it was found (a key without its event is an edited store).
    fn key_event(&mut self, key: &KeyRow, visit: &mut Visit<'_>) -> Result<bool> {
        let mut found = false;
        self.scan_key_events(key, &mut |e| {
            if e.source != key.source || e.id != key.id {
                return Ok(());
            }
            found = true;
            visit(e)
        })?;
        Ok(found)
    }
    /// Visits every idempotency key (for `audit verify`).
    fn scan_keys(&mut self, visit: &mut dyn FnMut(&KeyRow) -> Result<()>) -> Result<()>;

    fn add_void(&mut self, row: &VoidRow) -> Result<i64>;
    /// Every void, by number.
    fn voids(&mut self) -> Result<Vec<VoidRow>>;
    /// The voids of `host`'s events dated in `[start, end)` stored at a seq of at
    /// most `through`, by number.
    fn voids_in(&mut self, host: &str, start: i32, end: i32, through: Seq) -> Result<Vec<VoidRow>>;
    /// Whether a void of `host`'s events dated in `[start, end)` was stored at a seq
    /// in `(after, through]`.
    fn has_voids(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool>;
    /// The void of event `(source, id)`, if it was voided.
    fn void_of(&mut self, source: &str, id: &str) -> Result<Option<VoidRow>>;
}
