//! One write transaction: the store's write lock, the audit log's head, and the
//! entries appended for what the transaction stores.

use revshare_core::audit::{Action, Entry, Head, NewEntry};

use crate::{Backend, Ctx, Result};

/// A write transaction in progress. Rows stored in it carry [`Tx::next_seq`], the
/// seq of the entry [`Tx::record`] appends for them next.
pub(crate) struct Tx<'b> {
    pub backend: &'b mut dyn Backend,
    head: Head,
    time: String,
    actor: String,
}

impl Tx<'_> {
    /// The head as the transaction began plus what it appended.
    pub fn head(&self) -> Head {
        self.head
    }

    /// The seq the next entry gets.
    pub fn next_seq(&self) -> i64 {
        self.head.seq as i64 + 1
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
        self.head = head;
        Ok(entry)
    }
}

/// Runs `work` in one write transaction: committed if it succeeds, rolled back if it
/// fails (nothing of a refused request is stored).
pub(crate) fn write<T>(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    run(backend, ctx, Ending::CommitIfOk, work)
}

/// Runs `work` like [`write`] but always rolls back: what a close would do, with
/// nothing stored.
pub(crate) fn dry<T>(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    run(backend, ctx, Ending::RollBack, work)
}

enum Ending {
    CommitIfOk,
    RollBack,
}

fn run<T>(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    ending: Ending,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    let head = backend.begin_write()?;
    let mut tx = Tx {
        backend,
        head,
        time: ctx.time(),
        actor: ctx.actor.id().to_string(),
    };
    match (work(&mut tx), ending) {
        (Ok(value), Ending::CommitIfOk) => {
            tx.backend.commit()?;
            Ok(value)
        }
        (Ok(value), Ending::RollBack) => {
            tx.backend.rollback()?;
            Ok(value)
        }
        (Err(error), _) => {
            // The refusal matters more than a failed rollback.
            let _ = tx.backend.rollback();
            Err(error)
        }
    }
}
