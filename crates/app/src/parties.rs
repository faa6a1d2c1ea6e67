//! Parties: the operator, licensors, hosts, beneficiaries and auditors that reach the
//! service (api.md). Contracts create the parties they name; the operator adds others.

use revshare_store::backend::PartyRow;

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::limits::NAME_CHARS_MAX;
use crate::setup::ensure_party;
use crate::tx;
use crate::{AppError, Backend, Ctx, Result};

/// Adds a party; an id already taken is a conflict.
pub fn add(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, id: &str, name: Option<&str>) -> Result<PartyRow> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    let name = name.unwrap_or(id);
    let length = name.chars().count();
    if length == 0 || length > NAME_CHARS_MAX {
        return Err(AppError::Invalid(format!(
            "name: 1 to {NAME_CHARS_MAX} characters, found {length}"
        )));
    }
    tx::write(backend, keys, ctx, |tx| {
        if !ensure_party(tx, id, name)? {
            return Err(AppError::Conflict(format!("party `{id}` exists already")));
        }
        tx.backend
            .parties()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::Integrity(format!("party `{id}` vanished right after it was added")))
    })
}

/// Every party, by id.
pub fn list(backend: &mut dyn Backend, ctx: Ctx<'_>) -> Result<Vec<PartyRow>> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    Ok(backend.parties()?)
}

/// One page of [`list`], in the order they were added.
pub fn list_page(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<PartyRow>> {
    crate::page::by_seq(list(backend, ctx)?, |r| r.seq, limit, cursor)
}
