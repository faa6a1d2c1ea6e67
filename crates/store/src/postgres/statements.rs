//! [`Statements`] in PostgreSQL: statements, their trees' leaves in chunks, and
//! payout notices; a statement, its entry and the signing keys read in one query.

use std::sync::LazyLock;

use postgres::fallible_iterator::FallibleIterator;

use super::audit::entry_at;
use super::tables::token_columns_at;
use super::{seq_at, statement_id_at, PgStore};
use crate::backend::{
    check_chunks, chunks_of, leaf_index, NoticeRow, Result, SigningKeyRow, StatementRead, StatementRow, Statements,
    TokenRow, TreePart, TreeRow,
};
use crate::columns::*;
use crate::StoreError;

fn statement_from_row(row: &postgres::Row) -> Result<StatementRow> {
    statement_at(row, 0)
}

/// The statement whose [`STATEMENT_COLUMNS`] start at column `at`.
fn statement_at(row: &postgres::Row, at: usize) -> Result<StatementRow> {
    Ok(StatementRow {
        statement_id: statement_id_at(row, at, "statements")?,
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

/// [`Statements::statement_read`](crate::backend::Statements::statement_read).
static STATEMENT_READ: LazyLock<String> = LazyLock::new(|| statement_read_sql(false));

/// [`Statements::token_and_statement`](crate::backend::Statements::token_and_statement).
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

impl Statements for PgStore {
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

    fn statements_of(&mut self, contract: &str) -> Result<Vec<StatementRow>> {
        self.query(
            &format!("SELECT {STATEMENT_COLUMNS} FROM statements WHERE contract = $1 ORDER BY start_day"),
            &[&contract],
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
                &row.statement_id.as_str(),
                &row.contract,
                &row.period,
                &row.host,
                &row.start_day,
                &row.end_day,
                &crate::seq_i64(row.close_seq)?,
                &row.settled,
                &row.json,
                &row.closed_at,
                &crate::seq_i64(row.seq)?,
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
            insert_tiles(
                &mut self.client,
                &tree.statement_id,
                &tree.tree,
                &tree.tiles,
                &tree.leaves,
            )?;
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
        let mut layout = Vec::new();
        let mut chunks = self.client.query_raw(
            "SELECT chunk, leaves FROM statement_tree_leaves WHERE statement_id = $1 AND tree = $2 ORDER BY chunk",
            [&statement_id, &tree],
        )?;
        while let Some(chunk) = chunks.next()? {
            let bytes = chunk.try_get::<_, &[u8]>(1)?;
            layout.push((i64::from(chunk.try_get::<_, i32>(0)?), bytes.len()));
            leaves.extend_from_slice(bytes);
        }
        drop(chunks);
        check_chunks(statement_id, tree, TreePart::Leaves, &layout)?;
        let mut tiles = crate::StoredTiles::default();
        for row in self.query(
            "SELECT level, chunk, hashes FROM statement_tree_tiles WHERE statement_id = $1 AND tree = $2
             ORDER BY level, chunk",
            &[&statement_id, &tree],
        )? {
            let (level, chunk): (i32, i32) = (row.try_get(0)?, row.try_get(1)?);
            tiles.push(i64::from(level), i64::from(chunk), row.try_get(2)?);
        }
        let tiles = tiles.laid_out(statement_id, tree)?;
        Ok(Some(TreeRow {
            statement_id: statement_id.to_string(),
            tree: tree.to_string(),
            count: summary.get(0),
            root: summary.get(1),
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
        let (sql, level) = match part {
            TreePart::Leaves => (
                "SELECT substring(leaves FROM $4 FOR $5) FROM statement_tree_leaves
                 WHERE statement_id = $1 AND tree = $2 AND chunk = $3 AND $6 = 0",
                0,
            ),
            TreePart::Tiles(level) => (
                "SELECT substring(hashes FROM $4 FOR $5) FROM statement_tree_tiles
                 WHERE statement_id = $1 AND tree = $2 AND chunk = $3 AND level = $6",
                i32::try_from(level).unwrap_or(i32::MAX),
            ),
            TreePart::Index => (
                "SELECT substring(entries FROM $4 FOR $5) FROM statement_tree_index
                 WHERE statement_id = $1 AND tree = $2 AND chunk = $3 AND $6 = 0",
                0,
            ),
        };
        let mut bytes = Vec::new();
        for (chunk, offset, len) in part.spans(first, count) {
            // Stored EXTERNAL: substring reads only the TOAST chunks that hold the range.
            let (from, length) = (offset as i32 + 1, len as i32);
            let Some(row) = self.query_opt(sql, &[&statement_id, &tree, &chunk, &from, &length, &level])? else {
                break;
            };
            let read: &[u8] = row.try_get(0)?;
            bytes.extend_from_slice(read);
            if read.len() < len {
                break;
            }
        }
        Ok(bytes)
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
                tiles: Vec::new(),
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
}

/// Stores a tree's tiles, and its leaf index made from its leaves.
pub(super) fn insert_tiles(
    client: &mut impl postgres::GenericClient,
    statement_id: &str,
    tree: &str,
    tiles: &[Vec<u8>],
    leaves: &[u8],
) -> Result<()> {
    let insert = client.prepare(
        "INSERT INTO statement_tree_tiles (statement_id, tree, level, chunk, hashes) VALUES ($1, $2, $3, $4, $5)",
    )?;
    for (level, hashes) in (1i32..).zip(tiles) {
        for (chunk, hashes) in chunks_of(hashes, TreePart::Tiles(1)) {
            client.execute(&insert, &[&statement_id, &tree, &level, &chunk, &hashes])?;
        }
    }
    let insert = client
        .prepare("INSERT INTO statement_tree_index (statement_id, tree, chunk, entries) VALUES ($1, $2, $3, $4)")?;
    for (chunk, entries) in chunks_of(&leaf_index(leaves), TreePart::Index) {
        client.execute(&insert, &[&statement_id, &tree, &chunk, &entries])?;
    }
    Ok(())
}
