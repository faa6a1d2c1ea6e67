//! Computing a statement the way a close does, as of an audit seq: shared by the
//! close itself and by `audit verify`, which re-rates every closed period.

use revshare_core::contract::Contract;
use revshare_core::period::{date_of_rfc3339, Day, Period};
use revshare_core::rating::{adjustment_only, rate_statement, Rated, StatementKey, TreeSummary};
use revshare_core::statement::{AuditHead, Statement, StatementId};
use revshare_core::verify::TreeName;

use super::summary::{exception_notes, ContractSummary, HostEvents};
use super::term::{term_of, Term};
use crate::checked::Trust;
use crate::closed::VerifiedStatements;
use crate::settle::{pending, Pending, Settled, Tree};
use crate::snapshot::Snapshot;
use crate::{AppError, Backend, Result};

/// A statement as a close computes it, before signing.
pub(crate) struct Built {
    pub statement: Statement,
    /// What the close set on the statement, as values (not read back from it).
    pub closing: Closing,
    pub trees: Vec<Tree>,
    pub settled: Vec<Settled>,
    pub host: String,
    pub summary: ContractSummary,
}

/// What one close reads, shared by the contracts it closes.
pub(crate) struct Inputs<'a> {
    pub snapshot: &'a Snapshot,
    pub verified: &'a mut VerifiedStatements,
    pub trust: &'a mut Trust,
    pub hosts: &'a mut HostEvents,
}

/// What closing one contract's period comes to.
pub(crate) enum Building {
    /// A statement to sign.
    Statement(Box<Built>),
    /// After the term with nothing to carry: no statement, but the period counts as
    /// closed, and re-ratings that changed nothing are settled up to this close.
    AfterTerm(Vec<Settled>),
    /// Outside the term, or after it with nothing ever closed: nothing to close.
    Nothing,
}

impl Building {
    pub(crate) fn statement(self) -> Option<Built> {
        match self {
            Building::Statement(built) => Some(*built),
            Building::AfterTerm(_) | Building::Nothing => None,
        }
    }
}

/// Computes contract `index`'s statement for `period` as of `anchor` (the log's
/// head the close rates as of), the way a close does.
pub(crate) fn build(
    backend: &mut dyn Backend,
    inputs: Inputs<'_>,
    index: usize,
    period: Period,
    closed_at: &str,
    anchor: &AuditHead,
) -> Result<Building> {
    let snapshot = inputs.snapshot;
    let versions = &snapshot.contracts.contracts[index];
    let (rated, events, pending, version, summary) = match term_of(versions, index, period, snapshot) {
        Term::Outside => return Ok(Building::Nothing),
        Term::After(last) => {
            if snapshot.statements_of(&versions.id).next().is_none() {
                return Ok(Building::Nothing);
            }
            let mut pending = pending(backend, snapshot, inputs.verified, inputs.trust, index, period)?;
            pending
                .carried
                .extend(crate::disputes::carried(backend, snapshot, inputs.verified, index)?);
            if pending.carried.is_empty() {
                return Ok(Building::AfterTerm(pending.settled));
            }
            let rated = adjustment_only(last, period, &pending.carried);
            let mut summary = ContractSummary::empty(&versions.id, period);
            summary.adjustment_only = true;
            (rated, Tree::new(TreeName::Events, Vec::new()), pending, last, summary)
        }
        Term::In(version) => {
            let mut pending = pending(backend, snapshot, inputs.verified, inputs.trust, index, period)?;
            pending
                .carried
                .extend(crate::disputes::carried(backend, snapshot, inputs.verified, index)?);
            let (rated, events, summary) = rate_own(backend, inputs, index, period, version, &pending)?;
            (rated, events, pending, version, summary)
        }
    };
    let (statement, closing) = closing_fields(rated.statement, &versions.id, period, version, closed_at, anchor)?;
    let mut trees = vec![events];
    trees.extend(pending.trees);
    Ok(Building::Statement(Box::new(Built {
        statement,
        closing,
        trees,
        settled: pending.settled,
        host: version.host.clone(),
        summary,
    })))
}

/// A period in the term: its own events (voided ones left out) and what is pending.
fn rate_own(
    backend: &mut dyn Backend,
    inputs: Inputs<'_>,
    index: usize,
    period: Period,
    version: &Contract,
    pending: &Pending,
) -> Result<(Rated, Tree, ContractSummary)> {
    let snapshot = inputs.snapshot;
    let key = StatementKey {
        contract: index as u32,
        period,
    };
    let events = inputs.hosts.get(backend, snapshot, inputs.trust, &version.host)?;
    let rating = snapshot.inputs_for(period);
    let voids = snapshot.voids_in(backend, inputs.trust, &version.host, period.start().0, period.end().0)?;
    let voided = voids.voided();
    let usage = events.accumulate(&rating, key, |i| {
        !voided.contains_key(&(events.source(i), events.id(i)))
    });
    let events_tree = Tree::new(TreeName::Events, events.leaves(&usage.events));
    let tree = TreeSummary {
        count: events_tree.leaves.len() as u64,
        root: events_tree.root,
    };
    let rated = rate_statement(
        version,
        period,
        &usage,
        &events.symbols,
        &rating,
        tree,
        &pending.carried,
    );
    let mut summary = ContractSummary::empty(&version.id, period);
    summary.events = events_tree.leaves.len() as u64;
    summary.rated = rated.rated_events;
    summary.exceptions = exception_notes(version, &rating, &usage, &events.symbols);
    Ok((rated, events_tree, summary))
}

/// The fields a close sets on a statement that identify and date it.
pub(crate) struct Closing {
    pub statement_id: StatementId,
    pub closed_at: String,
    pub due_date: String,
    pub audit_head: AuditHead,
}

/// The fields a close adds to a rated statement.
fn closing_fields(
    mut statement: Statement,
    contract: &str,
    period: Period,
    version: &Contract,
    closed_at: &str,
    anchor: &AuditHead,
) -> Result<(Statement, Closing)> {
    let statement_id = StatementId::new(contract, period)
        .ok_or_else(|| AppError::Integrity(format!("contract `{contract}`: its id is not a contract id")))?;
    let closing = Closing {
        statement_id,
        closed_at: closed_at.to_string(),
        due_date: due_date(closed_at, version)?,
        audit_head: anchor.clone(),
    };
    statement.statement_id = Some(closing.statement_id.clone());
    statement.contract_sha256 = Some(version.sha256.clone());
    statement.closed_at = Some(closing.closed_at.clone());
    statement.due_date = Some(closing.due_date.clone());
    statement.audit_head = Some(closing.audit_head.clone());
    if let Some(member) = statement.integer_too_large() {
        return Err(AppError::Conflict(format!(
            "{contract}: {member} is 2^53 or more, which a statement cannot hold exactly (JCS)"
        )));
    }
    Ok((statement, closing))
}

/// The UTC date of `closed_at` plus the contract's payment terms.
fn due_date(closed_at: &str, version: &Contract) -> Result<String> {
    let day = date_of_rfc3339(closed_at)
        .ok_or_else(|| AppError::Integrity(format!("closed_at {closed_at} is not an RFC 3339 time")))?;
    Ok(Day(day.0 + version.payment_terms_days as i32).to_string())
}
