//! Usage batches a host posts over the API (api.md, `POST /v1/events`). A batch is
//! validated off the store ([`prepare`]): every event must be the host's own
//! (`host_mismatch`, `source_mismatch`, checked before any idempotency lookup, so no
//! host can block or probe another's keys). Then the valid events are stored, all or
//! none ([`store`]); several batches of one token may share one transaction (one
//! commit for many requests), each keeping its own outcome.

use revshare_core::event::{RejectionCode, Timestamp};
use revshare_ingest::reader::RecordReader;
use revshare_store::backend::InsertOutcome;
use serde::Serialize;

use crate::access::Permission;
use crate::import::{prepare_rows, write_prepared, InputPlace, Prepared, PreparedRows, Rejected, Stamp};
use crate::keys::Keys;
use crate::limits::{BATCH_BYTES_MAX as BYTES_MAX, BATCH_EVENTS_MAX as EVENTS_MAX};
use crate::{Actor, AppError, Backend, Result};

/// The outcome of a batch (usage-events.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchOutcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<RejectedEvent>,
}

/// An event of a batch that was not stored, by its 0-based position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectedEvent {
    pub index: u64,
    pub id: Option<String>,
    /// A stable code: `invalid_json`, `content_field`, …, `host_mismatch`,
    /// `source_mismatch`, `time_in_future`, `conflict`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: RejectionCode,
    pub error: String,
}

/// A validated batch, waiting for its transaction.
pub struct Submission {
    actor: String,
    rows: PreparedRows,
}

impl Submission {
    /// The token that posted it: batches share a transaction only with their own.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn events(&self) -> usize {
        self.rows.table.len()
    }
}

/// How a batch's body is framed, as its `Content-Type` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `application/x-ndjson`: one event a line (a bad line is one refused event).
    Ndjson,
    /// `application/json`: a JSON array of events (or one event); a body that is not
    /// JSON is refused whole, never read as lines.
    Json,
}

/// Validates a batch posted by `actor` (NDJSON or a JSON array, told apart by its
/// first byte), without touching the store.
pub fn prepare(keys: &Keys, actor: &Actor, body: &[u8], framing: Framing, now: Timestamp) -> Result<Submission> {
    let party = crate::access::require_party(actor, Permission::SubmitUsage)?.to_string();
    if body.len() > BYTES_MAX {
        return Err(AppError::TooLarge(format!(
            "a usage batch is at most {BYTES_MAX} bytes, this one has {}",
            body.len()
        )));
    }
    if framing == Framing::Json {
        check_json(body)?;
    }
    let mut reader = RecordReader::new(body);
    let mut all = PreparedRows::default();
    while let Some(chunk) = reader
        .next_chunk()
        .map_err(|e| AppError::Invalid(format!("the batch cannot be read: {e}")))?
    {
        let part = prepare_rows(keys, "batch", &chunk, now);
        all.read += part.read;
        if all.read > EVENTS_MAX {
            return Err(AppError::TooLarge(format!(
                "a usage batch is at most {EVENTS_MAX} events"
            )));
        }
        all.table.append(&part.table);
        all.origins.extend(part.origins);
        all.problems.extend(part.problems);
    }
    Ok(Submission {
        actor: actor.id().to_string(),
        rows: own_events_only(all, &party),
    })
}

/// A body sent as `application/json` is JSON: an array (whose syntax the reader
/// checks as it cuts it) or one object; anything else would be read as NDJSON lines
/// and answered 200 with nothing accepted, which a client checking the status takes
/// for success.
fn check_json(body: &[u8]) -> Result<()> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Ok(()),
        Some(b'{') if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => Ok(()),
        _ => Err(AppError::Invalid(
            "the body is not JSON: a batch sent as application/json is a JSON array of usage events (send NDJSON as \
             application/x-ndjson)"
                .to_string(),
        )),
    }
}

/// Moves the events that are not the party's own to the refused ones.
fn own_events_only(mut all: PreparedRows, party: &str) -> PreparedRows {
    let prefix = format!("{party}/");
    let table = &all.table;
    let mut keep = Vec::with_capacity(table.len());
    for (index, origin) in all.origins.iter().enumerate() {
        let event = table.values(index);
        let (host, source) = (table.name(event.host), table.name(event.source));
        let mismatch = if host != party {
            Some((
                RejectionCode::HostMismatch,
                format!("data.host: \"{host}\" is not the token's party {party}"),
            ))
        } else if source != party && !source.starts_with(&prefix) {
            Some((
                RejectionCode::SourceMismatch,
                format!("source: must be {party} or begin with {prefix}"),
            ))
        } else {
            None
        };
        keep.push(mismatch.is_none());
        if let Some((code, reason)) = mismatch {
            all.problems.push(Rejected {
                file: "batch".into(),
                line: origin.line,
                index: origin.index,
                id: Some(table.id(index).to_string()),
                code,
                reason,
            });
        }
    }
    all.table.retain(|index| keep[index]);
    let mut index = 0;
    all.origins.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    all.problems.sort_by_key(|p| p.index);
    all
}

/// Outcomes of committed batches, to be answered only once the checkpoint that seals
/// them is kept beside the key file: [`Committed::flush`] gives them.
#[must_use = "batches are answered only after the checkpoint file is flushed"]
pub struct Committed {
    outcomes: Vec<BatchOutcome>,
}

impl Committed {
    /// Flushes the checkpoint file (once for all the commits that wait), then gives
    /// each their outcomes.
    pub fn flush(keys: &Keys, committed: Vec<Committed>) -> Result<Vec<Vec<BatchOutcome>>> {
        keys.flush()?;
        Ok(committed.into_iter().map(|c| c.outcomes).collect())
    }
}

/// Stores batches of one token in one transaction: the valid events of every one of
/// them or, on a failure, of none. Outcomes come back in order, once flushed.
pub fn store(backend: &mut dyn Backend, keys: &Keys, time: &str, submissions: Vec<Submission>) -> Result<Committed> {
    let Some(actor) = submissions.first().map(|s| s.actor.clone()) else {
        return Ok(Committed { outcomes: Vec::new() });
    };
    assert!(submissions.iter().all(|s| s.actor == actor), "one token's batches");
    let (merged, spans) = merge(submissions);
    let prepared = Prepared::of(
        InputPlace {
            name: "batch",
            index: 0,
        },
        merged,
    )?;
    let stamp = Stamp {
        time: time.to_string(),
        actor,
    };
    let written = write_prepared(backend, keys, prepared, &stamp, None)?;
    Ok(Committed {
        outcomes: spans
            .iter()
            .map(|span| outcome_of(span, &written.outcomes, &written.problems))
            .collect(),
    })
}

/// Where one batch sits in a merged transaction: its rows, and the record indices
/// it was given (each batch's records are numbered past the ones before it).
struct Span {
    rows: std::ops::Range<usize>,
    base: u64,
    records: u64,
}

fn merge(submissions: Vec<Submission>) -> (PreparedRows, Vec<Span>) {
    let mut merged = PreparedRows::default();
    let mut spans = Vec::with_capacity(submissions.len());
    let mut base = 0u64;
    for submission in submissions {
        let rows = submission.rows;
        let start = merged.table.len();
        merged.table.append(&rows.table);
        merged.origins.extend(rows.origins.into_iter().map(|mut o| {
            o.index += base;
            o
        }));
        merged.problems.extend(rows.problems.into_iter().map(|mut p| {
            p.index += base;
            p
        }));
        merged.read += rows.read;
        spans.push(Span {
            rows: start..merged.table.len(),
            base,
            records: rows.read,
        });
        base += rows.read;
    }
    (merged, spans)
}

fn outcome_of(span: &Span, outcomes: &[InsertOutcome], problems: &[Rejected]) -> BatchOutcome {
    let mine = &outcomes[span.rows.clone()];
    let count = |wanted: InsertOutcome| mine.iter().filter(|o| **o == wanted).count() as u64;
    BatchOutcome {
        accepted: count(InsertOutcome::Accepted),
        duplicates: count(InsertOutcome::Duplicate),
        rejected: problems
            .iter()
            .filter(|p| (span.base..span.base + span.records).contains(&p.index))
            .map(|p| RejectedEvent {
                index: p.index - span.base,
                id: p.id.clone(),
                code: p.code,
                error: p.reason.clone(),
            })
            .collect(),
    }
}
