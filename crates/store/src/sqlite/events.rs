//! [`Events`] in SQLite: events in segments, their keys, and voids.

use revshare_core::audit::{Entry, Seq};
use rusqlite::{params, Connection, OptionalExtension};

use super::audit::{append, head_of};
use super::{blob, blob_or_none, seq_at, SqliteStore};
use crate::backend::{
    EventBatch, Events, InsertOutcome, KeyRow, Result, Staged, StoredRollup, StoredSegment, Visit, VisitRollup, VoidRow,
};
use crate::columns::*;
use crate::segment::{self, SegmentRow};
use crate::{host_parts, StoreError};

impl SqliteStore {
    /// Claims a batch's keys under the write lock, in the transaction open on
    /// `connection`.
    fn stage_batch(connection: &Connection, batch: &EventBatch) -> Result<Staged> {
        let head = head_of(connection)?;
        let (outcomes, claimed) = claim_keys(connection, batch, head.seq)?;
        let parts = host_parts(batch, &outcomes);
        // The keys name the seqs the parts' entries get: the same hosts in the same order.
        if parts.len() != claimed.len()
            || parts
                .iter()
                .zip(&claimed)
                .any(|(p, h)| p.host != batch.table().name(*h))
        {
            return Err(StoreError::Database(
                "the keys claimed name other batches than the batch's host parts".into(),
            ));
        }
        Ok(Staged::new(head, outcomes, parts, Vec::new()))
    }

    /// Stores a staged batch's accepted events and their entries.
    fn store_batch(connection: &Connection, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()> {
        staged.check(entries)?;
        let mut insert = connection
            .prepare_cached("INSERT INTO segments (host, day, seq, count, events) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut insert_rollup =
            connection.prepare_cached("INSERT INTO segment_rollups (number, rollup) VALUES (?1, ?2)")?;
        let mut bytes = Vec::new();
        let outcomes = staged.outcomes();
        let accepted = |index: usize| outcomes[index] == InsertOutcome::Accepted;
        for group in &batch.segments {
            let count = group.segment(accepted, &mut bytes)?;
            if count == 0 {
                continue;
            }
            let first = batch.view(group.first);
            let seq = staged.seq_of(first.host, entries)?;
            insert.execute(params![first.host, first.day, seq, count as i64, bytes])?;
            let rollup = batch.rollup(group, accepted)?;
            insert_rollup.execute(params![connection.last_insert_rowid(), rollup])?;
        }
        append(connection, entries)
    }
}

fn void_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VoidRow> {
    Ok(VoidRow {
        number: r.get(0)?,
        source: r.get(1)?,
        id: r.get(2)?,
        host: r.get(3)?,
        day: r.get(4)?,
        leaf: r.get(5)?,
        reason: r.get(6)?,
        actor: r.get(7)?,
        voided_at: r.get(8)?,
        seq: seq_at(r, 9, "voids", 0)?,
    })
}

/// An idempotency key's leaf, which must be 32 bytes.
fn leaf_of(source: &str, id: &str, bytes: Vec<u8>) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("event:{source}/{id}"), "its key row's leaf is not 32 bytes"))
}

impl Events for SqliteStore {
    fn insert_events(&mut self, batch: &EventBatch) -> Result<Staged> {
        // IMMEDIATE takes the write lock now; the caller commits or rolls back.
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        let staged = Self::stage_batch(&self.connection, batch);
        if staged.is_err() {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
        staged
    }

    fn finish_events(&mut self, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()> {
        let stored = Self::store_batch(&self.connection, batch, staged, entries);
        if stored.is_err() {
            let _ = self.connection.execute_batch("ROLLBACK");
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
        let mut statement = self.connection.prepare_cached(
            "SELECT number, day, seq, events FROM segments
             WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5",
        )?;
        let mut rows = statement.query(params![host, start, end, after, through])?;
        while let Some(row) = rows.next()? {
            let segment = SegmentRow {
                number: row.get(0)?,
                host,
                day: row.get(1)?,
                seq: row.get(2)?,
                bytes: blob(row, 3)?,
            };
            segment::decode(&segment, visit)?;
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
        let mut statement = self.connection.prepare_cached(
            "SELECT s.number, s.day, s.seq, r.rollup FROM segments s
             LEFT JOIN segment_rollups r ON r.number = s.number
             WHERE s.host = ?1 AND s.day >= ?2 AND s.day < ?3 AND s.seq <= ?4",
        )?;
        let mut rows = statement.query(params![host, start, end, through])?;
        while let Some(row) = rows.next()? {
            let number: i64 = row.get(0)?;
            let rollup = StoredRollup::read(
                number,
                row.get(1)?,
                seq_at(row, 2, "segments", 0)?,
                blob_or_none(row, 3)?,
            )?;
            visit(&rollup)?;
        }
        Ok(())
    }

    fn has_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        Ok(self.connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM segments
                 WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5)",
            params![host, start, end, after, through],
            |r| r.get(0),
        )?)
    }

    fn scan_batch_except(&mut self, seq: Seq, host: &str, start: i32, end: i32, visit: &mut Visit<'_>) -> Result<()> {
        let seq = crate::seq_i64(seq)?;
        let mut statement = self.connection.prepare_cached(
            "SELECT number, host, day, events FROM segments
             WHERE seq = ?1 AND NOT (host = ?2 AND day >= ?3 AND day < ?4)",
        )?;
        let mut rows = statement.query(params![seq, host, start, end])?;
        while let Some(row) = rows.next()? {
            let host: String = row.get(1)?;
            let segment = SegmentRow {
                number: row.get(0)?,
                host: &host,
                day: row.get(2)?,
                seq,
                bytes: blob(row, 3)?,
            };
            segment::decode(&segment, visit)?;
        }
        Ok(())
    }

    fn count_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<u64> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        let count: i64 = self.connection.query_row(
            "SELECT coalesce(sum(count), 0) FROM segments
             WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5",
            params![host, start, end, after, through],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    fn event_hosts(&mut self, start: i32, end: i32, through: Seq) -> Result<Vec<(String, u64)>> {
        let through = crate::seq_i64(through)?;
        let mut statement = self.connection.prepare_cached(
            "SELECT host, sum(count) FROM segments WHERE day >= ?1 AND day < ?2 AND seq <= ?3 GROUP BY host ORDER BY host",
        )?;
        let rows = statement.query_map(params![start, end, through], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn scan_all_segments(&mut self, visit: &mut dyn FnMut(&StoredSegment<'_>) -> Result<()>) -> Result<()> {
        let mut statement = self.connection.prepare(
            "SELECT s.number, s.host, s.day, s.seq, s.count, s.events, r.rollup FROM segments s
                 LEFT JOIN segment_rollups r ON r.number = s.number ORDER BY s.seq, s.number",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let host: String = row.get(1)?;
            visit(&StoredSegment {
                number: row.get(0)?,
                batch: row.get(3)?,
                host: &host,
                day: row.get(2)?,
                seq: seq_at(row, 3, "segments", 0)?,
                count: row.get(4)?,
                bytes: blob(row, 5)?,
                rollup: blob_or_none(row, 6)?,
            })?;
        }
        Ok(())
    }

    fn event_key(&mut self, source: &str, id: &str) -> Result<Option<KeyRow>> {
        let row: Option<(Vec<u8>, String, i32, Option<i64>)> = self
            .connection
            .query_row(
                "SELECT leaf, host, day, batch FROM event_keys WHERE source = ?1 AND id = ?2",
                [source, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(leaf, host, day, batch)| {
            Ok(KeyRow {
                source: source.to_string(),
                id: id.to_string(),
                leaf: leaf_of(source, id, leaf)?,
                host,
                day,
                batch,
            })
        })
        .transpose()
    }

    fn scan_key_events(&mut self, key: &KeyRow, visit: &mut Visit<'_>) -> Result<()> {
        let Some(batch) = key.batch else {
            return self.scan_events(&key.host, key.day, key.day + 1, Seq::ZERO, Seq::MAX, visit);
        };
        // A batch is its entry's seq here: the segment is found by the period index.
        let mut statement = self
            .connection
            .prepare_cached("SELECT number, events FROM segments WHERE host = ?1 AND day = ?2 AND seq = ?3")?;
        let mut rows = statement.query(params![key.host, key.day, batch])?;
        while let Some(row) = rows.next()? {
            let segment = SegmentRow {
                number: row.get(0)?,
                host: &key.host,
                day: key.day,
                seq: batch,
                bytes: blob(row, 1)?,
            };
            segment::decode(&segment, visit)?;
        }
        Ok(())
    }

    fn scan_keys(&mut self, visit: &mut dyn FnMut(&KeyRow) -> Result<()>) -> Result<()> {
        let mut statement = self
            .connection
            .prepare("SELECT source, id, leaf, host, day, batch FROM event_keys")?;
        let mut rows = statement.query([])?;
        while let Some(r) = rows.next()? {
            let (source, id): (String, String) = (r.get(0)?, r.get(1)?);
            visit(&KeyRow {
                leaf: leaf_of(&source, &id, r.get(2)?)?,
                source,
                id,
                host: r.get(3)?,
                day: r.get(4)?,
                batch: r.get(5)?,
            })?;
        }
        Ok(())
    }

    fn add_void(&mut self, row: &VoidRow) -> Result<i64> {
        self.connection.execute(
            "INSERT INTO voids (source, id, host, day, leaf, reason, actor, voided_at, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                row.source,
                row.id,
                row.host,
                row.day,
                row.leaf,
                row.reason,
                row.actor,
                row.voided_at,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn voids(&mut self) -> Result<Vec<VoidRow>> {
        let mut statement = self
            .connection
            .prepare(&format!("SELECT {VOID_COLUMNS} FROM voids ORDER BY number"))?;
        let rows = statement.query_map([], void_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn voids_in(&mut self, host: &str, start: i32, end: i32, through: Seq) -> Result<Vec<VoidRow>> {
        let through = crate::seq_i64(through)?;
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT {VOID_COLUMNS} FROM voids WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq <= ?4 ORDER BY number"
        ))?;
        let rows = statement.query_map(params![host, start, end, through], void_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn has_voids(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool> {
        let (after, through) = (crate::seq_i64(after)?, crate::seq_i64(through)?);
        Ok(self.connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM voids
                 WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5)",
            params![host, start, end, after, through],
            |r| r.get(0),
        )?)
    }

    fn void_of(&mut self, source: &str, id: &str) -> Result<Option<VoidRow>> {
        Ok(self
            .connection
            .query_row(
                &format!("SELECT {VOID_COLUMNS} FROM voids WHERE source = ?1 AND id = ?2"),
                [source, id],
                void_row,
            )
            .optional()?)
    }
}

/// Claims each event's key: the first occurrence of a new key is accepted; a stored
/// key with the same leaf is a duplicate, with another leaf a conflict. Each key
/// claimed names its batch, the seq its host's part will get: the parts follow
/// `head` in the order their hosts' first accepted events come (`host_parts`).
/// Returns the outcomes, and the hosts (by their number in the batch's table) in
/// the order their parts were numbered.
fn claim_keys(transaction: &Connection, events: &EventBatch, head: Seq) -> Result<(Vec<InsertOutcome>, Vec<u32>)> {
    let mut claim = transaction.prepare_cached(
        "INSERT INTO event_keys (source, id, leaf, host, day, batch) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT DO NOTHING",
    )?;
    let mut existing = transaction.prepare_cached("SELECT leaf FROM event_keys WHERE source = ?1 AND id = ?2")?;
    let first = crate::seq_i64(head)?;
    let mut hosts: Vec<u32> = Vec::new();
    let mut outcomes = Vec::with_capacity(events.len());
    for index in 0..events.len() {
        let e = events.view(index);
        let host = events.table().values(index).host;
        let part = hosts.iter().position(|h| *h == host).unwrap_or(hosts.len());
        let batch = first + 1 + part as i64;
        if claim.execute(params![e.source, e.id, e.leaf, e.host, e.day, batch])? == 1 {
            if part == hosts.len() {
                hosts.push(host);
            }
            outcomes.push(InsertOutcome::Accepted);
        } else {
            let leaf: Vec<u8> = existing.query_row(params![e.source, e.id], |r| r.get(0))?;
            outcomes.push(if leaf[..] == e.leaf[..] {
                InsertOutcome::Duplicate
            } else {
                InsertOutcome::Conflict
            });
        }
    }
    Ok((outcomes, hosts))
}
