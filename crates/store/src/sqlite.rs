//! The embedded backend: one SQLite file (WAL, `synchronous = FULL`: a committed
//! import survives a crash of the process or the machine). SQLite has one writer at
//! a time, and `BEGIN IMMEDIATE` takes its lock: that is the store's write lock.

use std::path::Path;

use revshare_core::audit::{Entry, Head, Seq};
use rusqlite::{params, Connection, OptionalExtension};

use crate::backend::{
    Backend, CheckpointRow, ContractRow, ContributionRow, CosignatureRow, EventBatch, FxRow, IdempotencyRow,
    InsertOutcome, JobRow, KeyRow, LegRow, NoticeRow, PartyRow, PaymentRow, RegistryRow, Result, RollbackRow,
    SigningKeyRow, Staged, StatementRead, StatementRow, StoredSegment, TokenRow, TreeRow, Visit, VoidRow,
    WitnessKeyRow,
};
use crate::columns::*;
use crate::segment::{self, SegmentRow};
use crate::{host_parts, StoreError};

mod disputes;

/// The schema this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 6;
const SCHEMA_2: &str = include_str!("../migrations/sqlite/002_audited.sql");
const SCHEMA_3: &str = include_str!("../migrations/sqlite/003_tree_chunks.sql");
const SCHEMA_4: &str = include_str!("../migrations/sqlite/004_log_tree.sql");
const SCHEMA_5: &str = include_str!("../migrations/sqlite/005_ledger.sql");
const SCHEMA_6: &str = include_str!("../migrations/sqlite/006_disputes.sql");

pub struct SqliteStore {
    connection: Connection,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        match error {
            // SQLite keeps any value in any column: one of another type than the
            // schema's was written behind the service's back.
            rusqlite::Error::InvalidColumnType(_, name, found) => StoreError::corrupt(
                format!("column {name}"),
                format!("holds a {found}, not what the schema says"),
            ),
            // A value that reads but is not valid (a negative seq), named by its row.
            rusqlite::Error::FromSqlConversionFailure(_, _, cause) if cause.is::<StoreError>() => {
                match cause.downcast::<StoreError>() {
                    Ok(error) => *error,
                    Err(cause) => StoreError::corrupt("a stored column", cause.to_string()),
                }
            }
            rusqlite::Error::FromSqlConversionFailure(_, found, cause) => StoreError::corrupt(
                "a stored column",
                format!("holds a {found} that does not convert: {cause}"),
            ),
            rusqlite::Error::IntegralValueOutOfRange(_, value) => {
                StoreError::corrupt("a stored column", format!("holds {value}, out of its range"))
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// The seq in column `index` of a row of `table`; a negative one is corrupt, named as
/// `table:<column key>` (inside a row mapper, whose error type is rusqlite's).
fn seq_at(r: &rusqlite::Row<'_>, index: usize, table: &str, key: usize) -> rusqlite::Result<Seq> {
    let stored: i64 = r.get(index)?;
    let object = || match r.get::<_, rusqlite::types::Value>(key) {
        Ok(rusqlite::types::Value::Integer(n)) => format!("{table}:{n}"),
        Ok(rusqlite::types::Value::Text(text)) => format!("{table}:{text}"),
        _ => table.to_string(),
    };
    crate::stored_seq(stored, object).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Integer, Box::new(error))
    })
}

/// Creates an empty file readable by its owner only, so that SQLite (which gives the
/// `-wal` and `-shm` files the database's permissions) never makes it world-readable.
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(format!("cannot create {}: {e}", path.display()))),
    }
}

/// A file found empty (made by someone else before `init`) becomes private too
/// before it holds anything.
fn make_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Io(format!("cannot make {} private: {e}", path.display())))?;
    }
    Ok(())
}

/// Reads one `meta` value of a store without opening it for writing (nothing is
/// created or migrated): `None` when the file is not a store of this schema.
pub fn peek_meta(path: &Path, key: &str) -> Result<Option<String>> {
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let version: i64 = connection
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or(-1);
    // Schemas 3 and 4 changed no `meta` key it is asked for: a store of schema 2 or 3
    // (migrated when opened) answers too.
    if !(2..=SCHEMA_VERSION).contains(&version) {
        return Ok(None);
    }
    Ok(connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Brings a new store or one of schema 2 or 3 to this build's schema, in one transaction
/// (another process may have done it first: the version is read again inside it).
fn migrate(connection: &mut Connection, path: &Path) -> Result<()> {
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = transaction.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        SCHEMA_VERSION => return Ok(()),
        0 => transaction.execute_batch(&format!("{SCHEMA_2}\n{SCHEMA_3}\n{SCHEMA_4}\n{SCHEMA_5}\n{SCHEMA_6}"))?,
        2 => transaction.execute_batch(&format!("{SCHEMA_3}\n{SCHEMA_4}\n{SCHEMA_5}\n{SCHEMA_6}"))?,
        3 => transaction.execute_batch(&format!("{SCHEMA_4}\n{SCHEMA_5}\n{SCHEMA_6}"))?,
        4 => transaction.execute_batch(&format!("{SCHEMA_5}\n{SCHEMA_6}"))?,
        5 => transaction.execute_batch(SCHEMA_6)?,
        other => {
            return Err(StoreError::Refused(format!(
                "{}: not a revshare store of schema {SCHEMA_VERSION} (user_version {other})",
                path.display()
            )))
        }
    }
    transaction.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    transaction.commit()?;
    Ok(())
}

impl SqliteStore {
    /// The columns of an audit entry, not yet decoded.
    fn audit_entry_columns(&mut self, seq: Seq) -> Result<Option<(i64, [String; 8])>> {
        Ok(self
            .connection
            .query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq = ?1"),
                [seq.to_stored()],
                entry_from_row,
            )
            .optional()?)
    }

    /// Opens (creating it, mode 0600, if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        crate::check_parent(path)?;
        create_private(path)?;
        let mut connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        let version: i64 = connection.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = connection.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        // A store of another schema is refused before anything (even the journal
        // mode) is written to it.
        match (version, tables) {
            (2..=SCHEMA_VERSION, _) | (0, 0) => {}
            (1, _) => {
                return Err(StoreError::Refused(format!(
                    "{}: this store was made by an earlier build of revshare (schema 1, without the audit \
                     log); create a new store (revshare init) and import its usage again",
                    path.display()
                )))
            }
            (other, _) => {
                return Err(StoreError::Refused(format!(
                    "{}: not a revshare store of schema {SCHEMA_VERSION} (user_version {other})",
                    path.display()
                )))
            }
        }
        // Larger pages hold a segment in fewer overflow pages and mean fewer splits of
        // the key index; the size takes effect only on a new file, before WAL mode is set.
        connection.execute_batch("PRAGMA page_size = 16384")?;
        // A 64 MiB page cache bounds an import's memory whatever the file's size
        // (imports append, so their hot pages are few).
        connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
        )?;
        if version == 0 {
            make_private(path)?;
        }
        if version != SCHEMA_VERSION {
            migrate(&mut connection, path)?;
        }
        Ok(SqliteStore { connection })
    }

    /// Claims a batch's keys under the write lock, in the transaction open on
    /// `connection`.
    fn stage_batch(connection: &Connection, batch: &EventBatch) -> Result<Staged> {
        let outcomes = claim_keys(connection, batch)?;
        let parts = host_parts(batch, &outcomes);
        Ok(Staged::new(head_of(connection)?, outcomes, parts, Vec::new()))
    }

    /// Stores a staged batch's accepted events and their entries.
    fn store_batch(connection: &Connection, batch: &EventBatch, staged: &Staged, entries: &[Entry]) -> Result<()> {
        staged.check(entries)?;
        let mut insert = connection
            .prepare_cached("INSERT INTO segments (host, day, seq, count, events) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut bytes = Vec::new();
        let outcomes = staged.outcomes();
        for group in &batch.segments {
            let count = group.segment(|index| outcomes[index] == InsertOutcome::Accepted, &mut bytes)?;
            if count == 0 {
                continue;
            }
            let first = batch.view(group.first);
            let seq = staged.seq_of(first.host, entries)?;
            insert.execute(params![first.host, first.day, seq, count as i64, bytes])?;
        }
        append(connection, entries)
    }
}

fn head_of(connection: &Connection) -> Result<Head> {
    let row: Option<(i64, String)> = connection
        .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    crate::head_from(row)
}

fn append(connection: &Connection, entries: &[Entry]) -> Result<()> {
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

fn token_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::TokenColumns> {
    Ok(crate::TokenColumns {
        token_id: r.get(0)?,
        party: r.get(1)?,
        role: r.get(2)?,
        contracts: r.get(3)?,
        expires: r.get(4)?,
        sha256: r.get(5)?,
        created_at: r.get(6)?,
        revoked_at: r.get(7)?,
        seq: r.get(8)?,
    })
}

fn statement_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StatementRow> {
    Ok(StatementRow {
        statement_id: row.get(0)?,
        contract: row.get(1)?,
        period: row.get(2)?,
        host: row.get(3)?,
        start_day: row.get(4)?,
        end_day: row.get(5)?,
        close_seq: seq_at(row, 6, "statements", 0)?,
        settled: row.get(7)?,
        json: row.get(8)?,
        closed_at: row.get(9)?,
        seq: seq_at(row, 10, "statements", 0)?,
    })
}

fn payment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<PaymentRow>> {
    let payment_id: String = r.get(0)?;
    let status: String = r.get(8)?;
    let status = match crate::payment_status(&payment_id, &status) {
        Ok(status) => status,
        Err(error) => return Ok(Err(error)),
    };
    Ok(Ok(PaymentRow {
        payment_id,
        contract: r.get(1)?,
        currency: r.get(2)?,
        payer: r.get(3)?,
        payee: r.get(4)?,
        amount: r.get(5)?,
        date: r.get(6)?,
        reference: r.get(7)?,
        status,
        recorded_by: r.get(9)?,
        recorded_at: r.get(10)?,
        recorded_seq: seq_at(r, 11, "payments", 0)?,
        confirmed_by: r.get(12)?,
        confirmed_at: r.get(13)?,
        withdrawn_by: r.get(14)?,
        withdrawn_at: r.get(15)?,
        reversed_by: r.get(16)?,
        reversed_at: r.get(17)?,
        reversal_reason: r.get(18)?,
        seq: seq_at(r, 19, "payments", 0)?,
    }))
}

fn leg_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LegRow> {
    Ok(LegRow {
        txn: r.get(0)?,
        contract: r.get(1)?,
        currency: r.get(2)?,
        host: r.get(3)?,
        beneficiary: r.get(4)?,
        side: r.get(5)?,
        amount: r.get(6)?,
        day: r.get(7)?,
        due: r.get(8)?,
        seq: seq_at(r, 9, "ledger_legs", 0)?,
    })
}

fn contribution_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ContributionRow>> {
    let number: i64 = r.get(0)?;
    let (by, kind, status): (String, String, String) = (r.get(2)?, r.get(3)?, r.get(5)?);
    let contract: String = r.get(1)?;
    let (by, kind, status) = match crate::contribution_enums(&contract, number, &by, &kind, &status) {
        Ok(enums) => enums,
        Err(error) => return Ok(Err(error)),
    };
    Ok(Ok(ContributionRow {
        number,
        contract,
        by,
        kind,
        date: r.get(4)?,
        status,
        reference: r.get(6)?,
        proposed_by: r.get(7)?,
        proposed_at: r.get(8)?,
        proposed_seq: seq_at(r, 9, "contributions", 0)?,
        decided_by: r.get(10)?,
        decided_at: r.get(11)?,
        decided_seq: match r.get::<_, Option<i64>>(12)? {
            Some(_) => Some(seq_at(r, 12, "contributions", 0)?),
            None => None,
        },
        seq: seq_at(r, 13, "contributions", 0)?,
    }))
}

/// A BLOB column borrowed from its row; a value of another type is corrupt.
fn blob<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r [u8]> {
    Ok(row.get_ref(index)?.as_blob().map_err(rusqlite::Error::from)?)
}

/// An idempotency key's leaf, which must be 32 bytes.
fn leaf_of(source: &str, id: &str, bytes: Vec<u8>) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::corrupt(format!("event:{source}/{id}"), "its key row's leaf is not 32 bytes"))
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

impl Backend for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn begin_write(&mut self) -> Result<Head> {
        // IMMEDIATE takes the write lock now: every other writer waits until commit.
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        match head_of(&self.connection) {
            Ok(head) => Ok(head),
            Err(error) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    fn begin_read(&mut self) -> Result<()> {
        self.connection.execute_batch("BEGIN DEFERRED")?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.connection.execute_batch("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        if !self.connection.is_autocommit() {
            self.connection.execute_batch("ROLLBACK")?;
        }
        Ok(())
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

    fn append_audit(&mut self, entries: &[Entry]) -> Result<()> {
        append(&self.connection, entries)
    }

    fn audit_head(&mut self) -> Result<Head> {
        head_of(&self.connection)
    }

    fn audit_entries(&mut self, after: Seq, limit: usize) -> Result<Vec<Entry>> {
        let after = after.to_stored();
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

    fn add_signing_key(&mut self, row: &SigningKeyRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO signing_keys (key_id, alg, public_key, created_at, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![row.key_id, row.alg, row.public_key, row.created_at, row.seq.to_stored()],
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

    fn add_party(&mut self, row: &PartyRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO parties (id, name, created_at, seq) VALUES (?1, ?2, ?3, ?4)",
            params![row.id, row.name, row.created_at, row.seq.to_stored()],
        )?;
        Ok(())
    }

    fn parties(&mut self) -> Result<Vec<PartyRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT id, name, created_at, seq FROM parties ORDER BY id")?;
        let rows = statement.query_map([], |r| {
            Ok(PartyRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                seq: seq_at(r, 3, "parties", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_token(&mut self, row: &TokenRow) -> Result<()> {
        self.connection.execute(
            &format!("INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
            params![
                row.token_id,
                row.party,
                row.role.as_str(),
                crate::contracts_json(&row.contracts),
                row.expires,
                row.sha256,
                row.created_at,
                row.revoked_at,
                row.seq.to_stored()
            ],
        )?;
        Ok(())
    }

    fn update_token(&mut self, row: &TokenRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE tokens SET revoked_at = ?2, seq = ?3 WHERE token_id = ?1",
            params![row.token_id, row.revoked_at, row.seq.to_stored()],
        )?;
        crate::one_text_row(changed, "token", &row.token_id)
    }

    fn tokens(&mut self) -> Result<Vec<TokenRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, token_id"
        ))?;
        let rows = statement.query_map([], token_columns)?;
        rows.map(|r| crate::token_from_columns(r?)).collect()
    }

    fn token(&mut self, token_id: &str) -> Result<Option<TokenRow>> {
        let row = self
            .connection
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_id = ?1"),
                [token_id],
                token_columns,
            )
            .optional()?;
        row.map(crate::token_from_columns).transpose()
    }

    fn add_contract(&mut self, row: &ContractRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO contracts (id, version, licensor, host, file_name, sha256, toml, added_at, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                row.id,
                row.version,
                row.licensor,
                row.host,
                row.file_name,
                row.sha256,
                row.toml,
                row.added_at,
                row.seq.to_stored()
            ],
        )?;
        Ok(())
    }

    fn contracts(&mut self) -> Result<Vec<ContractRow>> {
        let mut statement = self.connection.prepare(
            "SELECT id, version, licensor, host, file_name, sha256, toml, added_at, seq
             FROM contracts ORDER BY id, version",
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
                seq: seq_at(r, 8, "contracts", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_fx(&mut self, rows: &[FxRow]) -> Result<()> {
        let mut insert = self.connection.prepare_cached(
            "INSERT INTO fx_rates (date, from_currency, to_currency, rate, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for row in rows {
            insert.execute(params![row.date, row.from, row.to, row.rate, row.seq.to_stored()])?;
        }
        Ok(())
    }

    fn fx(&mut self) -> Result<Vec<FxRow>> {
        let mut statement = self.connection.prepare(
            "SELECT date, from_currency, to_currency, rate, seq FROM fx_rates
             ORDER BY from_currency, to_currency, date",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(FxRow {
                date: r.get(0)?,
                from: r.get(1)?,
                to: r.get(2)?,
                rate: r.get(3)?,
                seq: seq_at(r, 4, "fx_rates", 0)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_registry(&mut self, row: &RegistryRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO registry_versions (version, effective_from, file_name, added_at, rows, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                row.version,
                row.effective_from,
                row.file_name,
                row.added_at,
                crate::registry_rows_json(&row.rows),
                row.seq.to_stored()
            ],
        )?;
        Ok(())
    }

    fn registries(&mut self) -> Result<Vec<RegistryRow>> {
        let mut statement = self.connection.prepare(
            "SELECT version, effective_from, file_name, added_at, rows, seq FROM registry_versions ORDER BY version",
        )?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (version, effective_from, file_name, added_at, rows, seq) = row?;
            Ok(RegistryRow {
                version,
                effective_from,
                file_name,
                added_at,
                rows: crate::registry_rows_parse(version, &rows)?,
                seq: crate::stored_seq(seq, || format!("registry_versions:{version}"))?,
            })
        })
        .collect()
    }

    fn add_contribution(&mut self, row: &ContributionRow) -> Result<i64> {
        self.connection.execute(
            "INSERT INTO contributions (contract, by_party, kind, date, status, reference, proposed_by, proposed_at,
                                        proposed_seq, decided_by, decided_at, decided_seq, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                row.contract,
                row.by.as_str(),
                row.kind.as_str(),
                row.date,
                row.status.as_str(),
                row.reference,
                row.proposed_by,
                row.proposed_at,
                row.proposed_seq.to_stored(),
                row.decided_by,
                row.decided_at,
                row.decided_seq.map(Seq::to_stored),
                row.seq.to_stored()
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    fn update_contribution(&mut self, row: &ContributionRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE contributions SET status = ?2, decided_by = ?3, decided_at = ?4, decided_seq = ?5, seq = ?6
             WHERE number = ?1",
            params![
                row.number,
                row.status.as_str(),
                row.decided_by,
                row.decided_at,
                row.decided_seq.map(Seq::to_stored),
                row.seq.to_stored()
            ],
        )?;
        crate::one_row(changed, "contribution", row.number)
    }

    fn contributions(&mut self) -> Result<Vec<ContributionRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {CONTRIBUTION_COLUMNS} FROM contributions ORDER BY number"
        ))?;
        let rows = statement.query_map([], contribution_from_row)?;
        rows.map(|r| r?).collect()
    }

    fn add_payment(&mut self, row: &PaymentRow) -> Result<()> {
        self.connection.execute(
            &format!(
                "INSERT INTO payments ({PAYMENT_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ),
            params![
                row.payment_id,
                row.contract,
                row.currency,
                row.payer,
                row.payee,
                row.amount,
                row.date,
                row.reference,
                row.status.as_str(),
                row.recorded_by,
                row.recorded_at,
                row.recorded_seq.to_stored(),
                row.confirmed_by,
                row.confirmed_at,
                row.withdrawn_by,
                row.withdrawn_at,
                row.reversed_by,
                row.reversed_at,
                row.reversal_reason,
                row.seq.to_stored()
            ],
        )?;
        Ok(())
    }

    fn update_payment(&mut self, row: &PaymentRow) -> Result<()> {
        let changed = self.connection.execute(
            "UPDATE payments SET status = ?2, confirmed_by = ?3, confirmed_at = ?4, withdrawn_by = ?5,
                    withdrawn_at = ?6, reversed_by = ?7, reversed_at = ?8, reversal_reason = ?9, seq = ?10
             WHERE payment_id = ?1",
            params![
                row.payment_id,
                row.status.as_str(),
                row.confirmed_by,
                row.confirmed_at,
                row.withdrawn_by,
                row.withdrawn_at,
                row.reversed_by,
                row.reversed_at,
                row.reversal_reason,
                row.seq.to_stored()
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
        let row = self
            .connection
            .query_row(
                &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = ?1"),
                [payment_id],
                payment_from_row,
            )
            .optional()?;
        row.transpose()
    }

    fn payments(&mut self) -> Result<Vec<PaymentRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments ORDER BY recorded_seq, payment_id"
        ))?;
        let rows = statement.query_map([], payment_from_row)?;
        rows.map(|r| r?).collect()
    }

    fn add_legs(&mut self, legs: &[LegRow]) -> Result<()> {
        let mut insert = self.connection.prepare_cached(&format!(
            "INSERT INTO ledger_legs ({LEG_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))?;
        for leg in legs {
            insert.execute(params![
                leg.txn,
                leg.contract,
                leg.currency,
                leg.host,
                leg.beneficiary,
                leg.side,
                leg.amount,
                leg.day,
                leg.due,
                leg.seq.to_stored()
            ])?;
        }
        Ok(())
    }

    fn legs(&mut self) -> Result<Vec<LegRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {LEG_COLUMNS} FROM ledger_legs ORDER BY seq, txn, beneficiary, side"
        ))?;
        let rows = statement.query_map([], leg_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn receivable_legs(&mut self) -> Result<Vec<LegRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {LEG_COLUMNS} FROM ledger_legs WHERE side = 'receivable'
             ORDER BY host, beneficiary, contract, currency, seq, txn"
        ))?;
        let rows = statement.query_map([], leg_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

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
        let (after, through) = (after.to_stored(), through.to_stored());
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

    fn has_events(&mut self, host: &str, start: i32, end: i32, after: Seq, through: Seq) -> Result<bool> {
        let (after, through) = (after.to_stored(), through.to_stored());
        Ok(self.connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM segments
                 WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5)",
            params![host, start, end, after, through],
            |r| r.get(0),
        )?)
    }

    fn scan_batch_except(&mut self, seq: Seq, host: &str, start: i32, end: i32, visit: &mut Visit<'_>) -> Result<()> {
        let seq = seq.to_stored();
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
        let (after, through) = (after.to_stored(), through.to_stored());
        let count: i64 = self.connection.query_row(
            "SELECT coalesce(sum(count), 0) FROM segments
             WHERE host = ?1 AND day >= ?2 AND day < ?3 AND seq > ?4 AND seq <= ?5",
            params![host, start, end, after, through],
            |r| r.get(0),
        )?;
        Ok(count as u64)
    }

    fn event_hosts(&mut self, start: i32, end: i32, through: Seq) -> Result<Vec<(String, u64)>> {
        let through = through.to_stored();
        let mut statement = self.connection.prepare_cached(
            "SELECT host, sum(count) FROM segments WHERE day >= ?1 AND day < ?2 AND seq <= ?3 GROUP BY host ORDER BY host",
        )?;
        let rows = statement.query_map(params![start, end, through], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn scan_all_segments(&mut self, visit: &mut dyn FnMut(&StoredSegment<'_>) -> Result<()>) -> Result<()> {
        let mut statement = self
            .connection
            .prepare("SELECT number, host, day, seq, count, events FROM segments ORDER BY seq, number")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let host: String = row.get(1)?;
            visit(&StoredSegment {
                number: row.get(0)?,
                host: &host,
                day: row.get(2)?,
                seq: seq_at(row, 3, "segments", 0)?,
                count: row.get(4)?,
                bytes: blob(row, 5)?,
            })?;
        }
        Ok(())
    }

    fn event_key(&mut self, source: &str, id: &str) -> Result<Option<KeyRow>> {
        let row: Option<(Vec<u8>, String, i32)> = self
            .connection
            .query_row(
                "SELECT leaf, host, day FROM event_keys WHERE source = ?1 AND id = ?2",
                [source, id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(leaf, host, day)| {
            Ok(KeyRow {
                source: source.to_string(),
                id: id.to_string(),
                leaf: leaf_of(source, id, leaf)?,
                host,
                day,
            })
        })
        .transpose()
    }

    fn scan_keys(&mut self, visit: &mut dyn FnMut(&KeyRow) -> Result<()>) -> Result<()> {
        let mut statement = self
            .connection
            .prepare("SELECT source, id, leaf, host, day FROM event_keys")?;
        let mut rows = statement.query([])?;
        while let Some(r) = rows.next()? {
            let (source, id): (String, String) = (r.get(0)?, r.get(1)?);
            visit(&KeyRow {
                leaf: leaf_of(&source, &id, r.get(2)?)?,
                source,
                id,
                host: r.get(3)?,
                day: r.get(4)?,
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
                row.seq.to_stored()
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

    fn claim_idempotency(&mut self, row: &IdempotencyRow) -> Result<IdempotencyRow> {
        self.connection.execute(
            "INSERT INTO idempotency (token_id, method, path, key, body_sha256, done, status, content_type, response,
                                      created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            params![
                row.token_id,
                row.method,
                row.path,
                row.key,
                row.body_sha256,
                row.done,
                row.status,
                row.content_type,
                row.response,
                row.created_at
            ],
        )?;
        Ok(self.connection.query_row(
            "SELECT body_sha256, done, status, content_type, response, created_at FROM idempotency
             WHERE token_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4",
            params![row.token_id, row.method, row.path, row.key],
            |r| {
                Ok(IdempotencyRow {
                    body_sha256: r.get(0)?,
                    done: r.get(1)?,
                    status: r.get(2)?,
                    content_type: r.get(3)?,
                    response: r.get(4)?,
                    created_at: r.get(5)?,
                    ..row.clone()
                })
            },
        )?)
    }

    fn finish_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.connection.execute(
            "UPDATE idempotency SET done = 1, status = ?5, content_type = ?6, response = ?7
             WHERE token_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4",
            params![
                row.token_id,
                row.method,
                row.path,
                row.key,
                row.status,
                row.content_type,
                row.response
            ],
        )?;
        Ok(())
    }

    fn release_idempotency(&mut self, row: &IdempotencyRow) -> Result<()> {
        self.connection.execute(
            "DELETE FROM idempotency WHERE token_id = ?1 AND method = ?2 AND path = ?3 AND key = ?4 AND done = 0",
            params![row.token_id, row.method, row.path, row.key],
        )?;
        Ok(())
    }

    fn purge_idempotency(&mut self, before: &str) -> Result<u64> {
        let removed = self
            .connection
            .execute("DELETE FROM idempotency WHERE created_at < ?1", [before])?;
        Ok(removed as u64)
    }

    fn add_job(&mut self, row: &JobRow) -> Result<()> {
        self.connection.execute(
            "INSERT INTO jobs (id, kind, actor, state, result, created_at, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![row.id, row.kind, row.actor, row.state, row.result, row.created_at, row.finished_at],
        )?;
        Ok(())
    }

    fn update_job(&mut self, row: &JobRow) -> Result<()> {
        self.connection.execute(
            "UPDATE jobs SET state = ?2, result = ?3, finished_at = ?4 WHERE id = ?1",
            params![row.id, row.state, row.result, row.finished_at],
        )?;
        Ok(())
    }

    fn job(&mut self, id: &str) -> Result<Option<JobRow>> {
        Ok(self
            .connection
            .query_row(
                "SELECT id, kind, actor, state, result, created_at, finished_at FROM jobs WHERE id = ?1",
                [id],
                |r| {
                    Ok(JobRow {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        actor: r.get(2)?,
                        state: r.get(3)?,
                        result: r.get(4)?,
                        created_at: r.get(5)?,
                        finished_at: r.get(6)?,
                    })
                },
            )
            .optional()?)
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

    fn statement_read(&mut self, statement_id: &str) -> Result<Option<StatementRead>> {
        let Some(row) = self.statement(statement_id)? else {
            return Ok(None);
        };
        let entry = self
            .audit_entry_columns(row.seq)?
            .and_then(|columns| crate::entry_from_columns(columns).ok());
        let keys = self.signing_keys()?;
        Ok(Some(StatementRead { row, entry, keys }))
    }

    fn statements(&mut self) -> Result<Vec<StatementRow>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {STATEMENT_COLUMNS} FROM statements ORDER BY contract, start_day"
        ))?;
        let rows = statement.query_map([], statement_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_statement(&mut self, row: &StatementRow, trees: &[TreeRow], notices: &[NoticeRow]) -> Result<bool> {
        let inserted = self.connection.execute(
            &format!(
                "INSERT INTO statements ({STATEMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (statement_id) DO NOTHING"
            ),
            params![
                row.statement_id,
                row.contract,
                row.period,
                row.host,
                row.start_day,
                row.end_day,
                row.close_seq.to_stored(),
                row.settled,
                row.json,
                row.closed_at,
                row.seq.to_stored()
            ],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        for tree in trees {
            self.connection.execute(
                "INSERT INTO statement_trees (statement_id, tree, count, root) VALUES (?1, ?2, ?3, ?4)",
                params![tree.statement_id, tree.tree, tree.count, tree.root],
            )?;
            for (chunk, leaves) in tree.chunks() {
                self.connection.execute(
                    "INSERT INTO statement_tree_leaves (statement_id, tree, chunk, leaves) VALUES (?1, ?2, ?3, ?4)",
                    params![tree.statement_id, tree.tree, chunk, leaves],
                )?;
            }
        }
        for notice in notices {
            self.connection.execute(
                "INSERT INTO payout_notices (statement_id, beneficiary, json) VALUES (?1, ?2, ?3)",
                params![notice.statement_id, notice.beneficiary, notice.json],
            )?;
        }
        Ok(true)
    }

    fn tree(&mut self, statement_id: &str, tree: &str) -> Result<Option<TreeRow>> {
        let summary = self
            .connection
            .query_row(crate::TREE_SUMMARY, [statement_id, tree], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?))
            })
            .optional()?;
        let Some((count, root, size)) = summary else {
            return Ok(None);
        };
        let mut leaves = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut chunks = self.connection.prepare_cached(
            "SELECT leaves FROM statement_tree_leaves WHERE statement_id = ?1 AND tree = ?2 ORDER BY chunk",
        )?;
        let mut rows = chunks.query([statement_id, tree])?;
        while let Some(row) = rows.next()? {
            let chunk = row.get_ref(0)?;
            let bytes = chunk
                .as_blob()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, chunk.data_type(), Box::new(e)))?;
            leaves.extend_from_slice(bytes);
        }
        Ok(Some(TreeRow {
            statement_id: statement_id.to_string(),
            tree: tree.to_string(),
            count,
            root,
            leaves,
        }))
    }

    fn tree_summaries(&mut self, statement_id: &str) -> Result<Vec<TreeRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT tree, count, root FROM statement_trees WHERE statement_id = ?1 ORDER BY tree")?;
        let rows = statement.query_map([statement_id], |r| {
            Ok(TreeRow {
                statement_id: statement_id.to_string(),
                tree: r.get(0)?,
                count: r.get(1)?,
                root: r.get(2)?,
                leaves: Vec::new(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn notices(&mut self, statement_id: &str) -> Result<Vec<NoticeRow>> {
        let mut statement = self
            .connection
            .prepare("SELECT beneficiary, json FROM payout_notices WHERE statement_id = ?1 ORDER BY beneficiary")?;
        let rows = statement.query_map([statement_id], |r| {
            Ok(NoticeRow {
                statement_id: statement_id.to_string(),
                beneficiary: r.get(0)?,
                json: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn audit_entries_at(&mut self, seqs: &[Seq]) -> Result<Vec<Entry>> {
        let seqs: Vec<i64> = seqs.iter().map(|s| s.to_stored()).collect();
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
            params![row.party, row.vkey, row.added_at, row.seq.to_stored()],
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
                row.seq.to_stored()
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

/// Claims each event's key: the first occurrence of a new key is accepted; a stored
/// key with the same leaf is a duplicate, with another leaf a conflict.
fn claim_keys(transaction: &Connection, events: &EventBatch) -> Result<Vec<InsertOutcome>> {
    let mut claim = transaction.prepare_cached(
        "INSERT INTO event_keys (source, id, leaf, host, day) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    )?;
    let mut existing = transaction.prepare_cached("SELECT leaf FROM event_keys WHERE source = ?1 AND id = ?2")?;
    let mut outcomes = Vec::with_capacity(events.len());
    for index in 0..events.len() {
        let e = events.view(index);
        if claim.execute(params![e.source, e.id, e.leaf, e.host, e.day])? == 1 {
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
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_of_the_earlier_schema_is_refused_by_name_and_left_alone() {
        let directory = std::env::temp_dir().join(format!("revshare-schema1-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("old.db");
        let _ = std::fs::remove_file(&path);
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch("CREATE TABLE segments (number INTEGER PRIMARY KEY); PRAGMA user_version = 1;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let error = SqliteStore::open(&path).err().expect("refused");
        assert!(error.to_string().contains("earlier build of revshare"), "{error}");
        assert!(std::fs::read(&path).unwrap() == before, "the old file is untouched");
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_new_store_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let directory = std::env::temp_dir().join(format!("revshare-mode-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("new.db");
        let _ = std::fs::remove_file(&path);
        // The `-wal` file exists while the store is open.
        let _open = SqliteStore::open(&path).unwrap();
        for suffix in ["", "-wal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let mode = std::fs::metadata(&name).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{suffix}");
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
