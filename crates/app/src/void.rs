//! Voided events (statements.md): an accepted event stops counting. It stays stored
//! (its key still makes a re-send a duplicate); voided before its period closes, it
//! is not in the statement; voided after, the next close removes it in a
//! prior-period adjustment's `voided:` tree.

use revshare_core::audit::Action;
use revshare_store::backend::VoidRow;

use crate::closed::VerifiedStatements;
use crate::keys::Keys;
use crate::rows::{object, payload};
use crate::tx;
use crate::{AppError, Backend, Ctx, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voided {
    Now(VoidRow),
    /// It was voided before: voiding again changes nothing.
    Already(VoidRow),
}

/// Voids the event `(source, id)` with a reason.
pub fn void(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    source: &str,
    id: &str,
    reason: &str,
) -> Result<Voided> {
    crate::access::require(ctx.actor, crate::access::Permission::VoidEvents)?;
    crate::limits::check_reason(reason)?;
    tx::write(backend, keys, ctx, |tx| {
        let key = tx
            .backend
            .event_key(source, id)?
            .ok_or_else(|| AppError::NotFound(format!("event ({source}, {id}) was never received")))?;
        match crate::access::void_right(ctx.actor, &key.host) {
            None => return Err(AppError::NotFound(format!("event ({source}, {id}) was never received"))),
            Some(crate::access::VoidRight::WithinWindow) => check_window(tx.backend, ctx, source, id)?,
            Some(crate::access::VoidRight::Any) => {}
        }
        if let Some(existing) = tx.backend.void_of(source, id)? {
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

/// A host may void an event a statement counts only while the dispute window of
/// every statement that counts it is open (whatever contracts its token is narrowed
/// to); after that, only the operator may.
fn check_window(backend: &mut dyn Backend, ctx: Ctx<'_>, source: &str, id: &str) -> Result<()> {
    let located = crate::locate::locate_all(backend, source, id)?;
    let mut verified = VerifiedStatements::new(crate::keys::public_keys(backend)?);
    for place in located.places.iter().filter(|p| p.counted) {
        let row = backend
            .statement(&place.statement_id)?
            .ok_or_else(|| AppError::Integrity(format!("statement {} is gone", place.statement_id)))?;
        let statement = verified.get(backend, &row)?.statement().clone();
        let contract = crate::contracts::stored(
            backend,
            &statement.contract,
            Some(i64::from(statement.contract_version)),
        )?;
        let window_days = revshare_core::contract::Contract::from_toml(
            crate::file_label(&contract.file_name),
            contract.toml.as_bytes(),
        )
        .map_err(|e| AppError::Integrity(e.to_string()))?
        .dispute_window_days;
        let closed = statement
            .closed_at
            .as_deref()
            .and_then(|t| revshare_core::event::parse_time(t).ok())
            .ok_or_else(|| AppError::Integrity(format!("statement {}: bad closed_at", place.statement_id)))?;
        if ctx.now.seconds >= closed.seconds + i64::from(window_days) * 86_400 {
            return Err(AppError::Forbidden(format!(
                "({source}, {id}) is counted in {}, whose dispute window ended: only the operator can void it now",
                place.statement_id
            )));
        }
    }
    Ok(())
}
