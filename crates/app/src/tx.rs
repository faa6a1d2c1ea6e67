//! One write transaction: the store's write lock, the audit log's head, the entries
//! appended for what the transaction stores, and the checkpoint that seals them
//! before it commits (`log::seal`).

use revshare_core::audit::{Action, Entry, Head, NewEntry, Seq};
use revshare_core::checkpoint::SignedCheckpoint;
use revshare_core::log_tree::Hash;

use crate::keys::Keys;
use crate::log::{self, Kept};
use crate::{AppError, Backend, Ctx, Result};

/// A write transaction in progress. Rows stored in it carry [`Tx::next_seq`], the
/// seq of the entry [`Tx::record`] appends for them next.
pub(crate) struct Tx<'b> {
    pub backend: &'b mut dyn Backend,
    /// The head as the transaction began.
    start: Head,
    head: Head,
    time: String,
    actor: String,
    /// The digests of the entries appended, in order (the log tree's new leaves).
    digests: Vec<Hash>,
}

impl Tx<'_> {
    /// The head as the transaction began plus what it appended.
    pub fn head(&self) -> Head {
        self.head
    }

    /// The seq the next entry gets.
    pub(crate) fn next_seq(&self) -> Seq {
        self.head.seq.next()
    }

    pub fn time(&self) -> &str {
        &self.time
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Appends an entry about `object` whose state after the change hashes to
    /// `payload_sha256`.
    pub fn record(&mut self, action: Action, object: String, payload_sha256: [u8; 32]) -> Result<Entry> {
        let new = NewEntry {
            time: self.time.clone(),
            actor: self.actor.clone(),
            action,
            object,
            payload_sha256,
        };
        let (entry, head) = new.chain(self.head);
        self.backend.append_audit(std::slice::from_ref(&entry))?;
        self.digests.push(revshare_core::audit::digest(entry.seq, &new));
        self.head = head;
        Ok(entry)
    }
}

/// Runs `work` in one write transaction: sealed and committed if it succeeds (the
/// checkpoint file written before returning), rolled back if it fails (nothing of a
/// refused request is stored).
pub(crate) fn write<T>(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    let (value, sealed) = run(backend, keys, ctx, Kept::Extend, work)?;
    if sealed.is_some() {
        keys.flush()?;
    }
    Ok(value)
}

/// [`write`] for the one write that need not extend the checkpoint kept beside the
/// key file (accepting a restored backup): it must append, and its checkpoint is
/// returned for the caller to keep instead.
pub(crate) fn write_unchecked<T>(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<(T, SignedCheckpoint)> {
    match run(backend, keys, ctx, Kept::Replace, work)? {
        (value, Some(sealed)) => Ok((value, sealed)),
        (_, None) => Err(AppError::Integrity("a rollback's write appended no entry".into())),
    }
}

/// Runs `work` like [`write`] but always rolls back: what a close would do, with
/// nothing stored.
pub(crate) fn dry<T>(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    let head = backend.begin_write()?;
    let mut tx = Tx::begin(backend, head, ctx);
    let done = work(&mut tx);
    // Nothing of a dry run is kept; a failed rollback matters less than its answer.
    let rolled_back = tx.backend.rollback();
    let value = done?;
    rolled_back?;
    Ok(value)
}

/// Runs `work` like [`write`], then, once its entries are sealed and before the
/// commit, `then` on the store as it is (a copy of it, `store_copy`): a failure of
/// either rolls everything back.
pub(crate) fn write_then<T, U>(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    then: impl FnOnce(&mut dyn Backend, &T) -> Result<U>,
) -> Result<(T, U)> {
    let head = backend.begin_write()?;
    let (value, tx) = worked(backend, head, ctx, work)?;
    let Tx {
        backend,
        start,
        digests,
        ..
    } = tx;
    let sealed = seal(backend, keys, start, &digests, Kept::Extend)?;
    let after = match then(&mut *backend, &value) {
        Ok(after) => after,
        Err(error) => {
            let _ = backend.rollback();
            return Err(error);
        }
    };
    backend.commit()?;
    if let Some(signed) = sealed {
        keys.checkpoint_file()?.advance(signed);
        keys.flush()?;
    }
    Ok((value, after))
}

impl<'b> Tx<'b> {
    fn begin(backend: &'b mut dyn Backend, head: Head, ctx: Ctx<'_>) -> Tx<'b> {
        Tx {
            backend,
            start: head,
            head,
            time: ctx.time(),
            actor: ctx.actor.id().to_string(),
            digests: Vec::new(),
        }
    }
}

fn run<T>(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    kept: Kept,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<(T, Option<SignedCheckpoint>)> {
    let head = backend.begin_write()?;
    if let Err(error) = crate::store_copy::refuse_if_retired(backend) {
        let _ = backend.rollback();
        return Err(error);
    }
    let (value, tx) = worked(backend, head, ctx, work)?;
    let Tx {
        backend,
        start,
        digests,
        ..
    } = tx;
    let sealed = seal_and_commit(backend, keys, start, &digests, kept)?;
    Ok((value, sealed))
}

/// Runs `work` in a transaction begun at `head`; rolls it back if `work` fails
/// (the refusal matters more than a failed rollback).
fn worked<'b, T>(
    backend: &'b mut dyn Backend,
    head: Head,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<(T, Tx<'b>)> {
    let mut tx = Tx::begin(backend, head, ctx);
    match work(&mut tx) {
        Ok(value) => Ok((value, tx)),
        Err(error) => {
            let _ = tx.backend.rollback();
            Err(error)
        }
    }
}

/// Seals the entries with `digests` appended after `start` (none: nothing to seal),
/// rolling back if sealing fails.
fn seal(
    backend: &mut dyn Backend,
    keys: &Keys,
    start: Head,
    digests: &[Hash],
    kept: Kept,
) -> Result<Option<SignedCheckpoint>> {
    if digests.is_empty() {
        return Ok(None);
    }
    log::seal(backend, keys, start, digests, kept)
        .map(Some)
        .inspect_err(|_| {
            let _ = backend.rollback();
        })
}

/// Ends a write transaction that appended the entries with `digests` after `start`
/// (none: nothing to seal): seals them, commits, and hands the checkpoint to the
/// checkpoint file for its next flush. Rolls back on any failure.
pub(crate) fn seal_and_commit(
    backend: &mut dyn Backend,
    keys: &Keys,
    start: Head,
    digests: &[Hash],
    kept: Kept,
) -> Result<Option<SignedCheckpoint>> {
    let sealed = seal(backend, keys, start, digests, kept)?;
    backend.commit()?;
    if let Some(signed) = &sealed {
        keys.checkpoint_file()?.advance(signed.clone());
    }
    Ok(sealed)
}
