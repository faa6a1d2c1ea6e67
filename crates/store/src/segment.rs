//! Segments: how the embedded store keeps events. One segment holds the events of one
//! host and one UTC day that arrived in one import transaction, encoded with postcard
//! (varints, strings borrowed on decode) behind a small dictionary of the names they
//! repeat. A row per event made SQLite walk two B-trees and bind sixteen values per
//! event; a segment row costs that once per few dozen events, while the idempotency
//! key still gets its own indexed row (see `event_keys` in the SQLite migration).
//!
//! Invariants: the events of a segment have consecutive `seq` numbers starting at the
//! row's `seq_first`, and a segment is written in one transaction, so a close's
//! watermark (taken while imports are locked out) never falls inside one.

use serde::{Deserialize, Serialize};

use crate::backend::{EventRow, EventView};
use crate::StoreError;

/// The encoded form. Field order is the format: append new fields only at the end,
/// behind a new migration.
#[derive(Serialize, Deserialize)]
struct Segment<'a> {
    #[serde(borrow)]
    names: Vec<&'a str>,
    #[serde(borrow)]
    events: Vec<Stored<'a>>,
}

#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    source: u32,
    id: &'a str,
    leaf: [u8; 32],
    model: u32,
    use_case: u32,
    currency: u32,
    customer: Option<[u8; 16]>,
    utc_seconds: i64,
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
    revenue_units: &'a str,
}

/// Names in a segment's dictionary: a segment of one host and day repeats a handful
/// of sources, models, use cases and currencies, so a linear search is the fastest.
struct Dictionary<'a> {
    names: Vec<&'a str>,
}

impl<'a> Dictionary<'a> {
    fn index(&mut self, name: &'a str) -> u32 {
        match self.names.iter().position(|n| *n == name) {
            Some(position) => position as u32,
            None => {
                self.names.push(name);
                (self.names.len() - 1) as u32
            }
        }
    }
}

/// Encodes events of one host and day (in `seq` order) into `buffer`.
pub fn encode(events: &[&EventRow], buffer: &mut Vec<u8>) -> Result<(), StoreError> {
    assert!(
        events
            .windows(2)
            .all(|w| w[0].host == w[1].host && w[0].day == w[1].day),
        "a segment holds one host and day"
    );
    let mut dictionary = Dictionary { names: Vec::new() };
    let stored: Vec<Stored<'_>> = events
        .iter()
        .map(|e| Stored {
            source: dictionary.index(&e.source),
            id: &e.id,
            leaf: e.leaf,
            model: dictionary.index(&e.model),
            use_case: dictionary.index(&e.use_case),
            currency: dictionary.index(&e.currency),
            customer: e.customer,
            utc_seconds: e.utc_seconds,
            requests: e.requests,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            revenue_units: &e.revenue_units,
        })
        .collect();
    let segment = Segment {
        names: dictionary.names,
        events: stored,
    };
    buffer.clear();
    *buffer = postcard::to_extend(&segment, std::mem::take(buffer))
        .map_err(|e| StoreError::Database(format!("encoding a segment: {e}")))?;
    Ok(())
}

/// The row a segment lives in, as read back.
pub struct SegmentRow<'r> {
    pub host: &'r str,
    pub day: i32,
    pub seq_first: i64,
    pub bytes: &'r [u8],
}

/// Visits the events of a segment with `seq` in `(after, through]`, borrowing from
/// the row's bytes.
pub fn decode(
    row: &SegmentRow<'_>,
    after: i64,
    through: i64,
    visit: &mut dyn FnMut(&EventView<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let corrupt = |what: &str| {
        StoreError::Database(format!(
            "corrupt segment of {} day {} at seq {}: {what}",
            row.host, row.day, row.seq_first
        ))
    };
    let segment: Segment<'_> = postcard::from_bytes(row.bytes).map_err(|e| corrupt(&e.to_string()))?;
    let name = |index: u32| {
        segment
            .names
            .get(index as usize)
            .copied()
            .ok_or_else(|| corrupt("a name index out of range"))
    };
    for (offset, e) in segment.events.iter().enumerate() {
        let seq = row.seq_first + offset as i64;
        if seq <= after || seq > through {
            continue;
        }
        visit(&EventView {
            seq,
            source: name(e.source)?,
            id: e.id,
            leaf: &e.leaf,
            host: row.host,
            model: name(e.model)?,
            use_case: name(e.use_case)?,
            currency: name(e.currency)?,
            customer: e.customer.as_ref().map(|c| &c[..]),
            day: row.day,
            requests: e.requests,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            revenue_units: e.revenue_units,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(source: &str, id: &str, customer: Option<[u8; 16]>, units: &str) -> EventRow {
        EventRow {
            source: source.into(),
            id: id.into(),
            leaf: [id.len() as u8; 32],
            host: "acme-cloud".into(),
            model: "llama-3.1-8b-instruct".into(),
            use_case: "chat".into(),
            currency: "USD".into(),
            customer,
            utc_seconds: 1_790_000_000,
            day: 20_700,
            requests: 1,
            input_tokens: 1_628,
            output_tokens: 73,
            revenue_units: units.into(),
            late: false,
        }
    }

    #[test]
    fn events_come_back_as_stored_within_the_seq_window() {
        let rows = [
            row("acme-cloud/us", "e-1", Some([7; 16]), "92000000"),
            row("acme-cloud/eu", "e-22", None, "0"),
            row(
                "acme-cloud/us",
                "e-333",
                Some([9; 16]),
                "340282366920938463463374607431768211455000",
            ),
        ];
        let mut bytes = Vec::new();
        encode(&rows.iter().collect::<Vec<_>>(), &mut bytes).unwrap();
        let segment = SegmentRow {
            host: "acme-cloud",
            day: 20_700,
            seq_first: 10,
            bytes: &bytes,
        };
        let mut seen = Vec::new();
        decode(&segment, 10, 12, &mut |e| {
            seen.push((e.seq, e.source.to_string(), e.id.to_string(), e.leaf.to_vec()));
            assert_eq!(
                (e.host, e.day, e.model, e.currency),
                ("acme-cloud", 20_700, "llama-3.1-8b-instruct", "USD")
            );
            Ok(())
        })
        .unwrap();
        // seq 10 is at the watermark `after`, so it is left out.
        let expected: Vec<_> = rows[1..]
            .iter()
            .zip(11..)
            .map(|(r, seq)| (seq, r.source.clone(), r.id.clone(), r.leaf.to_vec()))
            .collect();
        assert_eq!(seen, expected);
        let mut units = Vec::new();
        decode(&segment, 0, i64::MAX, &mut |e| {
            units.push((e.revenue_units.to_string(), e.customer.map(<[u8]>::to_vec)));
            Ok(())
        })
        .unwrap();
        let expected: Vec<_> = rows
            .iter()
            .map(|r| (r.revenue_units.clone(), r.customer.map(|c| c.to_vec())))
            .collect();
        assert_eq!(units, expected);
    }

    #[test]
    fn a_damaged_segment_is_an_error_not_a_panic() {
        let rows = [row("acme-cloud/us", "e-1", None, "1")];
        let mut bytes = Vec::new();
        encode(&rows.iter().collect::<Vec<_>>(), &mut bytes).unwrap();
        for cut in 0..bytes.len() {
            let segment = SegmentRow {
                host: "acme-cloud",
                day: 1,
                seq_first: 1,
                bytes: &bytes[..cut],
            };
            assert!(decode(&segment, 0, i64::MAX, &mut |_| Ok(())).is_err(), "cut at {cut}");
        }
    }
}
