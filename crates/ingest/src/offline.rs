//! Offline rating of usage files (`revshare rate`).
//!
//! 1. Read the files in chunks and validate each chunk on all cores into compact
//!    batches; invalid records are reported as they are found.
//! 2. Sort every valid event by `(source, id)`, then by input position, on all cores.
//!    Equal keys are now adjacent: the first in input order wins, later ones are
//!    duplicates (same leaf hash) or conflicts (another). No hash table is needed.
//!    Each winner's place in this order is its rank: the order of Merkle leaves.
//! 3. Accumulate the winners into per-statement usage on all cores, in input order
//!    (the order they lie in memory; sums do not depend on it), then sort each
//!    statement's ranks, rate it and hash its tree.

use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;
use revshare_core::merkle::{self, Hash};
use revshare_core::period::Period;
use revshare_core::rating::{
    merge_usage, rate_statement, require_period, version_for, InternedFacts, RatingInputs, Router, Symbols,
    TreeSummary, UsageMap,
};
use revshare_core::statement::Statement;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::parse::{Batch, CompactEvent, Parsed, ParsedChunks};
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
    /// Distinct events left out because they are voided (`rate --voids`).
    pub voided: u64,
}

/// Events that no longer count, by `(source, id)` (statements.md, Voided events):
/// what `revshare rate --voids` reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Voids {
    /// Ids by source, so that a lookup borrows the event's own strings.
    by_source: FxHashMap<String, FxHashSet<String>>,
}

impl Voids {
    pub fn insert(&mut self, source: &str, id: &str) {
        self.by_source
            .entry(source.to_string())
            .or_default()
            .insert(id.to_string());
    }

    pub fn contains(&self, source: &str, id: &str) -> bool {
        self.by_source.get(source).is_some_and(|ids| ids.contains(id))
    }

    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_source.values().map(FxHashSet::len).sum()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {error}")]
pub struct InputError {
    pub file: String,
    pub error: ReadError,
}

/// What `rate` produced.
pub struct RateOutput {
    pub statements: Vec<Statement>,
    pub summary: Summary,
    /// Each phase's name and when it ended, from the start of the run.
    pub phases: Vec<(&'static str, std::time::Duration)>,
}

/// Every valid event read, in input order, with its names interned.
struct Events {
    batches: Vec<Batch>,
    /// Per batch: its dictionary ids → global symbols.
    symbols_of: Vec<Vec<u32>>,
    /// Per batch: the file it came from (index into `files`).
    file_of: Vec<u32>,
    /// Per batch: how many valid events come before it.
    first_of_batch: Vec<usize>,
    files: Vec<String>,
    symbols: Symbols,
}

/// The first event of each key, found in the sorted slots.
struct Counted {
    /// Per valid event, where it lies in memory: its place among the counted events
    /// in key order, or [`NOT_COUNTED`].
    rank: Vec<AtomicU32>,
    /// The counted events' leaf hashes, in key order.
    leaves: Vec<Hash>,
    /// Positions in the sorted slots of the events that repeat an earlier key.
    later: Vec<usize>,
}

/// A valid event's place, with a sort key that orders like `(source, id)`.
#[derive(Clone, Copy)]
struct Slot {
    /// The source's rank among all sources, then the id's first 24 bytes, zero-padded:
    /// comparing these never contradicts the full `(source, id)` order.
    prefix: (u32, [u64; 3]),
    batch: u32,
    event: u32,
}

impl Events {
    fn event(&self, slot: &Slot) -> (&Batch, &CompactEvent) {
        let batch = &self.batches[slot.batch as usize];
        (batch, &batch.events[slot.event as usize])
    }

    fn id(&self, slot: &Slot) -> &[u8] {
        let (batch, event) = self.event(slot);
        batch.id_bytes(event)
    }

    fn same_key(&self, a: &Slot, b: &Slot) -> bool {
        a.prefix == b.prefix && self.id(a) == self.id(b)
    }

    /// Walks the sorted slots on all cores: the first slot of each key is counted,
    /// the rest are left for the caller to tell duplicates from conflicts.
    fn count_firsts(&self, sorted: &[Slot]) -> Counted {
        let part_len = sorted.len().div_ceil(4 * rayon::current_num_threads().max(1)).max(1);
        // First the slots that repeat the key before them (few), part by part, so
        // that every part knows how many it counts and so its first rank.
        let later_of_part: Vec<Vec<usize>> = sorted
            .par_chunks(part_len)
            .enumerate()
            .map(|(part, slots)| {
                let start = part * part_len;
                (start..start + slots.len())
                    .filter(|&position| position > 0 && self.same_key(&sorted[position - 1], &sorted[position]))
                    .collect()
            })
            .collect();
        let counted_of_part: Vec<usize> = sorted
            .chunks(part_len)
            .zip(&later_of_part)
            .map(|(slots, later)| slots.len() - later.len())
            .collect();
        let first_rank_of_part: Vec<usize> = counted_of_part
            .iter()
            .scan(0, |next, counted| {
                let first = *next;
                *next += counted;
                Some(first)
            })
            .collect();
        let rank: Vec<AtomicU32> = (0..sorted.len()).map(|_| AtomicU32::new(NOT_COUNTED)).collect();
        let mut leaves = vec![[0u8; 32]; counted_of_part.iter().sum()];
        let leaf_parts = split_lengths(&mut leaves, counted_of_part.iter().copied());
        sorted
            .par_chunks(part_len)
            .zip(leaf_parts)
            .zip(&later_of_part)
            .enumerate()
            .for_each(|(part, ((slots, leaves), later))| {
                let mut later = later.iter().peekable();
                let mut counted = 0;
                for (offset, slot) in slots.iter().enumerate() {
                    if later.next_if_eq(&&(part * part_len + offset)).is_some() {
                        continue;
                    }
                    let event_rank = first_rank_of_part[part] + counted;
                    rank[self.first_of_batch[slot.batch as usize] + slot.event as usize].store(
                        u32::try_from(event_rank).expect("fewer than 2^32 events"),
                        Ordering::Relaxed,
                    );
                    leaves[counted] = self.event(slot).1.leaf;
                    counted += 1;
                }
            });
        Counted {
            rank,
            leaves,
            later: later_of_part.concat(),
        }
    }

    /// All valid events sorted by `(source, id)`, then input order.
    fn sorted(&self) -> Vec<Slot> {
        // Rank the distinct sources (few, in practice) by their bytes.
        let mut is_source = vec![false; self.symbols.len()];
        for (batch, symbols) in self.batches.iter().zip(&self.symbols_of) {
            for source in &batch.sources {
                is_source[symbols[*source as usize] as usize] = true;
            }
        }
        let mut source_symbols: Vec<u32> = (0..self.symbols.len() as u32)
            .filter(|symbol| is_source[*symbol as usize])
            .collect();
        source_symbols.sort_by(|a, b| self.symbols.name(*a).cmp(self.symbols.name(*b)));
        let mut source_rank_of = vec![u32::MAX; self.symbols.len()];
        for (rank, symbol) in source_symbols.iter().enumerate() {
            source_rank_of[*symbol as usize] = rank as u32;
        }
        // Every batch fills its own part of one array, on all cores.
        let mut slots = vec![
            Slot {
                prefix: (0, [0; 3]),
                batch: 0,
                event: 0,
            };
            self.batches.iter().map(|batch| batch.events.len()).sum()
        ];
        let parts = split_lengths(&mut slots, self.batches.iter().map(|batch| batch.events.len()));
        parts.into_par_iter().enumerate().for_each(|(b, part)| {
            let batch = &self.batches[b];
            let symbols = &self.symbols_of[b];
            for (e, (event, slot)) in batch.events.iter().zip(part).enumerate() {
                let mut id = [0u8; 24];
                let bytes = batch.id_bytes(event);
                let n = bytes.len().min(24);
                id[..n].copy_from_slice(&bytes[..n]);
                let word = |i: usize| u64::from_be_bytes(id[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
                *slot = Slot {
                    prefix: (
                        source_rank_of[symbols[event.source as usize] as usize],
                        [word(0), word(1), word(2)],
                    ),
                    batch: b as u32,
                    event: e as u32,
                };
            }
        });
        slots.par_sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| self.id(a).cmp(self.id(b)))
                .then_with(|| (a.batch, a.event).cmp(&(b.batch, b.event)))
        });
        slots
    }

    /// An event's facts; `symbols` translates its batch's dictionary.
    fn facts_of(symbols: &[u32], event: &CompactEvent) -> InternedFacts {
        InternedFacts {
            host: symbols[event.names[0] as usize],
            model: symbols[event.names[1] as usize],
            use_case: symbols[event.names[2] as usize],
            currency: symbols[event.names[3] as usize],
            customer: event.customer.map(|c| symbols[c as usize]),
            day: event.day(),
            requests: event.requests,
            input_tokens: event.input_tokens,
            output_tokens: event.output_tokens,
            revenue_units: event.revenue_units,
        }
    }
}

/// Cuts `items` into consecutive parts of the given lengths, for parallel writers.
fn split_lengths<T>(items: &mut [T], lengths: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    let mut parts = Vec::with_capacity(lengths.size_hint().0);
    let mut rest = items;
    for length in lengths {
        let (part, after) = rest.split_at_mut(length);
        parts.push(part);
        rest = after;
    }
    parts
}

/// The rank of an event that is not counted (a duplicate or a conflict).
const NOT_COUNTED: u32 = u32::MAX;

/// Rates usage files against the inputs. `report` receives every invalid record as
/// it is found, then every conflict (in input order).
pub fn rate_usage(
    inputs: &RatingInputs,
    usage: Vec<UsageInput>,
    period: Option<Period>,
    report: &mut (dyn FnMut(&Problem) + Send),
) -> Result<RateOutput, InputError> {
    rate_usage_without(inputs, usage, period, &Voids::default(), report)
}

/// [`rate_usage`], leaving out the `voided` events: they are still read, and
/// deduplicated first (a later copy of a voided event is voided too), but no
/// statement counts them.
pub fn rate_usage_without(
    inputs: &RatingInputs,
    usage: Vec<UsageInput>,
    period: Option<Period>,
    voided: &Voids,
    report: &mut (dyn FnMut(&Problem) + Send),
) -> Result<RateOutput, InputError> {
    let mut summary = Summary::default();
    let clock = std::time::Instant::now();
    let mut phases = Vec::new();
    // When each phase ends, for benchmarks (the CLI prints them on request).
    let mut lap = |what: &'static str| phases.push((what, clock.elapsed()));
    let events = read_all(usage, &mut summary, report)?;
    lap("read and parse");
    let sorted = events.sorted();
    lap("sort");

    // Keep the first of each key; count the rest as duplicates or conflicts.
    let Counted { rank, leaves, later } = events.count_firsts(&sorted);
    let mut conflicts: Vec<(u32, Record, String)> = Vec::new();
    let mut first = 0;
    for (n, &position) in later.iter().enumerate() {
        // Equal keys are adjacent and `later` ascends: a run of repeats starts right
        // after the first of its key.
        if n == 0 || later[n - 1] != position - 1 {
            first = position - 1;
        }
        let slot = &sorted[position];
        let (batch, event) = events.event(slot);
        if events.event(&sorted[first]).1.leaf == event.leaf {
            summary.duplicates += 1;
        } else {
            conflicts.push((
                events.file_of[slot.batch as usize],
                event.record,
                format!(
                    "conflict: ({}, {}) was already given with other content; the first stands",
                    batch.source(event),
                    batch.id(event)
                ),
            ));
        }
    }
    drop(sorted);
    conflicts.sort_by_key(|(file, record, _)| (*file, record.index));
    for (file, record, message) in conflicts {
        summary.conflicts += 1;
        report(&Problem {
            file: events.files[file as usize].clone(),
            line: record.line,
            index: record.index,
            kind: ProblemKind::Conflict,
            message,
        });
    }
    summary.unique = leaves.len() as u64;
    lap("dedup");

    // Accumulate in input order, on all cores: the events lie in memory in that
    // order, and sums do not depend on it. Only each statement's event list does
    // (its Merkle leaves go in key order), so those lists are sorted by rank after.
    let range = events
        .batches
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(1);
    let parts: Vec<(UsageMap, u64, u64)> = events
        .batches
        .par_chunks(range)
        .enumerate()
        .map(|(part, batches)| {
            let mut router = Router::new(inputs);
            let mut usage = UsageMap::default();
            let mut unselected = 0;
            let mut left_out = 0;
            for (offset, batch) in batches.iter().enumerate() {
                let b = part * range + offset;
                let symbols = &events.symbols_of[b];
                let ranks = &rank[events.first_of_batch[b]..][..batch.events.len()];
                for (event, event_rank) in batch.events.iter().zip(ranks) {
                    let event_rank = event_rank.load(Ordering::Relaxed);
                    if event_rank == NOT_COUNTED {
                        continue;
                    }
                    if !voided.is_empty() && voided.contains(batch.source(event), batch.id(event)) {
                        left_out += 1;
                        continue;
                    }
                    let facts = Events::facts_of(symbols, event);
                    if router.add(&mut usage, &events.symbols, &facts, event_rank) == 0 {
                        unselected += 1;
                    }
                }
            }
            (usage, unselected, left_out)
        })
        .collect();
    summary.unselected = parts.iter().map(|(_, n, _)| n).sum();
    summary.voided = parts.iter().map(|(_, _, n)| n).sum();
    let mut usage = merge_usage(parts.into_iter().map(|(u, _, _)| u).collect());
    for statement in usage.values_mut() {
        statement.events.par_sort_unstable();
    }
    if let Some(period) = period {
        require_period(&mut usage, inputs, period);
    }
    lap("accumulate");
    let statements = finish(inputs, &usage, &events.symbols, &leaves, period, &mut summary);
    lap("rate and hash trees");
    Ok(RateOutput {
        statements,
        summary,
        phases,
    })
}

/// Reads and validates every file, reporting invalid records on the way.
fn read_all(
    usage: Vec<UsageInput>,
    summary: &mut Summary,
    report: &mut (dyn FnMut(&Problem) + Send),
) -> Result<Events, InputError> {
    let mut events = Events {
        batches: Vec::new(),
        symbols_of: Vec::new(),
        file_of: Vec::new(),
        first_of_batch: Vec::new(),
        files: Vec::new(),
        symbols: Symbols::default(),
    };
    let mut valid = 0;
    for (file_number, input) in usage.into_iter().enumerate() {
        let mut chunks = ParsedChunks::new(RecordReader::new(input.reader));
        let mut invalid = |record: &Record, message: String, summary: &mut Summary| {
            summary.read += 1;
            summary.invalid += 1;
            report(&Problem {
                file: input.name.clone(),
                line: record.line,
                index: record.index,
                kind: ProblemKind::Invalid,
                message,
            });
        };
        let failed = |error| InputError {
            file: input.name.clone(),
            error,
        };
        while let Some(Parsed { chunk, batches }) = chunks.next_parsed().map_err(failed)? {
            for (record, message) in &chunk.broken {
                invalid(record, message.clone(), summary);
            }
            for mut batch in batches {
                for (record, error) in std::mem::take(&mut batch.invalid) {
                    invalid(&record, error.to_string(), summary);
                }
                summary.read += batch.events.len() as u64;
                let symbols: Vec<u32> = batch.names.iter().map(|n| events.symbols.intern(n)).collect();
                events.symbols_of.push(symbols);
                events.file_of.push(file_number as u32);
                events.first_of_batch.push(valid);
                valid += batch.events.len();
                events.batches.push(batch);
            }
            chunks.recycle(chunk);
        }
        events.files.push(input.name);
    }
    Ok(events)
}

/// Rates every statement and hashes its tree, sorted by (contract, period).
fn finish(
    inputs: &RatingInputs,
    usage: &UsageMap,
    symbols: &Symbols,
    leaves: &[Hash],
    period: Option<Period>,
    summary: &mut Summary,
) -> Vec<Statement> {
    let mut wanted: Vec<_> = usage
        .iter()
        .filter(|(key, _)| period.is_none_or(|p| key.period == p))
        .collect();
    wanted.sort_by_key(|(key, _)| {
        (
            inputs.contracts.contracts[key.contract as usize].id.as_str(),
            key.period.to_string(),
        )
    });
    let mut statements = Vec::with_capacity(wanted.len());
    for (key, usage) in wanted {
        let contract = version_for(&inputs.contracts, key).expect("events are routed only to versions in force");
        debug_assert!(
            usage.events.windows(2).all(|w| w[0] < w[1]),
            "events arrive in key order"
        );
        let tree = TreeSummary {
            count: usage.events.len() as u64,
            root: parallel_root_of(&usage.events, leaves),
        };
        let rated = rate_statement(contract, key.period, usage, symbols, inputs, tree, &[]);
        summary.rated += rated.rated_events;
        summary.exceptions += rated.exception_events;
        statements.push(rated.statement);
    }
    statements
}

/// The RFC 9162 root over `leaves[ranks[0]], leaves[ranks[1]], …`, hashing the two
/// halves of large trees on two threads and gathering the leaves of one small
/// subtree at a time rather than the whole list. The tree shape depends only on the
/// leaf count, so this equals [`merkle::root`] over the gathered leaves.
fn parallel_root_of(ranks: &[u32], leaves: &[Hash]) -> Hash {
    if ranks.len() < PARALLEL_LEAVES_MIN {
        let gathered: Vec<Hash> = ranks.iter().map(|rank| leaves[*rank as usize]).collect();
        return merkle::root(&gathered);
    }
    let k = merkle::split_point(ranks.len());
    let (left, right) = rayon::join(
        || parallel_root_of(&ranks[..k], leaves),
        || parallel_root_of(&ranks[k..], leaves),
    );
    merkle::node_hash(&left, &right)
}

/// Subtrees smaller than this are hashed on one thread.
const PARALLEL_LEAVES_MIN: usize = 1 << 14;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_root_equals_the_sequential_one() {
        for n in [0usize, 1, 3, 16_384, 50_001] {
            let leaves: Vec<Hash> = (0..n as u32).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect();
            let in_order: Vec<u32> = (0..n as u32).collect();
            assert_eq!(
                parallel_root_of(&in_order, &leaves),
                merkle::root(&leaves),
                "{n} leaves"
            );
            let ranks: Vec<u32> = (0..n as u32).rev().collect();
            let reversed: Vec<Hash> = leaves.iter().rev().copied().collect();
            assert_eq!(
                parallel_root_of(&ranks, &leaves),
                merkle::root(&reversed),
                "{n} leaves by rank"
            );
        }
    }
}
