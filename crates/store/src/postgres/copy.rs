//! [`StoreCopy`] on PostgreSQL: a batch's row carries the seq of its segments, so a
//! copied batch is numbered by its seq (as SQLite numbers batches, and as copied
//! keys name them) and its segments are stored under it; every other table goes in
//! by binary `COPY`.

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};

use super::PgStore;
use crate::backend::copy::{column_list, in_copy_order, quoted, Batcher, BATCHES, META, SEGMENTS};
use crate::backend::{CopyRow, CopyTable, Result, Sink, StoreCopy, Value};
use crate::StoreError;

/// The idempotency keys, whose batch is copied as its seq.
const KEYS: &str = "event_keys";
/// Tables made by the schema ladder itself, not the store's data.
const NOT_COPIED: [&str; 1] = ["schema_migrations"];
/// The tables whose numbers the store draws from a sequence, with the column.
const DRAWN: [(&str, &str); 5] = [
    ("segments", "number"),
    ("contributions", "number"),
    ("voids", "number"),
    ("witness_keys", "number"),
    ("rollbacks", "number"),
];

impl StoreCopy for PgStore {
    fn copy_tables(&mut self) -> Result<Vec<CopyTable>> {
        let names: Vec<String> = self
            .query(
                // A partition's rows are its parent's (`segments`, by month).
                "SELECT table_name::text FROM information_schema.tables t
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                   AND NOT (SELECT relispartition FROM pg_class
                            WHERE oid = (quote_ident(t.table_schema) || '.' || quote_ident(t.table_name))::regclass)
                 ORDER BY 1",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut tables = Vec::new();
        for name in names {
            if NOT_COPIED.contains(&name.as_str()) {
                continue;
            }
            let columns = self
                .query(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    &[&name],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tables.push(CopyTable { name, columns });
        }
        Ok(in_copy_order(tables))
    }

    fn count_rows(&mut self, table: &CopyTable) -> Result<u64> {
        let count: i64 = self
            .query_one(&format!("SELECT count(*) FROM {}", quoted(&table.name)), &[])?
            .get(0);
        Ok(count.max(0) as u64)
    }

    fn export_rows(&mut self, table: &CopyTable, sink: &mut Sink<'_>) -> Result<()> {
        let sql = match table.name.as_str() {
            BATCHES => "SELECT seq, host, first_day, last_day, count FROM event_batches ORDER BY seq".to_string(),
            SEGMENTS => "SELECT b.seq, s.host, s.day, s.count, s.events, r.rollup FROM segments s
                         JOIN event_batches b ON b.batch = s.batch
                         LEFT JOIN segment_rollups r ON r.number = s.number ORDER BY s.number"
                .to_string(),
            // A key's batch travels as its seq (SQLite's batch number; copied batches
            // are numbered by their seqs, below).
            KEYS => {
                let columns: Vec<String> = table
                    .columns
                    .iter()
                    .map(|c| match c.as_str() {
                        "batch" => "b.seq".to_string(),
                        other => format!("k.{}", quoted(other)),
                    })
                    .collect();
                format!(
                    "SELECT {} FROM event_keys k LEFT JOIN event_batches b ON b.batch = k.batch",
                    columns.join(", ")
                )
            }
            name => format!("SELECT {} FROM {}", column_list(table), quoted(name)),
        };
        let none: [&(dyn ToSql + Sync); 0] = [];
        // Rows stream from the server as they are read.
        let mut rows = self.client.query_raw(sql.as_str(), none)?;
        let mut batcher = Batcher::new(sink);
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(row.len());
            for (index, column) in row.columns().iter().enumerate() {
                values.push(value(&table.name, &row, index, column.type_())?);
            }
            batcher.push(values)?;
        }
        batcher.finish()
    }

    fn import_rows(&mut self, table: &CopyTable, rows: &[CopyRow]) -> Result<()> {
        match table.name.as_str() {
            BATCHES => self.insert_each(
                table,
                "INSERT INTO event_batches (batch, seq, host, first_day, last_day, count)
                 VALUES ($1, $1, $2, $3, $4, $5)",
                rows,
            ),
            SEGMENTS => {
                // The target's import transaction is the only writer: its months'
                // partitions are made in it.
                let days = rows.iter().filter_map(|row| match row.get(2) {
                    Some(Value::Int(day)) => i32::try_from(*day).ok(),
                    _ => None,
                });
                super::partitions::make(&mut self.client, days)?;
                self.insert_each(
                    table,
                    "WITH stored AS (INSERT INTO segments (batch, host, day, count, events)
                     SELECT batch, $2, $3, $4, $5 FROM event_batches WHERE seq = $1 RETURNING number)
                 INSERT INTO segment_rollups (number, rollup) SELECT number, $6 FROM stored",
                    rows,
                )
            }
            META => self.insert_each(
                table,
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rows,
            ),
            name => {
                let columns = column_list(table);
                let types: Vec<Type> = self
                    .client
                    .prepare(&format!("SELECT {columns} FROM {} LIMIT 0", quoted(name)))?
                    .columns()
                    .iter()
                    .map(|c| c.type_().clone())
                    .collect();
                let sink = self
                    .client
                    .copy_in(&format!("COPY {} ({columns}) FROM STDIN (FORMAT binary)", quoted(name)))?;
                let mut writer = BinaryCopyInWriter::new(sink, &types);
                for row in rows {
                    let values = typed_row(name, row, &types)?;
                    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
                    writer.write(&refs)?;
                }
                writer.finish()?;
                Ok(())
            }
        }
    }

    fn finish_import(&mut self) -> Result<()> {
        self.query_one(
            "SELECT setval('batch_ids', coalesce((SELECT max(batch) FROM event_batches), 0) + 1, false)",
            &[],
        )?;
        for (table, column) in DRAWN {
            self.query_one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), coalesce(max({column}), 0) + 1, false)
                     FROM {table}"
                ),
                &[],
            )?;
        }
        Ok(())
    }
}

impl PgStore {
    /// Stores rows one statement each (tables of few rows, or whose rows need a
    /// lookup), checking that each stored one row.
    fn insert_each(&mut self, table: &CopyTable, sql: &str, rows: &[CopyRow]) -> Result<()> {
        let statement = self.prepared.get(&mut self.client, sql)?;
        let types = statement.params().to_vec();
        for row in rows {
            let values = typed_row(&table.name, row, &types)?;
            let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            if self.client.execute(&statement, &refs)? != 1 {
                return Err(StoreError::Database(format!(
                    "a copied row of {} was not stored (a segment whose batch is not copied?)",
                    table.name
                )));
            }
        }
        Ok(())
    }
}

type Typed<'v> = Box<dyn ToSql + Sync + 'v>;

/// A row's values as the columns' types take them.
fn typed_row<'v>(table: &str, row: &'v [Value], types: &[Type]) -> Result<Vec<Typed<'v>>> {
    if row.len() != types.len() {
        return Err(StoreError::Database(format!(
            "a copied row of {table} has {} values for {} columns",
            row.len(),
            types.len()
        )));
    }
    row.iter()
        .zip(types)
        .map(|(value, ty)| typed(table, value, ty))
        .collect()
}

fn typed<'v>(table: &str, value: &'v Value, ty: &Type) -> Result<Typed<'v>> {
    let range = |n: &i64| StoreError::corrupt(table, format!("{n} is out of range for a column of type {ty}"));
    Ok(match (value, ty) {
        (Value::Null, t) if *t == Type::INT2 => Box::new(None::<i16>),
        (Value::Null, t) if *t == Type::INT4 => Box::new(None::<i32>),
        (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
        (Value::Null, t) if *t == Type::BYTEA => Box::new(None::<&[u8]>),
        (Value::Null, _) => Box::new(None::<&str>),
        (Value::Int(n), t) if *t == Type::INT2 => Box::new(i16::try_from(*n).map_err(|_| range(n))?),
        (Value::Int(n), t) if *t == Type::INT4 => Box::new(i32::try_from(*n).map_err(|_| range(n))?),
        (Value::Int(n), t) if *t == Type::INT8 => Box::new(*n),
        (Value::Text(text), t) if *t != Type::BYTEA => Box::new(text.as_str()),
        (Value::Bytes(bytes), t) if *t == Type::BYTEA => Box::new(bytes.as_slice()),
        (other, t) => {
            let kind = match other {
                Value::Null => "null",
                Value::Int(_) => "an integer",
                Value::Text(_) => "a text",
                Value::Bytes(_) => "a blob",
            };
            return Err(StoreError::corrupt(
                table,
                format!("holds {kind} where the target's column is of type {t}"),
            ));
        }
    })
}

fn value(table: &str, row: &postgres::Row, index: usize, ty: &Type) -> Result<Value> {
    let or_null = |value: Option<Value>| value.unwrap_or(Value::Null);
    Ok(if *ty == Type::INT2 {
        or_null(row.try_get::<_, Option<i16>>(index)?.map(|n| Value::Int(n.into())))
    } else if *ty == Type::INT4 {
        or_null(row.try_get::<_, Option<i32>>(index)?.map(|n| Value::Int(n.into())))
    } else if *ty == Type::INT8 {
        or_null(row.try_get::<_, Option<i64>>(index)?.map(Value::Int))
    } else if *ty == Type::BYTEA {
        or_null(row.try_get::<_, Option<Vec<u8>>>(index)?.map(Value::Bytes))
    } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
        or_null(row.try_get::<_, Option<String>>(index)?.map(Value::Text))
    } else {
        return Err(StoreError::Database(format!(
            "{table}: a column of type {ty} is not one a copy carries"
        )));
    })
}
