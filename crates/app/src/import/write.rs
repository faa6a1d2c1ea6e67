//! Storing prepared chunks: one transaction each, one `events_accepted` entry per
//! host, conflicts named by the fields that differ, and what the summary says of
//! the accepted events (late for a contract, or selected by none).

use revshare_core::audit::{chain_all, digest, Action, Entry, Head, NewEntry};
use revshare_core::event::RejectionCode;
use revshare_core::log_tree::Hash;
use revshare_core::period::Day;
use revshare_core::statement::StatementId;
use revshare_ingest::reader::Record;
use revshare_store::backend::{EventBatch, EventView, HostPart, InsertOutcome};

use super::prepare::{Prepared, RowsJcs};
use super::{ImportSummary, Rejected};
use crate::keys::Keys;
use crate::log::Kept;
use crate::rows::object;
use crate::snapshot::Snapshot;
use crate::tx::seal_and_commit;
use crate::{Backend, Result};

/// Who stores, and when: what each batch's audit entry records.
pub(crate) struct Stamp {
    pub time: String,
    pub actor: String,
}

/// What writing one chunk produced, merged in input order by the caller.
#[derive(Default)]
pub(crate) struct Written {
    pub summary: ImportSummary,
    pub problems: Vec<Rejected>,
    /// Per row of the batch, in order.
    pub outcomes: Vec<InsertOutcome>,
}

/// Chains one `events_accepted` entry per host part, with their digests (the log
/// tree's new leaves, as `tx` takes them). Payloads were hashed on the pool; only a
/// part with refused rows (duplicates, conflicts) is hashed here.
fn audit_entries(head: Head, rows: usize, parts: &[HostPart], jcs: &RowsJcs, stamp: &Stamp) -> (Vec<Entry>, Vec<Hash>) {
    let payloads = parts.iter().map(|part| jcs.payload(rows, part));
    let new: Vec<NewEntry> = parts
        .iter()
        .zip(payloads)
        .map(|(part, payload)| NewEntry {
            time: stamp.time.clone(),
            actor: stamp.actor.clone(),
            action: Action::EventsAccepted,
            object: object::events(&part.host),
            payload_sha256: payload,
        })
        .collect();
    let (entries, _) = chain_all(head, &new);
    let digests = entries.iter().zip(&new).map(|(e, n)| digest(e.seq, n)).collect();
    (entries, digests)
}

/// Stores one prepared chunk in one transaction, sealed by a checkpoint (written to
/// the checkpoint file when the caller flushes the keys).
pub(crate) fn write_prepared(
    backend: &mut dyn Backend,
    keys: &Keys,
    prepared: Prepared,
    stamp: &Stamp,
    selection: Option<&Selection>,
) -> Result<Written> {
    let Prepared {
        file,
        file_index: _,
        batch,
        origins,
        mut problems,
        read,
        rows_jcs,
    } = prepared;
    let mut written = Written::default();
    let summary = &mut written.summary;
    summary.read = read;
    summary.rejected += problems.len() as u64;
    let outcomes = if batch.is_empty() {
        Vec::new()
    } else {
        store_batch(backend, keys, &batch, &rows_jcs, stamp)?
    };
    let mut conflicts = Vec::new();
    let mut classes = rustc_hash::FxHashMap::default();
    let table = batch.table();
    for (index, (outcome, record)) in outcomes.iter().zip(origins).enumerate() {
        match outcome {
            InsertOutcome::Accepted => {
                summary.accepted += 1;
                let Some(selection) = selection else { continue };
                let event = table.values(index);
                let (host, model) = (table.name(event.host), table.name(event.model));
                let class = *classes
                    .entry((event.host, event.model, event.day))
                    .or_insert_with(|| selection.classify(host, model, Day(event.day)));
                match class {
                    Class::Late => summary.late += 1,
                    // The host's name is copied once per host, not per event.
                    Class::Unselected => match summary.unselected.get_mut(host) {
                        Some(count) => *count += 1,
                        None => {
                            summary.unselected.insert(host.to_string(), 1);
                        }
                    },
                    Class::Open => {}
                }
            }
            InsertOutcome::Duplicate => summary.duplicates += 1,
            InsertOutcome::Conflict => {
                summary.conflicts += 1;
                conflicts.push((index, record));
            }
        }
    }
    for (index, record) in conflicts {
        problems.push(conflict(backend, &file, &batch.view(index), record)?);
    }
    problems.sort_by_key(|p| p.index);
    written.problems = problems;
    written.outcomes = outcomes;
    Ok(written)
}

/// Stores a batch in one transaction: the store stages it under the write lock, the
/// entries are chained on its head, then it is stored, sealed and committed.
fn store_batch(
    backend: &mut dyn Backend,
    keys: &Keys,
    batch: &EventBatch,
    rows_jcs: &RowsJcs,
    stamp: &Stamp,
) -> Result<Vec<InsertOutcome>> {
    let staged = backend.insert_events(batch)?;
    let head = staged.head();
    let (entries, digests) = audit_entries(head, batch.len(), staged.parts(), rows_jcs, stamp);
    backend.finish_events(batch, &staged, &entries)?;
    seal_and_commit(backend, keys, head, &digests, Kept::Extend)?;
    Ok(staged.into_outcomes())
}

/// A conflict's report, naming the stored fields that differ.
fn conflict(backend: &mut dyn Backend, file: &str, row: &EventView<'_>, record: Record) -> Result<Rejected> {
    let differs = stored_differences(backend, row)?;
    Ok(Rejected {
        file: file.to_string(),
        line: record.line,
        index: record.index,
        id: Some(row.id.to_string()),
        code: RejectionCode::Conflict,
        reason: format!(
            "conflict: ({}, {}) is already stored with other content ({}); the first stands",
            row.source,
            row.id,
            if differs.is_empty() {
                "fields outside the rated ones, such as extensions or how `time` is written, differ".to_string()
            } else {
                format!("{} differ", differs.join(", "))
            }
        ),
    })
}

/// The rated fields in which a stored event differs from `row`.
fn stored_differences(backend: &mut dyn Backend, row: &EventView<'_>) -> Result<Vec<&'static str>> {
    let Some(key) = backend.event_key(row.source, row.id)? else {
        return Ok(Vec::new());
    };
    let mut differs = Vec::new();
    let mut visit = |e: &EventView<'_>| -> revshare_store::backend::Result<()> {
        let fields: [(&'static str, bool); 11] = [
            ("data.host", e.host != row.host),
            ("time", e.utc_seconds != row.utc_seconds || e.day != row.day),
            ("data.model", e.model != row.model),
            ("data.use_case", e.use_case != row.use_case),
            ("data.currency", e.currency != row.currency),
            ("data.customer", e.customer != row.customer),
            ("data.requests", e.requests != row.requests),
            ("data.input_tokens", e.input_tokens != row.input_tokens),
            ("data.output_tokens", e.output_tokens != row.output_tokens),
            ("data.revenue", e.revenue_units != row.revenue_units),
            ("leaf", false),
        ];
        differs.extend(fields.iter().filter(|(_, d)| *d).map(|(f, _)| *f));
        Ok(())
    };
    // The key names the segment that holds the stored event.
    let found = backend.key_event(&key, &mut visit)?;
    Ok(if found { differs } else { Vec::new() })
}

/// Where an accepted event stands for settlement, as of the import's start.
#[derive(Clone, Copy)]
enum Class {
    /// A contract selects it in a period it has closed: its next close settles it.
    Late,
    /// No contract selects it.
    Unselected,
    /// Selected, in a period still open (or before settlement starts).
    Open,
}

/// What the stored contracts, registry and closes say of events, read once.
pub(crate) struct Selection {
    snapshot: Snapshot,
}

impl Selection {
    pub(crate) fn load(backend: &mut dyn Backend) -> Result<Selection> {
        let head = backend.audit_head()?;
        Ok(Selection {
            snapshot: Snapshot::load(backend, head.seq)?,
        })
    }

    fn classify(&self, host: &str, model: &str, day: Day) -> Class {
        let mut selected = false;
        for versions in &self.snapshot.contracts.contracts {
            let registry_on = |start| self.snapshot.model_registry_on(start);
            let Some(period) = revshare_core::rating::selects(versions, registry_on, host, model, day) else {
                continue;
            };
            selected = true;
            let closed = StatementId::new(&versions.id, period)
                .is_some_and(|id| self.snapshot.statements.iter().any(|s| s.statement_id == id));
            if closed {
                return Class::Late;
            }
        }
        if selected {
            Class::Open
        } else {
            Class::Unselected
        }
    }
}
