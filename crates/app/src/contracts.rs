//! Contract versions: validated, checked against the stored versions, and refused
//! when they would take effect inside a closed period (economic changes to closed
//! periods go through disputes).

use revshare_core::audit::Action;
use revshare_core::contract::{Contract, ContractSet};
use revshare_core::period::Day;
use revshare_store::backend::{ContractRow, StatementRow};

use crate::keys::Keys;
use crate::rows::{object, payload};
use crate::setup::ensure_party;
use crate::tx::{self, Tx};
use crate::{Actor, AppError, Backend, Ctx, Result};

/// What adding a contract file did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    Stored {
        id: String,
        version: i64,
        sha256: String,
    },
    /// The same bytes were already stored as this version: nothing changed.
    AlreadyStored {
        id: String,
        version: i64,
        sha256: String,
    },
}

/// Validates a contract file and stores it as a new version; `file_name` is empty for
/// one uploaded over the API (which has no file name: none is stored).
pub fn add_version(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    file_name: &str,
    bytes: &[u8],
) -> Result<Added> {
    crate::access::require(ctx.actor, crate::access::Permission::AddContractVersion)?;
    let label = crate::file_label(file_name);
    let contract = Contract::from_toml(label, bytes).map_err(|e| AppError::Invalid(e.to_string()))?;
    let toml = String::from_utf8(bytes.to_vec())
        .map_err(|_| AppError::Invalid(format!("{label}: a contract file must be UTF-8")))?;
    tx::write(backend, keys, ctx, |tx| add_in(tx, file_name, contract, toml))
}

fn add_in(tx: &mut Tx<'_>, file_name: &str, contract: Contract, toml: String) -> Result<Added> {
    let label = crate::file_label(file_name);
    let version = i64::from(contract.version);
    let stored = tx.backend.contracts()?;
    if let Some(same) = stored.iter().find(|r| r.id == contract.id && r.version == version) {
        if same.sha256 == contract.sha256 {
            return Ok(Added::AlreadyStored {
                id: contract.id,
                version,
                sha256: contract.sha256,
            });
        }
        return Err(AppError::Conflict(format!(
            "{label}: version: {} version {version} is already stored with other content; an amendment is a new version",
            contract.id
        )));
    }
    // Versions are numbered 1, 2, 3…: a gap would read as a lost amendment.
    let latest = stored.iter().filter(|r| r.id == contract.id).map(|r| r.version).max();
    let expected = latest.map_or(1, |v| v + 1);
    if version != expected {
        return Err(AppError::Invalid(match latest {
            None => format!(
                "{label}: version: {} has no version yet: its first version must be version 1, not {version}",
                contract.id
            ),
            Some(latest) => format!(
                "{label}: version: {}'s latest version is {latest}: the next must be version {expected}, not {version}",
                contract.id
            ),
        }));
    }
    let mut row = ContractRow {
        id: contract.id.clone(),
        version,
        licensor: contract.licensor.clone(),
        host: contract.host.clone(),
        file_name: file_name.to_string(),
        sha256: contract.sha256.clone(),
        toml,
        added_at: tx.time().to_string(),
        seq: tx.next_seq(),
    };
    // The new version must fit the stored ones (parties, currency, scale, dates).
    let mut all = Vec::with_capacity(stored.len() + 1);
    for stored in &stored {
        let version =
            Contract::from_toml(crate::file_label(&stored.file_name), stored.toml.as_bytes()).map_err(|e| {
                AppError::Integrity(format!(
                    "stored contract {} version {} no longer loads: {e}",
                    stored.id, stored.version
                ))
            })?;
        all.push((crate::file_label(&stored.file_name).to_string(), version));
    }
    all.push((label.to_string(), contract.clone()));
    ContractSet::new(all).map_err(|e| AppError::Invalid(e.to_string()))?;
    check_not_inside_closed(&tx.backend.statements()?, &contract)?;
    ensure_party(tx, &contract.licensor, &contract.licensor)?;
    ensure_party(tx, &contract.host, &contract.host)?;
    for split in &contract.splits {
        for beneficiary in split.shares.keys() {
            ensure_party(tx, beneficiary, beneficiary)?;
        }
    }
    let entry = tx.record(
        Action::ContractVersionAdded,
        object::contract(&row.id, version),
        payload(&row),
    )?;
    row.seq = entry.seq;
    tx.backend.add_contract(&row)?;
    Ok(Added::Stored {
        id: row.id,
        version,
        sha256: row.sha256,
    })
}

/// A version can never take effect inside a closed period: its `effective_from`
/// must not be before the end of the contract's latest closed period.
fn check_not_inside_closed(statements: &[StatementRow], contract: &Contract) -> Result<()> {
    let latest = statements
        .iter()
        .filter(|s| s.contract == contract.id)
        .max_by_key(|s| s.end_day);
    match latest {
        Some(closed) if contract.effective_from.0 < closed.end_day => Err(AppError::Conflict(format!(
            "effective_from: version {} of {} would take effect on {}, inside or before the closed statement {} \
             (which ends {}); a version may start at {} or later; economic changes to closed periods go \
             through disputes",
            contract.version,
            contract.id,
            contract.effective_from,
            closed.statement_id,
            Day(closed.end_day),
            Day(closed.end_day)
        ))),
        _ => Ok(()),
    }
}

/// The stored versions the actor reads, by `(id, version)`.
pub fn list(backend: &mut dyn Backend, actor: &Actor) -> Result<Vec<ContractRow>> {
    let readable = crate::access::readable_contracts(backend, actor)?;
    Ok(backend
        .contracts()?
        .into_iter()
        .filter(|r| readable.contains(&r.id))
        .collect())
}

/// One page of [`list`], in the order the versions were added (api.md, lists).
pub fn list_page(
    backend: &mut dyn Backend,
    actor: &Actor,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<ContractRow>> {
    crate::page::by_seq(list(backend, actor)?, |r| r.seq, limit, cursor)
}

/// One stored version (the latest unless `version`), if the actor reads it.
pub fn show(backend: &mut dyn Backend, actor: &Actor, id: &str, version: Option<i64>) -> Result<ContractRow> {
    if !crate::access::readable_contracts(backend, actor)?
        .iter()
        .any(|c| c == id)
    {
        return Err(missing(id, version));
    }
    stored(backend, id, version)
}

fn missing(id: &str, version: Option<i64>) -> AppError {
    AppError::NotFound(format!(
        "no contract `{id}`{} is stored",
        version.map(|v| format!(" version {v}")).unwrap_or_default()
    ))
}

/// One stored version (the latest unless `version`).
pub(crate) fn stored(backend: &mut dyn Backend, id: &str, version: Option<i64>) -> Result<ContractRow> {
    backend
        .contracts()?
        .into_iter()
        .filter(|r| r.id == id && version.is_none_or(|v| r.version == v))
        .max_by_key(|r| r.version)
        .ok_or_else(|| missing(id, version))
}
