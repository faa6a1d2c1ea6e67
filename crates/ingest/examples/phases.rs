//! Micro-benchmark of the validation hot path, one thread: `parse_chunk` (validate,
//! canonicalize, hash, build compact batches) against its floor, parsing and hashing
//! alone, and against SHA-256 alone, on the same records in the same run.
//!
//!     cargo run --release -p revshare-ingest --example phases -- usage.ndjson

use revshare_core::event::{Shape, UsageEvent};
use revshare_ingest::reader::RecordReader;
use std::time::Instant;
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cargo run --release -p revshare-ingest --example phases -- usage.ndjson");
        std::process::exit(2);
    };
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2);
    });
    let mut reader = RecordReader::new(file);
    let mut chunks = Vec::new();
    while let Some(c) = reader.next_chunk().expect("a readable NDJSON file") {
        chunks.push(c);
        if chunks.len() == 30 {
            break;
        }
    }
    let n: usize = chunks.iter().map(|c| c.records.len()).sum();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        let t = Instant::now();
        let mut x = 0usize;
        for c in &chunks {
            for b in revshare_ingest::parse::parse_chunk(c) {
                x += b.events.len();
            }
        }
        println!("parse_chunk {:?}/event {x}", t.elapsed() / n as u32);
        let t = Instant::now();
        let mut buf = Vec::new();
        let mut y = 0u8;
        let mut shape = Shape::default();
        for c in &chunks {
            for r in &c.records {
                let Ok((_, leaf)) = UsageEvent::parse_and_hash(c.record_bytes(r), &mut shape, &mut buf) else {
                    continue;
                };
                y ^= leaf[0];
            }
        }
        println!("parse+hash {:?}/event {y}", t.elapsed() / n as u32);
        // SHA-256 alone over records of the same sizes: the part no parser can save.
        let t = Instant::now();
        for c in &chunks {
            for r in &c.records {
                y ^= revshare_core::merkle::leaf_hash(c.record_bytes(r))[0];
            }
        }
        println!("sha-256 of the raw record alone {:?}/event {y}", t.elapsed() / n as u32);
    });
}
