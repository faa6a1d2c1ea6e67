//! [`StoreCopy`] on SQLite: a segment carries its batch's seq, so the events'
//! batches are read from the segments and need no rows of their own.

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::SqliteStore;
use crate::backend::copy::{column_list, in_copy_order, quoted, Batcher, BATCHES, META, SEGMENTS};
use crate::backend::{CopyRow, CopyTable, Result, Sink, StoreCopy, Value};
use crate::StoreError;

impl StoreCopy for SqliteStore {
    fn copy_tables(&mut self) -> Result<Vec<CopyTable>> {
        let names: Vec<String> = {
            let mut statement = self.connection.prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )?;
            let names = statement.query_map([], |r| r.get(0))?;
            names.collect::<rusqlite::Result<_>>()?
        };
        let mut tables = Vec::new();
        for name in names {
            let mut statement = self.connection.prepare(&format!(
                "SELECT name FROM pragma_table_info({}) ORDER BY cid",
                sql_text(&name)
            ))?;
            let columns = statement.query_map([], |r| r.get(0))?;
            let columns = columns.collect::<rusqlite::Result<_>>()?;
            tables.push(CopyTable { name, columns });
        }
        Ok(in_copy_order(tables))
    }

    fn count_rows(&mut self, table: &CopyTable) -> Result<u64> {
        let sql = match table.name.as_str() {
            BATCHES => "SELECT count(DISTINCT seq) FROM segments".to_string(),
            name => format!("SELECT count(*) FROM {}", quoted(name)),
        };
        let count: i64 = self.connection.query_row(&sql, [], |r| r.get(0))?;
        Ok(count.max(0) as u64)
    }

    fn export_rows(&mut self, table: &CopyTable, sink: &mut Sink<'_>) -> Result<()> {
        let sql = match table.name.as_str() {
            BATCHES => {
                "SELECT seq, host, min(day), max(day), sum(count) FROM segments GROUP BY seq ORDER BY seq".to_string()
            }
            SEGMENTS => "SELECT s.seq, s.host, s.day, s.count, s.events, r.rollup FROM segments s
                         LEFT JOIN segment_rollups r ON r.number = s.number ORDER BY s.number"
                .to_string(),
            name => format!("SELECT {} FROM {}", column_list(table), quoted(name)),
        };
        let mut statement = self.connection.prepare(&sql)?;
        let width = table.columns.len();
        let mut rows = statement.query([])?;
        let mut batcher = Batcher::new(sink);
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for index in 0..width {
                values.push(value(&table.name, row.get_ref(index)?)?);
            }
            batcher.push(values)?;
        }
        batcher.finish()
    }

    fn import_rows(&mut self, table: &CopyTable, rows: &[CopyRow]) -> Result<()> {
        let sql = match table.name.as_str() {
            // A segment's seq is its batch's: nothing more to store.
            BATCHES => return Ok(()),
            SEGMENTS => return self.import_segments(rows),
            META => "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                .to_string(),
            name => {
                let marks: Vec<String> = (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    quoted(name),
                    column_list(table),
                    marks.join(", ")
                )
            }
        };
        let mut statement = self.connection.prepare_cached(&sql)?;
        for row in rows {
            statement.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))?;
        }
        Ok(())
    }

    fn finish_import(&mut self) -> Result<()> {
        // INTEGER PRIMARY KEY numbers continue past the largest stored.
        Ok(())
    }
}

impl SqliteStore {
    /// Stores copied segments, each with its rollup.
    fn import_segments(&mut self, rows: &[CopyRow]) -> Result<()> {
        let mut segment = self
            .connection
            .prepare_cached("INSERT INTO segments (seq, host, day, count, events) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut rollup = self
            .connection
            .prepare_cached("INSERT INTO segment_rollups (number, rollup) VALUES (?1, ?2)")?;
        for row in rows {
            let [seq, host, day, count, events, stored_rollup] = &row[..] else {
                return Err(StoreError::Database(format!(
                    "a copied segment has {} columns",
                    row.len()
                )));
            };
            segment.execute(rusqlite::params_from_iter([seq, host, day, count, events].map(to_sql)))?;
            let number = self.connection.last_insert_rowid();
            rollup.execute(rusqlite::params![number, to_sql(stored_rollup)])?;
        }
        Ok(())
    }
}

/// A name as an SQL string literal.
fn sql_text(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

fn value(table: &str, stored: ValueRef<'_>) -> Result<Value> {
    Ok(match stored {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Text(bytes) => Value::Text(
            String::from_utf8(bytes.to_vec())
                .map_err(|_| StoreError::corrupt(table, "a text column holds bytes that are not UTF-8"))?,
        ),
        ValueRef::Blob(bytes) => Value::Bytes(bytes.to_vec()),
        ValueRef::Real(_) => return Err(StoreError::corrupt(table, "a column holds a floating-point number")),
    })
}

fn to_sql(value: &Value) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match value {
        Value::Null => ValueRef::Null,
        Value::Int(n) => ValueRef::Integer(*n),
        Value::Text(text) => ValueRef::Text(text.as_bytes()),
        Value::Bytes(bytes) => ValueRef::Blob(bytes),
    })
}
