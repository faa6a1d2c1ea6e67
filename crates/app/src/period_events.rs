//! A host's events of one period as of an audit seq, read without an allocation per
//! event and sorted by `(source, id)` bytewise (the order of Merkle leaves), and the
//! payloads of the batches they came from, hashed again for a close to check.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;
use revshare_core::audit::Seq;
use revshare_core::merkle::Hash;
use revshare_core::period::{Day, Period};
use revshare_core::rating::{InternedFacts, PeriodUsage, RatingInputs, Router, StatementKey, Symbols, UsageMap};
use revshare_store::backend::EventView;

use crate::rows::{write_event_row, write_event_row_with, BatchHasher, Customer};
use crate::{AppError, Backend, Result};

/// One stored event in compact form: its key in the arena, names interned.
#[derive(Clone)]
struct Compact {
    key_start: usize,
    source_len: u32,
    id_len: u32,
    leaf: Hash,
    seq: Seq,
    utc_seconds: i64,
    facts: InternedFacts,
}

pub(crate) struct PeriodEvents {
    pub symbols: Symbols,
    /// Every event's source then id, one after another.
    keys: String,
    events: Vec<Compact>,
}

impl PeriodEvents {
    /// The events of `host` dated in `period` and stored at a seq of at most `through`.
    pub fn read(backend: &mut dyn Backend, host: &str, period: Period, through: Seq) -> Result<PeriodEvents> {
        let mut loaded = PeriodEvents {
            symbols: Symbols::default(),
            keys: String::new(),
            events: Vec::new(),
        };
        let mut problem: Option<String> = None;
        let mut visit = |e: &EventView<'_>| -> revshare_store::backend::Result<()> {
            if let Err(message) = loaded.push(e) {
                problem.get_or_insert(message);
            }
            Ok(())
        };
        backend.scan_events(host, period.start().0, period.end().0, Seq::ZERO, through, &mut visit)?;
        if let Some(message) = problem {
            return Err(AppError::Integrity(message));
        }
        loaded.sort();
        Ok(loaded)
    }

    /// Puts the events in `(source, id)` order, bytewise. A short key sorts instead
    /// of the event: the source's rank among the distinct sources and the id's first
    /// 16 bytes, compared in full only where those tie; then the events move once.
    fn sort(&mut self) {
        let keys = &self.keys;
        let sources: BTreeSet<&str> = self.events.iter().map(|e| key_of(keys, e).0).collect();
        let rank: HashMap<&str, u32> = sources.into_iter().zip(0..).collect();
        let mut order: Vec<(u32, u128, u32)> = self
            .events
            .iter()
            .zip(0..)
            .map(|(e, index)| {
                let (source, id) = key_of(keys, e);
                let id = id.as_bytes();
                let mut prefix = [0u8; 16];
                let n = id.len().min(16);
                prefix[..n].copy_from_slice(&id[..n]);
                (rank[source], u128::from_be_bytes(prefix), index)
            })
            .collect();
        let events = &self.events;
        order.par_sort_unstable_by(|a, b| {
            (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
                key_of(keys, &events[a.2 as usize])
                    .1
                    .as_bytes()
                    .cmp(key_of(keys, &events[b.2 as usize]).1.as_bytes())
            })
        });
        let mut sorted = Vec::with_capacity(self.events.len());
        sorted.extend(order.iter().map(|(_, _, index)| self.events[*index as usize].clone()));
        self.events = sorted;
    }

    fn push(&mut self, e: &EventView<'_>) -> std::result::Result<(), String> {
        let bad = |what: &str| format!("stored event ({}, {}) has a bad {what}", e.source, e.id);
        let leaf: Hash = e.leaf.try_into().map_err(|_| bad("leaf"))?;
        let units: i128 = e.revenue_units.parse().map_err(|_| bad("revenue"))?;
        let non_negative = |v: i64, what: &str| u64::try_from(v).map_err(|_| bad(what));
        let customer = match e.customer {
            Some(bytes) if bytes.len() == 16 => {
                let mut digits = [0u8; 32];
                hex::encode_to_slice(bytes, &mut digits).map_err(|_| bad("customer"))?;
                Some(
                    self.symbols
                        .intern(std::str::from_utf8(&digits).map_err(|_| bad("customer"))?),
                )
            }
            Some(_) => return Err(bad("customer")),
            None => None,
        };
        let key_start = self.keys.len();
        self.keys.push_str(e.source);
        self.keys.push_str(e.id);
        let facts = InternedFacts {
            host: self.symbols.intern(e.host),
            model: self.symbols.intern(e.model),
            use_case: self.symbols.intern(e.use_case),
            currency: self.symbols.intern(e.currency),
            customer,
            day: Day(e.day),
            requests: non_negative(e.requests, "requests")?,
            input_tokens: non_negative(e.input_tokens, "input_tokens")?,
            output_tokens: non_negative(e.output_tokens, "output_tokens")?,
            revenue_units: units,
        };
        self.events.push(Compact {
            key_start,
            source_len: e.source.len() as u32,
            id_len: e.id.len() as u32,
            leaf,
            seq: e.seq,
            utc_seconds: e.utc_seconds,
            facts,
        });
        Ok(())
    }

    pub fn source(&self, index: u32) -> &str {
        key_of(&self.keys, &self.events[index as usize]).0
    }

    pub fn id(&self, index: u32) -> &str {
        key_of(&self.keys, &self.events[index as usize]).1
    }

    pub fn leaf(&self, index: u32) -> Hash {
        self.events[index as usize].leaf
    }

    pub fn seq(&self, index: u32) -> Seq {
        self.events[index as usize].seq
    }

    /// The usage of `key`'s statement among the events `keep` admits; its `events`
    /// are the selected indices, in key order.
    pub(crate) fn accumulate(
        &self,
        inputs: &RatingInputs,
        key: StatementKey,
        keep: impl Fn(u32) -> bool,
    ) -> PeriodUsage {
        let mut router = Router::new(inputs);
        let mut usage = UsageMap::default();
        for (index, event) in self.events.iter().enumerate() {
            let index = index as u32;
            if keep(index) {
                router.add(&mut usage, &self.symbols, &event.facts, index);
            }
        }
        usage.remove(&key).unwrap_or_default()
    }

    /// How many of the events no contract selects (under `inputs`).
    pub fn unselected(&self, inputs: &RatingInputs) -> u64 {
        let mut router = Router::new(inputs);
        let mut usage = UsageMap::default();
        let mut unselected = 0;
        for (index, event) in self.events.iter().enumerate() {
            if router.add(&mut usage, &self.symbols, &event.facts, index as u32) == 0 {
                unselected += 1;
            }
        }
        unselected
    }

    /// Per event (by index): its day and its customer (the pseudonym's symbol), if
    /// it names one.
    pub fn customers(&self) -> impl Iterator<Item = (u32, Day, Option<u32>)> + '_ {
        self.events
            .iter()
            .zip(0..)
            .map(|(e, index)| (index, e.facts.day, e.facts.customer))
    }

    /// The leaves of some events, in key order.
    pub fn leaves(&self, indices: &[u32]) -> Vec<Hash> {
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]), "indices in key order");
        indices.iter().map(|i| self.leaf(*i)).collect()
    }
}

impl PeriodEvents {
    /// The seqs of the batches the events were stored by.
    pub fn seqs(&self) -> BTreeSet<Seq> {
        self.events.iter().map(|e| e.seq).collect()
    }

    /// The events of batches `seqs` stored outside `host`'s days of `period`, read
    /// now: with the events here, what each batch's payload covers.
    pub fn outside(&self, backend: &mut dyn Backend, host: &str, period: Period, seqs: &[Seq]) -> Result<Outside> {
        let mut outside = HashMap::new();
        for seq in seqs {
            let mut rows = Vec::new();
            backend.scan_batch_except(*seq, host, period.start().0, period.end().0, &mut |e| {
                rows.push(OwnedRow::of(e));
                Ok(())
            })?;
            rows.sort_unstable_by(|a, b| a.key().cmp(&b.key()));
            outside.insert(*seq, rows);
        }
        Ok(Outside(outside))
    }

    /// The payload of each batch `outside` holds, from its events here and there:
    /// what its `events_accepted` entry must hold (statements.md, Audit log).
    pub(crate) fn batch_payloads(&self, outside: &Outside) -> Vec<(Seq, [u8; 32])> {
        let mut members: HashMap<Seq, Vec<u32>> = outside.0.keys().map(|s| (*s, Vec::new())).collect();
        for (index, event) in self.events.iter().enumerate() {
            if let Some(list) = members.get_mut(&event.seq) {
                list.push(index as u32);
            }
        }
        outside
            .0
            .par_iter()
            .map(|(seq, rows)| (*seq, self.batch_payload(&members[seq], rows)))
            .collect()
    }

    /// One batch's payload: its events here (indices in key order) merged in key
    /// order with its events from elsewhere.
    fn batch_payload(&self, members: &[u32], outside: &[OwnedRow]) -> [u8; 32] {
        let mut run = Run::default();
        let mut units = Vec::with_capacity(40);
        let mut rest = outside.iter().peekable();
        for index in members {
            let event = &self.events[*index as usize];
            let (source, id) = key_of(&self.keys, event);
            while let Some(other) = rest.next_if(|o| o.key() < (source.as_bytes(), id.as_bytes())) {
                run.push(&other.leaf, |out| out.extend_from_slice(&other.jcs));
            }
            run.push(&event.leaf, |out| self.write_row(event, &mut units, out));
        }
        for other in rest {
            run.push(&other.leaf, |out| out.extend_from_slice(&other.jcs));
        }
        run.finish()
    }

    /// An event's stored row as its batch's payload hashes it (`rows::write_event_row`).
    fn write_row(&self, event: &Compact, units: &mut Vec<u8>, out: &mut Vec<u8>) {
        let (source, id) = key_of(&self.keys, event);
        let facts = &event.facts;
        // Interned as the 32 lowercase hex digits the row's JCS writes.
        let customer = facts.customer.map(|c| Customer::Hex(self.symbols.name(c)));
        units.clear();
        match i64::try_from(facts.revenue_units) {
            Ok(small) => crate::rows::integer(units, small),
            Err(_) => units.extend_from_slice(facts.revenue_units.to_string().as_bytes()),
        }
        let view = EventView {
            seq: event.seq,
            source,
            id,
            leaf: &event.leaf,
            host: self.symbols.name(facts.host),
            model: self.symbols.name(facts.model),
            use_case: self.symbols.name(facts.use_case),
            currency: self.symbols.name(facts.currency),
            customer: None,
            utc_seconds: event.utc_seconds,
            day: facts.day.0,
            requests: facts.requests as i64,
            input_tokens: facts.input_tokens as i64,
            output_tokens: facts.output_tokens as i64,
            revenue_units: std::str::from_utf8(units).expect("decimal digits are UTF-8"),
        };
        write_event_row_with(&view, customer, out);
    }
}

/// A batch's events hashed in runs: one update of many rows hashes faster than one
/// per row.
#[derive(Default)]
struct Run {
    hasher: BatchHasher,
    count: u64,
    leaves: Vec<u8>,
    rows: Vec<u8>,
}

impl Run {
    const FLUSH_AT: usize = 64 * 1024;

    fn push(&mut self, leaf: &[u8], write_row: impl FnOnce(&mut Vec<u8>)) {
        self.count += 1;
        self.leaves.extend_from_slice(leaf);
        write_row(&mut self.rows);
        if self.rows.len() >= Self::FLUSH_AT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.hasher.add_run(self.count, &self.leaves, &self.rows);
        self.count = 0;
        self.leaves.clear();
        self.rows.clear();
    }

    fn finish(mut self) -> [u8; 32] {
        self.flush();
        self.hasher.finish()
    }
}

/// The events of some batches stored outside the events read, by batch seq.
pub(crate) struct Outside(HashMap<Seq, Vec<OwnedRow>>);

/// An event of a batch read from outside the period: its key, leaf, and row's JCS.
struct OwnedRow {
    source: Vec<u8>,
    id: Vec<u8>,
    leaf: Vec<u8>,
    jcs: Vec<u8>,
}

impl OwnedRow {
    fn of(e: &EventView<'_>) -> OwnedRow {
        let mut jcs = Vec::with_capacity(400);
        write_event_row(e, &mut jcs);
        OwnedRow {
            source: e.source.as_bytes().to_vec(),
            id: e.id.as_bytes().to_vec(),
            leaf: e.leaf.to_vec(),
            jcs,
        }
    }

    fn key(&self) -> (&[u8], &[u8]) {
        (&self.source, &self.id)
    }
}

fn key_of<'k>(keys: &'k str, event: &Compact) -> (&'k str, &'k str) {
    let source_end = event.key_start + event.source_len as usize;
    // Both ranges are whole strings pushed in `push`: on character boundaries.
    (
        &keys[event.key_start..source_end],
        &keys[source_end..source_end + event.id_len as usize],
    )
}
