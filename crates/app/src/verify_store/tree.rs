//! Check 6: the log's Merkle tree and its checkpoints (statements.md, Checkpoints
//! and witnesses). The tree is rebuilt from the entries' digests and every stored
//! hash compared with it; every stored checkpoint must open with a key of the store
//! and sign the rebuilt root at its size (so each is consistent with the next), the
//! newest must cover the newest entry, every statement's anchor must name the rebuilt
//! root, no statement may be closed twice, every cosignature must verify with a
//! registered witness key, and, given the key file, the log must extend the
//! checkpoint kept beside it.

use std::collections::{BTreeMap, HashMap};

use revshare_core::audit::{Action, Entry, Seq};
use revshare_core::checkpoint::{open, Checkpoint, LogKey, StoreId, WitnessKey};
use revshare_core::log_tree::{self, Hash};
use revshare_store::backend::StatementRow;

use super::{signed_anchor, Report};
use crate::keys::Keys;
use crate::rows::object;
use crate::{Backend, Result};

/// The most stored hashes named one by one; past it, the rest are counted.
const NODES_NAMED_MAX: usize = 5;

/// The stored hashes of the log's tree, rebuilt from the entries' digests.
pub(super) fn rebuild(entries: &[Entry]) -> Vec<Hash> {
    let digests: Vec<Hash> = entries
        .iter()
        .map(|e| {
            // An undecodable digest was named by check 1; a leaf of zeros stands in.
            hex::decode(&e.digest)
                .ok()
                .and_then(|d| Hash::try_from(d).ok())
                .unwrap_or_default()
        })
        .collect();
    log_tree::build(&digests)
}

/// Check 6, against the rebuilt `tree`.
pub(super) fn check(
    backend: &mut dyn Backend,
    tree: &[Hash],
    entries: &[Entry],
    statements: &[StatementRow],
    key_file: Option<&Keys>,
    report: &mut Report,
) -> Result<()> {
    let size = entries.len() as u64;
    check_nodes(backend, tree, report)?;
    let Some(store_id) = report.tolerate(6, crate::log::store_id(backend))?.flatten() else {
        report.fail(6, object::LOG, "the store names no store id: its log was never sealed (a store made before the log was a tree is upgraded by any command given its key file)");
        return Ok(());
    };
    let keys = log_keys(backend, &store_id, report)?;
    let kept = check_checkpoints(backend, tree, &keys, size, report)?;
    check_anchors(statements, tree, report);
    check_closed_once(entries, report);
    check_cosignatures(backend, &kept, report)?;
    if let Some(keys) = key_file {
        check_key_file(backend, tree, keys, size, report)?;
    }
    Ok(())
}

/// Every signing key the store lists, as note verifiers of its log (checkpoints
/// signed before a rotation open with the key of their time); one that is not a key
/// is named.
fn log_keys(backend: &mut dyn Backend, store_id: &StoreId, report: &mut Report) -> Result<Vec<LogKey>> {
    let origin = store_id.origin();
    let mut keys = Vec::new();
    for public in crate::keys::public_keys(backend)? {
        match LogKey::new(&origin, &public) {
            Ok(key) => keys.push(key),
            Err(error) => report.fail(6, object::key(&public.key_id), error.to_string()),
        }
    }
    Ok(keys)
}

fn root(tree: &[Hash], size: u64) -> Option<Hash> {
    let mut nodes = tree;
    log_tree::root(size, &mut nodes).ok()
}

/// Every stored hash against the rebuilt tree.
fn check_nodes(backend: &mut dyn Backend, tree: &[Hash], report: &mut Report) -> Result<()> {
    let mut wrong: Vec<u64> = Vec::new();
    let mut stored = 0usize;
    backend.scan_log_nodes(&mut |index, hash| {
        stored += 1;
        let expected = usize::try_from(index).ok().and_then(|i| tree.get(i));
        if expected.is_none_or(|e| e.as_slice() != hash) {
            wrong.push(index);
        }
        Ok(())
    })?;
    for index in wrong.iter().take(NODES_NAMED_MAX) {
        report.fail(
            6,
            format!("audit_tree:{index}"),
            "this stored hash of the log is not the one its entries make",
        );
    }
    if wrong.len() > NODES_NAMED_MAX {
        report.fail(
            6,
            "audit_tree",
            format!(
                "{} more stored hashes of the log are not the ones its entries make",
                wrong.len() - NODES_NAMED_MAX
            ),
        );
    }
    let present = stored - wrong.iter().filter(|i| (**i as usize) >= tree.len()).count();
    if present < tree.len() {
        report.fail(
            6,
            "audit_tree",
            format!(
                "{} of the {} stored hashes the log's entries make are missing",
                tree.len() - present,
                tree.len()
            ),
        );
    }
    Ok(())
}

/// Every stored checkpoint, and whether the newest covers the newest entry. Returns
/// the checkpoints that open, by size.
fn check_checkpoints(
    backend: &mut dyn Backend,
    tree: &[Hash],
    keys: &[LogKey],
    size: u64,
    report: &mut Report,
) -> Result<BTreeMap<u64, Checkpoint>> {
    let mut opened = BTreeMap::new();
    let rows = backend.checkpoints()?;
    for row in &rows {
        let name = format!("checkpoint:{}", row.size);
        let checkpoint = match open(row.note.as_bytes(), keys) {
            Ok(o) => o.signed.checkpoint().clone(),
            Err(e) => {
                report.fail(6, name, format!("it does not open with the store's keys: {e}"));
                continue;
            }
        };
        if checkpoint.size() as i64 != row.size {
            report.fail(6, name, format!("it signs a log of {} entries", checkpoint.size()));
        } else if checkpoint.size() > size {
            report.fail(
                6,
                name,
                format!(
                    "it signs a log of {} entries, but the log has {size}: entries {}..{} were deleted",
                    checkpoint.size(),
                    size + 1,
                    checkpoint.size()
                ),
            );
        } else if root(tree, checkpoint.size()).as_ref() != Some(checkpoint.root()) {
            report.fail(
                6,
                name,
                format!(
                    "the log's first {} entries do not make the root it signs: the log's history was rewritten",
                    checkpoint.size()
                ),
            );
        }
        opened.insert(checkpoint.size(), checkpoint);
    }
    let newest = rows.iter().map(|r| r.size.max(0) as u64).max();
    report.checkpoint = newest;
    if newest.unwrap_or(0) < size {
        report.fail(
            6,
            object::LOG,
            format!(
                "the newest entry ({size}) is covered by no checkpoint (the newest signs {}): entries were added \
                 behind the service's back, or checkpoints deleted",
                newest.unwrap_or(0)
            ),
        );
    }
    Ok(opened)
}

/// Every statement that names the log's root names the rebuilt one.
fn check_anchors(statements: &[StatementRow], tree: &[Hash], report: &mut Report) {
    for row in statements {
        let Some(anchor) = signed_anchor(row) else { continue };
        let (Some(size), Some(signed)) = (anchor.tree_size, anchor.root) else {
            continue;
        };
        let rebuilt = root(tree, size).map(hex::encode);
        if size != anchor.seq || rebuilt.as_deref() != Some(signed.as_str()) {
            report.fail(
                6,
                object::statement(&row.statement_id),
                format!(
                    "its signed audit_head names the root of the log's first {size} entries as {signed}, which the \
                     log does not make: its history was rewritten"
                ),
            );
        }
    }
}

/// No statement id is closed twice.
fn check_closed_once(entries: &[Entry], report: &mut Report) {
    let mut closes: BTreeMap<&str, Vec<Seq>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.action == Action::StatementClosed) {
        closes.entry(&entry.object).or_default().push(entry.seq);
    }
    for (object, seqs) in closes.into_iter().filter(|(_, s)| s.len() > 1) {
        let seqs: Vec<String> = seqs.iter().map(Seq::to_string).collect();
        report.fail(
            6,
            object,
            format!(
                "it was closed more than once (entries {}): the service signed two versions",
                seqs.join(", ")
            ),
        );
    }
}

/// Every cosignature verifies with the registered key it names over the
/// checkpoint of its size.
fn check_cosignatures(
    backend: &mut dyn Backend,
    checkpoints: &BTreeMap<u64, Checkpoint>,
    report: &mut Report,
) -> Result<()> {
    let registered: HashMap<String, Option<WitnessKey>> = backend
        .witness_keys()?
        .into_iter()
        .map(|k| (k.vkey.clone(), WitnessKey::parse(&k.vkey).ok()))
        .collect();
    for row in backend.cosignatures(None)? {
        let name = format!("cosignature:{}:{}", row.size, row.vkey);
        let Some(Some(key)) = registered.get(&row.vkey) else {
            report.fail(6, name, "it names a witness key no party registered");
            continue;
        };
        let Some(checkpoint) = checkpoints.get(&(row.size.max(0) as u64)) else {
            report.fail(6, name, "the checkpoint it cosigns is not kept");
            continue;
        };
        if let Err(e) = key.check_cosignature(checkpoint, &row.line) {
            report.fail(6, name, e.to_string());
        }
    }
    Ok(())
}

/// The log against the checkpoint kept beside the key file, and the newest stored
/// checkpoint against the key file's key.
fn check_key_file(backend: &mut dyn Backend, tree: &[Hash], keys: &Keys, size: u64, report: &mut Report) -> Result<()> {
    if keys.store_id().is_none() {
        return Ok(());
    }
    let file = keys.checkpoint_file()?;
    let kept = match file.on_disk(&keys.log_signer()?.keys()) {
        Ok(kept) => kept,
        Err(e) => {
            report.fail(6, object::LOG, e.to_string());
            None
        }
    };
    if let Some(kept) = kept {
        let kept = kept.checkpoint();
        report.kept_checkpoint = Some(kept.size());
        // A store copied into another and retired (its last entry `store_copied`)
        // shares its key file with the copy, whose log goes on from that entry.
        let continued = kept.size() > size && crate::store_copy::ends_retired(backend, size)?;
        if kept.size() > size && !continued {
            report.fail(
                6,
                object::LOG,
                format!(
                    "the log has {size} entries, but the checkpoint kept beside the key file ({}) signs {}: entries \
                     {}..{} were deleted with their rows, or a backup was restored (`revshare audit \
                     accept-rollback --to {size}` records a restore)",
                    file.path().display(),
                    kept.size(),
                    size + 1,
                    kept.size()
                ),
            );
        } else if kept.size() <= size && root(tree, kept.size()).as_ref() != Some(kept.root()) {
            report.fail(
                6,
                object::LOG,
                format!(
                    "the log's first {} entries are not those of the checkpoint kept beside the key file ({}): \
                     its history was rewritten",
                    kept.size(),
                    file.path().display()
                ),
            );
        }
    }
    if let Some(newest) = backend.newest_checkpoint()? {
        if open(newest.note.as_bytes(), &[keys.log_key()?]).is_err() {
            report.fail(
                6,
                object::LOG,
                format!(
                    "the newest checkpoint (size {}) is not signed with the key file's key",
                    newest.size
                ),
            );
        }
    }
    Ok(())
}
