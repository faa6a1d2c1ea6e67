//! The schema ladder: a new store's tables, and each earlier schema moved forward
//! when the store is opened.

use std::path::Path;

use rusqlite::Connection;

use crate::backend::Result;
use crate::StoreError;

/// The schema this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 11;
const SCHEMA_2: &str = include_str!("../../migrations/sqlite/002_audited.sql");
const SCHEMA_3: &str = include_str!("../../migrations/sqlite/003_tree_chunks.sql");
const SCHEMA_4: &str = include_str!("../../migrations/sqlite/004_log_tree.sql");
const SCHEMA_5: &str = include_str!("../../migrations/sqlite/005_ledger.sql");
const SCHEMA_6: &str = include_str!("../../migrations/sqlite/006_closed_after_term.sql");
const SCHEMA_7: &str = include_str!("../../migrations/sqlite/007_disputes.sql");
const SCHEMA_8: &str = include_str!("../../migrations/sqlite/008_ledger_cover.sql");
const SCHEMA_9: &str = include_str!("../../migrations/sqlite/009_rollups.sql");
const SCHEMA_10: &str = include_str!("../../migrations/sqlite/010_keyed.sql");
const SCHEMA_11: &str = include_str!("../../migrations/sqlite/011_tree_tiles.sql");
/// Each schema's step from the one before it (a new store takes them all).
const STEPS: [(i64, &str); 10] = [
    (2, SCHEMA_2),
    (3, SCHEMA_3),
    (4, SCHEMA_4),
    (5, SCHEMA_5),
    (6, SCHEMA_6),
    (7, SCHEMA_7),
    (8, SCHEMA_8),
    (9, SCHEMA_9),
    (10, SCHEMA_10),
    (11, SCHEMA_11),
];

/// Brings a new store or one of an earlier schema to this build's schema, in one transaction
/// (another process may have done it first: the version is read again inside it).
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<()> {
    let transaction = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = transaction.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        SCHEMA_VERSION => return Ok(()),
        0 | 2..SCHEMA_VERSION => {
            for (to, step) in STEPS.iter().filter(|(to, _)| *to > version) {
                transaction.execute_batch(step)?;
                if *to == 11 {
                    tile_stored_trees(&transaction)?;
                }
            }
            if (2..9).contains(&version) {
                fill_rollups(&transaction)?;
            }
        }
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

/// Schema 9: the rollup of every segment stored before it, from its events.
fn fill_rollups(transaction: &Connection) -> Result<()> {
    let mut insert = transaction.prepare("INSERT INTO segment_rollups (number, rollup) VALUES (?1, ?2)")?;
    let mut select = transaction.prepare("SELECT number, host, day, seq, events FROM segments ORDER BY number")?;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        let number: i64 = row.get(0)?;
        let host: String = row.get(1)?;
        let segment = crate::segment::SegmentRow {
            number,
            host: &host,
            day: row.get(2)?,
            seq: row.get(3)?,
            bytes: super::blob(row, 4)?,
        };
        let rollup = crate::rollup::of_segment(&segment)?;
        insert.execute(rusqlite::params![number, rollup])?;
    }
    Ok(())
}

/// Schema 11: each tree stored before it gets its tiles and leaf index, made from its
/// stored leaves (one tree in memory at a time).
fn tile_stored_trees(connection: &Connection) -> Result<()> {
    let trees: Vec<(String, String)> = connection
        .prepare("SELECT statement_id, tree FROM statement_trees ORDER BY statement_id, tree")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (statement_id, tree) in trees {
        let mut leaves = Vec::new();
        let mut chunks = connection.prepare_cached(
            "SELECT leaves FROM statement_tree_leaves WHERE statement_id = ?1 AND tree = ?2 ORDER BY chunk",
        )?;
        let mut rows = chunks.query([&statement_id, &tree])?;
        while let Some(row) = rows.next()? {
            let chunk: Vec<u8> = row.get(0)?;
            leaves.extend_from_slice(&chunk);
        }
        let tiles = crate::tiles_of(&leaves);
        super::statements::insert_tiles(connection, &statement_id, &tree, &tiles, &leaves)?;
    }
    Ok(())
}
