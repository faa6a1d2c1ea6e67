//! [`AuditLog`] in PostgreSQL: the audit entries, signing keys, the log's tree
//! nodes, checkpoints, cosignatures, witness keys and rollbacks.

use std::collections::HashMap;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use revshare_core::audit::{Entry, Head, Seq};

use super::{seq_at, PgStore, Prepared};
use crate::backend::{AuditLog, CheckpointRow, CosignatureRow, Result, RollbackRow, SigningKeyRow, WitnessKeyRow};
use crate::columns::*;
use crate::StoreError;

fn entry_from_row(r: &postgres::Row) -> Result<Entry> {
    entry_at(r, 0)
}

/// The entry whose [`ENTRY_COLUMNS`] start at column `at`.
pub(super) fn entry_at(r: &postgres::Row, at: usize) -> Result<Entry> {
    crate::entry_from_columns((
        r.get(at),
        [
            r.get(at + 1),
            r.get(at + 2),
            r.get(at + 3),
            r.get(at + 4),
            r.get(at + 5),
            r.get(at + 6),
            r.get(at + 7),
            r.get(at + 8),
        ],
    ))
}

/// Appends audit entries on a connection or inside a transaction.
pub(super) fn insert_audit(
    client: &mut impl postgres::GenericClient,
    prepared: &mut Prepared,
    entries: &[Entry],
) -> Result<()> {
    let insert = prepared.get(
        client,
        "INSERT INTO audit_log (seq, time, actor, action, object, payload_sha256, digest, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )?;
    for e in entries {
        client.execute(
            &insert,
            &[
                &crate::seq_i64(e.seq)?,
                &e.time,
                &e.actor,
                &e.action.as_str(),
                &e.object,
                &e.payload_sha256,
                &e.digest,
                &e.prev_hash,
                &e.hash,
            ],
        )?;
    }
    Ok(())
}

fn checkpoint_of(r: &postgres::Row) -> CheckpointRow {
    CheckpointRow {
        size: r.get(0),
        note: r.get(1),
    }
}

impl AuditLog for PgStore {
    fn append_audit(&mut self, entries: &[Entry]) -> Result<()> {
        insert_audit(&mut self.client, &mut self.prepared, entries)
    }

    fn audit_head(&mut self) -> Result<Head> {
        self.head()
    }

    fn audit_entries(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>> {
        let after = crate::seq_i64(after)?;
        self.query(
            &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &(limit as i64)],
        )?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    fn audit_entry(&mut self, seq: Seq) -> Result<Option<Entry>> {
        let seq = crate::seq_i64(seq)?;
        self.query_opt(
            &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = $1"),
            &[&seq],
        )?
        .map(|r| entry_from_row(&r))
        .transpose()
    }

    fn audit_entries_at(&mut self, seqs: &[Seq]) -> Result<Vec<Entry>> {
        let seqs: Vec<i64> = seqs.iter().map(|s| crate::seq_i64(*s)).collect::<Result<_>>()?;
        self.query(
            &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = ANY($1) ORDER BY seq"),
            &[&seqs],
        )?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    fn latest_entry_about(&mut self, object: &str) -> Result<Option<Seq>> {
        self.query_one("SELECT max(seq) FROM audit_log WHERE object = $1", &[&object])?
            .get::<_, Option<i64>>(0)
            .map(|seq| crate::stored_seq(seq, || format!("audit:{seq}")))
            .transpose()
    }

    fn latest_entries_about(&mut self, objects: &[String]) -> Result<HashMap<String, Seq>> {
        self.query(
            "SELECT object, max(seq) FROM audit_log WHERE object = ANY($1) GROUP BY object",
            &[&objects],
        )?
        .iter()
        .map(|r| {
            let object: String = r.get(0);
            let seq = crate::stored_seq(r.get(1), || format!("audit about {object}"))?;
            Ok((object, seq))
        })
        .collect()
    }

    fn add_signing_key(&mut self, row: &SigningKeyRow) -> Result<()> {
        self.execute(
            "INSERT INTO signing_keys (key_id, alg, public_key, created_at, seq) VALUES ($1, $2, $3, $4, $5)",
            &[
                &row.key_id,
                &row.alg,
                &row.public_key,
                &row.created_at,
                &crate::seq_i64(row.seq)?,
            ],
        )?;
        Ok(())
    }

    fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>> {
        self.query(
            "SELECT key_id, alg, public_key, created_at, seq FROM signing_keys ORDER BY seq, key_id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(SigningKeyRow {
                key_id: r.get(0),
                alg: r.get(1),
                public_key: r.get(2),
                created_at: r.get(3),
                seq: seq_at(r, 4, "signing_keys", 0)?,
            })
        })
        .collect()
    }

    fn log_nodes(&mut self, indexes: &[u64]) -> Result<Vec<[u8; 32]>> {
        let wanted: Vec<i64> = indexes.iter().map(|i| *i as i64).collect();
        let found: HashMap<i64, Vec<u8>> = self
            .query("SELECT idx, hash FROM audit_tree WHERE idx = ANY($1)", &[&wanted])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        indexes
            .iter()
            .map(|index| {
                let hash = found.get(&(*index as i64)).ok_or_else(|| {
                    StoreError::corrupt(format!("audit_tree:{index}"), "a stored hash of the log is missing")
                })?;
                hash.as_slice().try_into().map_err(|_| {
                    StoreError::corrupt(
                        format!("audit_tree:{index}"),
                        "a stored hash of the log is not 32 bytes",
                    )
                })
            })
            .collect()
    }

    fn add_log_nodes(&mut self, first: u64, hashes: &[[u8; 32]]) -> Result<()> {
        let indexes: Vec<i64> = (first..).take(hashes.len()).map(|i| i as i64).collect();
        let bytes: Vec<&[u8]> = hashes.iter().map(|h| &h[..]).collect();
        self.execute(
            "INSERT INTO audit_tree (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
            &[&indexes, &bytes],
        )?;
        Ok(())
    }

    fn scan_log_nodes(&mut self, visit: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut rows = self.client.query_raw(
            "SELECT idx, hash FROM audit_tree ORDER BY idx",
            std::iter::empty::<&(dyn ToSql + Sync)>(),
        )?;
        while let Some(row) = rows.next()? {
            let index: i64 = row.try_get(0)?;
            let index = u64::try_from(index)
                .map_err(|_| StoreError::corrupt(format!("audit_tree:{index}"), "a negative index"))?;
            visit(index, row.try_get(1)?)?;
        }
        Ok(())
    }

    fn newest_checkpoint(&mut self) -> Result<Option<CheckpointRow>> {
        Ok(self
            .query_opt("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", &[])?
            .as_ref()
            .map(checkpoint_of))
    }

    fn checkpoint(&mut self, size: i64) -> Result<Option<CheckpointRow>> {
        Ok(self
            .query_opt("SELECT size, note FROM checkpoints WHERE size = $1", &[&size])?
            .as_ref()
            .map(checkpoint_of))
    }

    fn checkpoints(&mut self) -> Result<Vec<CheckpointRow>> {
        Ok(self
            .query("SELECT size, note FROM checkpoints ORDER BY size", &[])?
            .iter()
            .map(checkpoint_of)
            .collect())
    }

    fn put_checkpoint(&mut self, row: &CheckpointRow) -> Result<()> {
        self.execute(
            "INSERT INTO checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING",
            &[&row.size, &row.note],
        )?;
        Ok(())
    }

    fn drop_checkpoint(&mut self, size: i64) -> Result<()> {
        self.execute("DELETE FROM checkpoints WHERE size = $1", &[&size])?;
        Ok(())
    }

    fn anchored(&mut self, size: i64) -> Result<bool> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM statements WHERE close_seq = $1)",
                &[&size],
            )?
            .get(0))
    }

    fn put_cosignature(&mut self, row: &CosignatureRow) -> Result<()> {
        self.execute(
            "INSERT INTO cosignatures (size, vkey, line, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (size, vkey) DO UPDATE SET line = excluded.line, received_at = excluded.received_at",
            &[&row.size, &row.vkey, &row.line, &row.received_at],
        )?;
        Ok(())
    }

    fn cosignatures(&mut self, size: Option<i64>) -> Result<Vec<CosignatureRow>> {
        Ok(self
            .query(
                "SELECT size, vkey, line, received_at FROM cosignatures
                 WHERE $1::bigint IS NULL OR size = $1 ORDER BY size, vkey",
                &[&size],
            )?
            .iter()
            .map(|r| CosignatureRow {
                size: r.get(0),
                vkey: r.get(1),
                line: r.get(2),
                received_at: r.get(3),
            })
            .collect())
    }

    fn add_witness_key(&mut self, row: &WitnessKeyRow) -> Result<i64> {
        Ok(self
            .query_one(
                "INSERT INTO witness_keys (party, vkey, added_at, seq) VALUES ($1, $2, $3, $4) RETURNING number",
                &[&row.party, &row.vkey, &row.added_at, &crate::seq_i64(row.seq)?],
            )?
            .get(0))
    }

    fn witness_keys(&mut self) -> Result<Vec<WitnessKeyRow>> {
        self.query(
            "SELECT number, party, vkey, added_at, seq FROM witness_keys ORDER BY number",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(WitnessKeyRow {
                number: r.get(0),
                party: r.get(1),
                vkey: r.get(2),
                added_at: r.get(3),
                seq: seq_at(r, 4, "witness_keys", 0)?,
            })
        })
        .collect()
    }

    fn add_rollback(&mut self, row: &RollbackRow) -> Result<i64> {
        Ok(self
            .query_one(
                "INSERT INTO rollbacks (from_size, from_root, to_size, reason, actor, accepted_at, seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING number",
                &[
                    &row.from_size,
                    &row.from_root,
                    &row.to_size,
                    &row.reason,
                    &row.actor,
                    &row.accepted_at,
                    &crate::seq_i64(row.seq)?,
                ],
            )?
            .get(0))
    }

    fn rollbacks(&mut self) -> Result<Vec<RollbackRow>> {
        self.query(
            "SELECT number, from_size, from_root, to_size, reason, actor, accepted_at, seq FROM rollbacks
                 ORDER BY number",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(RollbackRow {
                number: r.get(0),
                from_size: r.get(1),
                from_root: r.get(2),
                to_size: r.get(3),
                reason: r.get(4),
                actor: r.get(5),
                accepted_at: r.get(6),
                seq: seq_at(r, 7, "rollbacks", 0)?,
            })
        })
        .collect()
    }
}
