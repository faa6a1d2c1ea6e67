//! Events as a table: the shape an event keeps from validation to the store. Names
//! (source, host, model, use case, currency) repeat, so each is kept once in one
//! dictionary and events carry its id; ids and revenue text share one byte buffer.
//! Reading an event ([`EventTable::id`], [`EventTable::name`]) borrows from the
//! table, and dropping a table frees a handful of buffers, not strings per event.

use std::fmt::Write as _;

use rustc_hash::FxHashMap;

/// One event's values, its names given as ids of its table's dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Values {
    pub leaf: [u8; 32],
    pub source: u32,
    pub host: u32,
    pub model: u32,
    pub use_case: u32,
    pub currency: u32,
    /// The customer's keyed pseudonym, never the raw reference.
    pub customer: Option<[u8; 16]>,
    pub utc_seconds: i64,
    pub day: i32,
    /// As rated: a missing `requests` counts 1.
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Revenue in units of 10^-12 (validation's number; the table keeps its decimal
    /// text too, [`EventTable::revenue_units`], for the forms that store it so).
    pub revenue_units: i128,
}

/// Where a string lies in the table's text.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    len: u32,
}

#[derive(Clone, Copy, Debug)]
struct Row {
    values: Values,
    id: Span,
    /// [`Values::revenue_units`] as decimal text, written once when pushed.
    revenue_units: Span,
}

/// Events with their names numbered in one dictionary.
#[derive(Clone, Debug, Default)]
pub struct EventTable {
    names: Vec<String>,
    ids: FxHashMap<String, u32>,
    text: String,
    rows: Vec<Row>,
}

impl EventTable {
    pub fn with_capacity(events: usize) -> EventTable {
        EventTable {
            rows: Vec::with_capacity(events),
            text: String::with_capacity(events * 48),
            ..EventTable::default()
        }
    }

    /// The dictionary id of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 names");
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The name a dictionary id stands for.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Every name, by id.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Appends an event whose names are ids of this table.
    pub fn push(&mut self, values: Values, id: &str) {
        debug_assert!(
            [
                values.source,
                values.host,
                values.model,
                values.use_case,
                values.currency
            ]
            .iter()
            .all(|n| (*n as usize) < self.names.len()),
            "names of this table"
        );
        let id = self.push_text(id);
        let start = u32::try_from(self.text.len()).expect("a table holds less than 4 GiB of text");
        write!(self.text, "{}", values.revenue_units).expect("writing to a string");
        let revenue_units = Span {
            start,
            len: self.text.len() as u32 - start,
        };
        self.rows.push(Row {
            values,
            id,
            revenue_units,
        });
    }

    fn push_text(&mut self, text: &str) -> Span {
        let start = u32::try_from(self.text.len()).expect("a table holds less than 4 GiB of text");
        self.text.push_str(text);
        Span {
            start,
            len: text.len() as u32,
        }
    }

    fn text(&self, span: Span) -> &str {
        &self.text[span.start as usize..(span.start + span.len) as usize]
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn values(&self, event: usize) -> &Values {
        &self.rows[event].values
    }

    pub fn id(&self, event: usize) -> &str {
        self.text(self.rows[event].id)
    }

    pub fn revenue_units(&self, event: usize) -> &str {
        self.text(self.rows[event].revenue_units)
    }

    /// Appends the events of `other`, translating each of its names once.
    pub fn append(&mut self, other: &EventTable) {
        let map: Vec<u32> = other.names.iter().map(|name| self.intern(name)).collect();
        let offset = u32::try_from(self.text.len()).expect("a table holds less than 4 GiB of text");
        self.text.push_str(&other.text);
        self.rows.reserve(other.rows.len());
        for row in &other.rows {
            let mut row = *row;
            let v = &mut row.values;
            for name in [
                &mut v.source,
                &mut v.host,
                &mut v.model,
                &mut v.use_case,
                &mut v.currency,
            ] {
                *name = map[*name as usize];
            }
            row.id.start += offset;
            row.revenue_units.start += offset;
            self.rows.push(row);
        }
    }

    /// Keeps the events `keep` takes (by index), in order.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut index = 0;
        self.rows.retain(|_| {
            index += 1;
            keep(index - 1)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(table: &mut EventTable, source: &str, host: &str) -> Values {
        Values {
            leaf: [1; 32],
            source: table.intern(source),
            host: table.intern(host),
            model: table.intern("llama"),
            use_case: table.intern("chat"),
            currency: table.intern("USD"),
            customer: None,
            utc_seconds: 1_790_000_000,
            day: 20_717,
            requests: 1,
            input_tokens: 2,
            output_tokens: 3,
            revenue_units: 0,
        }
    }

    #[test]
    fn appended_tables_keep_their_events_names_and_text() {
        let mut first = EventTable::default();
        let revenue = |mut v: Values, units: i128| {
            v.revenue_units = units;
            v
        };
        let v = values(&mut first, "acme-cloud/us", "acme-cloud");
        first.push(revenue(v, 5), "e-1");
        let mut second = EventTable::default();
        let v = values(&mut second, "nimbus/eu", "nimbus");
        second.push(revenue(v, i128::MAX), "e-2");
        let v = values(&mut second, "acme-cloud/us", "acme-cloud");
        second.push(revenue(v, 0), "e-3");
        first.append(&second);
        first.retain(|i| i != 0);
        let seen: Vec<_> = (0..first.len())
            .map(|i| {
                let v = first.values(i);
                (
                    first.name(v.source),
                    first.name(v.host),
                    first.id(i),
                    first.revenue_units(i),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("nimbus/eu", "nimbus", "e-2", "170141183460469231731687303715884105727"),
                ("acme-cloud/us", "acme-cloud", "e-3", "0"),
            ]
        );
        assert_eq!(
            first.names().iter().filter(|n| *n == "llama").count(),
            1,
            "one dictionary"
        );
    }
}
