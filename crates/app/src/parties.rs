//! Parties: the operator, licensors, hosts, beneficiaries and auditors that reach the
//! service (api.md). Contracts create the parties they name; the operator adds others
//! and sets their legal names (`update`, audited as `party_updated`).

use revshare_core::audit::Action;
use revshare_store::backend::PartyRow;

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::limits::NAME_CHARS_MAX;
use crate::rows::{object, payload};
use crate::setup::ensure_party;
use crate::tx;
use crate::{AppError, Backend, Ctx, Result};

/// Adds a party; an id already taken is a conflict.
pub fn add(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, id: &str, name: Option<&str>) -> Result<PartyRow> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    let name = name.unwrap_or(id);
    check_name(name)?;
    tx::write(backend, keys, ctx, |tx| {
        if !ensure_party(tx, id, name)? {
            return Err(AppError::Conflict(format!(
                "party `{id}` exists already (contracts add the parties they name); set its name with \
                 `revshare party update {id} --name NAME`"
            )));
        }
        tx.backend
            .parties()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::Integrity(format!("party `{id}` vanished right after it was added")))
    })
}

/// Sets a party's name (its legal name, shown on the documents it receives); the
/// row's new payload is a `party_updated` entry. The same name again changes
/// nothing and records nothing.
pub fn update(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, id: &str, name: &str) -> Result<PartyRow> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    check_name(name)?;
    tx::write(backend, keys, ctx, |tx| {
        let mut row = tx
            .backend
            .parties()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no party `{id}`")))?;
        if row.name == name {
            return Ok(row);
        }
        row.name = name.to_string();
        row.seq = tx.next_seq();
        let entry = tx.record(Action::PartyUpdated, object::party(id), payload(&row))?;
        row.seq = entry.seq;
        tx.backend.update_party(&row)?;
        Ok(row)
    })
}

/// A name: 1 to [`NAME_CHARS_MAX`] characters, none of them a control character
/// (names go into tables, CSV and documents).
fn check_name(name: &str) -> Result<()> {
    let length = name.chars().count();
    if length == 0 || length > NAME_CHARS_MAX {
        return Err(AppError::Invalid(format!(
            "name: 1 to {NAME_CHARS_MAX} characters, found {length}"
        )));
    }
    if let Some(control) = name.chars().find(|c| c.is_control()) {
        return Err(AppError::Invalid(format!(
            "name: the control character U+{:04X} is not allowed (names are printed on documents)",
            u32::from(control)
        )));
    }
    if name.trim() != name {
        return Err(AppError::Invalid("name: no leading or trailing spaces".to_string()));
    }
    Ok(())
}

/// The name of each party, by id (for documents and tables; every role reads
/// them, as they are printed on what a party receives).
pub fn names(backend: &mut dyn Backend) -> Result<std::collections::BTreeMap<String, String>> {
    Ok(backend.parties()?.into_iter().map(|p| (p.id, p.name)).collect())
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
