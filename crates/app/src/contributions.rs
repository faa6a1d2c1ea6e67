//! Contributions: proposed by one party of a contract, accepted or rejected by the
//! other (contracts.md). A decision dated in a closed period is settled by the next
//! close as a prior-period adjustment.

use revshare_core::audit::Action;
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::Day;
use revshare_core::tables::ContributionStatus;
use revshare_store::backend::ContributionRow;

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::limits::REFERENCE_CHARS_MAX;
use crate::rows::{object, payload};
use crate::tx::{self, Tx};
use crate::Field;
use crate::{AppError, Backend, Ctx, Result};

/// A proposed contribution.
#[derive(Clone, Debug)]
pub struct Proposal {
    pub contract: String,
    pub by: Party,
    pub kind: ContributionKind,
    pub date: Day,
    pub reference: String,
}

/// The decision on a proposed contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

/// The party id that plays `side` in a contract.
fn party_of(tx: &mut Tx<'_>, contract: &str, side: Party) -> Result<String> {
    let row = tx
        .backend
        .contracts()?
        .into_iter()
        .find(|r| r.id == contract)
        .ok_or_else(|| AppError::NotFound(format!("no contract `{contract}` is stored")))?;
    Ok(match side {
        Party::Host => row.host,
        Party::Licensor => row.licensor,
    })
}

/// Records a proposal. A party (a token's, or the one of `--as`) must be the side
/// that proposes; the operator proposes for either side.
pub fn propose(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, proposal: &Proposal) -> Result<ContributionRow> {
    check_side_taker(backend, ctx, &proposal.contract)?;
    if proposal.reference.chars().count() > REFERENCE_CHARS_MAX {
        return Err(AppError::InvalidField(
            Field::Reference,
            format!("at most {REFERENCE_CHARS_MAX} characters"),
        ));
    }
    tx::write(backend, keys, ctx, |tx| {
        let proposer = party_of(tx, &proposal.contract, proposal.by)?;
        if let Some(party) = ctx.actor.side() {
            if party != proposer {
                return Err(AppError::Forbidden(format!(
                    "{party} is not the {} of {}: only {proposer} proposes its contributions",
                    proposal.by.as_str(),
                    proposal.contract
                )));
            }
        }
        let seq = tx.next_seq();
        let mut row = ContributionRow {
            number: 0,
            contract: proposal.contract.clone(),
            by: proposal.by,
            kind: proposal.kind,
            date: proposal.date.0,
            status: ContributionStatus::Proposed,
            reference: proposal.reference.clone(),
            proposed_by: tx.actor().to_string(),
            proposed_at: tx.time().to_string(),
            proposed_seq: seq,
            decided_by: None,
            decided_at: None,
            decided_seq: None,
            seq,
        };
        row.number = tx.backend.add_contribution(&row)?;
        let entry = tx.record(
            Action::ContributionProposed,
            object::contribution(&row.contract, row.number),
            payload(&row),
        )?;
        debug_assert_eq!(entry.seq, seq);
        Ok(row)
    })
}

/// Accepts or rejects a proposed contribution, once. A party (a token's, or the one
/// of `--as`) must be the other side of the contract; the operator decides for
/// either.
pub fn decide(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    number: i64,
    decision: Decision,
) -> Result<ContributionRow> {
    // A role that takes no contribution steps is refused before any lookup, so that
    // the answer says nothing about which contributions exist.
    require(ctx.actor, Permission::Contributions)?;
    let contract = backend
        .contributions()?
        .into_iter()
        .find(|c| c.number == number)
        .map(|c| c.contract)
        .ok_or_else(|| AppError::NotFound(format!("no contribution {number} is stored")))?;
    check_side_taker(backend, ctx, &contract).map_err(|e| match e {
        AppError::NotFound(_) => AppError::NotFound(format!("no contribution {number} is stored")),
        other => other,
    })?;
    tx::write(backend, keys, ctx, |tx| {
        let mut row = tx
            .backend
            .contributions()?
            .into_iter()
            .find(|c| c.number == number)
            .ok_or_else(|| AppError::NotFound(format!("no contribution {number} is stored")))?;
        if row.status != ContributionStatus::Proposed {
            return Err(AppError::Conflict(format!(
                "contribution {number} is already {}; a contribution is decided once",
                row.status.as_str()
            )));
        }
        if let Some(party) = ctx.actor.side() {
            let by = row.by;
            let other = match by {
                Party::Host => Party::Licensor,
                Party::Licensor => Party::Host,
            };
            let decider = party_of(tx, &row.contract, other)?;
            if party != decider {
                return Err(AppError::Forbidden(format!(
                    "{party} cannot decide contribution {number}: the {} ({decider}) decides the {}'s proposals",
                    other.as_str(),
                    by.as_str()
                )));
            }
        }
        let status = match decision {
            Decision::Accept => ContributionStatus::Accepted,
            Decision::Reject => ContributionStatus::Rejected,
        };
        let action = match decision {
            Decision::Accept => Action::ContributionAccepted,
            Decision::Reject => Action::ContributionRejected,
        };
        row.status = status;
        row.decided_by = Some(tx.actor().to_string());
        row.decided_at = Some(tx.time().to_string());
        row.decided_seq = Some(tx.next_seq());
        row.seq = tx.next_seq();
        tx.record(action, object::contribution(&row.contract, number), payload(&row))?;
        tx.backend.update_contribution(&row)?;
        Ok(row)
    })
}

/// The contributions of the contracts the actor reads, by number.
pub fn list(backend: &mut dyn Backend, actor: &crate::Actor) -> Result<Vec<ContributionRow>> {
    require(actor, Permission::Contributions)?;
    let readable = crate::access::readable_contracts(backend, actor)?;
    Ok(backend
        .contributions()?
        .into_iter()
        .filter(|c| readable.contains(&c.contract))
        .collect())
}

/// One page of [`list`], in the order they were proposed (the store's: by number).
pub fn list_page(
    backend: &mut dyn Backend,
    actor: &crate::Actor,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<ContributionRow>> {
    crate::page::page(list(backend, actor)?, limit, cursor)
}

/// Contribution steps are taken on a contract the actor reads (else it is not
/// found), by the operator or a party of the contract (an auditor only reads).
fn check_side_taker(backend: &mut dyn Backend, ctx: Ctx<'_>, contract: &str) -> Result<()> {
    require(ctx.actor, Permission::Contributions)?;
    crate::access::require_readable(
        backend,
        ctx.actor,
        contract,
        &format!("no contract `{contract}` is stored"),
    )?;
    crate::access::require_contribution_step(ctx.actor)
}
