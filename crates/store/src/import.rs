//! Importing usage into the store: streamed in bounded chunks (never a whole file in
//! memory), validated on all cores while the previous chunk is written, one
//! transaction per chunk. A duplicate is acknowledged and stored once; a conflict is
//! refused and reported; a batch retried after a crash counts every event once,
//! because each idempotency key is committed in the same transaction as its event.

use rayon::prelude::*;
use revshare_core::event::{too_far_ahead, Timestamp};
use revshare_ingest::offline::UsageInput;
use revshare_ingest::parse::{parse_chunk, Batch};
use revshare_ingest::reader::{Record, RecordReader};

use crate::backend::{Backend, EventRow, InsertOutcome, Result};
use crate::keys::Keys;
use crate::StoreError;

/// An event that was not stored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub file: String,
    pub line: u64,
    pub index: u64,
    pub id: Option<String>,
    /// A stable code: `invalid_json`, `content_field`, ..., `time_in_future`, `conflict`.
    pub code: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub read: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// Invalid events (conflicts are counted on their own).
    pub rejected: u64,
    /// Accepted events whose period was already closed: settled at the next close.
    pub late: u64,
}

/// How far an import has got, for progress bars.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub file_index: usize,
    pub records: u64,
}

/// What writing one chunk produced, merged in input order by the caller.
#[derive(Default)]
struct Written {
    summary: ImportSummary,
    problems: Vec<Rejected>,
}

/// Imports every input. `now` is the receiving clock for the 5-minute future bound.
pub fn import(
    backend: &mut (dyn Backend + Send),
    keys: &Keys,
    inputs: Vec<UsageInput>,
    now: Timestamp,
    progress: &mut (dyn FnMut(Progress) + Send),
    rejected: &mut (dyn FnMut(&Rejected) + Send),
) -> Result<ImportSummary> {
    // Where the backend gains from it, more connections write chunks side by side.
    let mut extras: Vec<Box<dyn Backend + Send>> = Vec::new();
    while extras.len() + 1 < WRITER_LANES_MAX {
        match backend.extra_writer()? {
            Some(extra) => extras.push(extra),
            None => break,
        }
    }
    let lanes = 1 + extras.len();
    let mut summary = ImportSummary::default();
    for (file_index, input) in inputs.into_iter().enumerate() {
        let mut reader = RecordReader::new(input.reader);
        let mut pending: Vec<Prepared> = Vec::new();
        loop {
            let mut chunks = Vec::with_capacity(lanes);
            while chunks.len() < lanes {
                match reader
                    .next_chunk()
                    .map_err(|e| StoreError::Refused(format!("{}: {e}", input.name)))?
                {
                    Some(chunk) => chunks.push(chunk),
                    None => break,
                }
            }
            if chunks.is_empty() && pending.is_empty() {
                break;
            }
            for chunk in &chunks {
                for (record, message) in &chunk.broken {
                    summary.read += 1;
                    summary.rejected += 1;
                    rejected(&Rejected {
                        file: input.name.clone(),
                        line: record.line,
                        index: record.index,
                        id: None,
                        code: "invalid_json".into(),
                        reason: message.clone(),
                    });
                }
            }
            // Validate the next chunks on the pool while the last ones are written.
            let previous = std::mem::take(&mut pending);
            let extra_writers: Vec<&mut (dyn Backend + Send + 'static)> = extras.iter_mut().map(|e| &mut **e).collect();
            let (parsed, written) = rayon::join(
                || {
                    chunks
                        .iter()
                        .map(|c| prepare(keys, &input.name, parse_chunk(c), now))
                        .collect::<Vec<_>>()
                },
                || write_lanes(&mut *backend, extra_writers, &input.name, previous),
            );
            for part in written? {
                summary.read += part.summary.read;
                summary.accepted += part.summary.accepted;
                summary.duplicates += part.summary.duplicates;
                summary.conflicts += part.summary.conflicts;
                summary.rejected += part.summary.rejected;
                summary.late += part.summary.late;
                for problem in &part.problems {
                    rejected(problem);
                }
            }
            progress(Progress {
                file_index,
                records: summary.read,
            });
            pending = parsed;
            for chunk in chunks {
                reader.recycle(chunk);
            }
        }
    }
    Ok(summary)
}

/// Connections writing at once, the main one included. Two keep both cores of the
/// PostgreSQL server busy; a third measured no faster here (12.2–13.8 s per 1M).
const WRITER_LANES_MAX: usize = 2;

/// Writes each chunk in its own transaction: the first on `backend`, the others on
/// the extra connections at the same time. Results come back in chunk order.
fn write_lanes(
    backend: &mut (dyn Backend + Send),
    extras: Vec<&mut (dyn Backend + Send + 'static)>,
    file: &str,
    mut work: Vec<Prepared>,
) -> Result<Vec<Written>> {
    if work.is_empty() {
        return Ok(Vec::new());
    }
    let first = work.remove(0);
    debug_assert!(work.len() <= extras.len(), "one chunk per lane");
    std::thread::scope(|scope| {
        let others: Vec<_> = work
            .into_iter()
            .zip(extras)
            .map(|(prepared, extra)| scope.spawn(move || write_prepared(&mut *extra, file, prepared)))
            .collect();
        let mut written = vec![write_prepared(backend, file, first)?];
        for other in others {
            written.push(
                other
                    .join()
                    .unwrap_or_else(|_| Err(StoreError::Database("a writer thread panicked".into())))?,
            );
        }
        Ok(written)
    })
}

/// A chunk made ready for its transaction, off the writer's critical path.
struct Prepared {
    rows: Vec<EventRow>,
    origins: Vec<Record>,
    problems: Vec<Rejected>,
    read: u64,
}

/// Turns a chunk's batches into rows (with customer pseudonyms) and refusals.
fn prepare(keys: &Keys, file: &str, batches: Vec<Batch>, now: Timestamp) -> Prepared {
    let parts: Vec<Prepared> = batches
        .par_iter()
        .map(|batch| prepare_batch(keys, file, batch, now))
        .collect();
    let mut all = Prepared {
        rows: Vec::new(),
        origins: Vec::new(),
        problems: Vec::new(),
        read: 0,
    };
    for part in parts {
        all.rows.extend(part.rows);
        all.origins.extend(part.origins);
        all.problems.extend(part.problems);
        all.read += part.read;
    }
    all
}

fn prepare_batch(keys: &Keys, file: &str, batch: &Batch, now: Timestamp) -> Prepared {
    let mut rows = Vec::with_capacity(batch.events.len());
    let mut origins = Vec::with_capacity(batch.events.len());
    let mut problems: Vec<Rejected> = Vec::new();
    for (record, error) in &batch.invalid {
        problems.push(Rejected {
            file: file.to_string(),
            line: record.line,
            index: record.index,
            id: None,
            code: error.code().to_string(),
            reason: error.to_string(),
        });
    }
    // Pseudonyms are computed once per distinct customer of a batch.
    let mut pseudonyms: Vec<Option<[u8; 16]>> = vec![None; batch.names.len()];
    for event in &batch.events {
        if too_far_ahead(event.time_utc, now) {
            problems.push(Rejected {
                file: file.to_string(),
                line: event.record.line,
                index: event.record.index,
                id: Some(batch.id(event).to_string()),
                code: "time_in_future".into(),
                reason: "time: more than 5 minutes ahead of the receiving clock".into(),
            });
            continue;
        }
        let customer = event
            .customer
            .map(|c| *pseudonyms[c as usize].get_or_insert_with(|| keys.pseudonym(&batch.names[c as usize])));
        let name = |i: usize| batch.names[event.names[i] as usize].clone();
        rows.push(EventRow {
            source: batch.source(event).to_string(),
            id: batch.id(event).to_string(),
            leaf: event.leaf,
            host: name(0),
            model: name(1),
            use_case: name(2),
            currency: name(3),
            customer,
            utc_seconds: event.time_utc.seconds,
            day: event.day().0,
            requests: event.requests as i64,
            input_tokens: event.input_tokens as i64,
            output_tokens: event.output_tokens as i64,
            revenue_units: event.revenue_units.to_string(),
            late: false,
        });
        origins.push(event.record);
    }
    Prepared {
        rows,
        origins,
        problems,
        read: (batch.events.len() + batch.invalid.len()) as u64,
    }
}

/// Stores one prepared chunk in one transaction.
fn write_prepared(backend: &mut (dyn Backend + Send), file: &str, prepared: Prepared) -> Result<Written> {
    let Prepared {
        mut rows,
        origins,
        mut problems,
        read,
    } = prepared;
    let mut written = Written::default();
    let summary = &mut written.summary;
    summary.read = read;
    summary.rejected += problems.len() as u64;
    let outcomes = if rows.is_empty() {
        Vec::new()
    } else {
        backend.insert_events(&mut rows)?
    };
    for ((row, outcome), record) in rows.iter().zip(outcomes).zip(origins) {
        match outcome {
            InsertOutcome::Accepted => {
                summary.accepted += 1;
                summary.late += u64::from(row.late);
            }
            InsertOutcome::Duplicate => summary.duplicates += 1,
            InsertOutcome::Conflict => {
                summary.conflicts += 1;
                problems.push(Rejected {
                    file: file.to_string(),
                    line: record.line,
                    index: record.index,
                    id: Some(row.id.clone()),
                    code: "conflict".into(),
                    reason: format!(
                        "conflict: ({}, {}) is already stored with other content; the first stands",
                        row.source, row.id
                    ),
                });
            }
        }
    }
    problems.sort_by_key(|p| p.index);
    written.problems = problems;
    Ok(written)
}
