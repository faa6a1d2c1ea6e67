//! Segments: how both stores keep events. One segment holds the events of one host
//! and one UTC day that arrived in one import transaction, encoded with postcard
//! (varints, strings borrowed on decode) behind a small dictionary of the names they
//! repeat. A row per event made SQLite walk two B-trees and bind sixteen values per
//! event (and PostgreSQL parse fifteen columns, form a tuple and index it); a segment
//! row costs that once per about a hundred events (in the 1M-event benchmark), while
//! the idempotency key still gets its own indexed row (`event_keys` in both stores'
//! migrations).
//!
//! Invariants: a segment is written in one transaction and holds the events of one
//! host's batch, so all its events carry the row's audit `seq` (a close, which rates
//! as of a seq, takes or leaves whole segments). A segment holds at most one import
//! chunk's events (4 MiB of input), which bounds its size.

use serde::{Deserialize, Serialize};

use revshare_core::event::table::{EventTable, Values};
use revshare_core::rating::Sums;

use crate::event::{EventRow, EventView};
use crate::rollup::{self, RollupKey};
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

/// The events one transaction stores: a table of them (names numbered once, ids
/// and revenue in one buffer, customers as pseudonyms), with their segments (both
/// backends keep events so) encoded ahead, on the import's validation pool.
pub struct EventBatch {
    table: EventTable,
    pub(crate) segments: Vec<Group>,
}

impl EventBatch {
    pub fn new(table: EventTable) -> Result<EventBatch, StoreError> {
        let segments = encode_groups(&table)?;
        Ok(EventBatch { table, segments })
    }

    /// A batch of owned events (as a migration or a test has them).
    pub fn from_rows(rows: &[EventRow]) -> Result<EventBatch, StoreError> {
        let mut table = EventTable::with_capacity(rows.len());
        for row in rows {
            let values = Values {
                leaf: row.leaf,
                source: table.intern(&row.source),
                host: table.intern(&row.host),
                model: table.intern(&row.model),
                use_case: table.intern(&row.use_case),
                currency: table.intern(&row.currency),
                customer: row.customer,
                utc_seconds: row.utc_seconds,
                day: row.day,
                requests: row.requests,
                input_tokens: row.input_tokens,
                output_tokens: row.output_tokens,
                revenue_units: row.revenue_units.parse().map_err(|_| {
                    StoreError::Database(format!(
                        "event {}/{}: its revenue `{}` units is not a 128-bit integer",
                        row.source, row.id, row.revenue_units
                    ))
                })?,
            };
            table.push(values, &row.id);
        }
        EventBatch::new(table)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn table(&self) -> &EventTable {
        &self.table
    }

    /// Event `index`, borrowed from the batch (its `seq` is 0: not stored yet).
    pub fn view(&self, index: usize) -> EventView<'_> {
        let t = &self.table;
        let v = t.values(index);
        EventView {
            seq: revshare_core::audit::Seq::ZERO,
            source: t.name(v.source),
            id: t.id(index),
            leaf: &v.leaf,
            host: t.name(v.host),
            model: t.name(v.model),
            use_case: t.name(v.use_case),
            currency: t.name(v.currency),
            customer: v.customer.as_ref().map(|c| &c[..]),
            utc_seconds: v.utc_seconds,
            day: v.day,
            requests: v.requests,
            input_tokens: v.input_tokens,
            output_tokens: v.output_tokens,
            revenue_units: t.revenue_units(index),
        }
    }
}

/// A segment's dictionary: the table's names in order of first use, numbered per
/// field (the format numbers a name once per field it appears in).
struct Dictionary<'a> {
    table: &'a EventTable,
    names: Vec<&'a str>,
    /// Per field (source, model, use case, currency), the segment index of each
    /// table name id, or `UNSEEN`.
    fields: [Vec<u32>; 4],
}

const UNSEEN: u32 = u32::MAX;

impl<'a> Dictionary<'a> {
    fn new(table: &'a EventTable) -> Dictionary<'a> {
        let unseen = vec![UNSEEN; table.names().len()];
        Dictionary {
            table,
            names: Vec::new(),
            fields: [unseen.clone(), unseen.clone(), unseen.clone(), unseen],
        }
    }

    fn index(&mut self, field: usize, name: u32) -> u32 {
        let slot = &mut self.fields[field][name as usize];
        if *slot == UNSEEN {
            *slot = self.names.len() as u32;
            self.names.push(self.table.name(name));
        }
        *slot
    }
}

/// The events of one host and day in a batch, encoded one by one on the validation
/// pool before the batch reaches the writer, whose transaction then only puts the
/// accepted events' bytes together (which events are accepted, it alone decides).
pub struct Group {
    /// The batch index of its first event, which gives the group's host and day.
    pub first: usize,
    /// The encoded dictionary. It may hold a name only a refused event used: harmless.
    names: Vec<u8>,
    /// Per event of the group: its index in the batch and its byte range in `bytes`.
    events: Vec<(usize, std::ops::Range<usize>)>,
    bytes: Vec<u8>,
}

/// Groups a table's events by host and day (in order of first appearance) and
/// encodes each event.
fn encode_groups(table: &EventTable) -> Result<Vec<Group>, StoreError> {
    let mut group_of: rustc_hash::FxHashMap<(u32, i32), usize> = Default::default();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for index in 0..table.len() {
        let v = table.values(index);
        let next = members.len();
        let group = *group_of.entry((v.host, v.day)).or_insert(next);
        if group == next {
            members.push(Vec::new());
        }
        members[group].push(index);
    }
    members
        .into_iter()
        .map(|indices| encode_group(table, indices))
        .collect()
}

fn encode_group(table: &EventTable, indices: Vec<usize>) -> Result<Group, StoreError> {
    let encoding = |e: postcard::Error| StoreError::Database(format!("encoding a segment: {e}"));
    let first = indices[0];
    let mut dictionary = Dictionary::new(table);
    let mut bytes = Vec::with_capacity(indices.len() * 96);
    let mut ranges = Vec::with_capacity(indices.len());
    for index in indices {
        let v = table.values(index);
        let stored = Stored {
            source: dictionary.index(0, v.source),
            id: table.id(index),
            leaf: v.leaf,
            model: dictionary.index(1, v.model),
            use_case: dictionary.index(2, v.use_case),
            currency: dictionary.index(3, v.currency),
            customer: v.customer,
            utc_seconds: v.utc_seconds,
            requests: v.requests,
            input_tokens: v.input_tokens,
            output_tokens: v.output_tokens,
            revenue_units: table.revenue_units(index),
        };
        let start = bytes.len();
        bytes = postcard::to_extend(&stored, bytes).map_err(encoding)?;
        ranges.push((index, start..bytes.len()));
    }
    Ok(Group {
        first,
        names: postcard::to_extend(&dictionary.names, Vec::new()).map_err(encoding)?,
        events: ranges,
        bytes,
    })
}

impl Group {
    /// Writes the segment of the events `keep` accepts (by batch index) into `out`
    /// (the encoding of [`Segment`]: dictionary, count, events) and returns how many
    /// it holds.
    pub fn segment(&self, keep: impl Fn(usize) -> bool, out: &mut Vec<u8>) -> Result<usize, StoreError> {
        let kept: Vec<&std::ops::Range<usize>> = self
            .events
            .iter()
            .filter(|(index, _)| keep(*index))
            .map(|(_, range)| range)
            .collect();
        out.clear();
        out.extend_from_slice(&self.names);
        // A sequence's length is a varint of its usize, the same bytes as the u64.
        *out = postcard::to_extend(&(kept.len() as u64), std::mem::take(out))
            .map_err(|e| StoreError::Database(format!("encoding a segment: {e}")))?;
        for range in &kept {
            out.extend_from_slice(&self.bytes[(*range).clone()]);
        }
        Ok(kept.len())
    }
}

impl EventBatch {
    /// The rollup of the segment [`Group::segment`] writes for the same `keep`:
    /// the accepted events' figures summed by model, use case and currency.
    pub(crate) fn rollup(&self, group: &Group, keep: impl Fn(usize) -> bool) -> Result<Vec<u8>, StoreError> {
        // A segment holds a few keys: a short list beats a map.
        let mut sums: Vec<([u32; 3], Sums)> = Vec::new();
        for (index, _) in &group.events {
            if !keep(*index) {
                continue;
            }
            let v = self.table.values(*index);
            let key = [v.model, v.use_case, v.currency];
            let figures = rollup::figures(v.requests, v.input_tokens, v.output_tokens, v.revenue_units)
                .ok_or_else(|| StoreError::Database("an event to store has a negative count".into()))?;
            match sums.iter_mut().find(|(k, _)| *k == key) {
                Some((_, found)) => found.merge(&figures),
                None => sums.push((key, figures)),
            }
        }
        let name = |id: u32| self.table.name(id);
        let lines: Vec<(RollupKey<'_>, Sums)> = sums
            .into_iter()
            .map(|([model, use_case, currency], sums)| {
                let key = RollupKey {
                    model: name(model),
                    use_case: name(use_case),
                    currency: name(currency),
                };
                (key, sums)
            })
            .collect();
        rollup::encode(lines)
    }
}

/// The row a segment lives in, as read back.
pub struct SegmentRow<'r> {
    pub number: i64,
    pub host: &'r str,
    pub day: i32,
    pub seq: i64,
    pub bytes: &'r [u8],
}

/// Visits the events of a segment, borrowing from the row's bytes.
pub fn decode(
    row: &SegmentRow<'_>,
    visit: &mut dyn FnMut(&EventView<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let corrupt = |what: &str| {
        StoreError::corrupt(
            format!("segment:{}", row.number),
            format!(
                "its events (of {} on day {}, entry {}) do not decode: {what}",
                row.host, row.day, row.seq
            ),
        )
    };
    let seq = crate::stored_seq(row.seq, || format!("segment:{}", row.number))?;
    let segment: Segment<'_> = postcard::from_bytes(row.bytes).map_err(|e| corrupt(&e.to_string()))?;
    let name = |index: u32| {
        segment
            .names
            .get(index as usize)
            .copied()
            .ok_or_else(|| corrupt("a name index out of range"))
    };
    for e in &segment.events {
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
            utc_seconds: e.utc_seconds,
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
        }
    }

    #[test]
    fn events_come_back_as_stored() {
        let rows = [
            row("acme-cloud/us", "e-1", Some([7; 16]), "92000000"),
            row("acme-cloud/eu", "e-22", None, "0"),
            row(
                "acme-cloud/us",
                "e-333",
                Some([9; 16]),
                "170141183460469231731687303715884105727",
            ),
        ];
        let mut bytes = Vec::new();
        let groups = EventBatch::from_rows(&rows).unwrap().segments;
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].segment(|_| true, &mut bytes).unwrap(), 3);
        let segment = SegmentRow {
            number: 1,
            host: "acme-cloud",
            day: 20_700,
            seq: 10,
            bytes: &bytes,
        };
        let mut seen = Vec::new();
        decode(&segment, &mut |e| {
            seen.push((e.seq.get(), e.source.to_string(), e.id.to_string(), e.leaf.to_vec()));
            assert_eq!(
                (e.host, e.day, e.model, e.currency, e.utc_seconds),
                ("acme-cloud", 20_700, "llama-3.1-8b-instruct", "USD", 1_790_000_000)
            );
            Ok(())
        })
        .unwrap();
        let expected: Vec<_> = rows
            .iter()
            .map(|r| (10, r.source.clone(), r.id.clone(), r.leaf.to_vec()))
            .collect();
        assert_eq!(seen, expected);
        let mut units = Vec::new();
        decode(&segment, &mut |e| {
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

    /// Host, day, id, model and use case of a decoded event.
    type Seen = (String, i32, String, String, String);

    #[test]
    fn a_batch_splits_by_host_and_day_and_segments_keep_only_accepted_events() {
        let mut rows: Vec<EventRow> = (0..12)
            .map(|i| {
                let mut r = row(["acme-cloud/us", "acme-cloud/eu"][i % 2], &format!("e-{i}"), None, "5");
                r.host = ["acme-cloud", "nimbus"][i % 3 / 2].into();
                r.day = 20_700 + (i % 4) as i32;
                r.model = ["m-a", "m-b", "m-c"][i % 3].into();
                r
            })
            .collect();
        rows[5].use_case = "only-in-a-refused-event".into();
        let refused = [5, 6];
        let batch = EventBatch::from_rows(&rows).unwrap();
        let groups = &batch.segments;
        let mut seen = Vec::new();
        let mut bytes = Vec::new();
        for group in groups {
            let first = &rows[group.first];
            let count = group.segment(|index| !refused.contains(&index), &mut bytes).unwrap();
            let segment = SegmentRow {
                number: 1,
                host: &first.host,
                day: first.day,
                seq: 0,
                bytes: &bytes,
            };
            let mut decoded = 0;
            decode(&segment, &mut |e| {
                decoded += 1;
                seen.push((
                    e.host.to_string(),
                    e.day,
                    e.id.to_string(),
                    e.model.to_string(),
                    e.use_case.to_string(),
                ));
                Ok(())
            })
            .unwrap();
            assert_eq!(decoded, count);
            // The rollup written with it is the one its decoded events make, and
            // counts the accepted events only.
            let rollup = batch.rollup(group, |index| !refused.contains(&index)).unwrap();
            assert_eq!(rollup, rollup::of_segment(&segment).unwrap());
            let lines = rollup::decode(&rollup, "segment:1").unwrap();
            assert_eq!(lines.iter().map(|l| l.sums.events).sum::<u64>(), count as u64);
            assert!(lines.iter().all(|l| l.key.use_case != "only-in-a-refused-event"));
        }
        // Every accepted event once, grouped by first appearance of its host and day,
        // in batch order within a group.
        let mut expected: Vec<(usize, Seen)> = rows
            .iter()
            .enumerate()
            .filter(|(index, _)| !refused.contains(index))
            .map(|(index, r)| {
                let group = groups
                    .iter()
                    .position(|g| rows[g.first].host == r.host && rows[g.first].day == r.day)
                    .unwrap();
                (
                    group * 100 + index,
                    (r.host.clone(), r.day, r.id.clone(), r.model.clone(), r.use_case.clone()),
                )
            })
            .collect();
        expected.sort_by_key(|(order, _)| *order);
        assert_eq!(seen, expected.into_iter().map(|(_, e)| e).collect::<Vec<_>>());
    }

    #[test]
    fn a_segment_put_together_is_exactly_the_encoding_of_a_segment() {
        let rows = [
            row("acme-cloud/us", "e-1", Some([7; 16]), "1"),
            row("acme-cloud/eu", "e-2", None, "2"),
            row("acme-cloud/us", "e-3", None, "3"),
        ];
        let mut bytes = Vec::new();
        EventBatch::from_rows(&rows).unwrap().segments[0]
            .segment(|index| index != 1, &mut bytes)
            .unwrap();
        let segment: Segment<'_> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(segment.events.len(), 2);
        assert_eq!(postcard::to_allocvec(&segment).unwrap(), bytes);
    }

    #[test]
    fn a_damaged_segment_is_an_error_not_a_panic() {
        let rows = [row("acme-cloud/us", "e-1", None, "1")];
        let mut bytes = Vec::new();
        EventBatch::from_rows(&rows).unwrap().segments[0]
            .segment(|_| true, &mut bytes)
            .unwrap();
        for cut in 0..bytes.len() {
            let segment = SegmentRow {
                number: 1,
                host: "acme-cloud",
                day: 1,
                seq: 1,
                bytes: &bytes[..cut],
            };
            assert!(decode(&segment, &mut |_| Ok(())).is_err(), "cut at {cut}");
        }
    }
}
