//! The list commands' three formats: JSON (the resources as the API returns them,
//! an array of objects), CSV (a header, then one row per item, values exactly as
//! stored) and a table for people (a header; amounts and counts grouped, their
//! decimal points aligned; fitted to the terminal: long hashes shortened, then left
//! out, then text broken at spaces and words too long shortened with `…` in the
//! middle, else each row printed as a record; no word is ever split).

use std::io::{self, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use super::statement_table::{padding, STYLE};
use super::text::{columns, fitted, grouped, short_hash, words};
use crate::Format;

/// How a column's values show in a table (CSV always has them as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Left-aligned; broken at spaces, long words shortened in the middle, when the
    /// table is too wide.
    Text,
    /// Left-aligned, never wrapped (ids, dates, times).
    Fixed,
    /// Like `Fixed`, but left out (after the hashes) when the table does not fit (details such as a
    /// statement's `closed_at`).
    Detail,
    /// Right-aligned, never wrapped, as it is (seqs, versions, rates).
    Number,
    /// Right-aligned, never wrapped, digits grouped (amounts, counts).
    Grouped,
    /// A hex hash: whole when the table fits, else its first 16 digits, else left out.
    Hash,
}

impl Kind {
    /// Whether a table may leave the column out to fit.
    fn optional(self) -> bool {
        matches!(self, Kind::Detail | Kind::Hash)
    }
}

/// A column: its header, its kind and how an item gives its value.
pub struct Column<T> {
    pub header: &'static str,
    pub kind: Kind,
    pub value: fn(&T) -> String,
}

impl<T> Clone for Column<T> {
    fn clone(&self) -> Self {
        Column { ..*self }
    }
}

pub const fn column<T>(header: &'static str, kind: Kind, value: fn(&T) -> String) -> Column<T> {
    Column { header, kind, value }
}

/// What a list prints in each format.
pub struct List<'a, T, J: Serialize> {
    pub items: &'a [T],
    /// The JSON form (an array).
    pub json: J,
    pub table: &'a [Column<T>],
    pub csv: &'a [Column<T>],
}

impl<'a, T: Serialize> List<'a, T, &'a [T]> {
    /// A list whose JSON is its items, with the same columns in the table and CSV.
    pub fn plain(items: &'a [T], cols: &'a [Column<T>]) -> Self {
        List {
            items,
            json: items,
            table: cols,
            csv: cols,
        }
    }
}

pub fn write<T, J: Serialize>(
    out: &mut dyn Write,
    list: &List<'_, T, J>,
    format: Format,
    width: usize,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &list.json).map_err(io::Error::other)?;
            writeln!(out)
        }
        Format::Csv => write_csv(out, list.items, list.csv),
        Format::Table => {
            let (lines, note) = table_with_note(list.items, list.table, width);
            for line in lines {
                writeln!(out, "{line}")?;
            }
            for line in note.iter().flat_map(|note| words(note, width)) {
                writeln!(out, "{line}")?;
            }
            Ok(())
        }
    }
}

fn write_csv<T>(out: &mut dyn Write, items: &[T], cols: &[Column<T>]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(cols.iter().map(|c| c.header))?;
    for item in items {
        writer.write_record(cols.iter().map(|c| (c.value)(item)))?;
    }
    writer.flush()?;
    Ok(())
}

/// How a table shows the optional columns: hashes whole, hashes shortened, or
/// without the first `n` optional columns (hashes shortened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hashes {
    Whole,
    Short,
    Without(usize),
}

/// One arrangement of a table: its optional columns, and the columns text may take
/// (`None`: text whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    hashes: Hashes,
    cap: Option<usize>,
}

/// The narrowest a text column is made before the rows become records.
const MIN_CAP: usize = 16;

fn cell(kind: Kind, value: String, shape: Shape) -> String {
    match (kind, shape.cap) {
        (Kind::Grouped, _) => grouped(&value),
        (Kind::Hash, _) if shape.hashes != Hashes::Whole => short_hash(&value),
        (Kind::Text, Some(cap)) => fitted(&value, cap),
        _ => value,
    }
}

/// The optional columns in the order a table leaves them out: hashes first, then
/// details, each from the left.
fn left_out_order<T>(cols: &[Column<T>]) -> Vec<usize> {
    let of = |kind: Kind| {
        cols.iter()
            .enumerate()
            .filter(move |(_, c)| c.kind == kind)
            .map(|(i, _)| i)
    };
    of(Kind::Hash).chain(of(Kind::Detail)).collect()
}

/// The columns a table shows with `hashes`.
fn shown<T>(cols: &[Column<T>], hashes: Hashes) -> Vec<&Column<T>> {
    let left_out: Vec<usize> = match hashes {
        Hashes::Without(n) => left_out_order(cols).into_iter().take(n).collect(),
        _ => Vec::new(),
    };
    cols.iter()
        .enumerate()
        .filter(|(i, _)| !left_out.contains(i))
        .map(|(_, c)| c)
        .collect()
}

/// Pads the grouped values of a column on the right so that their decimal points
/// line up (`1,234.5` over `12.25` becomes `1,234.5 ` over `   12.25`).
fn aligned(values: &mut [String]) {
    let fraction = |v: &str| v.split_once('.').map(|(_, f)| columns(f) + 1);
    let widest = values.iter().filter_map(|v| fraction(v)).max().unwrap_or(0);
    for value in values.iter_mut().filter(|v| !v.is_empty()) {
        let missing = widest - fraction(value).unwrap_or(0);
        value.push_str(&" ".repeat(missing));
    }
}

fn build<T>(items: &[T], cols: &[Column<T>], shape: Shape) -> Table {
    let cols = shown(cols, shape.hashes);
    let mut cells: Vec<Vec<String>> = cols
        .iter()
        .map(|c| items.iter().map(|item| cell(c.kind, (c.value)(item), shape)).collect())
        .collect();
    for (col, values) in cols.iter().zip(cells.iter_mut()) {
        if col.kind == Kind::Grouped {
            aligned(values);
        }
    }
    let mut table = Table::new();
    table
        .load_preset(STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(cols.iter().map(|c| c.header));
    for row in 0..items.len() {
        table.add_row(cells.iter().map(|values| values[row].clone()));
    }
    for (index, col) in cols.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            column.set_padding(padding(index, cols.len()));
            if matches!(col.kind, Kind::Number | Kind::Grouped) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
}

fn fits(table: &Table, width: usize) -> bool {
    table.lines().all(|line| columns(&line) <= width)
}

/// The table's lines fitted to `width` (see [`arranged`]) and, when it leaves
/// columns out or shortens values, a note saying so.
pub fn table_with_note<T>(items: &[T], cols: &[Column<T>], width: usize) -> (Vec<String>, Option<String>) {
    let mut changes = Vec::new();
    let lines = match arranged(items, cols, width) {
        Arranged::Table(table, shape) => {
            if let Hashes::Without(n) = shape.hashes {
                let names: Vec<&str> = left_out_order(cols)
                    .into_iter()
                    .take(n)
                    .map(|i| cols[i].header)
                    .collect();
                changes.push(format!("{} left out", names.join(" and ")));
            }
            if let Some(cap) = shape.cap {
                let shortened = cols.iter().filter(|c| c.kind == Kind::Text).any(|c| {
                    items
                        .iter()
                        .any(|item| (c.value)(item).split(' ').any(|word| columns(word) > cap))
                });
                changes.push(if shortened {
                    "text broken at spaces and long words shortened with …".to_string()
                } else {
                    "text broken at spaces".to_string()
                });
            }
            table.lines().map(|l| l.trim_end().to_string()).collect()
        }
        Arranged::Records(lines) => {
            changes.push("one record per row".to_string());
            lines
        }
    };
    let note = (!changes.is_empty()).then(|| {
        format!(
            "({} to fit {width} columns; --format json or csv has every value)",
            changes.join(", ")
        )
    });
    (lines, note)
}

/// The table's lines fitted to `width`, without a note.
pub fn table<T>(items: &[T], cols: &[Column<T>], width: usize) -> Vec<String> {
    table_with_note(items, cols, width).0
}

enum Arranged {
    Table(Box<Table>, Shape),
    Records(Vec<String>),
}

/// The table fitted to `width`: hashes whole if the table then fits, else
/// shortened, else without optional columns (from the first); then text columns
/// narrowed (broken at spaces, words too long shortened in the middle) to the widest
/// that fits; else, when even text of [`MIN_CAP`] columns does not fit, each row as a
/// record. `--format json` and `csv` keep every column and every value whole.
fn arranged<T>(items: &[T], cols: &[Column<T>], width: usize) -> Arranged {
    let optional = cols.iter().filter(|c| c.kind.optional()).count();
    let mut attempts = vec![Hashes::Whole];
    if cols.iter().any(|c| c.kind == Kind::Hash) {
        attempts.push(Hashes::Short);
    }
    attempts.extend((1..=optional).map(Hashes::Without));
    let narrowest = attempts[attempts.len() - 1];
    for hashes in attempts {
        let shape = Shape { hashes, cap: None };
        let table = build(items, cols, shape);
        if fits(&table, width) {
            return Arranged::Table(Box::new(table), shape);
        }
    }
    // The widest cap that fits, by bisection: a narrower cap never makes a table wider.
    let widest_text = cols
        .iter()
        .filter(|c| c.kind == Kind::Text)
        .flat_map(|c| items.iter().map(|item| columns(&(c.value)(item))))
        .max()
        .unwrap_or(0);
    let (mut low, mut high) = (MIN_CAP, widest_text);
    let mut best = None;
    while low < high {
        let cap = (low + high) / 2;
        let shape = Shape {
            hashes: narrowest,
            cap: Some(cap),
        };
        let table = build(items, cols, shape);
        if fits(&table, width) {
            best = Some((table, shape));
            low = cap + 1;
        } else {
            high = cap;
        }
    }
    match best {
        Some((table, shape)) => Arranged::Table(Box::new(table), shape),
        None => Arranged::Records(records(items, cols, width)),
    }
}

/// Each row as a record: a line per column, `header  value`, the values of a row
/// broken at spaces (words too long shortened) to fit `width`; a blank line between
/// rows. Every column is shown, hashes shortened when whole they do not fit.
fn records<T>(items: &[T], cols: &[Column<T>], width: usize) -> Vec<String> {
    let label = cols.iter().map(|c| columns(c.header)).max().unwrap_or(0);
    let room = width.saturating_sub(label + 2).max(MIN_CAP);
    let mut lines = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            lines.push(String::new());
        }
        for c in cols {
            let value = match c.kind {
                Kind::Grouped => grouped(&(c.value)(item)),
                _ => (c.value)(item),
            };
            let value = if c.kind == Kind::Hash && columns(&value) > room {
                short_hash(&value)
            } else {
                value
            };
            for (n, part) in fitted(&value, room).split('\n').enumerate() {
                let lead = if n == 0 { c.header } else { "" };
                lines.push(format!("{lead:<label$}  {part}").trim_end().to_string());
            }
        }
    }
    lines
}
