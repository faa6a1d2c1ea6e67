//! [`AuditLog`] in SQLite: the audit entries, signing keys, the log's tree nodes,
//! checkpoints, cosignatures, witness keys and rollbacks.

use std::collections::HashMap;

use revshare_core::audit::{Entry, Head, Seq};
use rusqlite::{params, Connection, OptionalExtension};

use super::{blob, seq_at, SqliteStore};
use crate::backend::{AuditLog, CheckpointRow, CosignatureRow, Result, RollbackRow, SigningKeyRow, WitnessKeyRow};
use crate::columns::*;
use crate::StoreError;

impl SqliteStore {
    /// The columns of an audit entry, not yet decoded.
    pub(super) fn audit_entry_columns(&mut self, seq: Seq) -> Result<Option<(i64, [String; 8])>> {
        Ok(self
            .connection
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = ?1"),
                [crate::seq_i64(seq)?],
                entry_from_row,
            )
            .optional()?)
    }
}

pub(super) fn head_of(connection: &Connection) -> Result<Head> {
    let row: Option<(i64, String)> = connection
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    crate::head_from(row)
}

pub(super) fn append(connection: &Connection, entries: &[Entry]) -> Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT INTO audit_log (seq, time, actor, action, object, payload_sha256, digest, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for e in entries {
        insert.execute(params![
            crate::seq_i64(e.seq)?,
            e.time,
            e.actor,
            e.action.as_str(),
            e.object,
            e.payload_sha256,
            e.digest,
            e.prev_hash,
            e.hash
        ])?;
    }
    Ok(())
}

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, [String; 8])> {
    Ok((
        row.get(0)?,
        [
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
            row.get(8)?,
        ],
    ))
}

/// A stored hash of the log tree, which must be 32 bytes.
fn node_of(index: u64, bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        StoreError::corrupt(
            format!("audit_tree:{index}"),
            "a stored hash of the log is not 32 bytes",
        )
    })
}

impl AuditLog for SqliteStore {
    fn append_audit(&mut self, entries: &[Entry]) -> Result<()> {
        append(&self.connection, entries)
    }

    fn audit_head(&mut self) -> Result<Head> {
        head_of(&self.connection)
    }

    fn audit_entries(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>> {
        let after = crate::seq_i64(after)?;
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = statement.query_map(params![after, limit as i64], entry_from_row)?;
        rows.map(|r| crate::entry_from_columns(r?)).collect()
    }

    fn audit_entry(&mut self, seq: Seq) -> Result<Option<Entry>> {
        self.audit_entry_columns(seq)?
            .map(crate::entry_from_columns)
            .transpose()
    }

    fn audit_entries_at(&mut self, seqs: &[Seq]) -> Result<Vec<Entry>> {
        let seqs: Vec<i64> = seqs.iter().map(|s| crate::seq_i64(*s)).collect::<Result<_>>()?;
        let mut statement = self
            .connection
            .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = ?1"))?;
        let mut sorted = seqs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut entries = Vec::with_capacity(sorted.len());
        for seq in sorted {
            if let Some(columns) = statement.query_row([seq], entry_from_row).optional()? {
                entries.push(crate::entry_from_columns(columns)?);
            }
        }
        Ok(entries)
    }

    fn latest_entry_about(&mut self, object: &str) -> Result<Option<Seq>> {
        Ok(self.connection.query_row(
            "SELECT max(seq) FROM audit_log WHERE object = ?1",
            [object],
            |r| match r.get::<_, Option<i64>>(0)? {
                Some(_) => seq_at(r, 0, "audit_log", 0).map(Some),
                None => Ok(None),
            },
        )?)
    }

    fn latest_entries_about(&mut self, objects: &[String]) -> Result<HashMap<String, Seq>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT max(seq) FROM audit_log WHERE object = ?1")?;
        let mut latest = HashMap::with_capacity(objects.len());
        for object in objects {
            let seq = statement.query_row([object], |r| match r.get::<_, Option<i64>>(0)? {
                Some(_) => seq_at(r, 0, "audit_log", 0).map(Some),
                None => Ok(None),
            })?;
            if let Some(seq) = seq {
                latest.insert(object.clone(), seq);
            }
        }
        Ok(latest)
    }

    fn add_signing_key(&mut self, row: &SigningKeyRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO signing_keys (key_id, alg, public_key, created_at, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.key_id,
                row.alg,
                row.public_key,
                row.created_at,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(())
    }

    fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT key_id, alg, public_key, created_at, seq FROM signing_keys ORDER BY seq, key_id")?;
        let rows = statement.query_map([], |r| {
            Ok(SigningKeyRow {
                key_id: r.get(0)?,
                alg: r.get(1)?,
                public_key: r.get(2)?,
                created_at: r.get(3)?,
                seq: seq_at(r, 4, "signing_keys", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn log_nodes(&mut self, indexes: &[u64]) -> Result<Vec<[u8; 32]>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT hash FROM audit_tree WHERE idx = ?1")?;
        indexes
            .iter()
            .map(|index| {
                let hash: Option<Vec<u8>> = statement.query_row([*index as i64], |r| r.get(0)).optional()?;
                let hash = hash.ok_or_else(|| {
                    StoreError::corrupt(format!("audit_tree:{index}"), "a stored hash of the log is missing")
                })?;
                node_of(*index, &hash)
            })
            .collect()
    }

    fn add_log_nodes(&mut self, first: u64, hashes: &[[u8; 32]]) -> Result<()> {
        let mut insert = self
            .connection
            .prepare_cached("INSERT INTO audit_tree (idx, hash) VALUES (?1, ?2)")?;
        for (index, hash) in (first..).zip(hashes) {
            insert.execute(params![index as i64, &hash[..]])?;
        }
        Ok(())
    }

    fn scan_log_nodes(&mut self, visit: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut statement = self
            .connection
            .prepare("SELECT idx, hash FROM audit_tree ORDER BY idx")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let index: i64 = row.get(0)?;
            let index = u64::try_from(index)
                .map_err(|_| StoreError::corrupt(format!("audit_tree:{index}"), "a negative index"))?;
            visit(index, blob(row, 1)?)?;
        }
        Ok(())
    }

    fn newest_checkpoint(&mut self) -> Result<Option<CheckpointRow>> {
        Ok(self
            .connection
            .query_row(
                "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| {
                    Ok(CheckpointRow {
                        size: r.get(0)?,
                        note: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn checkpoint(&mut self, size: i64) -> Result<Option<CheckpointRow>> {
        Ok(self
            .connection
            .query_row("SELECT size, note FROM checkpoints WHERE size = ?1", [size], |r| {
                Ok(CheckpointRow {
                    size: r.get(0)?,
                    note: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn checkpoints(&mut self) -> Result<Vec<CheckpointRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT size, note FROM checkpoints ORDER BY size")?;
        let rows = statement.query_map([], |r| {
            Ok(CheckpointRow {
                size: r.get(0)?,
                note: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put_checkpoint(&mut self, row: &CheckpointRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO checkpoints (size, note) VALUES (?1, ?2) ON CONFLICT (size) DO NOTHING",
            params![row.size, row.note],
        )?;
        Ok(())
    }

    fn drop_checkpoint(&mut self, size: i64) -> Result<()> {
        self.connection
            .execute("DELETE FROM checkpoints WHERE size = ?1", [size])?;
        Ok(())
    }

    fn anchored(&mut self, size: i64) -> Result<bool> {
        Ok(self.connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM statements WHERE close_seq = ?1)",
            [size],
            |r| r.get(0),
        )?)
    }

    fn put_cosignature(&mut self, row: &CosignatureRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO cosignatures (size, vkey, line, received_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (size, vkey) DO UPDATE SET line = excluded.line, received_at = excluded.received_at",
            params![row.size, row.vkey, row.line, row.received_at],
        )?;
        Ok(())
    }

    fn cosignatures(&mut self, size: Option<i64>) -> Result<Vec<CosignatureRow>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT size, vkey, line, received_at FROM cosignatures WHERE ?1 IS NULL OR size = ?1 ORDER BY size, vkey",
        )?;
        let rows = statement.query_map([size], |r| {
            Ok(CosignatureRow {
                size: r.get(0)?,
                vkey: r.get(1)?,
                line: r.get(2)?,
                received_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_witness_key(&mut self, row: &WitnessKeyRow) -> Result<i64> {
        self.connection.execute(
            "INSERT INTO witness_keys (party, vkey, added_at, seq) VALUES (?1, ?2, ?3, ?4)",
            params![row.party, row.vkey, row.added_at, crate::seq_i64(row.seq)?],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn witness_keys(&mut self) -> Result<Vec<WitnessKeyRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT number, party, vkey, added_at, seq FROM witness_keys ORDER BY number")?;
        let rows = statement.query_map([], |r| {
            Ok(WitnessKeyRow {
                number: r.get(0)?,
                party: r.get(1)?,
                vkey: r.get(2)?,
                added_at: r.get(3)?,
                seq: seq_at(r, 4, "witness_keys", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_rollback(&mut self, row: &RollbackRow) -> Result<i64> {
        self.connection.execute(
            "INSERT INTO rollbacks (from_size, from_root, to_size, reason, actor, accepted_at, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                row.from_size,
                row.from_root,
                row.to_size,
                row.reason,
                row.actor,
                row.accepted_at,
                crate::seq_i64(row.seq)?
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn rollbacks(&mut self) -> Result<Vec<RollbackRow>> {
        let mut statement = self.connection.prepare(
            "SELECT number, from_size, from_root, to_size, reason, actor, accepted_at, seq FROM rollbacks ORDER BY number",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(RollbackRow {
                number: r.get(0)?,
                from_size: r.get(1)?,
                from_root: r.get(2)?,
                to_size: r.get(3)?,
                reason: r.get(4)?,
                actor: r.get(5)?,
                accepted_at: r.get(6)?,
                seq: seq_at(r, 7, "rollbacks", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
