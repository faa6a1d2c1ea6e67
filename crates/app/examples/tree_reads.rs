//! The cost of a proof and of a page of leaves in a big statement tree
//! (bench/proofs.sh): `make` stores one statement tree of LEAVES leaves as a close
//! stores it (its leaves in chunks, its tiles, its leaf index) straight into a store,
//! without the events, the rating or the signature that a real close of that many
//! events would take an hour and tens of GB to make; each other step reads it once,
//! in a process of its own so that its peak memory is its own, and prints one JSON line.
//!
//!     cargo run --release -p revshare-app --example tree_reads -- STORE make LEAVES
//!     cargo run --release -p revshare-app --example tree_reads -- STORE STEP
//!
//! STORE is a SQLite file or a `postgres://` URL. STEP is `prove` (a leaf's proof as
//! `revshare prove` makes it: found by the leaf index, its path from the tiles,
//! checked against the root), `page` (a page of 1000 leaves as `statement leaves`
//! and the API give one, checked against the root), or `prove-whole` and
//! `page-whole`, the same answers the way this project made them before the tiles:
//! the whole tree read, checked against its root, then the proof or page taken from
//! it. The leaf proved and the page read are two thirds into the tree.

use std::path::PathBuf;
use std::time::Instant;

use revshare_app::Location;
use revshare_core::audit::Seq;
use revshare_core::merkle::{self, Hash};
use revshare_core::verify::TreeName;
use revshare_store::backend::{StatementRow, TreeRow};

const STATEMENT: &str = "bench/2026-10";

fn leaf(i: u64) -> Hash {
    merkle::leaf_hash(&i.to_be_bytes())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, step, rest @ ..] = args.as_slice() else {
        return Err("usage: tree_reads STORE make LEAVES | STORE prove|page|prove-whole|page-whole".into());
    };
    let location = match store.starts_with("postgres://") {
        true => Location::Postgres(store.clone()),
        false => Location::Sqlite(PathBuf::from(store)),
    };
    let mut backend = revshare_store::open(&location)?;
    let backend = backend.as_mut();
    let started = Instant::now();
    if step == "make" {
        let leaves: u64 = rest.first().ok_or("make: how many leaves?")?.parse()?;
        let mut builder = merkle::TreeBuilder::new();
        let mut bytes = Vec::with_capacity(leaves as usize * 32);
        for i in 0..leaves {
            let hash = leaf(i);
            builder.push(hash);
            bytes.extend_from_slice(&hash);
        }
        let (root, tiles) = builder.finish();
        let row = StatementRow {
            statement_id: STATEMENT.parse()?,
            contract: "bench".into(),
            period: "2026-10".into(),
            host: "bench".into(),
            start_day: 0,
            end_day: 0,
            close_seq: Seq::new(0),
            settled: "[]".into(),
            json: "{}".into(),
            closed_at: "2026-11-01T00:00:00Z".into(),
            seq: Seq::new(0),
        };
        let tree = TreeRow {
            statement_id: STATEMENT.into(),
            tree: "events".into(),
            count: leaves as i64,
            root: hex::encode(root),
            leaves: bytes,
            tiles: tiles.iter().map(|level| level.concat()).collect(),
        };
        backend.begin_write()?;
        backend.insert_statement(&row, std::slice::from_ref(&tree), &[])?;
        backend.commit()?;
        println!(
            r#"{{"step":"make","leaves":{leaves},"ms":{}}}"#,
            started.elapsed().as_millis()
        );
        return Ok(());
    }
    let summary = backend
        .tree_summaries(STATEMENT)?
        .into_iter()
        .next()
        .ok_or("no tree: run make first")?;
    let size = summary.count as u64;
    let root: Hash = hex::decode(&summary.root)?
        .try_into()
        .map_err(|_| "a root of 32 bytes")?;
    let target = size * 2 / 3;
    let answer = match step.as_str() {
        "prove" => {
            let proof = revshare_app::trees::proof(backend, STATEMENT, &TreeName::Events, size, &root, &leaf(target))?
                .ok_or("the leaf is not found")?;
            serde_json::to_string(&proof)?
        }
        "page" => {
            let page = revshare_app::trees::page(backend, STATEMENT, &TreeName::Events, size, &root, target, 1000)?;
            serde_json::to_string(&page.iter().map(hex::encode).collect::<Vec<_>>())?
        }
        "prove-whole" | "page-whole" => {
            // As before the tiles: the whole tree read and checked, then searched.
            let row = backend.tree(STATEMENT, "events")?.ok_or("no tree")?;
            let leaves: Vec<Hash> = row
                .leaves
                .chunks_exact(32)
                .map(|c| c.try_into().map_err(|_| "a leaf of 32 bytes"))
                .collect::<Result<_, _>>()?;
            if leaves.len() as u64 != size || merkle::root(&leaves) != root {
                return Err("the stored leaves do not make the root".into());
            }
            if step == "prove-whole" {
                let index = leaves
                    .iter()
                    .position(|l| *l == leaf(target))
                    .ok_or("the leaf is not found")?;
                let proof = revshare_core::verify::prove(STATEMENT, &TreeName::Events, &leaves, index);
                serde_json::to_string(&proof)?
            } else {
                let end = (target as usize + 1000).min(leaves.len());
                serde_json::to_string(&leaves[target as usize..end].iter().map(hex::encode).collect::<Vec<_>>())?
            }
        }
        other => return Err(format!("no step {other}").into()),
    };
    let digest = hex::encode(&merkle::leaf_hash(answer.as_bytes())[..8]);
    println!(
        r#"{{"step":"{step}","leaves":{size},"ms":{:.2},"answer_digest":"{digest}"}}"#,
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
