//! The audit log as an append-only Merkle tree with signed checkpoints
//! (statements.md, Checkpoints and witnesses).
//!
//! Every write transaction that appends entries is sealed before it commits: the
//! entries' leaves are added to the stored tree, and the checkpoint of the new tree is
//! signed only after the service proved that the tree it extends makes the root of
//! the newest stored checkpoint and of the checkpoint kept beside the key file
//! ([`proven`]). A database edit is therefore refused, never signed over. Checkpoints
//! are coalesced: the newest is kept, and every one a statement anchors or a witness
//! cosigned.
//!
//! Also here: the checkpoints and proofs every party reads, witness keys and
//! cosignatures, the operator's acceptance of a restored backup, and the upgrade of
//! a store made before the log was a tree.

use std::path::Path;

use revshare_core::audit::{Action, Head};
use revshare_core::checkpoint::{open, Checkpoint, SignedCheckpoint, StoreId, WitnessKey};
use revshare_core::log_tree::{self, ConsistencyProof, Hash, InclusionProof, Nodes, TreeError};
use revshare_store::backend::{CheckpointRow, CosignatureRow, RollbackRow, WitnessKeyRow};
use revshare_store::StoreError;

use crate::keys::Keys;
use crate::rows::{object, payload};
use crate::tx;
use crate::{AppError, Backend, Ctx, Result};

/// The store's stored hashes, as the tree computations read them.
pub(crate) struct StoredNodes<'b>(pub &'b mut dyn Backend);

impl Nodes for StoredNodes<'_> {
    type Error = StoreError;
    fn read(&mut self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, StoreError> {
        self.0.log_nodes(indexes)
    }
}

fn tree<T>(result: std::result::Result<T, TreeError<StoreError>>) -> Result<T> {
    result.map_err(|e| match e {
        TreeError::Read(error) => AppError::Store(error),
        TreeError::Outside(message) => AppError::Invalid(message),
    })
}

/// The root of the stored tree at `size`.
pub(crate) fn root_at(backend: &mut dyn Backend, size: u64) -> Result<Hash> {
    tree(log_tree::root(size, &mut StoredNodes(backend)))
}

/// The store id the store names (a store made before the log was a tree has none).
pub fn store_id(backend: &mut dyn Backend) -> Result<Option<StoreId>> {
    backend
        .meta("store_id")?
        .map(|text| {
            StoreId::parse(&text)
                .ok_or_else(|| AppError::Store(StoreError::corrupt("meta:store_id", "not 16 lowercase hex digits")))
        })
        .transpose()
}

/// The log as the service has proved it: its size and the root its newest
/// checkpoint signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Proven {
    pub size: u64,
    pub root: Hash,
}

fn integrity(message: String) -> AppError {
    AppError::Integrity(message)
}

/// What a seal does with the checkpoint kept beside the key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// The new tree must extend it (every write).
    Extend,
    /// It is replaced whatever it holds (the operator accepting a restored backup).
    Replace,
}

/// Proves the log at `head` is the one the service signed: the newest stored
/// checkpoint opens with these keys and covers exactly the log's entries, the stored
/// tree makes its root, and it extends the checkpoint kept beside the key file. Any
/// other state is an edit behind the service's back, named with both sizes.
pub(crate) fn proven(backend: &mut dyn Backend, keys: &Keys, head: Head) -> Result<Proven> {
    let proven = proven_in_store(backend, keys, head)?;
    check_kept(backend, keys, &proven)?;
    Ok(proven)
}

/// [`proven`] but for the checkpoint kept beside the key file.
fn proven_in_store(backend: &mut dyn Backend, keys: &Keys, head: Head) -> Result<Proven> {
    let signer = keys.log_signer()?;
    let newest = match backend.newest_checkpoint()? {
        Some(row) => Some(
            open(row.note.as_bytes(), &signer.keys())
                .map_err(|e| {
                    integrity(format!(
                        "the log's newest checkpoint (size {}) does not open with this store's key: {e}",
                        row.size
                    ))
                })?
                .signed,
        ),
        None if head.size() == 0 => None,
        None => {
            return Err(integrity(format!(
                "the log has {} entries but no checkpoint: its checkpoints were deleted",
                head.size()
            )))
        }
    };
    let size = newest.as_ref().map_or(0, |n| n.checkpoint().size());
    if size != head.size() {
        return Err(integrity(match size > head.size() {
            true => format!(
                "the log has {} entries, but its newest checkpoint signs {size}: entries {}..{size} were deleted",
                head.size(),
                head.size() + 1
            ),
            false => format!(
                "the log has {} entries, but its newest checkpoint signs {size}: entries {}..{} were added \
                 behind the service's back",
                head.size(),
                size + 1,
                head.size()
            ),
        }));
    }
    let root = root_at(backend, size)?;
    if newest.as_ref().is_some_and(|n| *n.checkpoint().root() != root) {
        return Err(integrity(format!(
            "the stored tree of the log's {size} entries does not make the root its newest checkpoint signs: \
             the tree or the checkpoint was edited"
        )));
    }
    Ok(Proven { size, root })
}

/// Checks the proven log against the checkpoint kept beside the key file.
fn check_kept(backend: &mut dyn Backend, keys: &Keys, proven: &Proven) -> Result<()> {
    let size = proven.size;
    if keys.store_id().is_none() {
        return Ok(());
    }
    let file = keys.checkpoint_file()?;
    let Some(kept) = file.reference(&keys.log_signer()?.keys())? else {
        return Ok(());
    };
    let kept = kept.checkpoint();
    if kept.size() > size {
        return Err(integrity(format!(
            "the log has {size} entries, but the checkpoint kept beside the key file ({}) signs {}: entries \
             {}..{} were deleted with their rows, or a backup was restored (after a restore, \
             `revshare audit accept-rollback --to {size}` records it)",
            file.path().display(),
            kept.size(),
            size + 1,
            kept.size()
        )));
    }
    // The file usually holds the newest checkpoint, whose root is already proven.
    let root = match kept.size() == size {
        true => proven.root,
        false => root_at(backend, kept.size())?,
    };
    if root != *kept.root() {
        return Err(integrity(format!(
            "the log's first {} entries are not those of the checkpoint kept beside the key file ({}): its \
             history was rewritten",
            kept.size(),
            file.path().display()
        )));
    }
    Ok(())
}

/// Seals the entries a write transaction appended (their digests, after `start`):
/// their leaves join the stored tree, and its new checkpoint is signed once the tree
/// proved to extend what the service signed before. The caller commits, then hands
/// the checkpoint to the key file's checkpoint file.
pub(crate) fn seal(
    backend: &mut dyn Backend,
    keys: &Keys,
    start: Head,
    digests: &[Hash],
    kept: Kept,
) -> Result<SignedCheckpoint> {
    // Under the write lock: a retired store's log ends with its copy's entry.
    crate::store_copy::refuse_if_retired(backend)?;
    let before = match kept {
        Kept::Extend => proven(backend, keys, start)?,
        Kept::Replace => proven_in_store(backend, keys, start)?,
    };
    let leaves: Vec<Hash> = digests.iter().map(log_tree::leaf).collect();
    let added = tree(log_tree::append(start.size(), &leaves, &mut StoredNodes(backend)))?;
    backend.add_log_nodes(log_tree::stored_index(0, start.size()), &added)?;
    let size = start.size() + digests.len() as u64;
    let signed = sign(backend, keys, size)?;
    coalesce(backend, before.size)?;
    Ok(signed)
}

/// Signs and stores the checkpoint of the stored tree at `size`.
fn sign(backend: &mut dyn Backend, keys: &Keys, size: u64) -> Result<SignedCheckpoint> {
    let signer = keys.log_signer()?;
    let root = root_at(backend, size)?;
    let signed = signer.sign(&Checkpoint::new(signer.origin(), size, root));
    backend.put_checkpoint(&CheckpointRow {
        size: size as i64,
        note: signed.note().to_string(),
    })?;
    Ok(signed)
}

/// Forgets the checkpoint of `size` unless a statement anchors it or a witness
/// cosigned it (the newest is never this one: it was just superseded).
fn coalesce(backend: &mut dyn Backend, size: u64) -> Result<()> {
    let size = size as i64;
    if size == 0 || backend.anchored(size)? || !backend.cosignatures(Some(size))?.is_empty() {
        return Ok(());
    }
    Ok(backend.drop_checkpoint(size)?)
}

/// The newest checkpoint, or the one of `size`, with the cosignatures received for
/// it (C2SP signed note). Every party reads it.
pub fn checkpoint(backend: &mut dyn Backend, size: Option<u64>) -> Result<String> {
    let row = match size {
        Some(size) => backend.checkpoint(size as i64)?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no checkpoint of size {size} is kept (the service keeps the newest, those statements anchor and \
                 those witnesses cosigned)"
            ))
        })?,
        None => backend
            .newest_checkpoint()?
            .ok_or_else(|| AppError::NotFound("the log has no checkpoint yet".to_string()))?,
    };
    let mut note = row.note;
    for cosignature in backend.cosignatures(Some(row.size))? {
        note.push_str(&cosignature.line);
    }
    Ok(note)
}

/// The size of the newest checkpoint: what proofs are made up to.
fn newest_size(backend: &mut dyn Backend) -> Result<u64> {
    Ok(backend.newest_checkpoint()?.map_or(0, |row| row.size.max(0) as u64))
}

/// The consistency proof from the tree of `from` entries to that of `to` (at most
/// the newest checkpoint's size).
pub fn consistency(backend: &mut dyn Backend, from: u64, to: u64) -> Result<ConsistencyProof> {
    let newest = newest_size(backend)?;
    if to > newest {
        return Err(AppError::Invalid(format!(
            "to: {to} is past the newest checkpoint, of size {newest}"
        )));
    }
    let proof = tree(log_tree::consistency(from, to, &mut StoredNodes(backend)))?;
    Ok(ConsistencyProof {
        from,
        to,
        proof: log_tree::to_hex(&proof),
    })
}

/// The inclusion proof of entry `seq` in the tree of `size` entries (default: the
/// newest checkpoint's).
pub fn inclusion(backend: &mut dyn Backend, seq: u64, size: Option<u64>) -> Result<InclusionProof> {
    let newest = newest_size(backend)?;
    let size = size.unwrap_or(newest);
    if size > newest {
        return Err(AppError::Invalid(format!(
            "size: {size} is past the newest checkpoint, of size {newest}"
        )));
    }
    if seq == 0 || seq > size {
        return Err(AppError::Invalid(format!(
            "seq: entry {seq} is not in a log of {size} entries (seqs start at 1)"
        )));
    }
    let proof = tree(log_tree::inclusion(seq - 1, size, &mut StoredNodes(backend)))?;
    Ok(InclusionProof {
        seq,
        size,
        proof: log_tree::to_hex(&proof),
    })
}

/// The registered witness keys (every party reads them).
pub fn witness_keys(backend: &mut dyn Backend) -> Result<Vec<WitnessKeyRow>> {
    Ok(backend.witness_keys()?)
}

/// Registers a party's witness key, proven by its signature over the party and the
/// log's origin (statements.md): a key belongs to one party; registering it again
/// changes nothing, another key is added beside the earlier ones.
pub fn register_witness_key(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    vkey: &str,
    signature: &str,
) -> Result<WitnessKeyRow> {
    let party = crate::access::require_party(ctx.actor, crate::access::Permission::Witness)?.to_string();
    let key = WitnessKey::parse(vkey).map_err(|e| AppError::Invalid(format!("key: {e}")))?;
    if key.party() != party {
        return Err(AppError::Forbidden(format!(
            "key: its name {} is not your party's (revshare-witness/{party})",
            key.name()
        )));
    }
    let origin = keys.log_signer()?.origin().to_string();
    if !key.check_registration(&party, &origin, signature) {
        return Err(AppError::Invalid(format!(
            "signature: not the key's signature over party {party} and origin {origin}"
        )));
    }
    tx::write(backend, keys, ctx, |tx| {
        if let Some(existing) = tx.backend.witness_keys()?.into_iter().find(|k| k.vkey == key.vkey()) {
            return Ok(existing);
        }
        let mut row = WitnessKeyRow {
            number: 0,
            party: party.clone(),
            vkey: key.vkey(),
            added_at: tx.time().to_string(),
            seq: tx.next_seq(),
        };
        row.number = tx.backend.add_witness_key(&row)?;
        tx.record(
            Action::WitnessKeyAdded,
            object::witness_key(&party, row.number),
            payload(&row),
        )?;
        Ok(row)
    })
}

/// Takes a witness's cosignature of a checkpoint: the note as the service signed it
/// with the witness's `tlog-cosignature` line appended. The checkpoint must be one
/// the service signed of this log, consistent with the stored tree; the line must be
/// one of the party's registered keys, and verify.
pub fn cosign(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, note: &[u8]) -> Result<CosignatureRow> {
    let party = crate::access::require_party(ctx.actor, crate::access::Permission::Witness)?.to_string();
    let signer = keys.log_signer()?;
    let opened = open(note, &signer.keys()).map_err(|e| AppError::Invalid(format!("checkpoint: {e}")))?;
    let checkpoint = opened.signed.checkpoint().clone();
    let registered: Vec<WitnessKey> = backend
        .witness_keys()?
        .iter()
        .filter(|k| k.party == party)
        .filter_map(|k| WitnessKey::parse(&k.vkey).ok())
        .collect();
    let (key, line) = opened
        .others
        .iter()
        .find_map(|line| registered.iter().find(|k| k.signed(line)).map(|k| (k, line)))
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "checkpoint: it carries no cosignature of a witness key registered for {party} \
                 (POST /v1/witness/keys first)"
            ))
        })?;
    key.check_cosignature(&checkpoint, line)
        .map_err(|e| AppError::Invalid(format!("checkpoint: {e}")))?;
    let row = CosignatureRow {
        size: checkpoint.size() as i64,
        vkey: key.vkey(),
        line: line.clone(),
        received_at: ctx.time(),
    };
    tx::write(backend, keys, ctx, |tx| {
        let newest = newest_size(tx.backend)?;
        if checkpoint.size() > newest || root_at(tx.backend, checkpoint.size())? != *checkpoint.root() {
            return Err(AppError::Conflict(format!(
                "checkpoint: the log of {} entries with that root is not this log's",
                checkpoint.size()
            )));
        }
        // A coalesced checkpoint is kept again, as signed, now that it is cosigned.
        tx.backend.put_checkpoint(&CheckpointRow {
            size: checkpoint.size() as i64,
            note: opened.signed.note().to_string(),
        })?;
        tx.backend.put_cosignature(&row)?;
        Ok(row.clone())
    })
}

/// Records the operator's acceptance of a restored backup (statements.md): the log
/// now has `to` entries, fewer than (or not consistent with) the checkpoint kept
/// beside the key file. The entry is the first after the restore; its checkpoint
/// replaces the kept one, and witnesses then see the rollback and say so.
pub fn accept_rollback(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    to: u64,
    reason: &str,
) -> Result<RollbackRow> {
    crate::access::require(ctx.actor, crate::access::Permission::AcceptRollback)?;
    crate::limits::check_reason(reason)?;
    let file = keys.checkpoint_file()?;
    let kept = file
        .on_disk(&keys.log_signer()?.keys())?
        .ok_or_else(|| AppError::Conflict("no checkpoint is kept beside the key file: nothing to roll back".into()))?;
    let (row, signed) = tx::write_unchecked(backend, keys, ctx, |tx| {
        let size = tx.head().size();
        if size != to {
            return Err(AppError::Conflict(format!(
                "the log has {size} entries, not {to} (give its size to confirm the restore)"
            )));
        }
        if size >= kept.checkpoint().size()
            && root_at(tx.backend, kept.checkpoint().size())? == *kept.checkpoint().root()
        {
            return Err(AppError::Conflict(format!(
                "the log of {size} entries extends the checkpoint kept beside the key file (size {}): there is \
                 no rollback to accept",
                kept.checkpoint().size()
            )));
        }
        let mut row = RollbackRow {
            number: 0,
            from_size: kept.checkpoint().size() as i64,
            from_root: hex::encode(kept.checkpoint().root()),
            to_size: size as i64,
            reason: reason.to_string(),
            actor: tx.actor().to_string(),
            accepted_at: tx.time().to_string(),
            seq: tx.next_seq(),
        };
        row.number = tx.backend.add_rollback(&row)?;
        tx.record(Action::RollbackAccepted, object::LOG.to_string(), payload(&row))?;
        Ok(row)
    })?;
    file.replace(&signed)?;
    Ok(row)
}

/// Whether a store that names no store id may be upgraded (statements.md: upgrading
/// needs the key, and `audit verify` first, refused on any failure). A store with
/// signed checkpoints, or whose key file names it and keeps a checkpoint of it, was
/// upgraded already: its id was removed behind the service's back, and building the
/// tree again would sign over whatever was edited meanwhile.
pub(crate) fn check_upgradable(backend: &mut dyn Backend, key_file: &Path, held: Option<&StoreId>) -> Result<()> {
    if backend.newest_checkpoint()?.is_some() {
        return Err(id_removed());
    }
    if let Some(id) = held {
        let kept = crate::keys::checkpoint_path(key_file, id);
        if kept.exists() {
            return Err(integrity(format!(
                "the key file names store {id} and {} keeps a checkpoint of it, but the store names no store id: \
                 its id was removed behind the service's back",
                kept.display()
            )));
        }
    }
    let report = crate::verify_store::verify_before_tree(backend)?;
    if report.holds() {
        return Ok(());
    }
    let named: Vec<String> = report
        .failures
        .iter()
        .take(5)
        .map(|f| format!("check {} {}: {}", f.check, f.object, f.message))
        .collect();
    Err(AppError::Integrity(format!(
        "this store was made before the audit log was a tree, and upgrading it needs `audit verify` to hold \
         first; {} problems, the first: {}",
        report.failures.len(),
        named.join("; ")
    )))
}

fn id_removed() -> AppError {
    integrity(
        "this store has signed checkpoints but names no store id: its id was removed behind the service's back".into(),
    )
}

/// Builds the tree of a store [`check_upgradable`] found sound: every entry's leaf,
/// the store id, and the first checkpoint, signed and kept beside the key file.
pub(crate) fn upgrade(backend: &mut dyn Backend, keys: &Keys) -> Result<()> {
    let store_id = keys
        .store_id()
        .cloned()
        .ok_or_else(|| AppError::Invalid("these keys are not bound to a store".into()))?;
    let head = backend.begin_write()?;
    let upgraded = (|| -> Result<SignedCheckpoint> {
        if backend.meta("store_id")?.is_some() {
            return Err(AppError::Conflict("the store was upgraded meanwhile".into()));
        }
        if backend.newest_checkpoint()?.is_some() {
            return Err(id_removed());
        }
        let digests = entry_digests(backend, head.size())?;
        backend.add_log_nodes(0, &log_tree::build(&digests))?;
        backend.set_meta("store_id", store_id.as_str())?;
        sign(backend, keys, head.size())
    })();
    let signed = match upgraded {
        Ok(signed) => signed,
        Err(error) => {
            let _ = backend.rollback();
            return Err(error);
        }
    };
    backend.commit()?;
    keys.checkpoint_file()?.replace(&signed)
}

/// The digests of entries `1..=size`, in order.
pub(crate) fn entry_digests(backend: &mut dyn Backend, size: u64) -> Result<Vec<Hash>> {
    let entries = crate::audit::all_entries(backend, revshare_core::audit::Seq::ZERO)?;
    if entries.len() as u64 != size {
        return Err(integrity(format!(
            "the log holds {} entries, but its head is entry {size}",
            entries.len()
        )));
    }
    entries
        .iter()
        .map(|e| {
            let digest = hex::decode(&e.digest).ok().and_then(|d| Hash::try_from(d).ok());
            digest.ok_or_else(|| integrity(format!("audit entry {}: its digest is not 32 hex bytes", e.seq)))
        })
        .collect()
}
