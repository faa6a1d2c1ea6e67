//! The embedded backend: one SQLite file (WAL, `synchronous = FULL`: a committed
//! import survives a crash of the process or the machine).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::backend::{
    mark_late, Backend, ContractRow, ContributionRow, EventRow, EventView, FxRow, InsertOutcome, Result, StatementRow,
    Visit,
};
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
        // Larger pages mean fewer B-tree splits for the wide, clustered event rows;
        // the size takes effect only on a new file, before WAL mode is set.
        connection.execute_batch("PRAGMA page_size = 16384")?;
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -262144; PRAGMA temp_store = MEMORY;",
        )?;
        let applied: i64 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            transaction.execute_batch(sql)?;
            transaction.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        }
        transaction.commit()?;
        Ok(SqliteStore { connection })
    }
}

const EVENT_COLUMNS: &str =
    "seq, source, id, leaf, host, model, use_case, currency, customer, day, requests, input_tokens, output_tokens, revenue_units";

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

    fn insert_events(&mut self, events: &mut [EventRow]) -> Result<Vec<InsertOutcome>> {
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
            let mut next: i64 = transaction.query_row("SELECT value FROM next_seq", [], |r| r.get(0))?;
            let mut insert = transaction.prepare_cached(
                "INSERT INTO events (source, id, leaf, host, model, use_case, currency, customer, utc_seconds, day,
                                     requests, input_tokens, output_tokens, revenue_units, late, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (source, id) DO NOTHING",
            )?;
            let mut existing = transaction.prepare_cached("SELECT leaf FROM events WHERE source = ?1 AND id = ?2")?;
            for e in events.iter() {
                let inserted = insert.execute(params![
                    e.source,
                    e.id,
                    &e.leaf[..],
                    e.host,
                    e.model,
                    e.use_case,
                    e.currency,
                    e.customer.as_ref().map(|c| &c[..]),
                    e.utc_seconds,
                    e.day,
                    e.requests,
                    e.input_tokens,
                    e.output_tokens,
                    e.revenue_units,
                    e.late,
                    next,
                ])?;
                if inserted == 1 {
                    next += 1;
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
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5"
        ))?;
        let mut rows = statement.query(params![host, start, end, after, through])?;
        while let Some(row) = rows.next()? {
            let text = |i: usize| -> Result<&str> { Ok(row.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?) };
            visit(&EventView {
                seq: row.get(0)?,
                source: text(1)?,
                id: text(2)?,
                leaf: row.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?,
                host: text(4)?,
                model: text(5)?,
                use_case: text(6)?,
                currency: text(7)?,
                customer: row.get_ref(8)?.as_blob_or_null().map_err(rusqlite::Error::from)?,
                day: row.get(9)?,
                requests: row.get(10)?,
                input_tokens: row.get(11)?,
                output_tokens: row.get(12)?,
                revenue_units: text(13)?,
            })?;
        }
        Ok(())
    }

    fn late_events_after(&mut self, host: &str, start: i32, end: i32, after: i64) -> Result<u64> {
        let count: i64 = self.connection.query_row(
            "SELECT count(*) FROM events WHERE late = 1 AND host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4",
            params![host, start, end, after],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    fn max_seq(&mut self) -> Result<i64> {
        Ok(self
            .connection
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?)
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
