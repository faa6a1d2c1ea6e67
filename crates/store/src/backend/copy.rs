//! Copying a whole store into another, row for row (`revshare store copy`): every
//! table in one form both backends read and write, streamed in bounded batches.
//!
//! The tables are read from each store's own schema, so a table added later is
//! copied by itself; only the events differ between the backends (SQLite keeps a
//! segment's audit seq on the segment, PostgreSQL on its batch's row), and travel as
//! two tables of their own: [`BATCHES`] (one row per stored batch: its seq, host,
//! first and last day and count) and [`SEGMENTS`] (each segment with its batch's
//! seq). What the copy means (an empty target, the counts compared, the source
//! retired) is the application's.

use super::Result;

/// The events' stored batches: `seq, host, first_day, last_day, count`, by seq.
pub const BATCHES: &str = "event_batches";
/// The events' segments: `seq, host, day, count, events, rollup`, in the order
/// stored (a segment's rollup travels with it: the rollups' own table is not copied
/// apart).
pub const SEGMENTS: &str = "segments";
/// The table of the segments' rollups, copied in [`SEGMENTS`]' rows.
pub const ROLLUPS: &str = "segment_rollups";
/// The columns of [`BATCHES`] as copied.
pub const BATCH_COLUMNS: [&str; 5] = ["seq", "host", "first_day", "last_day", "count"];
/// The columns of [`SEGMENTS`] as copied.
pub const SEGMENT_COLUMNS: [&str; 6] = ["seq", "host", "day", "count", "events", "rollup"];
/// The table of store-wide values (the store id among them): a target's own values
/// (set when it was opened) are replaced by the source's.
pub const META: &str = "meta";

/// At most this many rows go in one batch of a copy…
pub const BATCH_ROWS: usize = 10_000;
/// …and at most about this many bytes (a tree's chunk of leaves is 32 MiB alone).
pub const BATCH_BYTES: usize = 16 << 20;

/// One column's value as copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn size(&self) -> usize {
        match self {
            Value::Null | Value::Int(_) => 8,
            Value::Text(text) => text.len() + 8,
            Value::Bytes(bytes) => bytes.len() + 8,
        }
    }
}

/// A row as copied: its values in the order of its table's columns.
pub type CopyRow = Vec<Value>;

/// A table as copied: its name and its columns in the order rows carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyTable {
    pub name: String,
    pub columns: Vec<String>,
}

/// Where a batch of exported rows goes (the target's import, and the progress).
pub type Sink<'a> = dyn FnMut(&[CopyRow]) -> Result<()> + 'a;

/// Copying a store row for row (a role of [`super::Backend`]). Reads run in the
/// caller's transaction (the source's write transaction, so that nothing is written
/// meanwhile); imports run in the target's.
pub trait StoreCopy {
    /// Every table this store keeps, with its columns, the events as [`BATCHES`]
    /// and [`SEGMENTS`] (last), in the order a copy takes them.
    fn copy_tables(&mut self) -> Result<Vec<CopyTable>>;
    /// How many rows `table` holds.
    fn count_rows(&mut self, table: &CopyTable) -> Result<u64>;
    /// Reads every row of `table`, handing them to `sink` in batches of at most
    /// [`BATCH_ROWS`] rows and about [`BATCH_BYTES`] bytes: memory stays bounded
    /// whatever the store's size.
    fn export_rows(&mut self, table: &CopyTable, sink: &mut Sink<'_>) -> Result<()>;
    /// Stores rows another store exported from the same table (the same columns). A
    /// [`META`] row replaces this store's value of its key.
    fn import_rows(&mut self, table: &CopyTable, rows: &[CopyRow]) -> Result<()>;
    /// After the last import: numbers this store draws for new rows start past the
    /// copied ones (PostgreSQL's sequences; SQLite takes the largest stored).
    fn finish_import(&mut self) -> Result<()>;
}

/// Rows gathered into bounded batches for a sink.
pub(crate) struct Batcher<'s, 'a> {
    rows: Vec<CopyRow>,
    bytes: usize,
    sink: &'s mut Sink<'a>,
}

impl<'s, 'a> Batcher<'s, 'a> {
    pub(crate) fn new(sink: &'s mut Sink<'a>) -> Batcher<'s, 'a> {
        Batcher {
            rows: Vec::new(),
            bytes: 0,
            sink,
        }
    }

    pub(crate) fn push(&mut self, row: CopyRow) -> Result<()> {
        self.bytes += row.iter().map(Value::size).sum::<usize>();
        self.rows.push(row);
        if self.rows.len() >= BATCH_ROWS || self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<()> {
        self.flush()
    }

    fn flush(&mut self) -> Result<()> {
        if !self.rows.is_empty() {
            (self.sink)(&self.rows)?;
            self.rows.clear();
            self.bytes = 0;
        }
        Ok(())
    }
}

/// The tables a copy takes, from the names a store's schema lists: every table but
/// the events' own, which travel as [`BATCHES`] and [`SEGMENTS`] (with their
/// rollups), last (their rows name audit entries copied before them).
pub(crate) fn in_copy_order(mut plain: Vec<CopyTable>) -> Vec<CopyTable> {
    plain.retain(|t| ![BATCHES, SEGMENTS, ROLLUPS].contains(&t.name.as_str()));
    plain.sort_by(|a, b| a.name.cmp(&b.name));
    let owned = |columns: &[&str]| columns.iter().map(|c| c.to_string()).collect();
    plain.push(CopyTable {
        name: BATCHES.to_string(),
        columns: owned(&BATCH_COLUMNS),
    });
    plain.push(CopyTable {
        name: SEGMENTS.to_string(),
        columns: owned(&SEGMENT_COLUMNS),
    });
    plain
}

/// A table's name as SQL takes it (names come from the store's own schema, but are
/// quoted all the same).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table's columns as a select or insert list.
pub(crate) fn column_list(table: &CopyTable) -> String {
    table.columns.iter().map(|c| quoted(c)).collect::<Vec<_>>().join(", ")
}
