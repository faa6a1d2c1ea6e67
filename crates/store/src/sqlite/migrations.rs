//! The schema ladder: a new store's tables, and each earlier schema moved forward
//! when the store is opened.

use std::path::Path;

use rusqlite::Connection;

use crate::backend::Result;
use crate::StoreError;

/// The schema this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 5;
const SCHEMA_2: &str = include_str!("../../migrations/sqlite/002_audited.sql");
const SCHEMA_3: &str = include_str!("../../migrations/sqlite/003_tree_chunks.sql");
const SCHEMA_4: &str = include_str!("../../migrations/sqlite/004_log_tree.sql");
const SCHEMA_5: &str = include_str!("../../migrations/sqlite/005_ledger.sql");

/// Brings a new store or one of schema 2 or 3 to this build's schema, in one transaction
/// (another process may have done it first: the version is read again inside it).
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<()> {
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = transaction.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        SCHEMA_VERSION => return Ok(()),
        0 => transaction.execute_batch(&format!("{SCHEMA_2}\n{SCHEMA_3}\n{SCHEMA_4}\n{SCHEMA_5}"))?,
        2 => transaction.execute_batch(&format!("{SCHEMA_3}\n{SCHEMA_4}\n{SCHEMA_5}"))?,
        3 => transaction.execute_batch(&format!("{SCHEMA_4}\n{SCHEMA_5}"))?,
        4 => transaction.execute_batch(SCHEMA_5)?,
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
