//! Offline rating of usage files (`revshare rate`): read in chunks, validate on all
//! cores, deduplicate in input order (first occurrence wins), accumulate, then rate
//! every statement and build its Merkle tree.

use std::io::Read;

use hashbrown::HashTable;
use rayon::prelude::*;
use revshare_core::event::EventError;
use revshare_core::merkle::{self, Hash};
use revshare_core::period::Period;
use revshare_core::rating::{rate_statement, version_for, Engine, InternedFacts, RatingInputs, TreeSummary};
use revshare_core::statement::Statement;

use crate::parse::{key_hash, parse_chunk, Batch};
use crate::reader::{ReadError, Record, RecordReader};

/// A usage file to read; `name` labels its messages.
pub struct UsageInput {
    pub name: String,
    pub reader: Box<dyn Read + Send>,
}

/// Something wrong with one record, reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: u64,
    pub index: u64,
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Invalid,
    Conflict,
}

/// Counts of what a run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records read (valid or not, duplicates included).
    pub read: u64,
    /// Distinct valid events.
    pub unique: u64,
    pub invalid: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    /// Statement memberships rated into lines, and reported as exceptions.
    pub rated: u64,
    pub exceptions: u64,
    /// Distinct events no statement selects.
    pub unselected: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {error}")]
pub struct InputError {
    pub file: String,
    pub error: ReadError,
}

/// Every distinct event seen: its key and leaf hash, by first occurrence.
#[derive(Default)]
pub struct EventKeys {
    bytes: Vec<u8>,
    /// `(start, source_len, id_len)` into `bytes`.
    spans: Vec<(usize, u16, u16)>,
    pub leaves: Vec<Hash>,
    table: HashTable<u32>,
}

pub enum Seen {
    New(u32),
    Duplicate,
    Conflict,
}

impl EventKeys {
    fn key(&self, index: u32) -> (&[u8], &[u8]) {
        let (start, source_len, id_len) = self.spans[index as usize];
        let source_end = start + source_len as usize;
        (&self.bytes[start..source_end], &self.bytes[source_end..source_end + id_len as usize])
    }

    /// Records a key; the first occurrence of `(source, id)` wins.
    pub fn insert(&mut self, hash: u64, source: &str, id: &str, leaf: &Hash) -> Seen {
        let found = self.table.find(hash, |&index| {
            let (s, i) = self.key(index);
            s == source.as_bytes() && i == id.as_bytes()
        });
        if let Some(&index) = found {
            return if self.leaves[index as usize] == *leaf { Seen::Duplicate } else { Seen::Conflict };
        }
        let index = u32::try_from(self.spans.len()).expect("fewer than 2^32 distinct events");
        let start = self.bytes.len();
        self.bytes.extend_from_slice(source.as_bytes());
        self.bytes.extend_from_slice(id.as_bytes());
        self.spans.push((start, source.len() as u16, id.len() as u16));
        self.leaves.push(*leaf);
        let (bytes, spans) = (&self.bytes, &self.spans);
        self.table.insert_unique(hash, index, |&i| {
            let (start, source_len, id_len) = spans[i as usize];
            let source_end = start + source_len as usize;
            let source = std::str::from_utf8(&bytes[start..source_end]).expect("stored from a str");
            let id = std::str::from_utf8(&bytes[source_end..source_end + id_len as usize]).expect("stored from a str");
            key_hash(source, id)
        });
        Seen::New(index)
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Ranks of all events in `(source, id)` bytewise order, computed on all cores.
    pub fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.spans.len() as u32).collect();
        order.par_sort_unstable_by(|a, b| self.key(*a).cmp(&self.key(*b)));
        let mut ranks = vec![0u32; order.len()];
        for (rank, index) in order.into_iter().enumerate() {
            ranks[index as usize] = rank as u32;
        }
        ranks
    }
}

/// What `rate` produced.
pub struct RateOutput {
    pub statements: Vec<Statement>,
    pub summary: Summary,
}

/// Rates usage files against the inputs. `report` receives every invalid or
/// conflicting record as it is found (in input order).
pub fn rate_usage(
    inputs: &RatingInputs,
    usage: Vec<UsageInput>,
    period: Option<Period>,
    report: &mut (dyn FnMut(&Problem) + Send),
) -> Result<RateOutput, InputError> {
    let mut engine = Engine::new(inputs);
    let mut keys = EventKeys::default();
    let mut summary = Summary::default();
    for input in usage {
        let mut absorber = Absorber {
            file: &input.name,
            engine: &mut engine,
            keys: &mut keys,
            summary: &mut summary,
            report,
        };
        let mut reader = RecordReader::new(input.reader);
        let mut parsed: Option<Vec<Batch>> = None;
        loop {
            let chunk = reader.next_chunk().map_err(|error| InputError {
                file: input.name.clone(),
                error,
            })?;
            if chunk.is_none() && parsed.is_none() {
                break;
            }
            if let Some(chunk) = &chunk {
                for (record, message) in &chunk.broken {
                    absorber.problem(record, ProblemKind::Invalid, message.clone());
                }
            }
            // Parse the next chunk on the pool while this thread absorbs the last one.
            let previous = parsed.take();
            let (next, ()) = rayon::join(
                || chunk.as_ref().map(parse_chunk),
                || {
                    for batch in previous.into_iter().flatten() {
                        absorber.absorb(&batch);
                    }
                },
            );
            parsed = next;
        }
    }
    if let Some(period) = period {
        engine.require_period(period);
    }
    let statements = finish(&engine, &keys, period, &mut summary);
    summary.unique = keys.len() as u64;
    Ok(RateOutput { statements, summary })
}

struct Absorber<'a, 'i> {
    file: &'a str,
    engine: &'a mut Engine<'i>,
    keys: &'a mut EventKeys,
    summary: &'a mut Summary,
    report: &'a mut (dyn FnMut(&Problem) + Send),
}

impl Absorber<'_, '_> {
    fn problem(&mut self, record: &Record, kind: ProblemKind, message: String) {
        self.summary.read += 1;
        match kind {
            ProblemKind::Invalid => self.summary.invalid += 1,
            ProblemKind::Conflict => self.summary.conflicts += 1,
        }
        (self.report)(&Problem {
            file: self.file.to_string(),
            line: record.line,
            index: record.index,
            kind,
            message,
        });
    }

    fn absorb(&mut self, batch: &Batch) {
        let names: Vec<u32> = batch.names.iter().map(|n| self.engine.symbols.intern(n)).collect();
        // Invalid records and events interleave by position; report in input order.
        let mut invalid = batch.invalid.iter().peekable();
        for event in &batch.events {
            while let Some((record, error)) = invalid.next_if(|(r, _)| r.index < event.record.index) {
                self.invalid(record, error);
            }
            self.summary.read += 1;
            let (source, id) = (batch.source(event), batch.id(event));
            let index = match self.keys.insert(event.key_hash, source, id, &event.leaf) {
                Seen::New(index) => index,
                Seen::Duplicate => {
                    self.summary.duplicates += 1;
                    continue;
                }
                Seen::Conflict => {
                    self.summary.read -= 1;
                    self.problem(
                        &event.record,
                        ProblemKind::Conflict,
                        format!("conflict: ({source}, {id}) was already given with other content; the first stands"),
                    );
                    continue;
                }
            };
            let day = event.day();
            let facts = InternedFacts {
                host: names[event.names[0] as usize],
                model: names[event.names[1] as usize],
                use_case: names[event.names[2] as usize],
                currency: names[event.names[3] as usize],
                customer: batch.customer(event).map(|c| self.engine.symbols.intern(c)),
                day,
                requests: event.requests,
                input_tokens: event.input_tokens,
                output_tokens: event.output_tokens,
                revenue_units: event.revenue_units,
            };
            if self.engine.add_interned(&facts, index) == 0 {
                self.summary.unselected += 1;
            }
        }
        for (record, error) in invalid {
            self.invalid(record, error);
        }
    }

    fn invalid(&mut self, record: &Record, error: &EventError) {
        self.problem(record, ProblemKind::Invalid, error.to_string());
    }
}

/// Rates every accumulated statement and builds its tree, sorted by (contract, period).
fn finish(engine: &Engine<'_>, keys: &EventKeys, period: Option<Period>, summary: &mut Summary) -> Vec<Statement> {
    let inputs = engine.inputs();
    let mut wanted: Vec<_> = engine
        .usage
        .iter()
        .filter(|(key, _)| period.is_none_or(|p| key.period == p))
        .collect();
    wanted.sort_by_key(|(key, _)| (inputs.contracts.contracts[key.contract as usize].id.clone(), key.period.label()));
    let ranks = if wanted.iter().any(|(_, usage)| !usage.events.is_empty()) { keys.ranks() } else { Vec::new() };
    let mut statements = Vec::with_capacity(wanted.len());
    for (key, usage) in wanted {
        let contract = version_for(&inputs.contracts, key).expect("events are routed only to versions in force");
        let mut events = usage.events.clone();
        events.par_sort_unstable_by_key(|e| ranks[*e as usize]);
        let by_rank: Vec<Hash> = events.iter().map(|e| keys.leaves[*e as usize]).collect();
        let root = parallel_root(&by_rank);
        let tree = TreeSummary {
            count: by_rank.len() as u64,
            root,
        };
        let rated = rate_statement(contract, key.period, usage, &engine.symbols, inputs, tree, &[]);
        summary.rated += rated.rated_events;
        summary.exceptions += rated.exception_events;
        statements.push(rated.statement);
    }
    statements
}


/// The RFC 9162 root, hashing the two halves of large trees on two threads. The tree
/// shape depends only on the leaf count, so this equals [`merkle::root`].
pub fn parallel_root(leaves: &[Hash]) -> Hash {
    const PARALLEL_LEAVES_MIN: usize = 1 << 14;
    if leaves.len() < PARALLEL_LEAVES_MIN {
        return merkle::root(leaves);
    }
    let k = merkle::split_point(leaves.len());
    let (left, right) = rayon::join(|| parallel_root(&leaves[..k]), || parallel_root(&leaves[k..]));
    merkle::node_hash(&left, &right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_root_equals_the_sequential_one() {
        for n in [0usize, 1, 3, 16_384, 50_001] {
            let leaves: Vec<Hash> = (0..n as u32).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
            assert_eq!(parallel_root(&leaves), merkle::root(&leaves), "{n} leaves");
        }
    }
}
