//! Voided events (statements.md): an accepted event stops counting. It stays stored
//! (its key still makes a re-send a duplicate); voided before its period closes, it
//! is not in the statement; voided after, the next close removes it in a
//! prior-period adjustment's `voided:` tree.

use revshare_core::audit::Action;
use revshare_store::backend::VoidRow;

use crate::rows::{object, payload};
use crate::tx;
use crate::{AppError, Backend, Ctx, Result};

/// The longest reason a void keeps.
pub const REASON_CHARS_MAX: usize = 2000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voided {
    Now(VoidRow),
    /// It was voided before: voiding again changes nothing.
    Already(VoidRow),
}

/// Voids the event `(source, id)` with a reason.
pub fn void(backend: &mut dyn Backend, ctx: Ctx<'_>, source: &str, id: &str, reason: &str) -> Result<Voided> {
    let length = reason.chars().count();
    if length == 0 || length > REASON_CHARS_MAX {
        return Err(AppError::Invalid(format!(
            "--reason: 1 to {REASON_CHARS_MAX} characters, found {length}"
        )));
    }
    tx::write(backend, ctx, |tx| {
        let key = tx
            .backend
            .event_key(source, id)?
            .ok_or_else(|| AppError::NotFound(format!("event ({source}, {id}) was never received")))?;
        if let Some(party) = ctx.actor.party() {
            if party != key.host {
                return Err(AppError::NotFound(format!("event ({source}, {id}) was never received")));
            }
        }
        if let Some(existing) = tx
            .backend
            .voids()?
            .into_iter()
            .find(|v| v.source == source && v.id == id)
        {
            return Ok(Voided::Already(existing));
        }
        let seq = tx.next_seq();
        let mut row = VoidRow {
            number: 0,
            source: source.to_string(),
            id: id.to_string(),
            host: key.host.clone(),
            day: key.day,
            leaf: hex::encode(key.leaf),
            reason: reason.to_string(),
            actor: tx.actor().to_string(),
            voided_at: tx.time().to_string(),
            seq,
        };
        row.number = tx.backend.add_void(&row)?;
        tx.record(Action::EventVoided, object::void(&row.host, row.number), payload(&row))?;
        Ok(Voided::Now(row))
    })
}
