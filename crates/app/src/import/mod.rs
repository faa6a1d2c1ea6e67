//! Importing usage: streamed in bounded chunks (never a whole file in memory),
//! validated on the pool while a writer thread stores earlier chunks, one transaction
//! per chunk. A duplicate is acknowledged and stored once; a conflict is refused and
//! reported with the fields that differ; a batch retried after a crash counts every
//! event once, because each idempotency key is committed with its event. Each host's
//! accepted events of a chunk are one audit entry (`events_accepted`), chained in the
//! chunk's own transaction.

use std::collections::BTreeMap;

use revshare_core::event::{RejectionCode, Timestamp};
use revshare_ingest::offline::UsageInput;
use revshare_ingest::reader::{Chunk, RecordReader};

mod prepare;
mod write;

use prepare::prepare;
pub(crate) use prepare::{prepare_rows, InputPlace, Prepared, PreparedRows};
pub(crate) use write::{write_prepared, Selection, Stamp, Written};

use crate::keys::Keys;
use crate::{AppError, Backend, Ctx, Result};

/// An event that was not stored, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub file: String,
    pub line: u64,
    pub index: u64,
    pub id: Option<String>,
    /// Why, as the stable code reports and the API give.
    pub code: RejectionCode,
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
    /// Accepted events that a contract selects in a period it has already closed:
    /// its next close settles them.
    pub late: u64,
    /// Accepted events that no contract selects, per host.
    pub unselected: BTreeMap<String, u64>,
}

impl ImportSummary {
    fn add(&mut self, other: &ImportSummary) {
        self.read += other.read;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.conflicts += other.conflicts;
        self.rejected += other.rejected;
        self.late += other.late;
        for (host, count) in &other.unselected {
            *self.unselected.entry(host.clone()).or_default() += count;
        }
    }

    /// `true` when every record was accepted or a duplicate.
    pub fn all_stored(&self) -> bool {
        self.rejected == 0 && self.conflicts == 0
    }
}

/// How far an import has got, for progress bars.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub file_index: usize,
    pub records: u64,
}

/// Callbacks an edge gives an import.
pub struct Observers<'o> {
    pub progress: &'o mut (dyn FnMut(Progress) + Send),
    pub rejected: &'o mut (dyn FnMut(&Rejected) + Send),
}

/// Imports every input as `ctx.actor`. `ctx.now` is the receiving clock for the
/// 5-minute future bound. The keys must be the store's (see [`Keys::open`]).
pub fn import(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    inputs: Vec<UsageInput>,
    observers: Observers<'_>,
) -> Result<ImportSummary> {
    crate::store_copy::refuse_if_retired(backend)?;
    let selection = Selection::load(backend)?;
    // Where the backend gains from it, more connections write chunks side by side.
    let mut extras: Vec<Box<dyn Backend>> = Vec::new();
    while extras.len() + 1 < WRITER_LANES_MAX {
        match backend.extra_writer()? {
            Some(extra) => extras.push(extra),
            None => break,
        }
    }
    let lanes = 1 + extras.len();
    let stamp = Stamp {
        time: ctx.time(),
        actor: ctx.actor.id().to_string(),
    };
    let Observers { progress, rejected } = observers;
    // The writer has a thread of its own, so that storing (serial on SQLite) never
    // waits for validation, which runs on the pool up to `CHUNKS_AHEAD_MAX` steps
    // ahead; memory stays bounded by that.
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(CHUNKS_AHEAD_MAX);
        let stamp = &stamp;
        let selection = &selection;
        let writer = scope.spawn(move || -> Result<ImportSummary> {
            let mut summary = ImportSummary::default();
            let write = || -> Result<()> {
                for work in receiver {
                    let file_index = work[0].file_index;
                    let extra_writers: Vec<&mut (dyn Backend + 'static)> =
                        extras.iter_mut().map(|e| &mut **e).collect();
                    for part in write_lanes(&mut *backend, keys, extra_writers, work, stamp, selection)? {
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
                Ok(())
            };
            let written = write();
            // The chunks stored were sealed one by one; the newest checkpoint is kept
            // beside the key file before the import returns, whatever failed after.
            let flushed = keys.flush();
            written.and(flushed).map(|()| summary)
        });
        // Validation gets the cores the writer leaves: on two cores, a second
        // validating thread only took time slices from the writer.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| AppError::Invalid(format!("starting the validation threads: {e}")))?;
        let validated = pool.install(|| validate_all(keys, inputs, ctx.now, lanes, &sender));
        // Closing the channel lets the writer finish what it has and return.
        drop(sender);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(AppError::Integrity("the writer thread panicked".into())));
        // A write failure explains a validation stopped by the closed channel.
        let summary = written?;
        match validated {
            Ok(()) => Ok(summary),
            // Chunks before a broken one are committed: say so, since importing the
            // repaired file again is safe (stored events count once).
            Err(AppError::Invalid(message)) if summary.read > 0 => Err(AppError::Invalid(format!(
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
    sender: &std::sync::mpsc::SyncSender<Vec<Prepared>>,
) -> Result<()> {
    for (file_index, input) in inputs.into_iter().enumerate() {
        let place = InputPlace {
            name: &input.name,
            index: file_index,
        };
        let mut reader = RecordReader::new(input.reader);
        let failed = |e| AppError::Invalid(format!("{}: {e}", input.name));
        let mut following = read_chunks(&mut reader, lanes).map_err(failed)?;
        while !following.is_empty() {
            let chunks = std::mem::take(&mut following);
            // Read the chunks after these while the pool validates them.
            let (read, prepared) = rayon::join(
                || read_chunks(&mut reader, lanes),
                || {
                    chunks
                        .iter()
                        .map(|chunk| prepare(keys, place, chunk, now))
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
/// PostgreSQL server busy.
const WRITER_LANES_MAX: usize = 2;

/// Writes each chunk in its own transaction: the first on `backend`, the others on
/// the extra connections at the same time. Results come back in chunk order.
fn write_lanes(
    backend: &mut dyn Backend,
    keys: &Keys,
    extras: Vec<&mut (dyn Backend + 'static)>,
    mut work: Vec<Prepared>,
    stamp: &Stamp,
    selection: &Selection,
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
            .map(|(prepared, extra)| scope.spawn(move || write_prepared(extra, keys, prepared, stamp, Some(selection))))
            .collect();
        let mut written = vec![write_prepared(backend, keys, first, stamp, Some(selection))?];
        for other in others {
            written.push(
                other
                    .join()
                    .unwrap_or_else(|_| Err(AppError::Integrity("a writer thread panicked".into())))?,
            );
        }
        Ok(written)
    })
}
