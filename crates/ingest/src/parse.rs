//! Validates the records of a chunk on all cores, keeping input order.
//!
//! Each parallel task turns its records into a [`Batch`]: compact events that own
//! their bytes (so the chunk can be dropped and the next one parsed while this one
//! is absorbed), with low-cardinality names (host, model, use case, currency)
//! numbered in a small per-batch dictionary that the absorbing side translates once.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc::{self, Receiver, TryRecvError};

use rayon::prelude::*;
use revshare_core::event::{EventError, Shape, Timestamp, UsageEvent};
use revshare_core::merkle::Hash;
use revshare_core::period::Day;
use rustc_hash::FxHashMap;

use crate::reader::{Chunk, ReadError, Record, RecordReader};

/// Records per parallel task: large enough to amortize scheduling.
const TASK_RECORDS: usize = 2048;

/// A validated event without borrows. Strings live in the batch's `bytes`.
#[derive(Clone, Debug)]
pub struct CompactEvent {
    pub record: Record,
    pub leaf: Hash,
    /// The `id`, at `id_start` in the batch's bytes.
    pub id_start: u32,
    pub id_len: u16,
    /// Batch dictionary id of the source (sources repeat; ids do not).
    pub source: u16,
    /// Batch dictionary ids of host, model, use case, currency.
    pub names: [u16; 4],
    /// Batch dictionary id of the customer (customers repeat within a batch too).
    pub customer: Option<u16>,
    pub time_utc: Timestamp,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub revenue_units: i128,
}

impl CompactEvent {
    pub fn day(&self) -> Day {
        Day(self.time_utc.utc_day())
    }
}

/// The outcome of one task: valid events, refused records, and their strings.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<CompactEvent>,
    pub invalid: Vec<(Record, EventError)>,
    pub names: Vec<String>,
    /// The dictionary ids that name a source, each once: sources are few, so they
    /// can be ranked without visiting every event.
    pub sources: Vec<u16>,
    pub bytes: Vec<u8>,
}

impl Batch {
    pub fn source(&self, event: &CompactEvent) -> &str {
        &self.names[event.source as usize]
    }

    pub fn id(&self, event: &CompactEvent) -> &str {
        self.str_at(event.id_start as usize, event.id_len as usize)
    }

    pub fn id_bytes(&self, event: &CompactEvent) -> &[u8] {
        let start = event.id_start as usize;
        &self.bytes[start..start + event.id_len as usize]
    }

    fn str_at(&self, start: usize, len: usize) -> &str {
        std::str::from_utf8(&self.bytes[start..start + len]).expect("copied from validated strings")
    }

    fn push_str(&mut self, text: &str) -> u32 {
        let start = u32::try_from(self.bytes.len()).expect("a batch holds far less than 4 GiB");
        self.bytes.extend_from_slice(text.as_bytes());
        start
    }
}

/// Chunks being read or parsed ahead of the one handed out, at most: enough that
/// the pool always has the next chunk's tasks to take up while the last tasks of a
/// chunk finish, few enough to keep memory to a few chunks.
const CHUNKS_AHEAD_MAX: usize = 3;

/// A chunk and its parsed batches.
pub struct Parsed {
    pub chunk: Chunk,
    pub batches: Vec<Batch>,
}

/// Reads a file's chunks on the calling thread and parses each as a task on the pool,
/// handing them out in input order. Parsing chunk by chunk with a barrier between
/// them left a core idle at the end of every chunk (1–7% of the parse time in
/// alternating runs here).
pub struct ParsedChunks<R: Read> {
    reader: RecordReader<R>,
    ahead: VecDeque<Receiver<Parsed>>,
    /// A read error, handed out once the chunks read before it have been.
    error: Option<ReadError>,
}

impl<R: Read> ParsedChunks<R> {
    pub fn new(reader: RecordReader<R>) -> ParsedChunks<R> {
        ParsedChunks {
            reader,
            ahead: VecDeque::with_capacity(CHUNKS_AHEAD_MAX),
            error: None,
        }
    }

    /// The next chunk in input order with its batches, `None` at the end, or the
    /// read error after every chunk before it (which ends the file for the caller).
    pub fn next_parsed(&mut self) -> Result<Option<Parsed>, ReadError> {
        while self.error.is_none() && self.ahead.len() < CHUNKS_AHEAD_MAX {
            match self.reader.next_chunk() {
                Ok(Some(chunk)) => {
                    let (sender, receiver) = mpsc::sync_channel(1);
                    rayon::spawn(move || {
                        let batches = parse_chunk(&chunk);
                        // The receiver is gone only if the caller gave up on the file.
                        let _ = sender.send(Parsed { chunk, batches });
                    });
                    self.ahead.push_back(receiver);
                }
                Ok(None) => break,
                Err(error) => self.error = Some(error),
            }
        }
        match self.ahead.pop_front() {
            Some(receiver) => Ok(Some(receive(&receiver))),
            None => self.error.take().map_or(Ok(None), Err),
        }
    }

    /// Hands a finished chunk's buffer back for reuse.
    pub fn recycle(&mut self, chunk: Chunk) {
        self.reader.recycle(chunk);
    }
}

/// Waits for a parse task. A pool thread must not block on it: the task may be
/// queued behind it, so it runs other tasks meanwhile.
fn receive(receiver: &Receiver<Parsed>) -> Parsed {
    const GONE: &str = "a parse task always sends its chunk (it cannot panic on input)";
    if rayon::current_thread_index().is_none() {
        return receiver.recv().expect(GONE);
    }
    loop {
        match receiver.try_recv() {
            Ok(parsed) => return parsed,
            Err(TryRecvError::Disconnected) => panic!("{GONE}"),
            Err(TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Validates every record of a chunk; batches come back in input order.
pub fn parse_chunk(chunk: &Chunk) -> Vec<Batch> {
    chunk
        .records
        .par_chunks(TASK_RECORDS)
        .map(|records| parse_records(chunk, records))
        .collect()
}

fn parse_records<'c>(chunk: &'c Chunk, records: &[Record]) -> Batch {
    let mut batch = Batch {
        events: Vec::with_capacity(records.len()),
        bytes: Vec::with_capacity(records.len() * 16),
        ..Batch::default()
    };
    // Names borrowed from the chunk are looked up without allocating; the rare name
    // that had escapes (an owned string) goes through a second map.
    let mut borrowed: FxHashMap<&'c str, u16> = FxHashMap::default();
    let mut owned: FxHashMap<String, u16> = FxHashMap::default();
    let mut scratch = Vec::with_capacity(512);
    let mut shape = Shape::default();
    for record in records {
        let (event, leaf) = match UsageEvent::parse_and_hash(chunk.record_bytes(record), &mut shape, &mut scratch) {
            Ok(read) => read,
            Err(error) => {
                batch.invalid.push((*record, error));
                continue;
            }
        };
        let mut name = |text: &Cow<'c, str>| -> u16 {
            let next = u16::try_from(batch.names.len()).expect("a task has at most 6 × 2048 names");
            let id = match text {
                Cow::Borrowed(text) => *borrowed.entry(text).or_insert(next),
                Cow::Owned(text) => match owned.get(text.as_str()) {
                    Some(id) => *id,
                    None => *owned.entry(text.clone()).or_insert(next),
                },
            };
            if id == next {
                batch.names.push(text.to_string());
            }
            id
        };
        let data = &event.data;
        let names = [
            name(&data.host),
            name(&data.model),
            name(&data.use_case),
            name(&data.currency),
        ];
        let customer = data.customer.as_ref().map(&mut name);
        let source = name(&event.source);
        if !batch.sources.contains(&source) {
            batch.sources.push(source);
        }
        let id_start = batch.push_str(&event.id);
        batch.events.push(CompactEvent {
            record: *record,
            leaf,
            id_start,
            id_len: event.id.len() as u16,
            source,
            names,
            customer,
            time_utc: event.time_utc,
            requests: data.requests_rated(),
            input_tokens: data.input_tokens,
            output_tokens: data.output_tokens,
            revenue_units: data.revenue_units,
        });
    }
    batch
}
