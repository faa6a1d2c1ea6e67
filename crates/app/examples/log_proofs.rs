//! The cost of a proof in a big audit log (bench/history.sh): fills a store's log to
//! ENTRIES entries, then times inclusion and consistency proofs of random entries and
//! sizes, as `audit inclusion`/`audit consistency` and the API make them, each
//! checked against the signed root.
//!
//!     cargo run --release -p revshare-app --example log_proofs -- STORE KEY_FILE [ENTRIES] [PROOFS]
//!
//! STORE is a SQLite file or a `postgres://` URL. A new store is made with `init`; the
//! entries are then written as the service writes them (chained, their leaves and
//! interior nodes stored, a checkpoint signed with the store's key and kept beside
//! the key file), but straight into the store in batches: a million write
//! transactions would take hours, and only the log's shape matters to a proof. (The
//! entries describe no rows, so `audit verify` of this store fails check 1: it is for
//! timing proofs only.) Prints one JSON line per figure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use revshare_app::keys::Keys;
use revshare_app::{log, Actor, Backend, Ctx, Location};
use revshare_core::audit::{chain_all, Action, NewEntry};
use revshare_core::checkpoint::{open, Checkpoint, LogSigner};
use revshare_core::log_tree::{self, Hash};
use revshare_store::backend::CheckpointRow;

const BATCH: u64 = 50_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, key_file, rest @ ..] = args.as_slice() else {
        return Err("usage: log_proofs STORE KEY_FILE [ENTRIES] [PROOFS]".into());
    };
    let entries: u64 = rest.first().map_or(Ok(1_000_000), |n| n.parse())?;
    let proofs: usize = rest.get(1).map_or(Ok(1000), |n| n.parse())?;
    let location = match store.starts_with("postgres://") {
        true => Location::Postgres(store.clone()),
        false => Location::Sqlite(PathBuf::from(store)),
    };
    let key_file = Path::new(key_file);
    let mut backend = revshare_store::open(&location)?;
    if backend.signing_keys()?.is_empty() {
        revshare_app::setup::init(backend.as_mut(), key_file, Ctx::now(&Actor::cli()))?;
    }
    let keys = Keys::open(key_file, backend.as_mut())?;
    let head = backend.audit_head()?.size();
    if head < entries {
        let start = Instant::now();
        fill(backend.as_mut(), &keys, head, entries)?;
        figure("fill", &[start.elapsed().as_secs_f64() * 1000.0], entries);
    }
    drop(backend);

    // A fresh connection, as a CLI command or a server request has.
    let mut backend = revshare_store::open(&location)?;
    let signer = LogSigner::new(keys.signing().clone(), keys.store_id().ok_or("an unbound key")?);
    let newest = backend.newest_checkpoint()?.ok_or("no checkpoint")?;
    let newest = open(newest.note.as_bytes(), &signer.keys())?.signed;
    let (size, root) = (newest.checkpoint().size(), *newest.checkpoint().root());
    let digests = digests_of(backend.as_mut(), size)?;
    // The roots of earlier sizes, from the whole tree read once.
    let mut nodes = backend.log_nodes(&(0..log_tree::stored_count(size)).collect::<Vec<_>>())?;
    let mut random = Random(0x9e37_79b9_7f4a_7c15);

    let mut times = Vec::with_capacity(proofs);
    for _ in 0..proofs {
        let seq = 1 + random.below(size);
        let start = Instant::now();
        let proof = log::inclusion(backend.as_mut(), seq, None)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let path = log_tree::from_hex(&proof.proof).ok_or("a proof of hex hashes")?;
        let leaf = log_tree::leaf(&digests[&seq]);
        assert!(
            log_tree::check_inclusion(&path, size, &root, seq - 1, &leaf),
            "entry {seq}"
        );
    }
    figure("inclusion", &times, size);

    times.clear();
    for _ in 0..proofs {
        let from = 1 + random.below(size - 1);
        let start = Instant::now();
        let proof = log::consistency(backend.as_mut(), from, size)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        let path = log_tree::from_hex(&proof.proof).ok_or("a proof of hex hashes")?;
        let from_root = log_tree::root(from, &mut nodes)?;
        assert!(
            log_tree::check_consistency(&path, from, &from_root, size, &root),
            "from {from}"
        );
    }
    figure("consistency", &times, size);
    Ok(())
}

/// Appends entries `head+1..=entries` as the service does, in transactions of
/// [`BATCH`], and signs the last one's checkpoint.
fn fill(backend: &mut dyn Backend, keys: &Keys, head: u64, entries: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut nodes: Vec<Hash> = backend.log_nodes(&(0..log_tree::stored_count(head)).collect::<Vec<_>>())?;
    let mut size = head;
    while size < entries {
        let chain_head = backend.begin_write()?;
        let count = BATCH.min(entries - size);
        let new: Vec<NewEntry> = (size..size + count)
            .map(|n| NewEntry {
                time: "2026-12-01T00:00:00Z".into(),
                actor: "bench".into(),
                action: Action::PartyAdded,
                object: format!("party:bench-{n}"),
                payload_sha256: revshare_core::json::canonical_sha256(&n),
            })
            .collect();
        let (chained, _) = chain_all(chain_head, &new);
        let leaves: Vec<Hash> = chained
            .iter()
            .map(|e| log_tree::leaf(&hex::decode(&e.digest).unwrap().try_into().unwrap()))
            .collect();
        let added = log_tree::append(size, &leaves, &mut nodes)?;
        backend.append_audit(&chained)?;
        backend.add_log_nodes(nodes.len() as u64, &added)?;
        nodes.extend_from_slice(&added);
        size += count;
        if size == entries {
            let signer = LogSigner::new(keys.signing().clone(), keys.store_id().ok_or("an unbound key")?);
            let root = log_tree::root(size, &mut nodes)?;
            let signed = signer.sign(&Checkpoint::new(signer.origin(), size, root));
            backend.put_checkpoint(&CheckpointRow {
                size: size as i64,
                note: signed.note().to_string(),
            })?;
            keys.checkpoint_file()?.replace(&signed)?;
        }
        backend.commit()?;
    }
    Ok(())
}

/// Each entry's digest, by seq.
fn digests_of(
    backend: &mut dyn Backend,
    size: u64,
) -> Result<std::collections::HashMap<u64, Hash>, Box<dyn std::error::Error>> {
    let mut digests = std::collections::HashMap::with_capacity(size as usize);
    let mut after = revshare_core::audit::Seq::ZERO;
    loop {
        let page = backend.audit_entries(after, 100_000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            digests.insert(
                e.seq.get(),
                hex::decode(&e.digest)?.try_into().map_err(|_| "a 32-byte digest")?,
            );
        }
    }
    Ok(digests)
}

/// Median, 99th percentile and maximum of `times` (ms), as one JSON line.
fn figure(label: &str, times: &[f64], size: u64) {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!(
        "{{\"label\":\"{label}\",\"log_entries\":{size},\"runs\":{},\"median_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        sorted.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// A small deterministic generator (xorshift64*): the same entries and sizes each run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}
