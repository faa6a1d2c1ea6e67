//! [`Events`] in PostgreSQL: events in segments and batches, their keys (claimed by
//! binary `COPY` or one set-based insert), and voids.

use std::collections::{HashMap, HashSet};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::Client;
use revshare_core::audit::{Entry, Seq};

use super::audit::insert_audit;
use super::{seq_at, PgStore, Prepared, WRITE_LOCK};
use crate::backend::{
    BatchRow, EventBatch, EventView, Events, HostPart, InsertOutcome, KeyRow, Result, Staged, StoredRollup,
    StoredSegment, Visit, VisitRollup, VoidRow,
};
use crate::columns::*;
use crate::segment::{self, SegmentRow};
use crate::{host_parts, StoreError};

impl PgStore {
    /// The seq of each batch with segments of `host` on days `[start, end)`.
    fn batch_seqs(&mut self, host: &str, start: i32, end: i32) -> Result<HashMap<i64, i64>> {
        Ok(self
            .query(
                "SELECT batch, seq FROM event_batches WHERE batch IN
                     (SELECT batch FROM segments WHERE host = $1 AND day >= $2 AND day < $3)",
                &[&host, &start, &end],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Claims a batch's keys and stores its segments, then takes the write lock, in a
    /// transaction left open.
    fn stage_batch(&mut self, batch: &EventBatch) -> Result<Staged> {
        let events = batch;
        let candidates = key_candidates(events);
        self.ensure_partitions(events.segments.iter().map(|g| events.view(g.first).day))?;
        // Each host's batch number is drawn before its keys are claimed, so that
        // each key names its batch (a host none of whose events is accepted leaves
        // its number unused).
        let numbered = BatchNumbers::draw(&mut self.client, &mut self.prepared, events)?;
        self.client.batch_execute("BEGIN")?;
        let copied = match self.keys_were_new {
            true => copy_new_keys(&mut self.client, events, &candidates, &numbered)?,
            false => Claim::NotTried,
        };
        let client = &mut self.client;
        let prepared = &mut self.prepared;
        let accepted: HashSet<usize> = match copied {
            Claim::All => candidates.iter().copied().collect(),
            Claim::Taken => {
                client.batch_execute("ROLLBACK; BEGIN")?;
                claim_keys(client, prepared, events, &candidates, &numbered)?
            }
            Claim::NotTried => claim_keys(client, prepared, events, &candidates, &numbered)?,
        };
        self.keys_were_new = accepted.len() == candidates.len();
        let outcomes = outcomes_of(client, events, &accepted)?;
        let parts = host_parts(events, &outcomes);
        let batches: Vec<i64> = parts
            .iter()
            .map(|p| numbered.of_name(events, &p.host))
            .collect::<Result<_>>()?;
        let segments = accepted_segments(batch, &outcomes, &parts, &batches)?;
        insert_segments(client, prepared, &segments)?;
        // Numbering the batches (and appending their entries) is the only
        // serialized step.
        let lock = prepared.get(client, "SELECT pg_advisory_xact_lock($1)")?;
        client.execute(&lock, &[&WRITE_LOCK])?;
        let last = prepared.get(client, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?;
        let head = crate::head_from(client.query_opt(&last, &[])?.map(|r| (r.get(0), r.get(1))))?;
        Ok(Staged::new(head, outcomes, parts, batches))
    }

    /// Gives a staged batch's batches their entries' seqs and appends the entries.
    fn store_batch(&mut self, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()> {
        staged.check(entries)?;
        let client = &mut self.client;
        let prepared = &mut self.prepared;
        let insert = prepared.get(
            client,
            "INSERT INTO event_batches (batch, seq, host, first_day, last_day, count) VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        for ((part, number), entry) in staged.parts().iter().zip(&staged.batches).zip(entries) {
            let days = part.rows.iter().map(|i| batch.table().values(*i).day);
            let (first, last) = (days.clone().min().unwrap_or(0), days.max().unwrap_or(0));
            let count = part.rows.len() as i64;
            let seq = crate::seq_i64(entry.seq)?;
            client.execute(&insert, &[number, &seq, &part.host, &first, &last, &count])?;
        }
        insert_audit(client, prepared, entries)
    }
}

fn void_row(r: &postgres::Row) -> Result<VoidRow> {
    Ok(VoidRow {
        number: r.get(0),
        source: r.get(1),
        id: r.get(2),
        host: r.get(3),
        day: r.get(4),
        leaf: r.get(5),
        reason: r.get(6),
        actor: r.get(7),
        voided_at: r.get(8),
        seq: seq_at(r, 9, "voids", 0)?,
    })
}

/// An idempotency key's leaf, which must be 32 bytes.
pub(super) fn leaf_of(source: &str, id: &str, bytes: &[u8]) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("event:{source}/{id}"), "its key row's leaf is not 32 bytes"))
}

/// The first occurrence of each key of a batch, in key order: claims go in that order,
/// so concurrent writers take key locks in the same order and cannot deadlock on keys
/// they share.
fn key_candidates(events: &EventBatch) -> Vec<usize> {
    let key = |index: usize| {
        let e = events.view(index);
        (e.source.as_bytes(), e.id.as_bytes())
    };
    let mut first: HashMap<(&[u8], &[u8]), usize> = HashMap::with_capacity(events.len());
    for index in 0..events.len() {
        first.entry(key(index)).or_insert(index);
    }
    let mut candidates: Vec<usize> = first.values().copied().collect();
    candidates.sort_unstable_by(|a, b| key(*a).cmp(&key(*b)));
    candidates
}

/// The batch number of each host of a batch, drawn from `batch_ids`.
struct BatchNumbers {
    /// By the host's number in the batch's table, in order of first appearance.
    numbers: Vec<(u32, i64)>,
}

impl BatchNumbers {
    fn draw(client: &mut Client, prepared: &mut Prepared, events: &EventBatch) -> Result<BatchNumbers> {
        let table = events.table();
        let mut hosts: Vec<u32> = Vec::new();
        for index in 0..events.len() {
            let host = table.values(index).host;
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        let numbers = prepared.get(
            client,
            "SELECT nextval('batch_ids') FROM generate_series(1::bigint, $1::bigint)",
        )?;
        let drawn: Vec<i64> = client
            .query(&numbers, &[&(hosts.len() as i64)])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(BatchNumbers {
            numbers: hosts.into_iter().zip(drawn).collect(),
        })
    }

    /// The number of event `index`'s host.
    fn of(&self, events: &EventBatch, index: usize) -> i64 {
        let host = events.table().values(index).host;
        self.numbers
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, number)| *number)
            .expect("a number is drawn for every host of the batch")
    }

    /// The number of the host named `host`.
    fn of_name(&self, events: &EventBatch, host: &str) -> Result<i64> {
        self.numbers
            .iter()
            .find(|(h, _)| events.table().name(*h) == host)
            .map(|(_, number)| *number)
            .ok_or_else(|| StoreError::Database(format!("accepted events of {host} without a batch")))
    }
}

/// A segment whose batch has no row (so no seq): its events belong to no entry.
fn unbatched(number: i64, batch: i64) -> StoreError {
    StoreError::corrupt(
        format!("segment:{number}"),
        format!("it names batch {batch}, which has no row (no seq)"),
    )
}

/// How the keys of a transaction were claimed.
enum Claim {
    /// Every candidate was new: all are claimed.
    All,
    /// A candidate was already stored: the transaction is aborted and must start again
    /// with [`claim_keys`].
    Taken,
    /// Not copied (the connection's last batch had a stored key): [`claim_keys`] claims.
    NotTried,
}

/// Claims the candidates' keys by binary `COPY`, on the assumption that they are all
/// new (a host's batches nearly always are). A plain insert is about twice as fast as
/// `INSERT … ON CONFLICT DO NOTHING` (which inserts each row speculatively); the first
/// stored key fails the copy with a unique violation, and the caller starts the
/// transaction again on the slower path. Must be the transaction's first write.
fn copy_new_keys(
    client: &mut Client,
    events: &EventBatch,
    candidates: &[usize],
    numbered: &BatchNumbers,
) -> Result<Claim> {
    let sink = client.copy_in("COPY event_keys (source, id, leaf, host, day, batch) FROM STDIN BINARY")?;
    let types = [Type::TEXT, Type::TEXT, Type::BYTEA, Type::TEXT, Type::INT4, Type::INT8];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let copied = candidates.iter().try_for_each(|index| {
        let e = events.view(*index);
        writer.write(&[&e.source, &e.id, &e.leaf, &e.host, &e.day, &numbered.of(events, *index)])
    });
    match copied.and_then(|()| writer.finish().map(drop)) {
        Ok(()) => Ok(Claim::All),
        Err(error) if error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(Claim::Taken),
        Err(error) => Err(error.into()),
    }
}

/// Claims the candidates' keys in one `INSERT … ON CONFLICT DO NOTHING`: a key
/// already stored is left to it.
/// Returns the candidates claimed.
fn claim_keys(
    transaction: &mut Client,
    prepared: &mut Prepared,
    events: &EventBatch,
    candidates: &[usize],
    numbered: &BatchNumbers,
) -> Result<HashSet<usize>> {
    let views: Vec<EventView<'_>> = candidates.iter().map(|i| events.view(*i)).collect();
    let sources: Vec<&str> = views.iter().map(|e| e.source).collect();
    let ids: Vec<&str> = views.iter().map(|e| e.id).collect();
    let hosts: Vec<&str> = views.iter().map(|e| e.host).collect();
    let leaves: Vec<&[u8]> = views.iter().map(|e| e.leaf).collect();
    let days: Vec<i32> = views.iter().map(|e| e.day).collect();
    let batches: Vec<i64> = candidates.iter().map(|i| numbered.of(events, *i)).collect();
    let insert = prepared.get(
        transaction,
        "INSERT INTO event_keys (source, id, leaf, host, day, batch)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::integer[], $6::bigint[])
         ON CONFLICT DO NOTHING RETURNING source, id",
    )?;
    let claimed: HashSet<(String, String)> = transaction
        .query(&insert, &[&sources, &ids, &leaves, &hosts, &days, &batches])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(candidates
        .iter()
        .copied()
        .filter(|i| {
            let e = events.view(*i);
            claimed.contains(&(e.source.to_string(), e.id.to_string()))
        })
        .collect())
}

/// The outcome of every event of a batch once the `accepted` ones are claimed: each
/// other one is a duplicate of its stored key (the same leaf) or a conflict with it.
fn outcomes_of(transaction: &mut Client, events: &EventBatch, accepted: &HashSet<usize>) -> Result<Vec<InsertOutcome>> {
    let mut outcomes = vec![InsertOutcome::Accepted; events.len()];
    let rest: Vec<usize> = (0..events.len()).filter(|i| !accepted.contains(i)).collect();
    if rest.is_empty() {
        return Ok(outcomes);
    }
    let sources: Vec<&str> = rest.iter().map(|i| events.view(*i).source).collect();
    let ids: Vec<&str> = rest.iter().map(|i| events.view(*i).id).collect();
    let stored: HashMap<(String, String), Vec<u8>> = transaction
        .query(
            "SELECT k.source, k.id, k.leaf FROM event_keys k
             JOIN unnest($1::text[], $2::text[]) AS u(source, id)
               ON k.source = u.source COLLATE \"C\" AND k.id = u.id COLLATE \"C\"",
            &[&sources, &ids],
        )?
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    for i in rest {
        let e = events.view(i);
        let key = (e.source.to_string(), e.id.to_string());
        let same = stored.get(&key).is_some_and(|leaf| leaf[..] == e.leaf[..]);
        outcomes[i] = if same {
            InsertOutcome::Duplicate
        } else {
            InsertOutcome::Conflict
        };
    }
    Ok(outcomes)
}

/// A segment to store: its batch, host, day, event count, bytes and rollup.
pub(super) struct SegmentInsert {
    batch: i64,
    host: String,
    day: i32,
    count: i32,
    bytes: Vec<u8>,
    rollup: Vec<u8>,
}

/// The segments of a batch's accepted events, each with its host's batch id.
pub(super) fn accepted_segments(
    events: &EventBatch,
    outcomes: &[InsertOutcome],
    parts: &[HostPart],
    batches: &[i64],
) -> Result<Vec<SegmentInsert>> {
    let mut segments = Vec::with_capacity(events.segments.len());
    let accepted = |index: usize| outcomes[index] == InsertOutcome::Accepted;
    for group in &events.segments {
        let mut bytes = Vec::new();
        let count = group.segment(accepted, &mut bytes)?;
        if count == 0 {
            continue;
        }
        let first = events.view(group.first);
        let part = parts
            .iter()
            .position(|p| p.host == first.host)
            .ok_or_else(|| StoreError::Database(format!("accepted events of {} without a batch", first.host)))?;
        segments.push(SegmentInsert {
            batch: batches[part],
            host: first.host.to_string(),
            day: first.day,
            count: i32::try_from(count).map_err(|_| StoreError::Database("a segment over 2^31 events".into()))?,
            bytes,
            rollup: events.rollup(group, accepted)?,
        });
    }
    Ok(segments)
}

/// Stores segments and their rollups in one statement (a segment is one host and
/// day of its batch: the rollup finds its segment's number by them).
pub(super) fn insert_segments(
    transaction: &mut impl postgres::GenericClient,
    prepared: &mut Prepared,
    segments: &[SegmentInsert],
) -> Result<()> {
    let insert = prepared.get(
        transaction,
        "WITH given AS (
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::integer[], $5::bytea[], $6::bytea[])
                 AS t (batch, host, day, count, events, rollup)),
         stored AS (
             INSERT INTO segments (batch, host, day, count, events)
             SELECT batch, host, day, count, events FROM given RETURNING number, batch, host, day)
         INSERT INTO segment_rollups (number, rollup)
         SELECT stored.number, given.rollup FROM stored JOIN given USING (batch, host, day)",
    )?;
    let batches: Vec<i64> = segments.iter().map(|s| s.batch).collect();
    let hosts: Vec<&str> = segments.iter().map(|s| s.host.as_str()).collect();
    let days: Vec<i32> = segments.iter().map(|s| s.day).collect();
    let counts: Vec<i32> = segments.iter().map(|s| s.count).collect();
    let bytes: Vec<&[u8]> = segments.iter().map(|s| &s.bytes[..]).collect();
    let rollups: Vec<&[u8]> = segments.iter().map(|s| &s.rollup[..]).collect();
    let stored = transaction.execute(&insert, &[&batches, &hosts, &days, &counts, &bytes, &rollups])?;
    if stored != segments.len() as u64 {
        return Err(StoreError::Database(format!(
            "{stored} rollups stored for {} segments",
            segments.len()
        )));
    }
    Ok(())
}

impl Events for PgStore {
    fn insert_events(&mut self, batch: &EventBatch) -> Result<Staged> {
        let staged = self.stage_batch(batch);
        if staged.is_err() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        staged
    }

    fn finish_events(&mut self, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()> {
        let stored = self.store_batch(batch, staged, entries);
        if stored.is_err() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        stored
    }

    fn scan_events(
        &mut self,
        host: &str,
        start: i32,
        end: i32,
        after: Seq,
        through: Seq,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        // The window is applied here, from the few batches the days hold, rather than
        // by a join the planner may turn into a nested loop over a month of events.
        let seqs = self.batch_seqs(host, start, end)?;
        let params: [&(dyn ToSql + Sync); 3] = [&host, &start, &end];
        let mut rows = self.client.query_raw(
            "SELECT number, batch, day, events FROM segments WHERE host = $1 AND day >= $2 AND day < $3",
            params,
        )?;
        while let Some(row) = rows.next()? {
            let (number, batch): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let seq = *seqs.get(&batch).ok_or_else(|| unbatched(number, batch))?;
            if after < seq && seq <= through {
                let segment = SegmentRow {
                    number,
                    host,
                    day: row.try_get(2)?,
                    seq,
                    bytes: row.try_get(3)?,
                };
                segment::decode(&segment, visit)?;
            }
        }
        Ok(())
    }

    fn scan_rollups(
        &mut self,
        host: &str,
        start: i32,
        end: i32,
        through: Seq,
        visit: &mut VisitRollup<'_>,
    ) -> Result<()> {
        let through = crate::seq_i64(through)?;
        // As in `scan_events`: the window from the few batches the days hold.
        let seqs = self.batch_seqs(host, start, end)?;
        let params: [&(dyn ToSql + Sync); 3] = [&host, &start, &end];
        let mut rows = self.client.query_raw(
            "SELECT s.number, s.batch, s.day, r.rollup FROM segments s
             LEFT JOIN segment_rollups r ON r.number = s.number
             WHERE s.host = $1 AND s.day >= $2 AND s.day < $3",
            params,
        )?;
        while let Some(row) = rows.next()? {
            let (number, batch): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let seq = *seqs.get(&batch).ok_or_else(|| unbatched(number, batch))?;
            if seq <= through {
                let seq = crate::stored_seq(seq, || format!("event_batches:{batch}"))?;
                visit(&StoredRollup::read(number, row.try_get(2)?, seq, row.try_get(3)?)?)?;
            }
        }
        Ok(())
    }

    fn has_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM segments s JOIN event_batches b ON b.batch = s.batch
                 WHERE s.host = $1 AND s.day >= $2 AND s.day < $3 AND b.seq > $4 AND b.seq <= $5)",
                &[&host, &start, &end, &after, &through],
            )?
            .get(0))
    }

    fn scan_batch_except(&mut self, seq: Seq, host: &str, start: i32, end: i32, visit: &mut Visit<'_>) -> Result<()> {
        let seq = crate::seq_i64(seq)?;
        let batches: Vec<i64> = self
            .query("SELECT batch FROM event_batches WHERE seq = $1", &[&seq])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let params: [&(dyn ToSql + Sync); 4] = [&batches, &host, &start, &end];
        let mut rows = self.client.query_raw(
            "SELECT number, host, day, events FROM segments
             WHERE batch = ANY($1) AND NOT (host = $2 AND day >= $3 AND day < $4)",
            params,
        )?;
        while let Some(row) = rows.next()? {
            let segment = SegmentRow {
                number: row.try_get(0)?,
                host: row.try_get(1)?,
                day: row.try_get(2)?,
                seq,
                bytes: row.try_get(3)?,
            };
            segment::decode(&segment, visit)?;
        }
        Ok(())
    }

    fn count_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<u64> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        // Batches say their days: most questions are answered without reading events.
        let batches: Vec<(i64, i32, i32, i64)> = self
            .query(
                "SELECT batch, first_day, last_day, count FROM event_batches
                 WHERE host = $1 AND seq > $2 AND seq <= $3 AND last_day >= $4 AND first_day < $5",
                &[&host, &after, &through, &start, &end],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        if batches.iter().all(|(_, first, last, _)| *first >= start && *last < end) {
            return Ok(batches.iter().map(|b| b.3 as u64).sum());
        }
        let ids: Vec<i64> = batches.iter().map(|b| b.0).collect();
        let count: i64 = self
            .query_one(
                "SELECT coalesce(sum(count), 0)::bigint FROM segments
                 WHERE host = $1 AND day >= $2 AND day < $3 AND batch = ANY($4)",
                &[&host, &start, &end, &ids],
            )?
            .get(0);
        Ok(count as u64)
    }

    fn event_hosts(&mut self, start: i32, end: i32, through: Seq) -> Result<Vec<(String, u64)>> {
        let through = crate::seq_i64(through)?;
        let seqs: HashMap<i64, i64> = self
            .query("SELECT batch, seq FROM event_batches", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut hosts: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for row in self.query(
            "SELECT host, batch, sum(count)::bigint FROM segments WHERE day >= $1 AND day < $2 GROUP BY host, batch",
            &[&start, &end],
        )? {
            let batch: i64 = row.get(1);
            if seqs.get(&batch).is_some_and(|seq| *seq <= through) {
                let count: i64 = row.get(2);
                *hosts.entry(row.get(0)).or_default() += count as u64;
            }
        }
        Ok(hosts.into_iter().collect())
    }

    fn scan_all_segments(&mut self, visit: &mut dyn FnMut(&StoredSegment<'_>) -> Result<()>) -> Result<()> {
        let seqs: HashMap<i64, i64> = self
            .query("SELECT batch, seq FROM event_batches", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        // In batch order (each batch is one seq), through the index on `batch`.
        let mut rows = self.client.query_raw(
            "SELECT s.number, s.batch, s.host, s.day, s.count, s.events, r.rollup FROM segments s
             LEFT JOIN segment_rollups r ON r.number = s.number ORDER BY s.batch, s.number",
            std::iter::empty::<&(dyn ToSql + Sync)>(),
        )?;
        while let Some(row) = rows.next()? {
            let batch: i64 = row.try_get(1)?;
            // Events of a batch without its seq are still visited (at seq 0), so that
            // `audit verify` names them instead of never seeing them.
            visit(&StoredSegment {
                number: row.try_get(0)?,
                batch,
                host: row.try_get(2)?,
                day: row.try_get(3)?,
                seq: match seqs.get(&batch) {
                    Some(&seq) => crate::stored_seq(seq, || format!("event_batches:{batch}"))?,
                    None => Seq::ZERO,
                },
                count: i64::from(row.try_get::<_, i32>(4)?),
                bytes: row.try_get(5)?,
                rollup: row.try_get(6)?,
            })?;
        }
        Ok(())
    }

    fn batch_rows(&mut self) -> Result<Vec<BatchRow>> {
        self.query(
            "SELECT batch, seq, host, first_day, last_day, count FROM event_batches ORDER BY batch",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(BatchRow {
                batch: r.get(0),
                seq: seq_at(r, 1, "event_batches", 0)?,
                host: r.get(2),
                first_day: r.get(3),
                last_day: r.get(4),
                count: r.get(5),
            })
        })
        .collect()
    }

    fn event_key(&mut self, source: &str, id: &str) -> Result<Option<KeyRow>> {
        self.query_opt(
            "SELECT leaf, host, day, batch FROM event_keys WHERE source = $1 AND id = $2",
            &[&source, &id],
        )?
        .map(|r| {
            Ok(KeyRow {
                source: source.to_string(),
                id: id.to_string(),
                leaf: leaf_of(source, id, r.get(0))?,
                host: r.get(1),
                day: r.get(2),
                batch: r.get(3),
            })
        })
        .transpose()
    }

    fn scan_key_events(&mut self, key: &KeyRow, visit: &mut Visit<'_>) -> Result<()> {
        let Some(batch) = key.batch else {
            return self.scan_events(&key.host, key.day, key.day + 1, Seq::ZERO, Seq::MAX, visit);
        };
        let rows = self.query(
            "SELECT s.number, b.seq, s.events FROM segments s LEFT JOIN event_batches b ON b.batch = s.batch
             WHERE s.batch = $1 AND s.host = $2 AND s.day = $3",
            &[&batch, &key.host, &key.day],
        )?;
        for row in &rows {
            let number: i64 = row.try_get(0)?;
            let seq: Option<i64> = row.try_get(1)?;
            let segment = SegmentRow {
                number,
                host: &key.host,
                day: key.day,
                seq: seq.ok_or_else(|| unbatched(number, batch))?,
                bytes: row.try_get(2)?,
            };
            segment::decode(&segment, visit)?;
        }
        Ok(())
    }

    fn scan_keys(&mut self, visit: &mut dyn FnMut(&KeyRow) -> Result<()>) -> Result<()> {
        let mut rows = self.client.query_raw(
            "SELECT source, id, leaf, host, day, batch FROM event_keys",
            std::iter::empty::<&(dyn ToSql + Sync)>(),
        )?;
        while let Some(r) = rows.next()? {
            let (source, id): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            visit(&KeyRow {
                leaf: leaf_of(&source, &id, r.try_get(2)?)?,
                source,
                id,
                host: r.try_get(3)?,
                day: r.try_get(4)?,
                batch: r.try_get(5)?,
            })?;
        }
        Ok(())
    }

    fn add_void(&mut self, row: &VoidRow) -> Result<i64> {
        let inserted = self.query_one(
            "INSERT INTO voids (source, id, host, day, leaf, reason, actor, voided_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING number",
            &[
                &row.source,
                &row.id,
                &row.host,
                &row.day,
                &row.leaf,
                &row.reason,
                &row.actor,
                &row.voided_at,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(inserted.get(0))
    }

    fn voids(&mut self) -> Result<Vec<VoidRow>> {
        self.query(&format!("SELECT {VOID_COLUMNS} FROM voids ORDER BY number"), &[])?
            .iter()
            .map(void_row)
            .collect()
    }

    fn voids_in(&mut self, host: &str, start: i32, end: i32, through: Seq) -> Result<Vec<VoidRow>> {
        let through = crate::seq_i64(through)?;
        self.query(
            &format!(
                "SELECT {VOID_COLUMNS} FROM voids WHERE host = $1 AND day >= $2 AND day < $3 AND seq <= $4 \
                 ORDER BY number"
            ),
            &[&host, &start, &end, &through],
        )?
        .iter()
        .map(void_row)
        .collect()
    }

    fn has_voids(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM voids
                 WHERE host = $1 AND day >= $2 AND day < $3 AND seq > $4 AND seq <= $5)",
                &[&host, &start, &end, &after, &through],
            )?
            .get(0))
    }

    fn void_of(&mut self, source: &str, id: &str) -> Result<Option<VoidRow>> {
        self.query(
            &format!("SELECT {VOID_COLUMNS} FROM voids WHERE source = $1 AND id = $2"),
            &[&source, &id],
        )?
        .first()
        .map(void_row)
        .transpose()
    }
}
