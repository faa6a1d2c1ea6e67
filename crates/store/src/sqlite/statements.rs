//! [`Statements`] in SQLite: statements, their trees' leaves in chunks, and payout
//! notices.

use rusqlite::{params, Connection, OptionalExtension};

use super::{seq_at, statement_id_at, SqliteStore};
use crate::backend::{
    check_chunks, chunks_of, leaf_index, AuditLog, NoticeRow, Result, StatementRead, StatementRow, Statements,
    TreePart, TreeRow,
};
use crate::columns::*;

fn statement_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StatementRow> {
    Ok(StatementRow {
        statement_id: statement_id_at(row, 0, "statements")?,
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

impl Statements for SqliteStore {
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

    fn statements_of(&mut self, contract: &str) -> Result<Vec<StatementRow>> {
        let mut statement = self.connection.prepare_cached(&format!(
            "SELECT {STATEMENT_COLUMNS} FROM statements WHERE contract = ?1 ORDER BY start_day"
        ))?;
        let rows = statement.query_map([contract], statement_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn insert_statement(&mut self, row: &StatementRow, trees: &[TreeRow], notices: &[NoticeRow]) -> Result<bool> {
        let inserted = self.connection.execute(
            &format!(
                "INSERT INTO statements ({STATEMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (statement_id) DO NOTHING"
            ),
            params![
                row.statement_id.as_str(),
                row.contract,
                row.period,
                row.host,
                row.start_day,
                row.end_day,
                crate::seq_i64(row.close_seq)?,
                row.settled,
                row.json,
                row.closed_at,
                crate::seq_i64(row.seq)?
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
            insert_tiles(
                &self.connection,
                &tree.statement_id,
                &tree.tree,
                &tree.tiles,
                &tree.leaves,
            )?;
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
        let mut layout = Vec::new();
        let mut chunks = self.connection.prepare_cached(
            "SELECT chunk, leaves FROM statement_tree_leaves WHERE statement_id = ?1 AND tree = ?2 ORDER BY chunk",
        )?;
        let mut rows = chunks.query([statement_id, tree])?;
        while let Some(row) = rows.next()? {
            let chunk = row.get_ref(1)?;
            let bytes = chunk
                .as_blob()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, chunk.data_type(), Box::new(e)))?;
            layout.push((row.get(0)?, bytes.len()));
            leaves.extend_from_slice(bytes);
        }
        check_chunks(statement_id, tree, TreePart::Leaves, &layout)?;
        let mut tiles = crate::StoredTiles::default();
        let mut chunks = self.connection.prepare_cached(
            "SELECT level, chunk, hashes FROM statement_tree_tiles WHERE statement_id = ?1 AND tree = ?2
             ORDER BY level, chunk",
        )?;
        let mut rows = chunks.query([statement_id, tree])?;
        while let Some(row) = rows.next()? {
            let hashes: Vec<u8> = row.get(2)?;
            tiles.push(row.get(0)?, row.get(1)?, &hashes);
        }
        let tiles = tiles.laid_out(statement_id, tree)?;
        Ok(Some(TreeRow {
            statement_id: statement_id.to_string(),
            tree: tree.to_string(),
            count,
            root,
            leaves,
            tiles,
        }))
    }

    fn tree_range(
        &mut self,
        statement_id: &str,
        tree: &str,
        part: TreePart,
        first: u64,
        count: u64,
    ) -> Result<Vec<u8>> {
        // A chunk of leaves is 32 MiB: reading its end through the page cache would walk
        // its chain of overflow pages from the start (~2,000 reads); through a memory
        // map, only the pages read are touched. Mapped for this read only, so that other
        // reads keep their memory as it was.
        let mapped = part == TreePart::Leaves;
        if mapped {
            self.connection.execute_batch("PRAGMA mmap_size = 2147418112")?;
        }
        let read = read_range(&self.connection, statement_id, tree, part, first, count);
        if mapped {
            self.connection.execute_batch("PRAGMA mmap_size = 0")?;
        }
        read
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
                tiles: Vec::new(),
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
}

/// [`Statements::tree_range`]'s reads, chunk by chunk.
fn read_range(
    connection: &Connection,
    statement_id: &str,
    tree: &str,
    part: TreePart,
    first: u64,
    count: u64,
) -> Result<Vec<u8>> {
    let (table, column, level) = match part {
        TreePart::Leaves => ("statement_tree_leaves", "leaves", 0),
        TreePart::Tiles(level) => ("statement_tree_tiles", "hashes", i64::from(level)),
        TreePart::Index => ("statement_tree_index", "entries", 0),
    };
    let find = match part {
        TreePart::Tiles(_) => {
            format!("SELECT rowid FROM {table} WHERE statement_id = ?1 AND tree = ?2 AND chunk = ?3 AND level = ?4")
        }
        _ => format!("SELECT rowid FROM {table} WHERE statement_id = ?1 AND tree = ?2 AND chunk = ?3 AND ?4 = 0"),
    };
    let mut bytes = Vec::new();
    for (chunk, offset, len) in part.spans(first, count) {
        let rowid: Option<i64> = connection
            .prepare_cached(&find)?
            .query_row(params![statement_id, tree, chunk, level], |r| r.get(0))
            .optional()?;
        let Some(rowid) = rowid else { break };
        // Only the pages that hold the range are read, not the whole value.
        let blob = connection.blob_open("main", table, column, rowid, true)?;
        let held = len.min(blob.len().saturating_sub(offset));
        let mut read = vec![0u8; held];
        blob.read_at_exact(&mut read, offset)?;
        bytes.extend_from_slice(&read);
        if held < len {
            break;
        }
    }
    Ok(bytes)
}

/// Stores a tree's tiles, and its leaf index made from its leaves.
pub(super) fn insert_tiles(
    connection: &Connection,
    statement_id: &str,
    tree: &str,
    tiles: &[Vec<u8>],
    leaves: &[u8],
) -> Result<()> {
    let mut insert = connection.prepare_cached(
        "INSERT INTO statement_tree_tiles (statement_id, tree, level, chunk, hashes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (level, hashes) in (1i64..).zip(tiles) {
        for (chunk, hashes) in chunks_of(hashes, TreePart::Tiles(1)) {
            insert.execute(params![statement_id, tree, level, chunk, hashes])?;
        }
    }
    let mut insert = connection.prepare_cached(
        "INSERT INTO statement_tree_index (statement_id, tree, chunk, entries) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (chunk, entries) in chunks_of(&leaf_index(leaves), TreePart::Index) {
        insert.execute(params![statement_id, tree, chunk, entries])?;
    }
    Ok(())
}
