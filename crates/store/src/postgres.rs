//! The PostgreSQL backend, for deployments that outgrow one machine: stateless API
//! servers scale out in front of it. Events are partitioned by month; a batch claims
//! its keys in one set-based insert, then its events go in by binary `COPY`.
//!
//! Imports take a shared advisory lock and closes an exclusive one (both for the
//! transaction only), so that a close sees every event committed before it and no
//! event can slip in below its watermark.

use std::collections::{HashMap, HashSet};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};
use revshare_core::period::{Cadence, Day};

use crate::backend::{
    mark_late, Backend, ContractRow, ContributionRow, EventBatch, EventRow, EventView, FxRow, InsertOutcome, Result,
    StatementRow, Visit,
};
use crate::StoreError;

const MIGRATIONS: &[&str] = &[include_str!("../migrations/postgres/001_initial.sql")];
/// The advisory lock that orders imports (shared) against closes (exclusive).
const CLOSE_LOCK: i64 = 0x7265_7673_6861_7265; // "revshare"

pub struct PgStore {
    client: Client,
    url: String,
    /// Month partitions known to exist, by their first day.
    partitions: HashSet<i32>,
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> StoreError {
        match error.as_db_error() {
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Database(error.to_string()),
        }
    }
}

impl PgStore {
    pub fn open(url: &str) -> Result<PgStore> {
        let mut client = Client::connect(url, NoTls)
            .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL at {}: {e}", redact(url))))?;
        let mut transaction = client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&(CLOSE_LOCK + 1)])?;
        transaction.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)")?;
        let applied: i64 = transaction
            .query_one("SELECT count(*) FROM schema_migrations", &[])?
            .get(0);
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            transaction.batch_execute(sql)?;
            transaction.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&(index as i32 + 1)],
            )?;
        }
        transaction.commit()?;
        Ok(PgStore {
            client,
            url: url.to_string(),
            partitions: HashSet::new(),
        })
    }

    /// Creates the month partitions the rows need (idempotent, outside the batch's
    /// transaction so that a concurrent importer's creation is simply seen).
    fn ensure_partitions(&mut self, rows: &[EventRow]) -> Result<()> {
        let months: HashSet<i32> = rows
            .iter()
            .map(|r| Cadence::Month.period_of(Day(r.day)).start().0)
            .collect();
        for start in months {
            if self.partitions.contains(&start) {
                continue;
            }
            let period = Cadence::Month.period_of(Day(start));
            let name = format!("events_{}_{:02}", period.year, period.first_month);
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({}) TO ({})",
                period.start().0,
                period.end().0
            );
            if let Err(error) = self.client.batch_execute(&sql) {
                // Two importers may race to create it; what matters is that it exists.
                let exists: bool = self
                    .client
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])?
                    .get(0);
                if !exists {
                    return Err(error.into());
                }
            }
            self.partitions.insert(start);
        }
        Ok(())
    }
}

/// A connection URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

const EVENT_COLUMNS: &str =
    "seq, source, id, leaf, host, model, use_case, currency, customer, day, requests, input_tokens, output_tokens, revenue_units";
const STATEMENT_COLUMNS: &str =
    "statement_id, contract, period, host, start_day, end_day, watermark, settled, json, closed_at";

fn statement_from_row(row: &postgres::Row) -> StatementRow {
    StatementRow {
        statement_id: row.get(0),
        contract: row.get(1),
        period: row.get(2),
        host: row.get(3),
        start_day: row.get(4),
        end_day: row.get(5),
        watermark: row.get(6),
        settled: row.get(7),
        json: row.get(8),
        closed_at: row.get(9),
    }
}

impl Backend for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn extra_writer(&mut self) -> Result<Option<Box<dyn Backend + Send>>> {
        Ok(Some(Box::new(PgStore::open(&self.url)?)))
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .client
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.client.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn add_contract(&mut self, row: &ContractRow) -> Result<bool> {
        let inserted = self.client.execute(
            "INSERT INTO contracts (id, version, licensor, host, file_name, sha256, toml, added_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id, version) DO NOTHING",
            &[
                &row.id,
                &row.version,
                &row.licensor,
                &row.host,
                &row.file_name,
                &row.sha256,
                &row.toml,
                &row.added_at,
            ],
        )?;
        Ok(inserted == 1)
    }

    fn contracts(&mut self) -> Result<Vec<ContractRow>> {
        let rows = self.client.query(
            "SELECT id, version, licensor, host, file_name, sha256, toml, added_at FROM contracts ORDER BY id, version",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| ContractRow {
                id: r.get(0),
                version: r.get(1),
                licensor: r.get(2),
                host: r.get(3),
                file_name: r.get(4),
                sha256: r.get(5),
                toml: r.get(6),
                added_at: r.get(7),
            })
            .collect())
    }

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()> {
        let mut transaction = self.client.transaction()?;
        let insert = transaction
            .prepare("INSERT INTO fx_rates (date, from_currency, to_currency, rate) VALUES ($1, $2, $3, $4)")?;
        for row in rows {
            transaction.execute(&insert, &[&row.date, &row.from, &row.to, &row.rate])?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn fx(&mut self) -> Result<Vec<FxRow>> {
        let rows = self.client.query(
            "SELECT date, from_currency, to_currency, rate FROM fx_rates ORDER BY from_currency, to_currency, date",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| FxRow {
                date: r.get(0),
                from: r.get(1),
                to: r.get(2),
                rate: r.get(3),
            })
            .collect())
    }

    fn set_models(&mut self, rows: &[(String, String)]) -> Result<()> {
        let mut transaction = self.client.transaction()?;
        transaction.execute("DELETE FROM models", &[])?;
        for (position, (pattern, licensor)) in rows.iter().enumerate() {
            transaction.execute(
                "INSERT INTO models (position, pattern, licensor) VALUES ($1, $2, $3)",
                &[&(position as i32), pattern, licensor],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    fn models(&mut self) -> Result<Vec<(String, String)>> {
        let rows = self
            .client
            .query("SELECT pattern, licensor FROM models ORDER BY position", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64> {
        let inserted = self.client.query_one(
            "INSERT INTO contributions (contract, by_party, kind, date, status, reference, proposed_at, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING number",
            &[
                &row.contract,
                &row.by,
                &row.kind,
                &row.date,
                &row.status,
                &row.reference,
                &row.proposed_at,
                &row.decided_at,
            ],
        )?;
        Ok(inserted.get(0))
    }

    fn decide_contribution(&mut self, number: i64, status: &str, at: &str) -> Result<bool> {
        let changed = self.client.execute(
            "UPDATE contributions SET status = $2, decided_at = $3 WHERE number = $1 AND status = 'proposed'",
            &[&number, &status, &at],
        )?;
        Ok(changed == 1)
    }

    fn contributions(&mut self) -> Result<Vec<ContributionRow>> {
        let rows = self.client.query(
            "SELECT number, contract, by_party, kind, date, status, reference, proposed_at, decided_at
             FROM contributions ORDER BY number",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| ContributionRow {
                number: r.get(0),
                contract: r.get(1),
                by: r.get(2),
                kind: r.get(3),
                date: r.get(4),
                status: r.get(5),
                reference: r.get(6),
                proposed_at: r.get(7),
                decided_at: r.get(8),
            })
            .collect())
    }

    fn insert_events(&mut self, batch: &mut EventBatch) -> Result<Vec<InsertOutcome>> {
        let events = &mut batch.rows[..];
        self.ensure_partitions(events)?;
        let mut transaction = self.client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&CLOSE_LOCK])?;
        let closed: Vec<(String, i32, i32)> = transaction
            .query("SELECT DISTINCT host, start_day, end_day FROM statements", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        mark_late(events, &closed);
        // The first occurrence of each key in the batch claims it, unless it is
        // already stored; the key and its event commit in this one transaction.
        let mut first: HashMap<(&str, &str), usize> = HashMap::with_capacity(events.len());
        for (index, e) in events.iter().enumerate() {
            first.entry((e.source.as_str(), e.id.as_str())).or_insert(index);
        }
        // Claims go in key order: concurrent importers then take key locks in the same
        // order and cannot deadlock on keys they share.
        let candidates: Vec<usize> = {
            let mut c: Vec<usize> = first.values().copied().collect();
            c.sort_unstable_by(|a, b| {
                (events[*a].source.as_bytes(), events[*a].id.as_bytes())
                    .cmp(&(events[*b].source.as_bytes(), events[*b].id.as_bytes()))
            });
            c
        };
        let sources: Vec<&str> = candidates.iter().map(|i| events[*i].source.as_str()).collect();
        let ids: Vec<&str> = candidates.iter().map(|i| events[*i].id.as_str()).collect();
        let leaves: Vec<&[u8]> = candidates.iter().map(|i| &events[*i].leaf[..]).collect();
        let claimed: HashSet<(String, String)> = transaction
            .query(
                "INSERT INTO event_keys (source, id, leaf)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                 ON CONFLICT DO NOTHING RETURNING source, id",
                &[&sources, &ids, &leaves],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut accepted: Vec<usize> = candidates
            .into_iter()
            .filter(|i| claimed.contains(&(events[*i].source.clone(), events[*i].id.clone())))
            .collect();
        accepted.sort_unstable();
        // Sequence numbers in input order, then the events themselves by binary COPY.
        let seqs: Vec<i64> = transaction
            .query(
                "SELECT nextval('event_seq') FROM generate_series(1::bigint, $1::bigint)",
                &[&(accepted.len() as i64)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        {
            let sink = transaction.copy_in(
                "COPY events (seq, source, id, leaf, host, model, use_case, currency, customer, utc_seconds, day,
                              requests, input_tokens, output_tokens, revenue_units, late) FROM STDIN BINARY",
            )?;
            let types = [
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
                Type::INT8,
                Type::INT4,
                Type::INT8,
                Type::INT8,
                Type::INT8,
                Type::TEXT,
                Type::BOOL,
            ];
            let mut writer = BinaryCopyInWriter::new(sink, &types);
            for (i, seq) in accepted.iter().zip(&seqs) {
                let e = &events[*i];
                let customer = e.customer.as_ref().map(|c| &c[..]);
                let row: [&(dyn ToSql + Sync); 16] = [
                    seq,
                    &e.source,
                    &e.id,
                    &&e.leaf[..],
                    &e.host,
                    &e.model,
                    &e.use_case,
                    &e.currency,
                    &customer,
                    &e.utc_seconds,
                    &e.day,
                    &e.requests,
                    &e.input_tokens,
                    &e.output_tokens,
                    &e.revenue_units,
                    &e.late,
                ];
                writer.write(&row)?;
            }
            writer.finish()?;
        }
        let accepted: HashSet<usize> = accepted.into_iter().collect();
        let mut outcomes = vec![InsertOutcome::Accepted; events.len()];
        let rest: Vec<usize> = (0..events.len()).filter(|i| !accepted.contains(i)).collect();
        if !rest.is_empty() {
            let sources: Vec<&str> = rest.iter().map(|i| events[*i].source.as_str()).collect();
            let ids: Vec<&str> = rest.iter().map(|i| events[*i].id.as_str()).collect();
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
                let key = (events[i].source.clone(), events[i].id.clone());
                let same = stored.get(&key).is_some_and(|leaf| leaf[..] == events[i].leaf[..]);
                outcomes[i] = if same {
                    InsertOutcome::Duplicate
                } else {
                    InsertOutcome::Conflict
                };
            }
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
        let query = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE host = $1 AND day >= $2 AND day < $3 AND seq > $4 AND seq <= $5"
        );
        let params: [&(dyn ToSql + Sync); 5] = [&host, &start, &end, &after, &through];
        let mut rows = self.client.query_raw(&query, params)?;
        while let Some(row) = rows.next()? {
            visit(&EventView {
                seq: row.try_get(0)?,
                source: row.try_get(1)?,
                id: row.try_get(2)?,
                leaf: row.try_get(3)?,
                host: row.try_get(4)?,
                model: row.try_get(5)?,
                use_case: row.try_get(6)?,
                currency: row.try_get(7)?,
                customer: row.try_get(8)?,
                day: row.try_get(9)?,
                requests: row.try_get(10)?,
                input_tokens: row.try_get(11)?,
                output_tokens: row.try_get(12)?,
                revenue_units: row.try_get(13)?,
            })?;
        }
        Ok(())
    }

    fn late_events_after(&mut self, host: &str, start: i32, end: i32, after: i64) -> Result<u64> {
        let count: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM events WHERE late AND host = $1 AND day >= $2 AND day < $3 AND seq > $4",
                &[&host, &start, &end, &after],
            )?
            .get(0);
        Ok(count as u64)
    }

    fn max_seq(&mut self) -> Result<i64> {
        // Under the close lock no import is in flight: the sequence's last value has
        // been committed or rolled back, and a rolled-back gap holds no event.
        let row = self
            .client
            .query_one("SELECT last_value, is_called FROM event_seq", &[])?;
        let (last, called): (i64, bool) = (row.get(0), row.get(1));
        Ok(if called { last } else { 0 })
    }

    fn statement(&mut self, statement_id: &str) -> Result<Option<StatementRow>> {
        Ok(self
            .client
            .query_opt(
                &format!("SELECT {STATEMENT_COLUMNS} FROM statements WHERE statement_id = $1"),
                &[&statement_id],
            )?
            .map(|r| statement_from_row(&r)))
    }

    fn statements(&mut self) -> Result<Vec<StatementRow>> {
        Ok(self
            .client
            .query(
                &format!("SELECT {STATEMENT_COLUMNS} FROM statements ORDER BY contract, start_day"),
                &[],
            )?
            .iter()
            .map(statement_from_row)
            .collect())
    }

    fn insert_statement(&mut self, row: &StatementRow) -> Result<StatementRow> {
        self.client.execute(
            &format!(
                "INSERT INTO statements ({STATEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (statement_id) DO NOTHING"
            ),
            &[
                &row.statement_id,
                &row.contract,
                &row.period,
                &row.host,
                &row.start_day,
                &row.end_day,
                &row.watermark,
                &row.settled,
                &row.json,
                &row.closed_at,
            ],
        )?;
        self.statement(&row.statement_id)?
            .ok_or_else(|| StoreError::Database("a statement vanished right after it was stored".into()))
    }

    fn begin_close(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN")?;
        self.client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&CLOSE_LOCK])?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        self.client.batch_execute("ROLLBACK")?;
        Ok(())
    }
}
