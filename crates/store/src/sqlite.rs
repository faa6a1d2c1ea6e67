//! The embedded backend: one SQLite file (WAL, `synchronous = FULL`: a committed
//! import survives a crash of the process or the machine). SQLite has one writer at
//! a time, and `BEGIN IMMEDIATE` takes its lock: that is the store's write lock.

mod after_term;
mod audit;
mod copy;
mod disputes;
mod events;
mod ledger;
mod migrations;
mod statements;
mod tables;

use std::path::Path;

use revshare_core::audit::{Head, Seq};
use revshare_core::statement::StatementId;
use rusqlite::{Connection, OptionalExtension};

use crate::backend::{Result, Transactions};
use crate::StoreError;
use audit::head_of;
use migrations::{migrate, SCHEMA_VERSION};

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

/// A statement id column of `table`; one that is not `<contract>/<period>` is corrupt.
fn statement_id_at(r: &rusqlite::Row<'_>, index: usize, table: &str) -> rusqlite::Result<StatementId> {
    crate::stored_statement_id(r.get(index)?, table)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error)))
}

/// A BLOB column borrowed from its row; a value of another type is corrupt.
fn blob<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<&'r [u8]> {
    Ok(row.get_ref(index)?.as_blob().map_err(rusqlite::Error::from)?)
}

/// A BLOB column that may be NULL; a value of another type is corrupt.
fn blob_or_none<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> Result<Option<&'r [u8]>> {
    Ok(row.get_ref(index)?.as_blob_or_null().map_err(rusqlite::Error::from)?)
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

impl SqliteStore {
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
}

impl Transactions for SqliteStore {
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
