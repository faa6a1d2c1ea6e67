//! The list commands' three formats: JSON (the resources as the API returns them,
//! an array of objects), CSV (a header, then one row per item, values exactly as
//! stored) and a table for people (a header; amounts and counts grouped; fitted to
//! the terminal: long hashes shortened, then left out, before text wraps).

use std::io::{self, Write};

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table};
use serde::Serialize;

use super::statement_table::{padding, STYLE};
use super::text::{columns, grouped, short_hash, words};
use crate::Format;

/// How a column's values show in a table (CSV always has them as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Left-aligned; wraps when the table is too wide.
    Text,
    /// Left-aligned, never wrapped (ids, dates, times).
    Fixed,
    /// Like `Fixed`, but left out when the table does not fit (details such as a
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
            let (table, note) = table_with_note(list.items, list.table, width);
            writeln!(out, "{table}")?;
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

fn cell(kind: Kind, value: String, hashes: Hashes) -> String {
    match kind {
        Kind::Grouped => grouped(&value),
        Kind::Hash if hashes != Hashes::Whole => short_hash(&value),
        _ => value,
    }
}

/// The columns a table shows with `hashes`.
fn shown<T>(cols: &[Column<T>], hashes: Hashes) -> Vec<&Column<T>> {
    let left_out = match hashes {
        Hashes::Without(n) => n,
        _ => 0,
    };
    let mut optional_index = 0;
    cols.iter()
        .filter(|c| {
            if !c.kind.optional() {
                return true;
            }
            optional_index += 1;
            optional_index > left_out
        })
        .collect()
}

fn build<T>(items: &[T], cols: &[Column<T>], width: usize, hashes: Hashes) -> Table {
    let cols = shown(cols, hashes);
    let mut table = Table::new();
    table
        .load_preset(STYLE)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX))
        .set_header(cols.iter().map(|c| c.header));
    for item in items {
        table.add_row(cols.iter().map(|c| cell(c.kind, (c.value)(item), hashes)));
    }
    for (index, col) in cols.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            column.set_padding(padding(index, cols.len()));
            if col.kind != Kind::Text {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
            if matches!(col.kind, Kind::Number | Kind::Grouped) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
}

/// Whether the text columns keep their full width (nothing wraps) within `width`.
fn unwrapped<T>(items: &[T], cols: &[Column<T>], width: usize, hashes: Hashes) -> bool {
    let mut table = build(items, cols, width, hashes);
    table.set_content_arrangement(ContentArrangement::Disabled);
    let fits = table.lines().all(|line| columns(&line) <= width);
    fits
}

/// The table fitted to `width` (see [`arranged`]) and, when it leaves columns out,
/// a note naming them.
pub fn table_with_note<T>(items: &[T], cols: &[Column<T>], width: usize) -> (Table, Option<String>) {
    let (table, hashes) = arranged(items, cols, width);
    let note = match hashes {
        Hashes::Without(n) if n > 0 => {
            let names: Vec<&str> = cols
                .iter()
                .filter(|c| c.kind.optional())
                .take(n)
                .map(|c| c.header)
                .collect();
            Some(format!(
                "({} left out to fit {width} columns; --format json or csv has every value)",
                names.join(" and ")
            ))
        }
        _ => None,
    };
    (table, note)
}

/// The table fitted to `width`: hashes whole if nothing then wraps, else shortened,
/// else without optional columns (from the first) until nothing wraps; then text
/// columns wrap. `--format json` and `csv` keep every column and every hash whole.
pub fn table<T>(items: &[T], cols: &[Column<T>], width: usize) -> Table {
    arranged(items, cols, width).0
}

fn arranged<T>(items: &[T], cols: &[Column<T>], width: usize) -> (Table, Hashes) {
    let optional = cols.iter().filter(|c| c.kind.optional()).count();
    let mut attempts = vec![Hashes::Whole];
    if cols.iter().any(|c| c.kind == Kind::Hash) {
        attempts.push(Hashes::Short);
    }
    attempts.extend((1..=optional).map(Hashes::Without));
    let narrowest = attempts[attempts.len() - 1];
    let hashes = attempts
        .into_iter()
        .find(|h| unwrapped(items, cols, width, *h))
        .unwrap_or(narrowest);
    (build(items, cols, width, hashes), hashes)
}
