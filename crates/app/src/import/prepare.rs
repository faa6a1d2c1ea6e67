//! Validating a chunk of usage into the rows a backend stores, off the writer: the
//! event parse, customer pseudonyms, the segments the backends store, and each row's
//! JCS for the audit entry of its batch.

use rayon::prelude::*;

use revshare_core::event::table::{EventTable, Values};
use revshare_core::event::{too_far_ahead, RejectionCode, Timestamp};
use revshare_ingest::parse::{parse_chunk, Batch};
use revshare_ingest::reader::{Chunk, Record};
use revshare_store::backend::{EventBatch, HostPart, InsertOutcome};

use super::Rejected;
use crate::keys::Keys;
use crate::rows::{write_event_row, BatchHasher};
use crate::{AppError, Result};

/// Which input a chunk comes from.
#[derive(Clone, Copy)]
pub(crate) struct InputPlace<'a> {
    pub name: &'a str,
    pub index: usize,
}

/// A chunk made ready for its transaction, off the writer's critical path.
pub(crate) struct Prepared {
    pub file: String,
    pub file_index: usize,
    pub batch: EventBatch,
    pub origins: Vec<Record>,
    pub problems: Vec<Rejected>,
    pub read: u64,
    /// The rows' JCS, written on the pool, hashed by the writer over the accepted ones.
    pub rows_jcs: RowsJcs,
}

/// Validates a chunk into rows (with customer pseudonyms), encoded into segments,
/// and refusals (records that are not JSON among them).
pub(crate) fn prepare(keys: &Keys, input: InputPlace<'_>, chunk: &Chunk, now: Timestamp) -> Result<Prepared> {
    let all = prepare_rows(keys, input.name, chunk, now);
    Prepared::of(input, all)
}

/// Validates a chunk into rows and refusals.
pub(crate) fn prepare_rows(keys: &Keys, file: &str, chunk: &Chunk, now: Timestamp) -> PreparedRows {
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
            code: RejectionCode::InvalidJson,
            reason: message.clone(),
        });
    }
    for part in parts {
        all.table.append(&part.table);
        all.origins.extend(part.origins);
        all.problems.extend(part.problems);
        all.read += part.read;
    }
    for problem in all.problems.iter_mut().filter(|p| p.id.is_none()) {
        problem.id = readable_id(chunk, problem);
    }
    all
}

impl Prepared {
    /// Rows encoded into the segments the stores keep, with their JCS for the audit.
    pub(crate) fn of(input: InputPlace<'_>, all: PreparedRows) -> Result<Prepared> {
        let batch = EventBatch::new(all.table).map_err(AppError::Store)?;
        Ok(Prepared {
            file: input.name.to_string(),
            file_index: input.index,
            rows_jcs: RowsJcs::of(&batch),
            batch,
            origins: all.origins,
            problems: all.problems,
            read: all.read,
        })
    }
}

/// Each row's JCS (the form an `events_accepted` payload hashes) and leaf, written
/// on the pool per host in `(source, id)` order, so that the writer, which alone
/// knows which rows are accepted, hashes long runs of contiguous bytes.
pub(crate) struct RowsJcs {
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
    /// The payload of all of them: what the writer takes when every row of the host
    /// is accepted (nearly always), so that no hashing waits under the write lock.
    all: [u8; 32],
}

impl RowsJcs {
    pub(crate) fn of(batch: &EventBatch) -> RowsJcs {
        let all = vec![InsertOutcome::Accepted; batch.len()];
        let table = batch.table();
        let hosts = revshare_store::host_parts(batch, &all)
            .into_iter()
            .map(|part| {
                let mut order = part.rows;
                let key = |i: usize| (table.name(table.values(i).source).as_bytes(), table.id(i).as_bytes());
                order.sort_unstable_by(|a, b| key(*a).cmp(&key(*b)));
                let mut jcs = Vec::with_capacity(order.len() * 400);
                let mut ends = Vec::with_capacity(order.len());
                let mut leaves = Vec::with_capacity(order.len() * 32);
                for index in &order {
                    write_event_row(&batch.view(*index), &mut jcs);
                    ends.push(jcs.len());
                    leaves.extend_from_slice(&table.values(*index).leaf);
                }
                let mut hasher = BatchHasher::default();
                hasher.add_run(order.len() as u64, &leaves, &jcs);
                HostRows {
                    host: part.host,
                    order,
                    jcs,
                    ends,
                    leaves,
                    all: hasher.finish(),
                }
            })
            .collect();
        RowsJcs { hosts }
    }

    /// The payload of a host part: its accepted rows, in key order.
    pub(crate) fn payload(&self, rows: usize, part: &HostPart) -> [u8; 32] {
        let Some(host) = self.hosts.iter().find(|h| h.host == part.host) else {
            return BatchHasher::default().finish();
        };
        // A part holds only rows of its host, so as many rows as the host has is all.
        if part.rows.len() == host.order.len() {
            return host.all;
        }
        let mut accepted = vec![false; rows];
        for index in &part.rows {
            accepted[*index] = true;
        }
        let mut hasher = BatchHasher::default();
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

/// What one parsed batch turns into.
#[derive(Default)]
pub(crate) struct PreparedRows {
    pub table: EventTable,
    pub origins: Vec<Record>,
    pub problems: Vec<Rejected>,
    pub read: u64,
}

/// Turns a parsed batch into a table: each of the task's names is translated once,
/// and pseudonyms are computed once per distinct (host, customer).
fn prepare_batch(keys: &Keys, file: &str, batch: &Batch, now: Timestamp) -> PreparedRows {
    let mut table = EventTable::with_capacity(batch.events.len());
    let mut origins = Vec::with_capacity(batch.events.len());
    let mut problems: Vec<Rejected> = batch
        .invalid
        .iter()
        .map(|(record, error)| Rejected {
            file: file.to_string(),
            line: record.line,
            index: record.index,
            id: None,
            code: error.code(),
            reason: error.to_string(),
        })
        .collect();
    let mut ids: Vec<Option<u32>> = vec![None; batch.names.len()];
    let mut pseudonyms: rustc_hash::FxHashMap<(u16, u16), [u8; 16]> = Default::default();
    for event in &batch.events {
        if too_far_ahead(event.time_utc, now) {
            problems.push(Rejected {
                file: file.to_string(),
                line: event.record.line,
                index: event.record.index,
                id: Some(batch.id(event).to_string()),
                code: RejectionCode::TimeInFuture,
                reason: "time: more than 5 minutes ahead of the receiving clock".into(),
            });
            continue;
        }
        let [host, model, use_case, currency] = event.names;
        let customer = event.customer.map(|c| {
            *pseudonyms
                .entry((host, c))
                .or_insert_with(|| keys.pseudonym(&batch.names[host as usize], &batch.names[c as usize]))
        });
        let mut name = |n: u16| *ids[n as usize].get_or_insert_with(|| table.intern(&batch.names[n as usize]));
        let values = Values {
            leaf: event.leaf,
            source: name(event.source),
            host: name(host),
            model: name(model),
            use_case: name(use_case),
            currency: name(currency),
            customer,
            utc_seconds: event.time_utc.seconds,
            day: event.day().0,
            requests: event.requests as i64,
            input_tokens: event.input_tokens as i64,
            output_tokens: event.output_tokens as i64,
            revenue_units: event.revenue_units,
        };
        table.push(values, batch.id(event));
        origins.push(event.record);
    }
    PreparedRows {
        table,
        origins,
        problems,
        read: (batch.events.len() + batch.invalid.len()) as u64,
    }
}
