//! The PostgreSQL backend, for deployments that outgrow one machine: stateless API
//! servers scale out in front of it. Events are kept in segments, as in the embedded
//! store (`segment.rs`); a batch claims its keys by binary `COPY` (or, when one may
//! be stored already, one set-based insert), then its segments go in.
//!
//! The store's write lock is a transaction-scoped advisory lock. Every writer takes
//! it before it appends to the audit log and holds it until it commits, so the log is
//! one chain and a transaction that read the head sees it unchanged. An import
//! claims its keys and stores its segments first, in parallel with other imports,
//! and takes the lock only at its end to number its batches.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Row, Statement};
use revshare_core::audit::{Entry, Head, Seq};

use crate::backend::{
    Backend, BatchRow, CheckpointRow, ContractRow, ContributionRow, CosignatureRow, EventBatch, EventRow, EventView,
    FxRow, HostPart, IdempotencyRow, InsertOutcome, JobRow, KeyRow, LegRow, NoticeRow, PartyRow, PaymentRow,
    RegistryRow, Result, RollbackRow, SigningKeyRow, Staged, StatementRead, StatementRow, StoredSegment, TokenRow,
    TreeRow, Visit, VoidRow, WitnessKeyRow,
};
use crate::columns::*;
use crate::segment::{self, SegmentRow};
use crate::{host_parts, StoreError};

mod disputes;

const SCHEMA_VERSION: i32 = 7;
const SCHEMA_2: &str = include_str!("../migrations/postgres/002_audited.sql");
const SCHEMA_3: &str = include_str!("../migrations/postgres/003_segments.sql");
const SCHEMA_4: &str = include_str!("../migrations/postgres/004_tree_chunks.sql");
const SCHEMA_5: &str = include_str!("../migrations/postgres/005_log_tree.sql");
const SCHEMA_6: &str = include_str!("../migrations/postgres/006_ledger.sql");
const SCHEMA_7: &str = include_str!("../migrations/postgres/007_disputes.sql");
/// The store's write lock (see the module's documentation).
const WRITE_LOCK: i64 = 0x7265_7673_6861_7265; // "revshare"
/// The primary keys whose numbers the store draws from sequences.
const DRAWN_KEYS: [&str; 5] = [
    "segments_pkey",
    "contributions_pkey",
    "voids_pkey",
    "witness_keys_pkey",
    "rollbacks_pkey",
];
/// Serializes schema creation by concurrent first connections.
const MIGRATION_LOCK: i64 = WRITE_LOCK + 1;

pub struct PgStore {
    client: Client,
    /// The statements this connection has prepared, by their text.
    prepared: Prepared,
    url: String,
    /// Whether every key of the last batch written on this connection was new: if so,
    /// the next batch's keys are claimed by `COPY` ([`copy_new_keys`]), else by
    /// `INSERT … ON CONFLICT` ([`claim_keys`]).
    keys_were_new: bool,
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> StoreError {
        match error.as_db_error() {
            // Text holding U+0000, which PostgreSQL cannot store or compare: the
            // input's fault (SQLite takes it), so a refusal, not an outage.
            Some(db) if *db.code() == postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE => {
                StoreError::Refused("text with the character U+0000 (NUL) cannot be stored or looked up".to_string())
            }
            // A number the store draws from a sequence for a new row is taken: rows
            // were renumbered behind the service's back (the service never does).
            Some(db)
                if *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION
                    && db.constraint().is_some_and(|c| DRAWN_KEYS.contains(&c)) =>
            {
                StoreError::corrupt(
                    db.table().unwrap_or("a table"),
                    "a number the store draws for a new row is taken: its rows were renumbered behind the \
                     service's back",
                )
            }
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
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        transaction.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)")?;
        let applied: Vec<i32> = transaction
            .query("SELECT version FROM schema_migrations ORDER BY version", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // The schema found, then each step from it to this build's, in order.
        let found = match applied.as_slice() {
            [] => 0,
            [version @ 2..=SCHEMA_VERSION] => *version,
            [1] => {
                return Err(StoreError::Refused(format!(
                    "{}: this database was made by an earlier build of revshare (schema 1, without the audit \
                     log); use a new database (revshare init) and import its usage again",
                    redact(url)
                )))
            }
            other => {
                return Err(StoreError::Refused(format!(
                    "{}: not a revshare store of schema {SCHEMA_VERSION} (versions {other:?})",
                    redact(url)
                )))
            }
        };
        if found == 0 {
            transaction.batch_execute(SCHEMA_2)?;
        }
        if found < 3 {
            upgrade_to_segments(&mut transaction)?;
        }
        if found < 4 {
            transaction.batch_execute(SCHEMA_4)?;
        }
        if found < 5 {
            transaction.batch_execute(SCHEMA_5)?;
        }
        if found < 6 {
            transaction.batch_execute(SCHEMA_6)?;
        }
        if found < 7 {
            transaction.batch_execute(SCHEMA_7)?;
        }
        if found < SCHEMA_VERSION {
            transaction.execute("DELETE FROM schema_migrations", &[])?;
            transaction.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )?;
        }
        transaction.commit()?;
        Ok(PgStore {
            client,
            prepared: Prepared::default(),
            url: url.to_string(),
            keys_were_new: true,
        })
    }

    fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.prepared.get(&mut self.client, sql)?;
        Ok(self.client.query(&statement, params)?)
    }

    fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let statement = self.prepared.get(&mut self.client, sql)?;
        Ok(self.client.query_opt(&statement, params)?)
    }

    fn query_one(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let statement = self.prepared.get(&mut self.client, sql)?;
        Ok(self.client.query_one(&statement, params)?)
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.prepared.get(&mut self.client, sql)?;
        Ok(self.client.execute(&statement, params)?)
    }

    fn head(&mut self) -> Result<Head> {
        let row = self
            .query_opt("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[])?
            .map(|r| (r.get(0), r.get(1)));
        crate::head_from(row)
    }

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
        self.client.batch_execute("BEGIN")?;
        let copied = match self.keys_were_new {
            true => copy_new_keys(&mut self.client, events, &candidates)?,
            false => Claim::NotTried,
        };
        let client = &mut self.client;
        let prepared = &mut self.prepared;
        let accepted: HashSet<usize> = match copied {
            Claim::All => candidates.iter().copied().collect(),
            Claim::Taken => {
                client.batch_execute("ROLLBACK; BEGIN")?;
                claim_keys(client, prepared, events, &candidates)?
            }
            Claim::NotTried => claim_keys(client, prepared, events, &candidates)?,
        };
        self.keys_were_new = accepted.len() == candidates.len();
        let outcomes = outcomes_of(client, events, &accepted)?;
        let parts = host_parts(events, &outcomes);
        let numbers = prepared.get(
            client,
            "SELECT nextval('batch_ids') FROM generate_series(1::bigint, $1::bigint)",
        )?;
        let batches: Vec<i64> = client
            .query(&numbers, &[&(parts.len() as i64)])?
            .iter()
            .map(|r| r.get(0))
            .collect();
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

/// Statements prepared on one connection, by their text. A query sent as text is
/// prepared anew each time, one more round trip to the server; these are prepared
/// once per connection (prepared statements outlive transactions, committed or not).
#[derive(Default)]
struct Prepared(HashMap<String, Statement>);

impl Prepared {
    /// More distinct texts than the code holds means texts built from values: the
    /// cache starts over rather than grow.
    const STATEMENTS_MAX: usize = 256;

    fn get(&mut self, client: &mut impl postgres::GenericClient, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        if self.0.len() >= Self::STATEMENTS_MAX {
            self.0.clear();
        }
        let statement = client.prepare(sql)?;
        self.0.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// A connection URL without its password, for messages.
pub fn redact(url: &str) -> String {
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

/// The seq in column `index` of a row of `table`; a negative one is corrupt, named as
/// `table:<column key>`.
fn seq_at(r: &postgres::Row, index: usize, table: &str, key: usize) -> Result<Seq> {
    let stored: i64 = r.try_get(index)?;
    crate::stored_seq(stored, || match r.try_get::<_, i64>(key) {
        Ok(n) => format!("{table}:{n}"),
        Err(_) => r
            .try_get::<_, String>(key)
            .map_or_else(|_| table.to_string(), |text| format!("{table}:{text}")),
    })
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

fn token_columns(r: &postgres::Row) -> crate::TokenColumns {
    token_columns_at(r, 0)
}

/// The token whose [`TOKEN_COLUMNS`] start at column `at`.
fn token_columns_at(r: &postgres::Row, at: usize) -> crate::TokenColumns {
    crate::TokenColumns {
        token_id: r.get(at),
        party: r.get(at + 1),
        role: r.get(at + 2),
        contracts: r.get(at + 3),
        expires: r.get(at + 4),
        sha256: r.get(at + 5),
        created_at: r.get(at + 6),
        revoked_at: r.get(at + 7),
        seq: r.get(at + 8),
    }
}

fn statement_from_row(row: &postgres::Row) -> Result<StatementRow> {
    statement_at(row, 0)
}

/// The statement whose [`STATEMENT_COLUMNS`] start at column `at`.
fn statement_at(row: &postgres::Row, at: usize) -> Result<StatementRow> {
    Ok(StatementRow {
        statement_id: row.get(at),
        contract: row.get(at + 1),
        period: row.get(at + 2),
        host: row.get(at + 3),
        start_day: row.get(at + 4),
        end_day: row.get(at + 5),
        close_seq: seq_at(row, at + 6, "statements", at)?,
        settled: row.get(at + 7),
        json: row.get(at + 8),
        closed_at: row.get(at + 9),
        seq: seq_at(row, at + 10, "statements", at)?,
    })
}

fn payment_from_row(r: &postgres::Row) -> Result<PaymentRow> {
    let payment_id: String = r.get(0);
    let status = crate::payment_status(&payment_id, r.get(8))?;
    Ok(PaymentRow {
        payment_id,
        contract: r.get(1),
        currency: r.get(2),
        payer: r.get(3),
        payee: r.get(4),
        amount: r.get(5),
        date: r.get(6),
        reference: r.get(7),
        status,
        recorded_by: r.get(9),
        recorded_at: r.get(10),
        recorded_seq: seq_at(r, 11, "payments", 0)?,
        confirmed_by: r.get(12),
        confirmed_at: r.get(13),
        withdrawn_by: r.get(14),
        withdrawn_at: r.get(15),
        reversed_by: r.get(16),
        reversed_at: r.get(17),
        reversal_reason: r.get(18),
        seq: seq_at(r, 19, "payments", 0)?,
    })
}

fn leg_from_row(r: &postgres::Row) -> Result<LegRow> {
    Ok(LegRow {
        txn: r.get(0),
        contract: r.get(1),
        currency: r.get(2),
        host: r.get(3),
        beneficiary: r.get(4),
        side: r.get(5),
        amount: r.get(6),
        day: r.get(7),
        due: r.get(8),
        seq: seq_at(r, 9, "ledger_legs", 0)?,
    })
}

fn contribution_from_row(r: &postgres::Row) -> Result<ContributionRow> {
    let number: i64 = r.get(0);
    let (by, kind, status) = crate::contribution_enums(r.get(1), number, r.get(2), r.get(3), r.get(5))?;
    Ok(ContributionRow {
        number,
        contract: r.get(1),
        by,
        kind,
        date: r.get(4),
        status,
        reference: r.get(6),
        proposed_by: r.get(7),
        proposed_at: r.get(8),
        proposed_seq: seq_at(r, 9, "contributions", 0)?,
        decided_by: r.get(10),
        decided_at: r.get(11),
        decided_seq: match r.get::<_, Option<i64>>(12) {
            Some(_) => Some(seq_at(r, 12, "contributions", 0)?),
            None => None,
        },
        seq: seq_at(r, 13, "contributions", 0)?,
    })
}

fn entry_from_row(r: &postgres::Row) -> Result<Entry> {
    entry_at(r, 0)
}

/// The entry whose [`ENTRY_COLUMNS`] start at column `at`.
fn entry_at(r: &postgres::Row, at: usize) -> Result<Entry> {
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

/// The columns of a list such as [`TOKEN_COLUMNS`], each taken from table `alias`.
fn prefixed(alias: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_count(columns: &str) -> usize {
    columns.split(", ").count()
}

/// A statement, the audit entry its seq names and every signing key in one row:
/// [`STATEMENT_COLUMNS`] (null if the statement is not read), then [`ENTRY_COLUMNS`]
/// (null without an entry), then the keys as one JSON array of `[key_id, alg,
/// public_key, created_at, seq]` in key order (one subquery: a point read costs
/// mostly its executor's set-up). With `token`, [`TOKEN_COLUMNS`] come first (null if
/// the token is absent) and the statement is read only for a token holding `$3` and
/// not revoked.
fn statement_read_sql(token: bool) -> String {
    let (token_columns, token_join, condition) = if token {
        (
            format!("{}, ", prefixed("t", TOKEN_COLUMNS)),
            "LEFT JOIN tokens t ON t.token_id = $1",
            "s.statement_id = $2 AND t.sha256 = $3 AND t.revoked_at IS NULL",
        )
    } else {
        (String::new(), "", "s.statement_id = $1")
    };
    format!(
        "SELECT {token_columns}{}, {}, \
         (SELECT json_agg(json_build_array(key_id, alg, public_key, created_at, seq) ORDER BY seq, key_id)::text \
          FROM signing_keys) \
         FROM (SELECT 1) one {token_join} LEFT JOIN statements s ON {condition} \
         LEFT JOIN audit_log a ON a.seq = s.seq",
        prefixed("s", STATEMENT_COLUMNS),
        prefixed("a", ENTRY_COLUMNS),
    )
}

/// [`Backend::statement_read`].
static STATEMENT_READ: LazyLock<String> = LazyLock::new(|| statement_read_sql(false));
/// [`Backend::token_and_statement`].
static TOKEN_AND_STATEMENT: LazyLock<String> = LazyLock::new(|| statement_read_sql(true));

/// The statement read at column `at`, `None` where no statement was found.
fn statement_read_at(r: &postgres::Row, at: usize) -> Result<Option<StatementRead>> {
    if r.get::<_, Option<&str>>(at).is_none() {
        return Ok(None);
    }
    let entry_at_column = at + column_count(STATEMENT_COLUMNS);
    let keys_at = entry_at_column + column_count(ENTRY_COLUMNS);
    let entry = match r.get::<_, Option<i64>>(entry_at_column) {
        Some(_) => entry_at(r, entry_at_column).ok(),
        None => None,
    };
    let keys: Vec<(String, String, String, String, i64)> = match r.get::<_, Option<&str>>(keys_at) {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError::Database(format!("the signing keys read back do not parse: {e}")))?,
        None => Vec::new(),
    };
    let keys = keys
        .into_iter()
        .map(|(key_id, alg, public_key, created_at, seq)| {
            Ok(SigningKeyRow {
                seq: crate::stored_seq(seq, || format!("signing_keys:{key_id}"))?,
                key_id,
                alg,
                public_key,
                created_at,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Some(StatementRead {
        row: statement_at(r, at)?,
        entry,
        keys,
    }))
}

/// An idempotency key's leaf, which must be 32 bytes.
fn leaf_of(source: &str, id: &str, bytes: &[u8]) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("event:{source}/{id}"), "its key row's leaf is not 32 bytes"))
}

fn checkpoint_of(r: &postgres::Row) -> CheckpointRow {
    CheckpointRow {
        size: r.get(0),
        note: r.get(1),
    }
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
fn copy_new_keys(client: &mut Client, events: &EventBatch, candidates: &[usize]) -> Result<Claim> {
    let sink = client.copy_in("COPY event_keys (source, id, leaf, host, day) FROM STDIN BINARY")?;
    let types = [Type::TEXT, Type::TEXT, Type::BYTEA, Type::TEXT, Type::INT4];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let copied = candidates.iter().try_for_each(|index| {
        let e = events.view(*index);
        writer.write(&[&e.source, &e.id, &e.leaf, &e.host, &e.day])
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
) -> Result<HashSet<usize>> {
    let views: Vec<EventView<'_>> = candidates.iter().map(|i| events.view(*i)).collect();
    let sources: Vec<&str> = views.iter().map(|e| e.source).collect();
    let ids: Vec<&str> = views.iter().map(|e| e.id).collect();
    let hosts: Vec<&str> = views.iter().map(|e| e.host).collect();
    let leaves: Vec<&[u8]> = views.iter().map(|e| e.leaf).collect();
    let days: Vec<i32> = views.iter().map(|e| e.day).collect();
    let insert = prepared.get(
        transaction,
        "INSERT INTO event_keys (source, id, leaf, host, day)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::integer[])
         ON CONFLICT DO NOTHING RETURNING source, id",
    )?;
    let claimed: HashSet<(String, String)> = transaction
        .query(&insert, &[&sources, &ids, &leaves, &hosts, &days])?
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

/// A segment to store: its batch, host, day, event count and bytes.
struct SegmentInsert {
    batch: i64,
    host: String,
    day: i32,
    count: i32,
    bytes: Vec<u8>,
}

/// The segments of a batch's accepted events, each with its host's batch id.
fn accepted_segments(
    events: &EventBatch,
    outcomes: &[InsertOutcome],
    parts: &[HostPart],
    batches: &[i64],
) -> Result<Vec<SegmentInsert>> {
    let mut segments = Vec::with_capacity(events.segments.len());
    for group in &events.segments {
        let mut bytes = Vec::new();
        let count = group.segment(|index| outcomes[index] == InsertOutcome::Accepted, &mut bytes)?;
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
        });
    }
    Ok(segments)
}

/// Stores segments in one statement.
fn insert_segments(
    transaction: &mut impl postgres::GenericClient,
    prepared: &mut Prepared,
    segments: &[SegmentInsert],
) -> Result<()> {
    let insert = prepared.get(
        transaction,
        "INSERT INTO segments (batch, host, day, count, events)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::integer[], $5::bytea[])",
    )?;
    let batches: Vec<i64> = segments.iter().map(|s| s.batch).collect();
    let hosts: Vec<&str> = segments.iter().map(|s| s.host.as_str()).collect();
    let days: Vec<i32> = segments.iter().map(|s| s.day).collect();
    let counts: Vec<i32> = segments.iter().map(|s| s.count).collect();
    let bytes: Vec<&[u8]> = segments.iter().map(|s| &s.bytes[..]).collect();
    transaction.execute(&insert, &[&batches, &hosts, &days, &counts, &bytes])?;
    Ok(())
}

/// Schema 2 kept a row per event in `events`: creates `segments` and moves every
/// batch's events into them, then drops `events`. On a new database there are none.
fn upgrade_to_segments(transaction: &mut postgres::Transaction<'_>) -> Result<()> {
    transaction.batch_execute(SCHEMA_3)?;
    // A process of the earlier build still connected must not commit rows the move
    // has not read (the drop would take them): it waits, then fails on the missing table.
    transaction.batch_execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")?;
    let portal = transaction.bind(
        "SELECT batch, source, id, leaf, host, model, use_case, currency, customer, utc_seconds, day,
                requests, input_tokens, output_tokens, revenue_units
         FROM events ORDER BY batch",
        &[],
    )?;
    let mut prepared = Prepared::default();
    let mut batch: Option<(i64, Vec<EventRow>)> = None;
    loop {
        let rows = transaction.query_portal(&portal, 10_000)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let number: i64 = row.try_get(0)?;
            if batch.as_ref().is_some_and(|(current, _)| *current != number) {
                if let Some((done, events)) = batch.take() {
                    move_batch(transaction, &mut prepared, done, &events)?;
                }
            }
            batch
                .get_or_insert_with(|| (number, Vec::new()))
                .1
                .push(schema_2_event(row)?);
        }
    }
    if let Some((done, events)) = batch {
        move_batch(transaction, &mut prepared, done, &events)?;
    }
    // The portal holds the table open until it is closed.
    drop(portal);
    transaction.batch_execute("DROP TABLE events")?;
    Ok(())
}

/// Stores one schema-2 batch's events as segments.
fn move_batch(
    transaction: &mut postgres::Transaction<'_>,
    prepared: &mut Prepared,
    batch: i64,
    events: &[EventRow],
) -> Result<()> {
    let events = EventBatch::from_rows(events)?;
    let accepted = vec![InsertOutcome::Accepted; events.len()];
    let parts = host_parts(&events, &accepted);
    let batches = vec![batch; parts.len()];
    let segments = accepted_segments(&events, &accepted, &parts, &batches)?;
    insert_segments(transaction, prepared, &segments)
}

/// An event as schema 2 stored it, after its batch id.
fn schema_2_event(row: &postgres::Row) -> Result<EventRow> {
    let customer: Option<&[u8]> = row.try_get(8)?;
    let customer = customer
        .map(|c| {
            c.try_into()
                .map_err(|_| StoreError::Database("a stored customer is not 16 bytes".into()))
        })
        .transpose()?;
    let (source, id): (String, String) = (row.try_get(1)?, row.try_get(2)?);
    Ok(EventRow {
        leaf: leaf_of(&source, &id, row.try_get(3)?)?,
        source,
        id,
        host: row.try_get(4)?,
        model: row.try_get(5)?,
        use_case: row.try_get(6)?,
        currency: row.try_get(7)?,
        customer,
        utc_seconds: row.try_get(9)?,
        day: row.try_get(10)?,
        requests: row.try_get(11)?,
        input_tokens: row.try_get(12)?,
        output_tokens: row.try_get(13)?,
        revenue_units: row.try_get(14)?,
    })
}

impl Backend for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn extra_writer(&mut self) -> Result<Option<Box<dyn Backend>>> {
        Ok(Some(Box::new(PgStore::open(&self.url)?)))
    }

    fn begin_write(&mut self) -> Result<Head> {
        self.client.batch_execute("BEGIN")?;
        let locked = self
            .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .and_then(|_| self.head());
        if locked.is_err() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
        locked
    }

    fn begin_read(&mut self) -> Result<()> {
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
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

    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn append_audit(&mut self, entries: &[Entry]) -> Result<()> {
        insert_audit(&mut self.client, &mut self.prepared, entries)
    }

    fn audit_head(&mut self) -> Result<Head> {
        self.head()
    }

    fn audit_entries(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>> {
        let after = after.to_stored();
        self.query(
            &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &(limit as i64)],
        )?
        .iter()
        .map(entry_from_row)
        .collect()
    }

    fn audit_entry(&mut self, seq: Seq) -> Result<Option<Entry>> {
        let seq = seq.to_stored();
        self.query_opt(
            &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = $1"),
            &[&seq],
        )?
        .map(|r| entry_from_row(&r))
        .transpose()
    }

    fn add_signing_key(&mut self, row: &SigningKeyRow) -> Result<()> {
        self.execute(
            "INSERT INTO signing_keys (key_id, alg, public_key, created_at, seq) VALUES ($1, $2, $3, $4, $5)",
            &[
                &row.key_id,
                &row.alg,
                &row.public_key,
                &row.created_at,
                &row.seq.to_stored(),
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

    fn add_party(&mut self, row: &PartyRow) -> Result<()> {
        self.execute(
            "INSERT INTO parties (id, name, created_at, seq) VALUES ($1, $2, $3, $4)",
            &[&row.id, &row.name, &row.created_at, &row.seq.to_stored()],
        )?;
        Ok(())
    }

    fn parties(&mut self) -> Result<Vec<PartyRow>> {
        self.query("SELECT id, name, created_at, seq FROM parties ORDER BY id", &[])?
            .iter()
            .map(|r| {
                Ok(PartyRow {
                    id: r.get(0),
                    name: r.get(1),
                    created_at: r.get(2),
                    seq: seq_at(r, 3, "parties", 0)?,
                })
            })
            .collect()
    }

    fn add_token(&mut self, row: &TokenRow) -> Result<()> {
        self.execute(
            &format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            &[
                &row.token_id,
                &row.party,
                &row.role.as_str(),
                &crate::contracts_json(&row.contracts),
                &row.expires,
                &row.sha256,
                &row.created_at,
                &row.revoked_at,
                &row.seq.to_stored(),
            ],
        )?;
        Ok(())
    }

    fn update_token(&mut self, row: &TokenRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE tokens SET revoked_at = $2, seq = $3 WHERE token_id = $1",
            &[&row.token_id, &row.revoked_at, &row.seq.to_stored()],
        )?;
        crate::one_text_row(changed as usize, "token", &row.token_id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>> {
        self.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, token_id"),
            &[],
        )?
        .iter()
        .map(|r| crate::token_from_columns(token_columns(r)))
        .collect()
    }

    fn token(&mut self, token_id: &str) -> Result<Option<TokenRow>> {
        self.query_opt(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = $1"),
            &[&token_id],
        )?
        .map(|r| crate::token_from_columns(token_columns(&r)))
        .transpose()
    }

    fn add_contract(&mut self, row: &ContractRow) -> Result<()> {
        self.execute(
            "INSERT INTO contracts (id, version, licensor, host, file_name, sha256, toml, added_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &row.id,
                &row.version,
                &row.licensor,
                &row.host,
                &row.file_name,
                &row.sha256,
                &row.toml,
                &row.added_at,
                &row.seq.to_stored(),
            ],
        )?;
        Ok(())
    }

    fn contracts(&mut self) -> Result<Vec<ContractRow>> {
        self.query(
            "SELECT id, version, licensor, host, file_name, sha256, toml, added_at, seq
                 FROM contracts ORDER BY id, version",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(ContractRow {
                id: r.get(0),
                version: r.get(1),
                licensor: r.get(2),
                host: r.get(3),
                file_name: r.get(4),
                sha256: r.get(5),
                toml: r.get(6),
                added_at: r.get(7),
                seq: seq_at(r, 8, "contracts", 0)?,
            })
        })
        .collect()
    }

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()> {
        for row in rows {
            self.execute(
                "INSERT INTO fx_rates (date, from_currency, to_currency, rate, seq) VALUES ($1, $2, $3, $4, $5)",
                &[&row.date, &row.from, &row.to, &row.rate, &row.seq.to_stored()],
            )?;
        }
        Ok(())
    }

    fn fx(&mut self) -> Result<Vec<FxRow>> {
        self.query(
            "SELECT date, from_currency, to_currency, rate, seq FROM fx_rates
                 ORDER BY from_currency, to_currency, date",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(FxRow {
                date: r.get(0),
                from: r.get(1),
                to: r.get(2),
                rate: r.get(3),
                seq: seq_at(r, 4, "fx_rates", 0)?,
            })
        })
        .collect()
    }

    fn add_registry(&mut self, row: &RegistryRow) -> Result<()> {
        self.execute(
            "INSERT INTO registry_versions (version, effective_from, file_name, added_at, rows, seq)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &row.version,
                &row.effective_from,
                &row.file_name,
                &row.added_at,
                &crate::registry_rows_json(&row.rows),
                &row.seq.to_stored(),
            ],
        )?;
        Ok(())
    }

    fn registries(&mut self) -> Result<Vec<RegistryRow>> {
        self.query(
            "SELECT version, effective_from, file_name, added_at, rows, seq FROM registry_versions ORDER BY version",
            &[],
        )?
        .iter()
        .map(|r| {
            let version: i64 = r.get(0);
            Ok(RegistryRow {
                version,
                effective_from: r.get(1),
                file_name: r.get(2),
                added_at: r.get(3),
                rows: crate::registry_rows_parse(version, r.get(4))?,
                seq: crate::stored_seq(r.get(5), || format!("registry_versions:{version}"))?,
            })
        })
        .collect()
    }

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64> {
        let inserted = self.query_one(
            "INSERT INTO contributions (contract, by_party, kind, date, status, reference, proposed_by, proposed_at,
                                        proposed_seq, decided_by, decided_at, decided_seq, seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING number",
            &[
                &row.contract,
                &row.by.as_str(),
                &row.kind.as_str(),
                &row.date,
                &row.status.as_str(),
                &row.reference,
                &row.proposed_by,
                &row.proposed_at,
                &row.proposed_seq.to_stored(),
                &row.decided_by,
                &row.decided_at,
                &row.decided_seq.map(Seq::to_stored),
                &row.seq.to_stored(),
            ],
        )?;
        Ok(inserted.get(0))
    }

    fn update_contribution(&mut self, row: &ContributionRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE contributions SET status = $2, decided_by = $3, decided_at = $4, decided_seq = $5, seq = $6
             WHERE number = $1",
            &[
                &row.number,
                &row.status.as_str(),
                &row.decided_by,
                &row.decided_at,
                &row.decided_seq.map(Seq::to_stored),
                &row.seq.to_stored(),
            ],
        )?;
        crate::one_row(changed as usize, "contribution", row.number)
    }

    fn contributions(&mut self) -> Result<Vec<ContributionRow>> {
        self.query(
            &format!("SELECT {CONTRIBUTION_COLUMNS} FROM contributions ORDER BY number"),
            &[],
        )?
        .iter()
        .map(contribution_from_row)
        .collect()
    }

    fn add_payment(&mut self, row: &PaymentRow) -> Result<()> {
        self.execute(
            &format!(
                "INSERT INTO payments ({PAYMENT_COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            ),
            &[
                &row.payment_id,
                &row.contract,
                &row.currency,
                &row.payer,
                &row.payee,
                &row.amount,
                &row.date,
                &row.reference,
                &row.status.as_str(),
                &row.recorded_by,
                &row.recorded_at,
                &row.recorded_seq.to_stored(),
                &row.confirmed_by,
                &row.confirmed_at,
                &row.withdrawn_by,
                &row.withdrawn_at,
                &row.reversed_by,
                &row.reversed_at,
                &row.reversal_reason,
                &row.seq.to_stored(),
            ],
        )?;
        Ok(())
    }

    fn update_payment(&mut self, row: &PaymentRow) -> Result<()> {
        let changed = self.execute(
            "UPDATE payments SET status = $2, confirmed_by = $3, confirmed_at = $4, withdrawn_by = $5,
                    withdrawn_at = $6, reversed_by = $7, reversed_at = $8, reversal_reason = $9, seq = $10
             WHERE payment_id = $1",
            &[
                &row.payment_id,
                &row.status.as_str(),
                &row.confirmed_by,
                &row.confirmed_at,
                &row.withdrawn_by,
                &row.withdrawn_at,
                &row.reversed_by,
                &row.reversed_at,
                &row.reversal_reason,
                &row.seq.to_stored(),
            ],
        )?;
        match changed {
            1 => Ok(()),
            _ => Err(StoreError::Database(format!(
                "payment {} is not stored",
                row.payment_id
            ))),
        }
    }

    fn payment(&mut self, payment_id: &str) -> Result<Option<PaymentRow>> {
        self.query_opt(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1"),
            &[&payment_id],
        )?
        .as_ref()
        .map(payment_from_row)
        .transpose()
    }

    fn payments(&mut self) -> Result<Vec<PaymentRow>> {
        self.query(
            &format!("SELECT {PAYMENT_COLUMNS} FROM payments ORDER BY recorded_seq, payment_id"),
            &[],
        )?
        .iter()
        .map(payment_from_row)
        .collect()
    }

    fn add_legs(&mut self, legs: &[LegRow]) -> Result<()> {
        let sql = format!("INSERT INTO ledger_legs ({LEG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        for leg in legs {
            self.execute(
                &sql,
                &[
                    &leg.txn,
                    &leg.contract,
                    &leg.currency,
                    &leg.host,
                    &leg.beneficiary,
                    &leg.side,
                    &leg.amount,
                    &leg.day,
                    &leg.due,
                    &leg.seq.to_stored(),
                ],
            )?;
        }
        Ok(())
    }

    fn legs(&mut self) -> Result<Vec<LegRow>> {
        self.query(
            &format!("SELECT {LEG_COLUMNS} FROM ledger_legs ORDER BY seq, txn, beneficiary, side"),
            &[],
        )?
        .iter()
        .map(leg_from_row)
        .collect()
    }

    fn receivable_legs(&mut self) -> Result<Vec<LegRow>> {
        self.query(
            &format!(
                "SELECT {LEG_COLUMNS} FROM ledger_legs WHERE side = 'receivable'
                     ORDER BY host, beneficiary, contract, currency, seq, txn"
            ),
            &[],
        )?
        .iter()
        .map(leg_from_row)
        .collect()
    }

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
        let (after, through) = (after.to_stored(), through.to_stored());
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

    fn has_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool> {
        let (after, through) = (after.to_stored(), through.to_stored());
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM segments s JOIN event_batches b ON b.batch = s.batch
                 WHERE s.host = $1 AND s.day >= $2 AND s.day < $3 AND b.seq > $4 AND b.seq <= $5)",
                &[&host, &start, &end, &after, &through],
            )?
            .get(0))
    }

    fn scan_batch_except(&mut self, seq: Seq, host: &str, start: i32, end: i32, visit: &mut Visit<'_>) -> Result<()> {
        let seq = seq.to_stored();
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
        let (after, through) = (after.to_stored(), through.to_stored());
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
        let through = through.to_stored();
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
            "SELECT number, batch, host, day, count, events FROM segments ORDER BY batch, number",
            std::iter::empty::<&(dyn ToSql + Sync)>(),
        )?;
        while let Some(row) = rows.next()? {
            let batch: i64 = row.try_get(1)?;
            // Events of a batch without its seq are still visited (at seq 0), so that
            // `audit verify` names them instead of never seeing them.
            visit(&StoredSegment {
                number: row.try_get(0)?,
                host: row.try_get(2)?,
                day: row.try_get(3)?,
                seq: match seqs.get(&batch) {
                    Some(&seq) => crate::stored_seq(seq, || format!("event_batches:{batch}"))?,
                    None => Seq::ZERO,
                },
                count: i64::from(row.try_get::<_, i32>(4)?),
                bytes: row.try_get(5)?,
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
            "SELECT leaf, host, day FROM event_keys WHERE source = $1 AND id = $2",
            &[&source, &id],
        )?
        .map(|r| {
            Ok(KeyRow {
                source: source.to_string(),
                id: id.to_string(),
                leaf: leaf_of(source, id, r.get(0))?,
                host: r.get(1),
                day: r.get(2),
            })
        })
        .transpose()
    }

    fn scan_keys(&mut self, visit: &mut dyn FnMut(&KeyRow) -> Result<()>) -> Result<()> {
        let mut rows = self.client.query_raw(
            "SELECT source, id, leaf, host, day FROM event_keys",
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
                &row.seq.to_stored(),
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

    fn void_of(&mut self, source: &str, id: &str) -> Result<Option<VoidRow>> {
        self.query(
            &format!("SELECT {VOID_COLUMNS} FROM voids WHERE source = $1 AND id = $2"),
            &[&source, &id],
        )?
        .first()
        .map(void_row)
        .transpose()
    }

    fn claim_idempotency(&mut self, row: &IdempotencyRow) -> Result<IdempotencyRow> {
        self.execute(
            "INSERT INTO idempotency (token_id, method, path, key, body_sha256, done, status, content_type, response,
                                      created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &row.token_id,
                &row.method,
                &row.path,
                &row.key,
                &row.body_sha256,
                &i32::from(row.done),
                &row.status,
                &row.content_type,
                &row.response,
                &row.created_at,
            ],
        )?;
        let r = self.query_one(
            "SELECT body_sha256, done, status, content_type, response, created_at FROM idempotency
             WHERE token_id = $1 AND method = $2 AND path = $3 AND key = $4",
            &[&row.token_id, &row.method, &row.path, &row.key],
        )?;
        Ok(IdempotencyRow {
            body_sha256: r.get(0),
            done: r.get::<_, i32>(1) != 0,
            status: r.get(2),
            content_type: r.get(3),
            response: r.get(4),
            created_at: r.get(5),
            ..row.clone()
        })
    }

    fn finish_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.execute(
            "UPDATE idempotency SET done = 1, status = $5, content_type = $6, response = $7
             WHERE token_id = $1 AND method = $2 AND path = $3 AND key = $4",
            &[
                &row.token_id,
                &row.method,
                &row.path,
                &row.key,
                &row.status,
                &row.content_type,
                &row.response,
            ],
        )?;
        Ok(())
    }

    fn release_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.execute(
            "DELETE FROM idempotency WHERE token_id = $1 AND method = $2 AND path = $3 AND key = $4 AND done = 0",
            &[&row.token_id, &row.method, &row.path, &row.key],
        )?;
        Ok(())
    }

    fn purge_idempotency(&mut self, before: &str) -> Result<u64> {
        self.execute("DELETE FROM idempotency WHERE created_at < $1", &[&before])
    }

    fn add_job(&mut self, row: &JobRow) -> Result<()> {
        self.execute(
            "INSERT INTO jobs (id, kind, actor, state, result, created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&row.id, &row.kind, &row.actor, &row.state, &row.result, &row.created_at, &row.finished_at],
        )?;
        Ok(())
    }

    fn update_job(&mut self, row: &JobRow) -> Result<()> {
        self.execute(
            "UPDATE jobs SET state = $2, result = $3, finished_at = $4 WHERE id = $1",
            &[&row.id, &row.state, &row.result, &row.finished_at],
        )?;
        Ok(())
    }

    fn job(&mut self, id: &str) -> Result<Option<JobRow>> {
        Ok(self
            .query_opt(
                "SELECT id, kind, actor, state, result, created_at, finished_at FROM jobs WHERE id = $1",
                &[&id],
            )?
            .map(|r| JobRow {
                id: r.get(0),
                kind: r.get(1),
                actor: r.get(2),
                state: r.get(3),
                result: r.get(4),
                created_at: r.get(5),
                finished_at: r.get(6),
            }))
    }

    fn statement(&mut self, statement_id: &str) -> Result<Option<StatementRow>> {
        self.query_opt(
            &format!("SELECT {STATEMENT_COLUMNS} FROM statements WHERE statement_id = $1"),
            &[&statement_id],
        )?
        .map(|r| statement_from_row(&r))
        .transpose()
    }

    fn statement_read(&mut self, statement_id: &str) -> Result<Option<StatementRead>> {
        let row = self.query_one(&STATEMENT_READ, &[&statement_id])?;
        statement_read_at(&row, 0)
    }

    fn token_and_statement(
        &mut self,
        token_id: &str,
        token_sha256: &str,
        statement_id: &str,
    ) -> Result<(Option<TokenRow>, Option<StatementRead>)> {
        let row = self.query_one(&TOKEN_AND_STATEMENT, &[&token_id, &statement_id, &token_sha256])?;
        let token = match row.get::<_, Option<&str>>(0) {
            Some(_) => Some(crate::token_from_columns(token_columns_at(&row, 0))?),
            None => None,
        };
        Ok((token, statement_read_at(&row, column_count(TOKEN_COLUMNS))?))
    }

    fn statements(&mut self) -> Result<Vec<StatementRow>> {
        self.query(
            &format!("SELECT {STATEMENT_COLUMNS} FROM statements ORDER BY contract, start_day"),
            &[],
        )?
        .iter()
        .map(statement_from_row)
        .collect()
    }

    fn insert_statement(&mut self, row: &StatementRow, trees: &[TreeRow], notices: &[NoticeRow]) -> Result<bool> {
        let inserted = self.execute(
            &format!(
                "INSERT INTO statements ({STATEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (statement_id) DO NOTHING"
            ),
            &[
                &row.statement_id,
                &row.contract,
                &row.period,
                &row.host,
                &row.start_day,
                &row.end_day,
                &row.close_seq.to_stored(),
                &row.settled,
                &row.json,
                &row.closed_at,
                &row.seq.to_stored(),
            ],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        for tree in trees {
            self.execute(
                "INSERT INTO statement_trees (statement_id, tree, count, root) VALUES ($1, $2, $3, $4)",
                &[&tree.statement_id, &tree.tree, &tree.count, &tree.root],
            )?;
            for (chunk, leaves) in tree.chunks() {
                self.execute(
                    "INSERT INTO statement_tree_leaves (statement_id, tree, chunk, leaves) VALUES ($1, $2, $3, $4)",
                    &[&tree.statement_id, &tree.tree, &chunk, &leaves],
                )?;
            }
        }
        for notice in notices {
            self.execute(
                "INSERT INTO payout_notices (statement_id, beneficiary, json) VALUES ($1, $2, $3)",
                &[&notice.statement_id, &notice.beneficiary, &notice.json],
            )?;
        }
        Ok(true)
    }

    fn tree(&mut self, statement_id: &str, tree: &str) -> Result<Option<TreeRow>> {
        let Some(summary) = self.query_opt(crate::TREE_SUMMARY, &[&statement_id, &tree])? else {
            return Ok(None);
        };
        let mut leaves = Vec::with_capacity(usize::try_from(summary.get::<_, i64>(2)).unwrap_or(0));
        // Chunk by chunk: a tree of tens of millions of leaves is held once, not twice.
        let mut chunks = self.client.query_raw(
            "SELECT leaves FROM statement_tree_leaves WHERE statement_id = $1 AND tree = $2 ORDER BY chunk",
            [&statement_id, &tree],
        )?;
        while let Some(chunk) = chunks.next()? {
            leaves.extend_from_slice(chunk.try_get::<_, &[u8]>(0)?);
        }
        Ok(Some(TreeRow {
            statement_id: statement_id.to_string(),
            tree: tree.to_string(),
            count: summary.get(0),
            root: summary.get(1),
            leaves,
        }))
    }

    fn tree_summaries(&mut self, statement_id: &str) -> Result<Vec<TreeRow>> {
        Ok(self
            .query(
                "SELECT tree, count, root FROM statement_trees WHERE statement_id = $1 ORDER BY tree",
                &[&statement_id],
            )?
            .iter()
            .map(|r| TreeRow {
                statement_id: statement_id.to_string(),
                tree: r.get(0),
                count: r.get(1),
                root: r.get(2),
                leaves: Vec::new(),
            })
            .collect())
    }

    fn notices(&mut self, statement_id: &str) -> Result<Vec<NoticeRow>> {
        Ok(self
            .query(
                "SELECT beneficiary, json FROM payout_notices WHERE statement_id = $1 ORDER BY beneficiary",
                &[&statement_id],
            )?
            .iter()
            .map(|r| NoticeRow {
                statement_id: statement_id.to_string(),
                beneficiary: r.get(0),
                json: r.get(1),
            })
            .collect())
    }

    fn audit_entries_at(&mut self, seqs: &[Seq]) -> Result<Vec<Entry>> {
        let seqs: Vec<i64> = seqs.iter().map(|s| s.to_stored()).collect();
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
                &[&row.party, &row.vkey, &row.added_at, &row.seq.to_stored()],
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
                    &row.seq.to_stored(),
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

/// Appends audit entries on a connection or inside a transaction.
fn insert_audit(client: &mut impl postgres::GenericClient, prepared: &mut Prepared, entries: &[Entry]) -> Result<()> {
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
