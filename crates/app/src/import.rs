//! Importing usage: streamed in bounded chunks (never a whole file in memory),
//! validated on the pool while a writer thread stores earlier chunks, one transaction
//! per chunk. A duplicate is acknowledged and stored once; a conflict is refused and
//! reported with the fields that differ; a batch retried after a crash counts every
//! event once, because each idempotency key is committed with its event. Each host's
//! accepted events of a chunk are one audit entry (`events_accepted`), chained in the
//! chunk's own transaction.

use std::collections::BTreeMap;

use rayon::prelude::*;
use revshare_core::audit::{chain_all, Action, Entry, Head, NewEntry};
use revshare_core::event::{too_far_ahead, Timestamp};
use revshare_core::period::Day;
use revshare_ingest::offline::UsageInput;
use revshare_ingest::parse::{parse_chunk, Batch};
use revshare_ingest::reader::{Chunk, Record, RecordReader};
use revshare_store::backend::{EventBatch, EventLayout, EventRow, HostPart, InsertOutcome};

use crate::keys::Keys;
use crate::rows::{object, write_event_row, BatchHasher};
use crate::snapshot::Snapshot;
use crate::{AppError, Backend, Ctx, Result};

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

/// What writing one chunk produced, merged in input order by the caller.
#[derive(Default)]
struct Written {
    summary: ImportSummary,
    problems: Vec<Rejected>,
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
    let layout = backend.event_layout();
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
            for work in receiver {
                let file_index = work[0].file_index;
                let extra_writers: Vec<&mut (dyn Backend + 'static)> = extras.iter_mut().map(|e| &mut **e).collect();
                for part in write_lanes(&mut *backend, extra_writers, work, stamp, selection)? {
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
        // validating thread only took time slices from the writer.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| AppError::Invalid(format!("starting the validation threads: {e}")))?;
        let validated = pool.install(|| validate_all(keys, inputs, ctx.now, lanes, layout, &sender));
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

/// Who stores, and when: what each batch's audit entry records.
struct Stamp {
    time: String,
    actor: String,
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
/// PostgreSQL server busy.
const WRITER_LANES_MAX: usize = 2;

/// Writes each chunk in its own transaction: the first on `backend`, the others on
/// the extra connections at the same time. Results come back in chunk order.
fn write_lanes(
    backend: &mut dyn Backend,
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
            .map(|(prepared, extra)| scope.spawn(move || write_prepared(extra, prepared, stamp, selection)))
            .collect();
        let mut written = vec![write_prepared(backend, first, stamp, selection)?];
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

/// A chunk made ready for its transaction, off the writer's critical path.
struct Prepared {
    file: String,
    file_index: usize,
    batch: EventBatch,
    origins: Vec<Record>,
    problems: Vec<Rejected>,
    read: u64,
    /// The rows' JCS, written on the pool, hashed by the writer over the accepted ones.
    rows_jcs: RowsJcs,
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
    for problem in all.problems.iter_mut().filter(|p| p.id.is_none()) {
        problem.id = readable_id(chunk, problem);
    }
    let rows_jcs = RowsJcs::of(&all.rows);
    Ok(Prepared {
        file: file.to_string(),
        file_index: input.index,
        batch: EventBatch::new(all.rows, layout).map_err(AppError::Store)?,
        origins: all.origins,
        problems: all.problems,
        read: all.read,
        rows_jcs,
    })
}

/// Each row's JCS (the form an `events_accepted` payload hashes) and leaf, written
/// on the pool per host in `(source, id)` order, so that the writer, which alone
/// knows which rows are accepted, hashes long runs of contiguous bytes.
struct RowsJcs {
    hosts: Vec<HostRows>,
}

struct HostRows {
    host: String,
    /// The host's rows (batch indices) in key order.
    order: Vec<usize>,
    /// Their JCS, in that order; `ends[p]` is where position `p` ends.
    jcs: Vec<u8>,
    ends: Vec<usize>,
    /// Their leaves, 32 bytes each, in that order.
    leaves: Vec<u8>,
}

impl RowsJcs {
    fn of(rows: &[EventRow]) -> RowsJcs {
        let all = vec![InsertOutcome::Accepted; rows.len()];
        let hosts = revshare_store::host_parts(rows, &all)
            .into_iter()
            .map(|part| {
                let mut order = part.rows;
                let key = |i: usize| (rows[i].source.as_bytes(), rows[i].id.as_bytes());
                order.sort_unstable_by(|a, b| key(*a).cmp(&key(*b)));
                let mut jcs = Vec::with_capacity(order.len() * 400);
                let mut ends = Vec::with_capacity(order.len());
                let mut leaves = Vec::with_capacity(order.len() * 32);
                for index in &order {
                    write_event_row(&rows[*index].view(0), &mut jcs);
                    ends.push(jcs.len());
                    leaves.extend_from_slice(&rows[*index].leaf);
                }
                HostRows {
                    host: part.host,
                    order,
                    jcs,
                    ends,
                    leaves,
                }
            })
            .collect();
        RowsJcs { hosts }
    }

    /// The payload of a host part: its accepted rows, in key order.
    fn payload(&self, rows: usize, part: &HostPart) -> [u8; 32] {
        let mut accepted = vec![false; rows];
        for index in &part.rows {
            accepted[*index] = true;
        }
        let mut hasher = BatchHasher::default();
        let Some(host) = self.hosts.iter().find(|h| h.host == part.host) else {
            return hasher.finish();
        };
        let start_of = |p: usize| if p == 0 { 0 } else { host.ends[p - 1] };
        let mut run = 0;
        for p in 0..=host.order.len() {
            if p < host.order.len() && accepted[host.order[p]] {
                continue;
            }
            if run < p {
                hasher.add_run(
                    (p - run) as u64,
                    &host.leaves[run * 32..p * 32],
                    &host.jcs[start_of(run)..start_of(p)],
                );
            }
            run = p + 1;
        }
        hasher.finish()
    }
}

/// The `id` of a refused record, when its JSON is readable enough to say.
fn readable_id(chunk: &Chunk, problem: &Rejected) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<serde_json::Value>,
    }
    let record = chunk.records.iter().find(|r| r.index == problem.index)?;
    let parsed: IdOnly = serde_json::from_slice(chunk.record_bytes(record)).ok()?;
    match parsed.id? {
        serde_json::Value::String(id) => Some(id),
        _ => None,
    }
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
    // Pseudonyms are computed once per distinct (host, customer) of a batch.
    let mut pseudonyms: rustc_hash::FxHashMap<(u16, u16), [u8; 16]> = Default::default();
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
        let name = |i: usize| batch.names[event.names[i] as usize].clone();
        let host = name(0);
        let customer = event.customer.map(|c| {
            *pseudonyms
                .entry((event.names[0], c))
                .or_insert_with(|| keys.pseudonym(&host, &batch.names[c as usize]))
        });
        rows.push(EventRow {
            source: batch.source(event).to_string(),
            id: batch.id(event).to_string(),
            leaf: event.leaf,
            host,
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

/// Chains one `events_accepted` entry per host part. The parts are hashed side by
/// side, so that a core the validation leaves idle takes a share.
fn audit_entries(head: Head, rows: &[EventRow], parts: &[HostPart], jcs: &RowsJcs, stamp: &Stamp) -> Vec<Entry> {
    let payloads: Vec<[u8; 32]> = std::thread::scope(|scope| {
        let others: Vec<_> = parts[1.min(parts.len())..]
            .iter()
            .map(|part| scope.spawn(move || jcs.payload(rows.len(), part)))
            .collect();
        let first = parts.first().map(|part| jcs.payload(rows.len(), part));
        first
            .into_iter()
            .chain(
                others
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
            )
            .collect()
    });
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
    chain_all(head, &new).0
}

/// Stores one prepared chunk in one transaction.
fn write_prepared(
    backend: &mut dyn Backend,
    prepared: Prepared,
    stamp: &Stamp,
    selection: &Selection,
) -> Result<Written> {
    let Prepared {
        file,
        file_index: _,
        mut batch,
        origins,
        mut problems,
        read,
        rows_jcs,
    } = prepared;
    let mut written = Written::default();
    let summary = &mut written.summary;
    summary.read = read;
    summary.rejected += problems.len() as u64;
    let outcomes = if batch.rows.is_empty() {
        Vec::new()
    } else {
        let mut hook =
            |head: Head, rows: &[EventRow], parts: &[HostPart]| Ok(audit_entries(head, rows, parts, &rows_jcs, stamp));
        backend.insert_events(&mut batch, &mut hook)?
    };
    let mut conflicts = Vec::new();
    let mut classes = rustc_hash::FxHashMap::default();
    for ((row, outcome), record) in batch.rows.iter().zip(outcomes).zip(origins) {
        match outcome {
            InsertOutcome::Accepted => {
                summary.accepted += 1;
                let class = *classes
                    .entry((row.host.as_str(), row.model.as_str(), row.day))
                    .or_insert_with(|| selection.classify(row));
                match class {
                    Class::Late => summary.late += 1,
                    Class::Unselected => *summary.unselected.entry(row.host.clone()).or_default() += 1,
                    Class::Open => {}
                }
            }
            InsertOutcome::Duplicate => summary.duplicates += 1,
            InsertOutcome::Conflict => {
                summary.conflicts += 1;
                conflicts.push((row, record));
            }
        }
    }
    for (row, record) in conflicts {
        problems.push(conflict(backend, &file, row, record)?);
    }
    problems.sort_by_key(|p| p.index);
    written.problems = problems;
    // Freeing a chunk's strings is a measurable share of the writer's time; the pool
    // does it while the writer goes on.
    rayon::spawn(move || drop(batch));
    Ok(written)
}

/// A conflict's report, naming the stored fields that differ.
fn conflict(backend: &mut dyn Backend, file: &str, row: &EventRow, record: Record) -> Result<Rejected> {
    let differs = stored_differences(backend, row)?;
    Ok(Rejected {
        file: file.to_string(),
        line: record.line,
        index: record.index,
        id: Some(row.id.clone()),
        code: "conflict".into(),
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
fn stored_differences(backend: &mut dyn Backend, row: &EventRow) -> Result<Vec<&'static str>> {
    let Some(key) = backend.event_key(&row.source, &row.id)? else {
        return Ok(Vec::new());
    };
    let mut differs = Vec::new();
    let mut found = false;
    let mut visit = |e: &revshare_store::backend::EventView<'_>| -> revshare_store::backend::Result<()> {
        if e.source != row.source || e.id != row.id {
            return Ok(());
        }
        found = true;
        let fields: [(&'static str, bool); 11] = [
            ("data.host", e.host != row.host),
            ("time", e.utc_seconds != row.utc_seconds || e.day != row.day),
            ("data.model", e.model != row.model),
            ("data.use_case", e.use_case != row.use_case),
            ("data.currency", e.currency != row.currency),
            ("data.customer", e.customer != row.customer.as_ref().map(|c| &c[..])),
            ("data.requests", e.requests != row.requests),
            ("data.input_tokens", e.input_tokens != row.input_tokens),
            ("data.output_tokens", e.output_tokens != row.output_tokens),
            ("data.revenue", e.revenue_units != row.revenue_units),
            ("leaf", false),
        ];
        differs.extend(fields.iter().filter(|(_, d)| *d).map(|(f, _)| *f));
        Ok(())
    };
    backend.scan_events(&key.host, key.day, key.day + 1, 0, i64::MAX, &mut visit)?;
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
struct Selection {
    snapshot: Snapshot,
}

impl Selection {
    fn load(backend: &mut dyn Backend) -> Result<Selection> {
        let head = backend.audit_head()?;
        Ok(Selection {
            snapshot: Snapshot::load(backend, head.seq as i64)?,
        })
    }

    fn classify(&self, row: &EventRow) -> Class {
        let day = Day(row.day);
        let mut selected = false;
        for versions in &self.snapshot.contracts.contracts {
            let Some(version) = versions.version_on(day) else {
                continue;
            };
            if versions.host() != row.host
                || !self.owns(versions.licensor(), &row.model, version.cadence.period_of(day).start())
            {
                continue;
            }
            selected = true;
            let statement_id = format!("{}/{}", versions.id, version.cadence.period_of(day));
            if self.snapshot.statements.iter().any(|s| s.statement_id == statement_id) {
                return Class::Late;
            }
        }
        if selected {
            Class::Open
        } else {
            Class::Unselected
        }
    }

    /// Whether `model` belongs to `licensor` under the registry in force on `start`.
    fn owns(&self, licensor: &str, model: &str, start: Day) -> bool {
        match self.snapshot.registry_on(start) {
            None => true,
            Some(registry) => registry
                .rows
                .iter()
                .find(|(pattern, _)| revshare_core::contract::Glob::new(pattern).matches(model))
                .is_some_and(|(_, owner)| owner == licensor),
        }
    }
}
