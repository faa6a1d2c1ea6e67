//! A close signs nothing edited behind the service's back (statements.md, Audit log:
//! "a close checks the rows it uses against their entries before it signs"): every
//! row it uses (contract versions, FX rates, registry versions, contributions, the
//! voids of the hosts and days it reads, resolved disputes, statements) must hash to the payload of the latest entry about it, every such
//! entry must be in the log the service proved (its digest recomputed, its leaf
//! proved under the newest checkpoint's root), and every batch of events it reads is
//! hashed again, whole, and compared with its entry before the close signs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;

use revshare_core::audit::{Action, Entry, Head, NewEntry, Seq};
use revshare_core::log_tree::{self, Hash, Nodes};
use revshare_core::period::Period;
use revshare_store::backend::{StatementRow, VoidRow};
use revshare_store::StoreError;

use crate::keys::Keys;
use crate::log::{Proven, StoredNodes};
use crate::period_events::PeriodEvents;
use crate::rows::{fx_payload, object, payload};
use crate::snapshot::Snapshot;
use crate::{AppError, Backend, Result};

/// How much a use case that reads the store trusts it.
pub(crate) enum Trust {
    /// A close: what it reads is checked against the proven log first.
    Checked(Box<LogCheck>),
    /// `audit verify` re-rating closed periods: it checks every row, entry and
    /// batch itself (checks 1, 5 and 6), and names what fails instead of refusing.
    Audited,
}

impl Trust {
    /// Starts checking one host's events of a period, read for a close.
    pub fn events(
        &mut self,
        backend: &mut dyn Backend,
        events: &Arc<PeriodEvents>,
        host: &str,
        period: Period,
    ) -> Result<()> {
        match self {
            Trust::Checked(check) => check.events(backend, events, host, period),
            Trust::Audited => Ok(()),
        }
    }

    /// Finishes the checks started: called before anything is signed.
    pub(crate) fn settle(&mut self) -> Result<()> {
        match self {
            Trust::Checked(check) => check.settle(),
            Trust::Audited => Ok(()),
        }
    }

    /// Checks void rows a close reads against their entries.
    pub(crate) fn voids(&mut self, backend: &mut dyn Backend, rows: &[VoidRow]) -> Result<()> {
        match self {
            Trust::Checked(check) => check.voids(backend, rows),
            Trust::Audited => Ok(()),
        }
    }

    /// Checks that a statement's entry is in the proven log (its row is checked
    /// against the entry when it is verified).
    pub fn statement(&mut self, backend: &mut dyn Backend, row: &StatementRow) -> Result<()> {
        match self {
            Trust::Checked(check) => check.entries(backend, &[row.seq]),
            Trust::Audited => Ok(()),
        }
    }
}

/// The log a close proved, and what of it was checked so far.
pub(crate) struct LogCheck {
    proven: Proven,
    /// Entries checked to be in the proven log, by seq.
    entries: HashMap<Seq, Entry>,
    /// Batches of events checked whole, by seq.
    batches: HashSet<Seq>,
    /// Stored hashes of the log read so far (proofs share their upper nodes).
    nodes: HashMap<u64, Hash>,
    /// Batches being hashed, with the object their entries name.
    hashing: Vec<(String, Hashing)>,
}

/// The payloads of some batches, being computed: `(seq, payload)` each.
type Hashing = JoinHandle<Vec<(Seq, Hash)>>;

/// Checks that each object's latest audit entry is the seq its row names.
fn latest_entries_are(backend: &mut dyn Backend, rows: &[(String, Seq)]) -> Result<()> {
    let names: Vec<String> = rows.iter().map(|(name, _)| name.clone()).collect();
    let latest = backend.latest_entries_about(&names)?;
    match rows.iter().find(|(name, seq)| latest.get(name) != Some(seq)) {
        Some((name, _)) => Err(edited(format!("{name} is not as its latest entry left it"))),
        None => Ok(()),
    }
}

fn edited(what: String) -> AppError {
    AppError::Integrity(format!(
        "{what}: it was edited behind the service's back; nothing was signed"
    ))
}

impl LogCheck {
    /// Proves the log at `head` (see `log::proven`).
    pub fn new(backend: &mut dyn Backend, keys: &Keys, head: Head) -> Result<LogCheck> {
        Ok(LogCheck {
            proven: crate::log::proven(backend, keys, head)?,
            entries: HashMap::new(),
            batches: HashSet::new(),
            nodes: HashMap::new(),
            hashing: Vec::new(),
        })
    }

    /// The root of the proven log, which a statement's `audit_head` names.
    pub fn root(&self) -> Hash {
        self.proven.root
    }

    /// Checks the input rows of a snapshot against their entries.
    pub(crate) fn snapshot(&mut self, backend: &mut dyn Backend, snapshot: &Snapshot) -> Result<()> {
        let mut expected: Vec<(Seq, Action, String, [u8; 32])> = Vec::new();
        for row in &snapshot.contract_rows {
            let name = object::contract(&row.id, row.version);
            expected.push((row.seq, Action::ContractVersionAdded, name, payload(row)));
        }
        let mut fx: BTreeMap<Seq, Vec<revshare_store::backend::FxRow>> = BTreeMap::new();
        for row in &snapshot.fx_rows {
            fx.entry(row.seq).or_default().push(row.clone());
        }
        for (seq, rows) in fx {
            expected.push((seq, Action::FxRatesAdded, object::FX.to_string(), fx_payload(&rows)));
        }
        for row in &snapshot.registries {
            let name = object::registry(row.version);
            expected.push((row.seq, Action::RegistryVersionAdded, name, payload(row)));
        }
        // Rows that change state must be as their latest entry left them.
        let mut latest: Vec<(String, Seq)> = Vec::new();
        for row in &snapshot.contribution_rows {
            let name = object::contribution(&row.contract, row.number);
            latest.push((name.clone(), row.seq));
            let action = match row.status {
                revshare_core::tables::ContributionStatus::Proposed => Action::ContributionProposed,
                revshare_core::tables::ContributionStatus::Accepted => Action::ContributionAccepted,
                revshare_core::tables::ContributionStatus::Rejected => Action::ContributionRejected,
            };
            expected.push((row.seq, action, name, payload(row)));
        }
        for row in &snapshot.closed_after_term {
            let name = object::closed_after_term(&row.statement_id);
            expected.push((row.seq, Action::PeriodClosedAfterTerm, name, payload(row)));
        }
        for row in &snapshot.disputes {
            let name = object::dispute(&row.dispute_id);
            latest.push((name.clone(), row.seq));
            expected.push((row.seq, crate::disputes::latest_action(row), name, payload(row)));
        }
        latest_entries_are(backend, &latest)?;
        self.expected(backend, expected)
    }

    /// Checks void rows against their entries (a close reads voids by host and
    /// days, where it needs them: [`Snapshot::voids_in`]).
    pub(crate) fn voids(&mut self, backend: &mut dyn Backend, rows: &[VoidRow]) -> Result<()> {
        let expected = rows
            .iter()
            .map(|row| {
                let name = object::void(&row.host, row.number);
                (row.seq, Action::EventVoided, name, payload(row))
            })
            .collect();
        self.expected(backend, expected)
    }

    /// Checks that each row's entry is in the proven log and is about it: its
    /// action, object and payload.
    fn expected(&mut self, backend: &mut dyn Backend, expected: Vec<(Seq, Action, String, [u8; 32])>) -> Result<()> {
        let seqs: Vec<Seq> = expected.iter().map(|(seq, ..)| *seq).collect();
        self.entries(backend, &seqs)?;
        for (seq, action, name, hash) in expected {
            let entry = &self.entries[&seq];
            if entry.action != action || entry.object != name || entry.payload_sha256 != hex::encode(hash) {
                return Err(edited(format!("{name} does not match entry {seq}")));
            }
        }
        Ok(())
    }

    /// Checks that the entries `seqs` exist, their digests hold, and each is a leaf
    /// of the proven log: all of them at once, by one root computed over their
    /// leaves ([`log_tree::root_over`]); when that root is not the proven one, each
    /// is checked by its own path to name the one that is not in the log.
    pub fn entries(&mut self, backend: &mut dyn Backend, seqs: &[Seq]) -> Result<()> {
        let mut missing: Vec<Seq> = seqs.iter().copied().filter(|s| !self.entries.contains_key(s)).collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let found = backend.audit_entries_at(&missing)?;
        for seq in &missing {
            if !found.iter().any(|e| e.seq == *seq) {
                return Err(edited(format!("audit entry {seq}, which a row names, is missing")));
            }
        }
        let mut leaves: Vec<(u64, Hash)> = Vec::with_capacity(found.len());
        for entry in &found {
            let digest = self.digest(entry)?;
            leaves.push((entry.seq.get() - 1, log_tree::leaf(&digest)));
        }
        leaves.sort_unstable_by_key(|(index, _)| *index);
        if self.root_over(backend, &leaves)? != self.proven.root {
            self.prefetch(backend, leaves.iter().map(|(index, _)| *index))?;
            for (index, leaf) in &leaves {
                let path = self.path(backend, *index)?;
                if !log_tree::check_inclusion(&path, self.proven.size, &self.proven.root, *index, leaf) {
                    return Err(edited(format!(
                        "audit entry {} is not the one the log's newest checkpoint signs",
                        index + 1
                    )));
                }
            }
            return Err(edited(
                "the audit entries rows name are not the ones the log's newest checkpoint signs".into(),
            ));
        }
        self.entries.extend(found.into_iter().map(|entry| (entry.seq, entry)));
        Ok(())
    }

    /// An entry's digest, recomputed from its fields: it must be the one stored, and
    /// its seq inside the proven log.
    fn digest(&self, entry: &Entry) -> Result<Hash> {
        let bad = || edited(format!("audit entry {}", entry.seq));
        let payload_sha256 = hex::decode(&entry.payload_sha256)
            .ok()
            .and_then(|p| <[u8; 32]>::try_from(p).ok())
            .ok_or_else(bad)?;
        let new = NewEntry {
            time: entry.time.clone(),
            actor: entry.actor.clone(),
            action: entry.action,
            object: entry.object.clone(),
            payload_sha256,
        };
        let digest = revshare_core::audit::digest(entry.seq, &new);
        if hex::encode(digest) != entry.digest || entry.seq == Seq::ZERO || entry.seq.get() > self.proven.size {
            return Err(bad());
        }
        Ok(digest)
    }

    /// The log's root computed over `leaves` and the stored hashes beside them.
    fn root_over(&mut self, backend: &mut dyn Backend, leaves: &[(u64, Hash)]) -> Result<Hash> {
        let mut cached = CachedNodes {
            backend,
            cache: &mut self.nodes,
        };
        log_tree::root_over(self.proven.size, leaves, &mut cached).map_err(|e| match e {
            log_tree::TreeError::Read(error) => AppError::Store(error),
            log_tree::TreeError::Outside(message) => AppError::Integrity(message),
        })
    }

    /// Reads the nodes of the audit paths of leaves `indexes` in one call: which
    /// nodes a path needs depends on the tree's shape only, so the paths are first
    /// walked over placeholder hashes to learn their indexes.
    fn prefetch(&mut self, backend: &mut dyn Backend, indexes: impl Iterator<Item = u64>) -> Result<()> {
        let mut wanted = Wanted(Vec::new());
        for index in indexes.filter(|i| *i < self.proven.size) {
            let _ = log_tree::inclusion(index, self.proven.size, &mut wanted);
        }
        let mut missing = wanted.0;
        missing.retain(|i| !self.nodes.contains_key(i));
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let read = StoredNodes(backend).read(&missing)?;
            self.nodes.extend(missing.into_iter().zip(read));
        }
        Ok(())
    }

    /// The audit path of leaf `index`, read through the cache.
    fn path(&mut self, backend: &mut dyn Backend, index: u64) -> Result<Vec<Hash>> {
        let mut cached = CachedNodes {
            backend,
            cache: &mut self.nodes,
        };
        log_tree::inclusion(index, self.proven.size, &mut cached).map_err(|e| match e {
            log_tree::TreeError::Read(error) => AppError::Store(error),
            log_tree::TreeError::Outside(message) => AppError::Integrity(message),
        })
    }

    /// Starts checking every batch the events came from: each is hashed again whole
    /// (with its events outside the period, read now) on a thread of its own, while
    /// the close rates; [`LogCheck::settle`] compares the hashes with the entries
    /// before anything is signed.
    pub fn events(
        &mut self,
        backend: &mut dyn Backend,
        events: &Arc<PeriodEvents>,
        host: &str,
        period: Period,
    ) -> Result<()> {
        let seqs: Vec<Seq> = events
            .seqs()
            .into_iter()
            .filter(|s| !self.batches.contains(s))
            .collect();
        if seqs.is_empty() {
            return Ok(());
        }
        self.entries(backend, &seqs)?;
        let outside = events.outside(backend, host, period, &seqs)?;
        let events = Arc::clone(events);
        let hashing = std::thread::spawn(move || events.batch_payloads(&outside));
        self.batches.extend(seqs);
        self.hashing.push((object::events(host), hashing));
        Ok(())
    }

    /// Waits for the batches being hashed and compares each with its entry.
    pub(crate) fn settle(&mut self) -> Result<()> {
        for (name, hashing) in self.hashing.drain(..) {
            let payloads = hashing.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (seq, hash) in payloads {
                let entry = &self.entries[&seq];
                if entry.action != Action::EventsAccepted
                    || entry.object != name
                    || entry.payload_sha256 != hex::encode(hash)
                {
                    return Err(edited(format!("the events stored at entry {seq} ({name})")));
                }
            }
        }
        Ok(())
    }
}

/// The node indexes proofs ask for, answered with placeholders.
struct Wanted(Vec<u64>);

impl Nodes for Wanted {
    type Error = std::convert::Infallible;
    fn read(&mut self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, Self::Error> {
        self.0.extend_from_slice(indexes);
        Ok(vec![[0; 32]; indexes.len()])
    }
}

/// Stored hashes read once per close.
struct CachedNodes<'a> {
    backend: &'a mut dyn Backend,
    cache: &'a mut HashMap<u64, Hash>,
}

impl Nodes for CachedNodes<'_> {
    type Error = StoreError;
    fn read(&mut self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, StoreError> {
        let missing: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|i| !self.cache.contains_key(i))
            .collect();
        if !missing.is_empty() {
            let read = StoredNodes(&mut *self.backend).read(&missing)?;
            self.cache.extend(missing.into_iter().zip(read));
        }
        Ok(indexes.iter().map(|i| self.cache[i]).collect())
    }
}
