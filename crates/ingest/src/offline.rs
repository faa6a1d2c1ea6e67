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

use crate::parse::{parse_chunk, Batch};
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
    spans: Vec<KeySpan>,
    pub leaves: Vec<Hash>,
    table: HashTable<u32>,
}

#[derive(Clone, Copy)]
struct KeySpan {
    start: usize,
    source_len: u16,
    id_len: u16,
    hash: u64,
}

pub enum Seen {
    New(u32),
    Duplicate,
    Conflict,
}

impl EventKeys {
    /// `(source, id)` of an event, as bytes.
    pub fn key(&self, index: u32) -> (&[u8], &[u8]) {
        let span = self.spans[index as usize];
        let source_end = span.start + span.source_len as usize;
        (&self.bytes[span.start..source_end], &self.bytes[source_end..source_end + span.id_len as usize])
    }

    /// Records a key; the first occurrence of `(source, id)` wins.
    pub fn insert(&mut self, hash: u64, source: &[u8], id: &[u8], leaf: &Hash) -> Seen {
        let found = self.table.find(hash, |&index| self.key(index) == (source, id));
        if let Some(&index) = found {
            return if self.leaves[index as usize] == *leaf { Seen::Duplicate } else { Seen::Conflict };
        }
        let index = u32::try_from(self.spans.len()).expect("fewer than 2^32 distinct events");
        let start = self.bytes.len();
        self.bytes.extend_from_slice(source);
        self.bytes.extend_from_slice(id);
        self.spans.push(KeySpan {
            start,
            source_len: source.len() as u16,
            id_len: id.len() as u16,
            hash,
        });
        self.leaves.push(*leaf);
        let spans = &self.spans;
        self.table.insert_unique(hash, index, |&i| spans[i as usize].hash);
        Seen::New(index)
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The first 32 bytes of `source ‖ 0x00 ‖ id` as four big-endian words: comparing
    /// them orders keys as `(source, id)` does, up to ties that need the full keys.
    fn prefix(&self, index: u32) -> [u64; 4] {
        let (source, id) = self.key(index);
        let mut bytes = [0u8; 32];
        let mut position = 0;
        for &b in source.iter().chain(std::iter::once(&0u8)).chain(id) {
            if position == 32 {
                break;
            }
            bytes[position] = b;
            position += 1;
        }
        std::array::from_fn(|i| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes")))
    }

    /// Sorts event indices into `(source, id)` bytewise order, on all cores.
    pub fn sort(&self, events: &mut [u32]) {
        let mut keyed: Vec<([u64; 4], u32)> = events.par_iter().map(|e| (self.prefix(*e), *e)).collect();
        keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| self.key(a.1).cmp(&self.key(b.1))));
        for (slot, (_, event)) in events.iter_mut().zip(keyed) {
            *slot = event;
        }
    }
}

/// What `rate` produced.
pub static PARSE_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static ABSORB_NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
                || {
                    let t = std::time::Instant::now();
                    let r = chunk.as_ref().map(parse_chunk);
                    PARSE_NS.fetch_add(t.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
                    r
                },
                || {
                    let t = std::time::Instant::now();
                    for batch in previous.into_iter().flatten() {
                        absorber.absorb(&batch);
                    }
                    ABSORB_NS.fetch_add(t.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
                },
            );
            parsed = next;
        }
    }
    let absorbed = std::time::Instant::now();
    if let Some(period) = period {
        engine.require_period(period);
    }
    let statements = finish(&engine, &keys, period, &mut summary);
    if std::env::var_os("REVSHARE_PROFILE").is_some() {
        eprintln!("profile: finish {:?} parse {}ms absorb {}ms", absorbed.elapsed(), PARSE_NS.load(std::sync::atomic::Ordering::Relaxed)/1000000, ABSORB_NS.load(std::sync::atomic::Ordering::Relaxed)/1000000);
    }
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
            let key = batch.key_bytes(event);
            let (source, id) = key.split_at(event.source_len as usize);
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
                        format!(
                            "conflict: ({}, {}) was already given with other content; the first stands",
                            batch.source(event),
                            batch.id(event)
                        ),
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
                customer: event.customer.map(|c| names[c as usize]),
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
    let mut statements = Vec::with_capacity(wanted.len());
    for (key, usage) in wanted {
        let contract = version_for(&inputs.contracts, key).expect("events are routed only to versions in force");
        let mut events = usage.events.clone();
        keys.sort(&mut events);
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
