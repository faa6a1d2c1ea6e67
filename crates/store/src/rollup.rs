//! Rollups: each segment's events summed by model, use case and currency, stored
//! beside the segment when it is written, so that what a host's days hold can be
//! read without decoding their events (the dashboard's accrual; rating reads the
//! same sums, [`revshare_core::rating::Sums`], per `(model, use case, currency,
//! day)` group, and a segment is one host, day and audit seq). A rollup is derived
//! data: `audit verify` computes every one again from its segment's events and
//! names one that differs.
//!
//! The encoding is canonical (lines in order of their names, each name once in
//! order of first use), so a rollup computed again compares byte for byte.

use revshare_core::audit::Seq;
use revshare_core::rating::Sums;
use serde::{Deserialize, Serialize};

use crate::event::EventView;
use crate::StoreError;

/// The encoded form. Field order is the format: append new fields only at the end,
/// behind a new migration.
#[derive(Serialize, Deserialize)]
struct Encoded<'a> {
    #[serde(borrow)]
    names: Vec<&'a str>,
    lines: Vec<Line>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    model: u32,
    use_case: u32,
    currency: u32,
    events: u64,
    requests: u128,
    input_tokens: u128,
    output_tokens: u128,
    revenue_units: i128,
}

/// The names a rollup line sums the events of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey<'a> {
    pub model: &'a str,
    pub use_case: &'a str,
    pub currency: &'a str,
}

/// One line of a segment's rollup, borrowed from its stored bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollupLine<'a> {
    pub key: RollupKey<'a>,
    pub sums: Sums,
}

/// A segment's rollup as read back: the segment's day and audit seq, and its lines.
pub struct StoredRollup<'a> {
    pub day: i32,
    pub seq: Seq,
    pub lines: Vec<RollupLine<'a>>,
}

impl<'a> StoredRollup<'a> {
    /// Segment `number`'s rollup as read; one it lacks, or that does not decode, is
    /// corrupt.
    pub(crate) fn read(number: i64, day: i32, seq: Seq, bytes: Option<&'a [u8]>) -> Result<Self, StoreError> {
        let what = format!("segment:{number}");
        let bytes = bytes.ok_or_else(|| StoreError::corrupt(&what, "it has no rollup"))?;
        Ok(StoredRollup {
            day,
            seq,
            lines: decode(bytes, &what)?,
        })
    }
}

/// Receives a host's rollups one segment at a time.
pub type VisitRollup<'v> = dyn FnMut(&StoredRollup<'_>) -> Result<(), StoreError> + 'v;

/// One event's figures as a rollup sums them (a missing `requests` already 1);
/// `None` for a negative count, which no validated event holds.
pub(crate) fn figures(requests: i64, input_tokens: i64, output_tokens: i64, revenue_units: i128) -> Option<Sums> {
    Some(Sums {
        events: 1,
        requests: u128::try_from(requests).ok()?,
        input_tokens: u128::try_from(input_tokens).ok()?,
        output_tokens: u128::try_from(output_tokens).ok()?,
        revenue_units,
    })
}

impl EventView<'_> {
    /// Its figures as a rollup sums them; revenue that is not an integer number of
    /// units, or a negative count, is `what`'s corruption.
    pub fn figures(&self, what: &str) -> Result<Sums, StoreError> {
        let revenue: i128 = self
            .revenue_units
            .parse()
            .map_err(|_| StoreError::corrupt(what, "an event's revenue is not a whole number of units"))?;
        figures(self.requests, self.input_tokens, self.output_tokens, revenue)
            .ok_or_else(|| StoreError::corrupt(what, "an event's count of requests or tokens is negative"))
    }
}

/// Encodes lines (each key once) in key order, the canonical form.
pub(crate) fn encode<'k>(mut lines: Vec<(RollupKey<'k>, Sums)>) -> Result<Vec<u8>, StoreError> {
    lines.sort_by_key(|(key, _)| *key);
    let mut names: Vec<&str> = Vec::new();
    let mut index = |name: &'k str| match names.iter().position(|n| *n == name) {
        Some(found) => found as u32,
        None => {
            names.push(name);
            (names.len() - 1) as u32
        }
    };
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|(key, sums)| Line {
            model: index(key.model),
            use_case: index(key.use_case),
            currency: index(key.currency),
            events: sums.events,
            requests: sums.requests,
            input_tokens: sums.input_tokens,
            output_tokens: sums.output_tokens,
            revenue_units: sums.revenue_units,
        })
        .collect();
    postcard::to_extend(&Encoded { names, lines }, Vec::new())
        .map_err(|e| StoreError::Database(format!("encoding a rollup: {e}")))
}

/// Decodes a stored rollup; `what` names its segment in an error.
pub(crate) fn decode<'a>(bytes: &'a [u8], what: &str) -> Result<Vec<RollupLine<'a>>, StoreError> {
    let corrupt = |detail: &str| StoreError::corrupt(what, format!("its rollup does not decode: {detail}"));
    let encoded: Encoded<'a> = postcard::from_bytes(bytes).map_err(|e| corrupt(&e.to_string()))?;
    let name = |index: u32| {
        encoded
            .names
            .get(index as usize)
            .copied()
            .ok_or_else(|| corrupt("a name index out of range"))
    };
    encoded
        .lines
        .iter()
        .map(|line| {
            Ok(RollupLine {
                key: RollupKey {
                    model: name(line.model)?,
                    use_case: name(line.use_case)?,
                    currency: name(line.currency)?,
                },
                sums: Sums {
                    events: line.events,
                    requests: line.requests,
                    input_tokens: line.input_tokens,
                    output_tokens: line.output_tokens,
                    revenue_units: line.revenue_units,
                },
            })
        })
        .collect()
}

/// A rollup computed from decoded events (a migration's, and `audit verify`'s).
#[derive(Default)]
pub struct Recomputed {
    /// `[model, use case, currency]` and their sums: a segment holds a few keys, so
    /// a short list found by borrowed names, with no allocation per event.
    lines: Vec<([String; 3], Sums)>,
}

impl Recomputed {
    /// Adds one decoded event; revenue that is not an integer is `what`'s corruption.
    pub fn add(&mut self, event: &EventView<'_>, what: &str) -> Result<(), StoreError> {
        let figures = event.figures(what)?;
        let names = [event.model, event.use_case, event.currency];
        match self.lines.iter_mut().find(|(key, _)| key.iter().eq(names.iter())) {
            Some((_, sums)) => sums.merge(&figures),
            None => self.lines.push((names.map(str::to_string), figures)),
        }
        Ok(())
    }

    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let lines: Vec<(RollupKey<'_>, Sums)> = self
            .lines
            .iter()
            .map(|([model, use_case, currency], sums)| {
                let key = RollupKey {
                    model,
                    use_case,
                    currency,
                };
                (key, *sums)
            })
            .collect();
        encode(lines)
    }
}

/// A stored segment's rollup, computed from its events (a migration's).
pub(crate) fn of_segment(segment: &crate::segment::SegmentRow<'_>) -> Result<Vec<u8>, StoreError> {
    let what = format!("segment:{}", segment.number);
    let mut rollup = Recomputed::default();
    crate::segment::decode(segment, &mut |event| rollup.add(event, &what))?;
    rollup.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(events: u64, revenue_units: i128) -> Sums {
        Sums {
            events,
            requests: u128::from(events),
            input_tokens: 10 * u128::from(events),
            output_tokens: 3,
            revenue_units,
        }
    }

    #[test]
    fn a_rollup_comes_back_as_encoded() {
        let key = |model, use_case, currency| RollupKey {
            model,
            use_case,
            currency,
        };
        let lines = [
            (key("m-a", "chat", "USD"), sums(2, -5)),
            (key("m-a", "code", "EUR"), sums(1, i128::MAX)),
            (key("m-b", "chat", "USD"), sums(7, 0)),
        ];
        let bytes = encode(lines.to_vec()).unwrap();
        let back = decode(&bytes, "segment:1").unwrap();
        let back: Vec<_> = back.iter().map(|l| (l.key, l.sums)).collect();
        assert_eq!(back, lines);
    }

    #[test]
    fn a_damaged_rollup_is_an_error_naming_its_segment() {
        let bytes = encode(
            [(
                RollupKey {
                    model: "m",
                    use_case: "u",
                    currency: "USD",
                },
                sums(1, 1),
            )]
            .to_vec(),
        )
        .unwrap();
        for cut in 0..bytes.len() {
            let error = decode(&bytes[..cut], "segment:9").map(|_| ()).unwrap_err();
            assert!(error.to_string().contains("segment:9"), "{error}");
        }
    }
}
