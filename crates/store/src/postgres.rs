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

mod after_term;
mod audit;
mod copy;
mod disputes;
mod events;
mod ledger;
mod migrations;
mod partitions;
mod statements;
mod tables;

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use revshare_core::audit::{Head, Seq};
use revshare_core::statement::StatementId;

use crate::backend::{Backend, Result, Transactions};
use crate::StoreError;
use migrations::migrate;

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

pub struct PgStore {
    client: Client,
    /// The statements this connection has prepared, by their text.
    prepared: Prepared,
    url: String,
    /// Whether every key of the last batch written on this connection was new: if so,
    /// the next batch's keys are claimed by `COPY` ([`copy_new_keys`]), else by
    /// `INSERT … ON CONFLICT` ([`claim_keys`]).
    keys_were_new: bool,
    /// The months whose `segments` partitions exist, as this connection knows.
    partitions: partitions::Made,
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
        let config = parse_url(url)?;
        let mut client = config.connect(NoTls).map_err(|e| connect_error(&config, &e))?;
        let mut transaction = client.transaction()?;
        migrate(&mut transaction, url)?;
        transaction.commit()?;
        Ok(PgStore {
            client,
            prepared: Prepared::default(),
            url: url.to_string(),
            keys_were_new: true,
            partitions: partitions::Made::default(),
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

/// A connection URL parsed, or refused (the caller's to fix, so exit 2) naming the
/// form it takes.
fn parse_url(url: &str) -> Result<postgres::Config> {
    const FORM: &str = "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE";
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Refused(format!("`{}` is not a PostgreSQL URL ({e}); {FORM}", redact(url))))?;
    if config.get_hosts().is_empty() {
        return Err(StoreError::Refused(format!(
            "the PostgreSQL URL `{}` names no host; {FORM}",
            redact(url)
        )));
    }
    // A host that drops packets would hold the command for minutes.
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    Ok(config)
}

/// Why a connection failed, in words that name the cause and the fix: the database
/// or the role missing, the password refused or missing, the server unreachable.
fn connect_error(config: &postgres::Config, error: &postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "(the system user)".to_string());
    let database = config.get_dbname().map_or_else(|| user.clone(), str::to_string);
    let at = format!("PostgreSQL at {host}:{port}");
    let message = match error.as_db_error() {
        Some(db) if *db.code() == SqlState::INVALID_CATALOG_NAME => format!(
            "the database `{database}` does not exist on {at}; create it with \
             `createdb -h {host} -p {port} -U {user} {database}` (the first command then sets it up)"
        ),
        Some(db)
            if *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("does not exist") =>
        {
            format!(
                "the role `{user}` does not exist on {at}; create it with `createuser -h {host} -p {port} {user}` \
                 (as a superuser) or name an existing role in the URL (postgres://USER@HOST/DATABASE)"
            )
        }
        Some(db) if *db.code() == SqlState::INVALID_PASSWORD => format!(
            "{at} refused the password of the role `{user}`; give the right one in the URL \
             (postgres://USER:PASSWORD@HOST/DATABASE)"
        ),
        Some(db) if db.code().code().starts_with("28") => format!(
            "{at} refused the role `{user}`: {}; check that pg_hba.conf lets it reach `{database}` from here",
            db.message()
        ),
        Some(db) => format!("{at} refused the connection: {}: {}", db.code().code(), db.message()),
        None => {
            let mut source = std::error::Error::source(error);
            let mut io = None;
            while let Some(cause) = source {
                if let Some(e) = cause.downcast_ref::<std::io::Error>() {
                    io = Some(e.to_string());
                    break;
                }
                source = cause.source();
            }
            match io {
                Some(io) => format!(
                    "cannot reach {at} ({io}); check the host and port in the URL and that the server \
                     is running and accepts TCP connections"
                ),
                None if error.to_string().starts_with("timeout") => format!(
                    "cannot reach {at} within 10 seconds; check the host and port in the URL and that the \
                     server is running (a firewall may drop the packets)"
                ),
                None if error.to_string().starts_with("authentication error") => format!(
                    "{at} asks the role `{user}` for a password and the URL gives none; add it \
                     (postgres://USER:PASSWORD@HOST/DATABASE)"
                ),
                None => format!("cannot connect to {at}: {error}"),
            }
        }
    };
    StoreError::Database(message)
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

/// A statement id column of `table`; one that is not `<contract>/<period>` is corrupt.
fn statement_id_at(r: &postgres::Row, index: usize, table: &str) -> Result<StatementId> {
    crate::stored_statement_id(r.try_get(index)?, table)
}

impl Transactions for PgStore {
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
}
