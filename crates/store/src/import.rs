//! Importing usage into the store: streamed in bounded chunks (never a whole file in
//! memory), validated on the pool while a writer thread stores earlier chunks, one
//! transaction per chunk. A duplicate is acknowledged and stored once; a conflict is
//! refused and reported; a batch retried after a crash counts every event once,
//! because each idempotency key is committed in the same transaction as its event.

use rayon::prelude::*;
use revshare_core::event::{too_far_ahead, Timestamp};
use revshare_ingest::offline::UsageInput;
use revshare_ingest::parse::{parse_chunk, Batch};
use revshare_ingest::reader::{Chunk, Record, RecordReader};

use crate::backend::{Backend, EventBatch, EventLayout, EventRow, InsertOutcome, Result};
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

impl ImportSummary {
    fn add(&mut self, other: &ImportSummary) {
        self.read += other.read;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.conflicts += other.conflicts;
        self.rejected += other.rejected;
        self.late += other.late;
    }
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
    let layout = backend.event_layout();
    // The writer has a thread of its own, so that storing (serial on SQLite) never
    // waits for validation, which runs on the pool up to `CHUNKS_AHEAD_MAX` steps
    // ahead; memory stays bounded by that.
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(CHUNKS_AHEAD_MAX);
        let writer = scope.spawn(move || -> Result<ImportSummary> {
            let mut summary = ImportSummary::default();
            for work in receiver {
                let file_index = work[0].file_index;
                let extra_writers: Vec<&mut (dyn Backend + Send + 'static)> =
                    extras.iter_mut().map(|e| &mut **e).collect();
                for part in write_lanes(&mut *backend, extra_writers, work)? {
                    summary.add(&part.summary);
                    for problem in &part.problems {
                        rejected(problem);
                    }
                }
                progress(Progress {
                    file_index,
                    records: summary.read,
                });
            }
            Ok(summary)
        });
        // Validation gets the cores the writer leaves: on two cores, a second
        // validating thread only took time slices from the writer (1.70 s against
        // 1.55 s per 1M events here).
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| StoreError::Database(format!("starting the validation threads: {e}")))?;
        let validated = pool.install(|| validate_all(keys, inputs, now, lanes, layout, &sender));
        // Closing the channel lets the writer finish what it has and return.
        drop(sender);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(StoreError::Database("the writer thread panicked".into())));
        // A write failure explains a validation stopped by the closed channel.
        let summary = written?;
        match validated {
            Ok(()) => Ok(summary),
            // Chunks before a broken one are committed: say so, since importing the
            // repaired file again is safe (stored events count once).
            Err(StoreError::Refused(message)) if summary.read > 0 => Err(StoreError::Refused(format!(
                "{message} (before it: {} read, {} accepted, {} duplicates, stored; \
                 import the repaired file again, stored events count once)",
                summary.read, summary.accepted, summary.duplicates
            ))),
            Err(error) => Err(error),
        }
    })
}

/// Chunks validated ahead of the writer, at most.
const CHUNKS_AHEAD_MAX: usize = 2;

/// Reads and validates every input, sending prepared chunks to the writer; stops
/// early (without an error of its own) if the writer has gone.
fn validate_all(
    keys: &Keys,
    inputs: Vec<UsageInput>,
    now: Timestamp,
    lanes: usize,
    layout: EventLayout,
    sender: &std::sync::mpsc::SyncSender<Vec<Prepared>>,
) -> Result<()> {
    for (file_index, input) in inputs.into_iter().enumerate() {
        let place = InputPlace {
            name: &input.name,
            index: file_index,
        };
        let mut reader = RecordReader::new(input.reader);
        let failed = |e| StoreError::Refused(format!("{}: {e}", input.name));
        let mut following = read_chunks(&mut reader, lanes).map_err(failed)?;
        while !following.is_empty() {
            let chunks = std::mem::take(&mut following);
            // Read the chunks after these while the pool validates them.
            let (read, prepared) = rayon::join(
                || read_chunks(&mut reader, lanes),
                || {
                    chunks
                        .iter()
                        .map(|chunk| prepare(keys, place, chunk, now, layout))
                        .collect::<Result<Vec<_>>>()
                },
            );
            if sender.send(prepared?).is_err() {
                return Ok(());
            }
            following = read.map_err(failed)?;
            for chunk in chunks {
                reader.recycle(chunk);
            }
        }
    }
    Ok(())
}

/// The next chunk for each writing lane (fewer at the end of the input).
fn read_chunks<R: std::io::Read>(
    reader: &mut RecordReader<R>,
    lanes: usize,
) -> std::result::Result<Vec<Chunk>, revshare_ingest::reader::ReadError> {
    let mut chunks = Vec::with_capacity(lanes);
    while chunks.len() < lanes {
        match reader.next_chunk()? {
            Some(chunk) => chunks.push(chunk),
            None => break,
        }
    }
    Ok(chunks)
}

/// Connections writing at once, the main one included. Two keep both cores of the
/// PostgreSQL server busy; a third measured no faster here (12.2–13.8 s per 1M).
const WRITER_LANES_MAX: usize = 2;

/// Writes each chunk in its own transaction: the first on `backend`, the others on
/// the extra connections at the same time. Results come back in chunk order.
fn write_lanes(
    backend: &mut (dyn Backend + Send),
    extras: Vec<&mut (dyn Backend + Send + 'static)>,
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
            .map(|(prepared, extra)| scope.spawn(move || write_prepared(&mut *extra, prepared)))
            .collect();
        let mut written = vec![write_prepared(backend, first)?];
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
    file: String,
    file_index: usize,
    batch: EventBatch,
    origins: Vec<Record>,
    problems: Vec<Rejected>,
    read: u64,
}

/// Validates a chunk into rows (with customer pseudonyms), laid out for the backend,
/// and refusals (records that are not JSON among them).
fn prepare(keys: &Keys, input: InputPlace<'_>, chunk: &Chunk, now: Timestamp, layout: EventLayout) -> Result<Prepared> {
    let file = input.name;
    let parts: Vec<PreparedRows> = parse_chunk(chunk)
        .par_iter()
        .map(|batch| prepare_batch(keys, file, batch, now))
        .collect();
    let mut all = PreparedRows::default();
    for (record, message) in &chunk.broken {
        all.read += 1;
        all.problems.push(Rejected {
            file: file.to_string(),
            line: record.line,
            index: record.index,
            id: None,
            code: "invalid_json".into(),
            reason: message.clone(),
        });
    }
    for part in parts {
        all.rows.extend(part.rows);
        all.origins.extend(part.origins);
        all.problems.extend(part.problems);
        all.read += part.read;
    }
    Ok(Prepared {
        file: file.to_string(),
        file_index: input.index,
        batch: EventBatch::new(all.rows, layout)?,
        origins: all.origins,
        problems: all.problems,
        read: all.read,
    })
}

/// Which input a chunk comes from.
#[derive(Clone, Copy)]
struct InputPlace<'a> {
    name: &'a str,
    index: usize,
}

/// What one parsed batch turns into.
#[derive(Default)]
struct PreparedRows {
    rows: Vec<EventRow>,
    origins: Vec<Record>,
    problems: Vec<Rejected>,
    read: u64,
}

fn prepare_batch(keys: &Keys, file: &str, batch: &Batch, now: Timestamp) -> PreparedRows {
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
    PreparedRows {
        rows,
        origins,
        problems,
        read: (batch.events.len() + batch.invalid.len()) as u64,
    }
}

/// Stores one prepared chunk in one transaction.
fn write_prepared(backend: &mut (dyn Backend + Send), prepared: Prepared) -> Result<Written> {
    let Prepared {
        file,
        file_index: _,
        mut batch,
        origins,
        mut problems,
        read,
    } = prepared;
    let mut written = Written::default();
    let summary = &mut written.summary;
    summary.read = read;
    summary.rejected += problems.len() as u64;
    let outcomes = if batch.rows.is_empty() {
        Vec::new()
    } else {
        backend.insert_events(&mut batch)?
    };
    for ((row, outcome), record) in batch.rows.iter().zip(outcomes).zip(origins) {
        match outcome {
            InsertOutcome::Accepted => {
                summary.accepted += 1;
                summary.late += u64::from(row.late);
            }
            InsertOutcome::Duplicate => summary.duplicates += 1,
            InsertOutcome::Conflict => {
                summary.conflicts += 1;
                problems.push(Rejected {
                    file: file.clone(),
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
    // Freeing a chunk's strings is a measurable share of the writer's time; the pool
    // does it while the writer goes on.
    rayon::spawn(move || drop(batch));
    Ok(written)
}
