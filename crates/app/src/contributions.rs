//! Contributions: proposed by one party of a contract, accepted or rejected by the
//! other (contracts.md). A decision dated in a closed period is settled by the next
//! close as a prior-period adjustment.

use revshare_core::audit::Action;
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::Day;
use revshare_core::tables::ContributionStatus;
use revshare_store::backend::{ContractRow, ContributionRow};

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

impl Proposal {
    /// A proposal from its fields as a request body or a form gives them, each
    /// refused by its name.
    pub fn from_text(contract: String, by: &str, kind: &str, date: &str, reference: String) -> Result<Proposal> {
        Ok(Proposal {
            contract,
            by: Party::parse(by).ok_or_else(|| AppError::Invalid(format!("by: `{by}` must be host or licensor")))?,
            kind: ContributionKind::parse(kind).ok_or_else(|| {
                AppError::Invalid(format!("kind: `{kind}` must be maintenance, update or improvement"))
            })?,
            date: crate::parse_day("date", date)?,
            reference,
        })
    }
}

/// The decision on a proposed contribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject,
}

impl Decision {
    /// The decision [`Decision::as_str`] names.
    pub fn parse(text: &str) -> Option<Decision> {
        [Decision::Accept, Decision::Reject]
            .into_iter()
            .find(|d| d.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Reject => "reject",
        }
    }
}

/// The party id that plays `side` in a contract.
fn party_of(tx: &mut Tx<'_>, contract: &str, side: Party) -> Result<String> {
    let row = tx
        .backend
        .contracts()?
        .into_iter()
        .find(|r| r.id == contract)
        .ok_or_else(|| AppError::NotFound(format!("no contract `{contract}` is stored")))?;
    Ok(side_of(&row, side).to_string())
}

/// The party id that plays `side` in contract `row`.
fn side_of(row: &ContractRow, side: Party) -> &str {
    match side {
        Party::Host => &row.host,
        Party::Licensor => &row.licensor,
    }
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
        let decider = party_of(tx, &row.contract, other_side(row.by))?;
        check_decider(ctx.actor, &row, &decider)?;
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

/// The side that decides a proposal of `by`: the contract's other side.
fn other_side(by: Party) -> Party {
    match by {
        Party::Host => Party::Licensor,
        Party::Licensor => Party::Host,
    }
}

/// A proposal is decided by `decider`, the party on the other side of its
/// contract; the operator decides for either side.
fn check_decider(actor: &crate::Actor, row: &ContributionRow, decider: &str) -> Result<()> {
    match actor.side() {
        Some(party) if party != decider => Err(AppError::Forbidden(format!(
            "{party} cannot decide contribution {}: the {} ({decider}) decides the {}'s proposals",
            row.number,
            other_side(row.by).as_str(),
            row.by.as_str()
        ))),
        _ => Ok(()),
    }
}

/// Whether `actor` takes contribution steps at all (proposes, decides): not a
/// beneficiary, which reads no contributions, nor an auditor, which only reads
/// them; [`propose`] and [`decide`] still decide each one.
pub fn takes_steps(actor: &crate::Actor) -> bool {
    require(actor, Permission::Contributions).is_ok() && crate::access::require_contribution_step(actor).is_ok()
}

/// The decisions `actor` may take now on contributions it reads (rows of
/// [`list`]), for the dashboard's forms: on a proposed one, by the other side of
/// its contract (the operator for either side). [`decide`] still decides each.
pub fn decisions_open_to(
    backend: &mut dyn Backend,
    actor: &crate::Actor,
    rows: &[ContributionRow],
) -> Result<Vec<Vec<Decision>>> {
    let contracts = backend.contracts()?;
    rows.iter()
        .map(|row| {
            if !takes_steps(actor) || row.status != ContributionStatus::Proposed {
                return Ok(Vec::new());
            }
            let contract = contracts.iter().find(|c| c.id == row.contract).ok_or_else(|| {
                AppError::Integrity(format!(
                    "contribution {} names contract `{}`, which is not stored",
                    row.number, row.contract
                ))
            })?;
            Ok(match check_decider(actor, row, side_of(contract, other_side(row.by))) {
                Ok(()) => vec![Decision::Accept, Decision::Reject],
                Err(_) => Vec::new(),
            })
        })
        .collect()
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
