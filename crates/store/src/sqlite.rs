//! The embedded backend: one SQLite file (WAL, `synchronous = FULL`: a committed
//! import survives a crash of the process or the machine).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::backend::{
    mark_late, Backend, ContractRow, ContributionRow, EventBatch, EventLayout, FxRow, InsertOutcome, Result,
    StatementRow, Visit,
};
use crate::segment::{self, SegmentRow};
use crate::StoreError;

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/sqlite/001_initial.sql")];

pub struct SqliteStore {
    connection: Connection,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Database(error.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let mut connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        // Schema 1 kept one row per event in builds before segments. Such a file is
        // refused before anything (even the journal mode) is written to it: saying so
        // beats a missing-table error halfway through an import.
        let applied: i64 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let segments: i64 = connection.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'segments'",
            [],
            |r| r.get(0),
        )?;
        if applied >= 1 && segments == 0 {
            return Err(StoreError::Refused(format!(
                "{}: this store was made by a pre-release build of revshare with another event layout; \
                 create a new store (revshare init) and import its usage again",
                path.display()
            )));
        }
        // Larger pages hold a segment in fewer overflow pages and mean fewer splits of
        // the key index; the size takes effect only on a new file, before WAL mode is set.
        connection.execute_batch("PRAGMA page_size = 16384")?;
        // A 64 MiB page cache bounds an import's memory whatever the file's size
        // (imports append, so their hot pages are few; 256 MiB measured no faster).
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )?;
        let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            transaction.execute_batch(sql)?;
            transaction.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        }
        transaction.commit()?;
        Ok(SqliteStore { connection })
    }
}

fn statement_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StatementRow> {
    Ok(StatementRow {
        statement_id: row.get(0)?,
        contract: row.get(1)?,
        period: row.get(2)?,
        host: row.get(3)?,
        start_day: row.get(4)?,
        end_day: row.get(5)?,
        watermark: row.get(6)?,
        settled: row.get(7)?,
        json: row.get(8)?,
        closed_at: row.get(9)?,
    })
}

const STATEMENT_COLUMNS: &str =
    "statement_id, contract, period, host, start_day, end_day, watermark, settled, json, closed_at";

impl Backend for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .connection
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.connection.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    fn add_contract(&mut self, row: &ContractRow) -> Result<bool> {
        let inserted = self.connection.execute(
            "INSERT INTO contracts (id, version, licensor, host, file_name, sha256, toml, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id, version) DO NOTHING",
            params![
                row.id,
                row.version,
                row.licensor,
                row.host,
                row.file_name,
                row.sha256,
                row.toml,
                row.added_at
            ],
        )?;
        Ok(inserted == 1)
    }

    fn contracts(&mut self) -> Result<Vec<ContractRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, version, licensor, host, file_name, sha256, toml, added_at FROM contracts ORDER BY id, version",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(ContractRow {
                id: r.get(0)?,
                version: r.get(1)?,
                licensor: r.get(2)?,
                host: r.get(3)?,
                file_name: r.get(4)?,
                sha256: r.get(5)?,
                toml: r.get(6)?,
                added_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()> {
        let transaction = self.connection.transaction()?;
        {
            let mut insert = transaction
                .prepare("INSERT INTO fx_rates (date, from_currency, to_currency, rate) VALUES (?1, ?2, ?3, ?4)")?;
            for row in rows {
                insert.execute(params![row.date, row.from, row.to, row.rate])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    fn fx(&mut self) -> Result<Vec<FxRow>> {
        let mut statement = self.connection.prepare(
            "SELECT date, from_currency, to_currency, rate FROM fx_rates ORDER BY from_currency, to_currency, date",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(FxRow {
                date: r.get(0)?,
                from: r.get(1)?,
                to: r.get(2)?,
                rate: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_models(&mut self, rows: &[(String, String)]) -> Result<()> {
        let transaction = self.connection.transaction()?;
        transaction.execute("DELETE FROM models", [])?;
        for (position, (pattern, licensor)) in rows.iter().enumerate() {
            transaction.execute(
                "INSERT INTO models (position, pattern, licensor) VALUES (?1, ?2, ?3)",
                params![position as i64, pattern, licensor],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn models(&mut self) -> Result<Vec<(String, String)>> {
        let mut statement = self
            .connection
            .prepare("SELECT pattern, licensor FROM models ORDER BY position")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64> {
        self.connection.execute(
            "INSERT INTO contributions (contract, by_party, kind, date, status, reference, proposed_at, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                row.contract,
                row.by,
                row.kind,
                row.date,
                row.status,
                row.reference,
                row.proposed_at,
                row.decided_at
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn decide_contribution(&mut self, number: i64, status: &str, at: &str) -> Result<bool> {
        let changed = self.connection.execute(
            "UPDATE contributions SET status = ?2, decided_at = ?3 WHERE number = ?1 AND status = 'proposed'",
            params![number, status, at],
        )?;
        Ok(changed == 1)
    }

    fn contributions(&mut self) -> Result<Vec<ContributionRow>> {
        let mut statement = self.connection.prepare(
            "SELECT number, contract, by_party, kind, date, status, reference, proposed_at, decided_at
             FROM contributions ORDER BY number",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(ContributionRow {
                number: r.get(0)?,
                contract: r.get(1)?,
                by: r.get(2)?,
                kind: r.get(3)?,
                date: r.get(4)?,
                status: r.get(5)?,
                reference: r.get(6)?,
                proposed_at: r.get(7)?,
                decided_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn event_layout(&self) -> EventLayout {
        EventLayout::Segments
    }

    fn insert_events(&mut self, batch: &mut EventBatch) -> Result<Vec<InsertOutcome>> {
        let groups = match batch.segments.take() {
            Some(groups) => groups,
            None => segment::encode_groups(&batch.rows)?,
        };
        let events = &mut batch.rows;
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(events.len());
        {
            let closed: Vec<(String, i32, i32)> = transaction
                .prepare_cached("SELECT DISTINCT host, start_day, end_day FROM statements")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            mark_late(events, &closed);
            // The key first: it decides whether the event is stored at all.
            let mut claim = transaction.prepare_cached(
                "INSERT INTO event_keys (source, id, leaf) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )?;
            let mut existing =
                transaction.prepare_cached("SELECT leaf FROM event_keys WHERE source = ?1 AND id = ?2")?;
            for e in events.iter() {
                if claim.execute(params![e.source, e.id, &e.leaf[..]])? == 1 {
                    outcomes.push(InsertOutcome::Accepted);
                } else {
                    let leaf: Vec<u8> = existing.query_row(params![e.source, e.id], |r| r.get(0))?;
                    outcomes.push(if leaf == e.leaf {
                        InsertOutcome::Duplicate
                    } else {
                        InsertOutcome::Conflict
                    });
                }
            }
            // Then the accepted events, one segment per host and day, in arrival order.
            let mut next: i64 = transaction.query_row("SELECT value FROM next_seq", [], |r| r.get(0))?;
            let mut insert = transaction.prepare_cached(
                "INSERT INTO segments (host, day, seq_first, count, late, events) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut bytes = Vec::new();
            for group in &groups {
                let count = group.segment(|index| outcomes[index] == InsertOutcome::Accepted, &mut bytes)?;
                if count == 0 {
                    continue;
                }
                let first = &events[group.first];
                assert!(
                    group.indices().all(|index| events[index].late == first.late),
                    "lateness depends on host and day only"
                );
                insert.execute(params![first.host, first.day, next, count as i64, first.late, bytes])?;
                next += count as i64;
            }
            transaction.execute("UPDATE next_seq SET value = ?1", [next])?;
        }
        transaction.commit()?;
        Ok(outcomes)
    }

    fn scan_events(
        &mut self,
        host: &str,
        start: i32,
        end: i32,
        after: i64,
        through: i64,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        // A segment's seqs are consecutive from `seq_first`, so those that may hold a
        // seq in the window start before its end and end after its start.
        let mut statement = self.connection.prepare_cached(
            "SELECT day, seq_first, events FROM segments
             WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq_first <= ?5 AND seq_first + count > ?4 + 1",
        )?;
        let mut rows = statement.query(params![host, start, end, after, through])?;
        while let Some(row) = rows.next()? {
            let segment = SegmentRow {
                host,
                day: row.get(0)?,
                seq_first: row.get(1)?,
                bytes: row.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?,
            };
            segment::decode(&segment, after, through, visit)?;
        }
        Ok(())
    }

    fn late_events_after(&mut self, host: &str, start: i32, end: i32, after: i64) -> Result<u64> {
        // No watermark falls inside a segment (see segment.rs), so whole segments count.
        let count: i64 = self.connection.query_row(
            "SELECT coalesce(sum(count), 0) FROM segments
             WHERE late = 1 AND host = ?1 AND day >= ?2 AND day < ?3 AND seq_first > ?4",
            params![host, start, end, after],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    fn max_seq(&mut self) -> Result<i64> {
        Ok(self
            .connection
            .query_row("SELECT value - 1 FROM next_seq", [], |r| r.get(0))?)
    }

    fn statement(&mut self, statement_id: &str) -> Result<Option<StatementRow>> {
        Ok(self
            .connection
            .query_row(
                &format!("SELECT {STATEMENT_COLUMNS} FROM statements WHERE statement_id = ?1"),
                [statement_id],
                statement_from_row,
            )
            .optional()?)
    }

    fn statements(&mut self) -> Result<Vec<StatementRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {STATEMENT_COLUMNS} FROM statements ORDER BY contract, start_day"
        ))?;
        let rows = statement.query_map([], statement_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_statement(&mut self, row: &StatementRow) -> Result<StatementRow> {
        self.connection.execute(
            &format!(
                "INSERT INTO statements ({STATEMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (statement_id) DO NOTHING"
            ),
            params![
                row.statement_id,
                row.contract,
                row.period,
                row.host,
                row.start_day,
                row.end_day,
                row.watermark,
                row.settled,
                row.json,
                row.closed_at
            ],
        )?;
        self.statement(&row.statement_id)?
            .ok_or_else(|| StoreError::Database("a statement vanished right after it was stored".into()))
    }

    fn begin_close(&mut self) -> Result<()> {
        // IMMEDIATE takes the write lock now: imports wait until the close commits.
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.connection.execute_batch("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        self.connection.execute_batch("ROLLBACK")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_with_the_pre_release_event_layout_is_refused_by_name_and_left_alone() {
        let directory = std::env::temp_dir().join(format!("revshare-prerelease-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("old.db");
        let _ = std::fs::remove_file(&path);
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY); PRAGMA user_version = 1;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let error = SqliteStore::open(&path).err().expect("refused");
        assert!(error.to_string().contains("pre-release build"), "{error}");
        assert!(std::fs::read(&path).unwrap() == before, "the old file is untouched");
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
