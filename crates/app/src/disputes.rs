//! Disputes of closed statements (statements.md, Disputes): opened by a party of the
//! contract within the statement's dispute window, with evidence each of whose
//! events the statement counts (checked by its inclusion proof), then answered,
//! resolved, offered, accepted, rejected, withdrawn, escalated and decided as the
//! transition table says (`core::dispute::next`), each step by whom the table
//! names (`access::require_dispute_step`) and recorded in the audit log. A resolved
//! dispute with a non-zero amount is carried once, as a `dispute` adjustment, by the
//! next statement closed for its contract ([`carried`]); a dispute never edits a
//! closed statement. Expiry is evaluated against `now`, never stored.

use std::collections::{BTreeMap, HashSet};

use revshare_core::audit::{Action, Seq};
use revshare_core::contract::{Contract, ContractVersions, Party};
use revshare_core::dispute::{self, Clock, DisputeId, DisputeRow, DisputeStatus, DisputeStep, Evidence, StepTaken};
use revshare_core::event::parse_time;
use revshare_core::merkle;
use revshare_core::money::Decimal;
use revshare_core::rating::CarriedAdjustment;
use revshare_core::statement::{Adjustment, AdjustmentKind, Statement};
use revshare_core::verify::{signed_tree, TreeName};
use serde::Serialize;

use crate::access::{require_dispute_role, require_dispute_step, Permission};
use crate::closed::VerifiedStatements;
use crate::keys::Keys;
use crate::limits::{DISPUTE_EVIDENCE_MAX, REASON_CHARS_MAX};
use crate::rows::{object, payload};
use crate::snapshot::Snapshot;
use crate::tx;
use crate::{Actor, AppError, Backend, Ctx, Field, Result};

/// A dispute as its opener files it.
#[derive(Clone, Debug)]
pub struct NewDispute {
    pub statement_id: String,
    /// The disputed line `(model, use_case)`, or `None` for the whole statement.
    pub line: Option<(String, String)>,
    /// The claim: signed, at most the contract's scale in places; positive means
    /// the host owes more.
    pub amount: String,
    pub reason: String,
    pub evidence: Vec<Evidence>,
}

/// A step on an open dispute (the table's rows after `open`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Answer { note: String },
    Resolve { amount: String },
    Accept,
    Reject { note: String },
    Withdraw,
    Escalate,
    Decide { amount: String },
}

impl Step {
    pub fn kind(&self) -> DisputeStep {
        match self {
            Step::Answer { .. } => DisputeStep::Answer,
            Step::Resolve { .. } => DisputeStep::Resolve,
            Step::Accept => DisputeStep::Accept,
            Step::Reject { .. } => DisputeStep::Reject,
            Step::Withdraw => DisputeStep::Withdraw,
            Step::Escalate => DisputeStep::Escalate,
            Step::Decide { .. } => DisputeStep::Decide,
        }
    }
}

/// The audit action of a step.
pub(crate) fn action_of(step: DisputeStep) -> Action {
    match step {
        DisputeStep::Open => Action::DisputeOpened,
        DisputeStep::Answer => Action::DisputeAnswered,
        DisputeStep::Resolve => Action::DisputeResolved,
        DisputeStep::Accept => Action::DisputeAccepted,
        DisputeStep::Reject => Action::DisputeRejected,
        DisputeStep::Withdraw => Action::DisputeWithdrawn,
        DisputeStep::Escalate => Action::DisputeEscalated,
        DisputeStep::Decide => Action::DisputeDecided,
    }
}

/// A dispute as both edges show it: its row, with its status as of now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisputeView {
    /// `D-` and 12 lowercase hex digits.
    pub dispute_id: String,
    pub contract: String,
    pub statement_id: String,
    /// `{model, use_case}`, or `null` for the whole statement.
    pub line: Option<Line>,
    pub opener: String,
    /// `licensor` or `host`: the opener's side in the contract.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub opener_side: Party,
    pub counterparty: String,
    pub reason: String,
    /// Signed, at the contract's scale: positive means the host owes more.
    pub claim: String,
    /// The amount offered or resolved.
    pub amount: Option<String>,
    /// The events `{source, id}` given as evidence, each counted in the statement.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub evidence: Vec<Evidence>,
    /// As of now (`open`, `answered`, `offered`, `resolved`, `rejected`,
    /// `withdrawn`, `escalated`, `expired`): open, answered and offered read as
    /// `expired` once the window ends.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: DisputeStatus,
    pub window_ends: String,
    /// Until when a rejected dispute may be escalated (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation_ends: Option<String>,
    /// Every step taken: `{step, actor, party, at, seq, amount?, note?}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub steps: Vec<StepTaken>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Line {
    pub model: String,
    pub use_case: String,
}

impl DisputeView {
    fn of(row: DisputeRow, now: i64) -> Result<DisputeView> {
        let clock = clock_of(&row, now)?;
        let escalation_ends = (row.status == DisputeStatus::Rejected)
            .then(|| {
                clock
                    .rejected_at
                    .map(|at| revshare_core::period::rfc3339(at + dispute::ESCALATION_SECONDS))
            })
            .flatten();
        Ok(DisputeView {
            status: clock.status(row.status),
            line: match (row.model, row.use_case) {
                (Some(model), Some(use_case)) => Some(Line { model, use_case }),
                _ => None,
            },
            dispute_id: row.dispute_id,
            contract: row.contract,
            statement_id: row.statement_id,
            opener: row.opener,
            opener_side: row.opener_side,
            counterparty: row.counterparty,
            reason: row.reason,
            claim: row.claim,
            amount: row.amount,
            evidence: row.evidence,
            window_ends: row.window_ends,
            escalation_ends,
            steps: row.steps,
        })
    }
}

/// Unix seconds of a time the service wrote.
fn seconds(text: &str, what: &str) -> Result<i64> {
    parse_time(text)
        .map(|t| t.seconds)
        .map_err(|e| AppError::Integrity(format!("{what}: {e}")))
}

/// The times that decide a stored dispute's status now.
fn clock_of(row: &DisputeRow, now: i64) -> Result<Clock> {
    let what = format!("dispute {}", row.dispute_id);
    Ok(Clock {
        now,
        window_ends: seconds(&row.window_ends, &what)?,
        rejected_at: row.rejected_at().map(|at| seconds(at, &what)).transpose()?,
    })
}

/// The stored contracts as versions, and the one named.
fn contract_named(backend: &mut dyn Backend, contract: &str) -> Result<ContractVersions> {
    crate::snapshot::contract_set(&backend.contracts()?)?
        .contracts
        .into_iter()
        .find(|c| c.id == contract)
        .ok_or_else(|| AppError::Integrity(format!("contract `{contract}` of a stored statement is not stored")))
}

/// The version that rated a statement.
fn version_of<'c>(contract: &'c ContractVersions, statement: &Statement) -> Result<&'c Contract> {
    contract
        .versions
        .iter()
        .find(|v| v.version == statement.contract_version)
        .ok_or_else(|| {
            AppError::Integrity(format!(
                "statement of {} names version {}, which is not stored",
                contract.id, statement.contract_version
            ))
        })
}

/// An amount at the contract's scale.
fn amount(text: &str, scale: u32) -> Result<Decimal> {
    Decimal::parse(text, scale).map_err(|e| AppError::InvalidField(Field::Amount, format!("`{text}`: {e}")))
}

/// A note (`answer`, `reject`): 1 to 2000 characters.
fn check_note(note: &str) -> Result<()> {
    let length = note.chars().count();
    if note.trim().is_empty() || length > REASON_CHARS_MAX {
        return Err(AppError::InvalidField(
            Field::Note,
            format!("1 to {REASON_CHARS_MAX} characters, found {length}"),
        ));
    }
    Ok(())
}

/// Opens a dispute of a closed statement, or of one of its lines.
pub fn open(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, new: &NewDispute) -> Result<DisputeView> {
    require_dispute_role(ctx.actor, DisputeStep::Open)?;
    let shown = crate::statements::show(backend, ctx.actor, &new.statement_id)?;
    let statement = shown.statement().clone();
    let contract = contract_named(backend, &statement.contract)?;
    let opener = require_dispute_step(ctx.actor, DisputeStep::Open, &contract, None)?
        .ok_or_else(|| AppError::Integrity("a dispute's opener is a party".to_string()))?;
    let version = version_of(&contract, &statement)?;
    let closed_at = statement
        .closed_at
        .as_deref()
        .ok_or_else(|| AppError::Integrity(format!("statement {} has no closed_at", new.statement_id)))?;
    let window_ends = seconds(closed_at, &new.statement_id)? + i64::from(version.dispute_window_days) * 86_400;
    if ctx.now.seconds >= window_ends {
        return Err(AppError::Conflict(format!(
            "the dispute window of {} ended at {} ({} days after it closed at {closed_at}); it is now {}",
            new.statement_id,
            revshare_core::period::rfc3339(window_ends),
            version.dispute_window_days,
            ctx.time()
        )));
    }
    crate::limits::check_reason(&new.reason)?;
    let scale = version.rounding.scale;
    let claim = amount(&new.amount, scale)?;
    if claim.is_zero() {
        return Err(AppError::InvalidField(
            Field::Amount,
            "a claim of 0 disputes nothing; positive means the host owes more, negative less".to_string(),
        ));
    }
    if let Some((model, use_case)) = &new.line {
        if !statement
            .lines
            .iter()
            .any(|l| l.model == *model && l.use_case == *use_case)
        {
            return Err(AppError::InvalidField(
                Field::Line,
                format!("statement {} has no line ({model}, {use_case})", new.statement_id),
            ));
        }
    }
    let mut evidence = new.evidence.clone();
    evidence.sort();
    evidence.dedup();
    if evidence.len() > DISPUTE_EVIDENCE_MAX {
        return Err(AppError::InvalidField(
            Field::Evidence,
            format!("at most {DISPUTE_EVIDENCE_MAX} events, found {}", evidence.len()),
        ));
    }
    for event in &evidence {
        check_counted(backend, ctx.actor, &statement, &new.statement_id, event)?;
    }
    let dispute_id = DisputeId::from_bytes(crate::tokens::random_bytes::<6>()?);
    let counterparty = match opener == contract.licensor() {
        true => contract.host().to_string(),
        false => contract.licensor().to_string(),
    };
    let opener_side = match opener == contract.licensor() {
        true => Party::Licensor,
        false => Party::Host,
    };
    let (model, use_case) = new.line.clone().unzip();
    let row = tx::write(backend, keys, ctx, |tx| {
        if tx.backend.dispute(dispute_id.as_str())?.is_some() {
            return Err(AppError::Conflict(format!(
                "dispute id {dispute_id} is taken; open it again"
            )));
        }
        // At most one unfinished dispute per line; the whole statement's conflicts
        // with every line's. Read under the write lock: two opens cannot both pass.
        for other in tx.backend.disputes()? {
            if other.statement_id != new.statement_id || !other.overlaps(model.as_deref(), use_case.as_deref()) {
                continue;
            }
            if clock_of(&other, ctx.now.seconds)?.unfinished(other.status) {
                return Err(AppError::Conflict(format!(
                    "dispute {} of {} ({}) is unfinished: at most one unfinished dispute per line, and one of the \
                     whole statement conflicts with every line's",
                    other.dispute_id,
                    other.statement_id,
                    describe_line(other.model.as_deref(), other.use_case.as_deref()),
                )));
            }
        }
        let seq = tx.next_seq();
        let row = DisputeRow {
            dispute_id: dispute_id.to_string(),
            contract: contract.id.clone(),
            statement_id: new.statement_id.clone(),
            model: model.clone(),
            use_case: use_case.clone(),
            opener: opener.clone(),
            opener_side,
            counterparty: counterparty.clone(),
            reason: new.reason.clone(),
            claim: claim.to_fixed_string(scale),
            evidence: evidence.clone(),
            window_ends: revshare_core::period::rfc3339(window_ends),
            status: DisputeStatus::Open,
            amount: None,
            steps: vec![StepTaken {
                step: DisputeStep::Open,
                actor: tx.actor().to_string(),
                party: Some(opener.clone()),
                at: tx.time().to_string(),
                seq,
                amount: None,
                note: None,
            }],
            opened_seq: seq,
            resolved_seq: None,
            seq,
        };
        tx.backend.add_dispute(&row)?;
        tx.record(Action::DisputeOpened, object::dispute(&row.dispute_id), payload(&row))?;
        Ok(row)
    })?;
    DisputeView::of(row, ctx.now.seconds)
}

fn describe_line(model: Option<&str>, use_case: Option<&str>) -> String {
    match (model, use_case) {
        (Some(model), Some(use_case)) => format!("line {model}, {use_case}"),
        _ => "the whole statement".to_string(),
    }
}

/// Refuses, by name, an event of the evidence that the statement does not count:
/// its inclusion proof in a tree that counts events (`events`, `prior_period:`),
/// checked against the signed root.
fn check_counted(
    backend: &mut dyn Backend,
    actor: &Actor,
    statement: &Statement,
    statement_id: &str,
    event: &Evidence,
) -> Result<()> {
    let refused = |why: String| {
        AppError::InvalidField(
            Field::Evidence,
            format!(
                "event ({}, {}) is not counted in statement {statement_id}: {why}",
                event.source, event.id
            ),
        )
    };
    let proof = match crate::statements::prove(backend, actor, statement_id, &event.source, &event.id) {
        Ok(proof) => proof,
        Err(AppError::NotFound(message)) => return Err(refused(message)),
        Err(other) => return Err(other),
    };
    let tree = TreeName::parse(&proof.tree)
        .ok_or_else(|| AppError::Integrity(format!("a proof names tree `{}`", proof.tree)))?;
    if tree.removes() {
        return Err(refused(format!("it is removed by tree `{tree}`")));
    }
    let hash = |text: &str| -> Result<merkle::Hash> {
        hex::decode(text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| AppError::Integrity(format!("a proof of {statement_id} holds `{text}`")))
    };
    let path = proof.audit_path.iter().map(|h| hash(h)).collect::<Result<Vec<_>>>()?;
    let signed = signed_tree(statement, &tree).map(|(_, root)| root);
    if signed.as_deref() != Some(proof.root.as_str())
        || !merkle::verify_inclusion(
            &hash(&proof.leaf_hash)?,
            proof.leaf_index,
            proof.tree_size,
            &path,
            &hash(&proof.root)?,
        )
    {
        return Err(AppError::Integrity(format!(
            "the inclusion proof of ({}, {}) in {statement_id} does not hold",
            event.source, event.id
        )));
    }
    Ok(())
}

/// Takes a step on a dispute.
pub fn step(
    backend: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    dispute_id: &str,
    step: &Step,
) -> Result<DisputeView> {
    let kind = step.kind();
    // A role that never takes the step is refused before any lookup, so that the
    // answer says nothing about which disputes exist.
    require_dispute_role(ctx.actor, kind)?;
    let not_found = || crate::access::hidden(format!("no dispute {dispute_id} is stored"));
    if DisputeId::parse(dispute_id).is_none() {
        return Err(not_found());
    }
    let found = backend.dispute(dispute_id)?.ok_or_else(not_found)?;
    let contract = contract_named(backend, &found.contract)?;
    if !crate::access::reads_dispute(ctx.actor, &contract) {
        return Err(not_found());
    }
    let party = require_dispute_step(ctx.actor, kind, &contract, Some(&found.opener))?;
    let scale = contract.versions[0].rounding.scale;
    let claim = amount(&found.claim, scale)
        .map_err(|_| AppError::Integrity(format!("dispute {dispute_id}: its claim does not parse")))?;
    let (decided, note) = match step {
        Step::Resolve { amount: text } | Step::Decide { amount: text } => {
            let value = amount(text, scale)?;
            if !dispute::within_claim(&value, &claim) {
                return Err(AppError::InvalidField(
                    Field::Amount,
                    format!(
                        "`{text}` must be between 0 and the claim {} inclusive, with its sign",
                        found.claim
                    ),
                ));
            }
            (Some(value), None)
        }
        Step::Answer { note } | Step::Reject { note } => {
            check_note(note)?;
            (None, Some(note.clone()))
        }
        Step::Accept | Step::Withdraw | Step::Escalate => (None, None),
    };
    let row = tx::write(backend, keys, ctx, |tx| {
        // Read again under the write lock: each step is taken from where it stands.
        let mut row = tx.backend.dispute(dispute_id)?.ok_or_else(not_found)?;
        let clock = clock_of(&row, ctx.now.seconds)?;
        let whole = decided.as_ref().is_some_and(|a| a.sub(&claim).is_zero());
        let Some(to) = dispute::next(row.status, kind, &clock, whole) else {
            return Err(refusal(&row, kind, &clock));
        };
        let seq = tx.next_seq();
        row.amount = match kind {
            DisputeStep::Resolve | DisputeStep::Decide => decided.as_ref().map(|a| a.to_fixed_string(scale)),
            _ => row.amount,
        };
        row.status = to;
        row.steps.push(StepTaken {
            step: kind,
            actor: tx.actor().to_string(),
            party: party.clone(),
            at: tx.time().to_string(),
            seq,
            amount: decided.as_ref().map(|a| a.to_fixed_string(scale)),
            note: note.clone(),
        });
        if to == DisputeStatus::Resolved {
            row.resolved_seq = Some(seq);
        }
        row.seq = seq;
        tx.record(action_of(kind), object::dispute(dispute_id), payload(&row))?;
        tx.backend.update_dispute(&row)?;
        Ok(row)
    })?;
    DisputeView::of(row, ctx.now.seconds)
}

/// Why a step cannot be taken now, naming where the dispute stands.
fn refusal(row: &DisputeRow, step: DisputeStep, clock: &Clock) -> AppError {
    let now = clock.status(row.status);
    let from: Vec<&str> = step.from().iter().map(|s| s.as_str()).collect();
    let detail = match now {
        DisputeStatus::Expired => format!(
            " (its window ended at {})",
            revshare_core::period::rfc3339(clock.window_ends)
        ),
        DisputeStatus::Rejected if step == DisputeStep::Escalate => format!(
            " (a rejected dispute is escalated within 14 days of its rejection, until {})",
            clock
                .rejected_at
                .map(|at| revshare_core::period::rfc3339(at + dispute::ESCALATION_SECONDS))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    AppError::Conflict(format!(
        "dispute {} is {}{detail}: `{}` is taken from {}",
        row.dispute_id,
        now.as_str(),
        step.as_str(),
        from.join(", ")
    ))
}

/// The disputes of the contracts the actor reads, in the order they were opened.
pub fn list(backend: &mut dyn Backend, ctx: Ctx<'_>) -> Result<Vec<DisputeView>> {
    crate::access::require(ctx.actor, Permission::Disputes)?;
    let set = crate::snapshot::contract_set(&backend.contracts()?)?;
    let mut shown = Vec::new();
    for row in backend.disputes()? {
        if set
            .get(&row.contract)
            .is_some_and(|c| crate::access::reads_dispute(ctx.actor, c))
        {
            shown.push(DisputeView::of(row, ctx.now.seconds)?);
        }
    }
    Ok(shown)
}

/// One page of [`list`].
pub fn list_page(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<DisputeView>> {
    crate::page::page(list(backend, ctx)?, limit, cursor)
}

/// One dispute the actor reads.
pub fn show(backend: &mut dyn Backend, ctx: Ctx<'_>, dispute_id: &str) -> Result<DisputeView> {
    crate::access::require(ctx.actor, Permission::Disputes)?;
    let not_found = || crate::access::hidden(format!("no dispute {dispute_id} is stored"));
    if DisputeId::parse(dispute_id).is_none() {
        return Err(not_found());
    }
    let row = backend.dispute(dispute_id)?.ok_or_else(not_found)?;
    let contract = contract_named(backend, &row.contract)?;
    if !crate::access::reads_dispute(ctx.actor, &contract) {
        return Err(not_found());
    }
    DisputeView::of(row, ctx.now.seconds)
}

/// The steps the actor may take on a dispute it reads, now: its role and side
/// allow them (`access::require_dispute_step`) and the dispute's status and clock
/// lead somewhere (`dispute::next`). What the dashboard offers as forms; [`step`]
/// still decides each one taken.
pub fn steps_open_to(backend: &mut dyn Backend, ctx: Ctx<'_>, dispute_id: &str) -> Result<Vec<DisputeStep>> {
    let shown = show(backend, ctx, dispute_id)?;
    let row = backend
        .dispute(dispute_id)?
        .ok_or_else(|| AppError::NotFound(format!("no dispute {dispute_id} is stored")))?;
    let contract = contract_named(backend, &row.contract)?;
    let clock = clock_of(&row, ctx.now.seconds)?;
    Ok(DisputeStep::ALL
        .into_iter()
        .filter(|kind| *kind != DisputeStep::Open)
        .filter(|kind| require_dispute_step(ctx.actor, *kind, &contract, Some(&shown.opener)).is_ok())
        .filter(|kind| dispute::next(row.status, *kind, &clock, false).is_some())
        .collect())
}

/// Whether the actor may open a dispute of a statement of `contract` (its licensor
/// or host, not an auditor, a beneficiary or the operator itself).
pub fn may_open(backend: &mut dyn Backend, actor: &Actor, contract: &str) -> Result<bool> {
    let contract = contract_named(backend, contract)?;
    Ok(require_dispute_step(actor, DisputeStep::Open, &contract, None).is_ok())
}

/// The ids of the disputes on `contracts` (to filter audit entries).
pub(crate) fn ids_on(backend: &mut dyn Backend, contracts: &[String]) -> Result<Vec<String>> {
    Ok(backend
        .disputes()?
        .into_iter()
        .filter(|d| contracts.contains(&d.contract))
        .map(|d| d.dispute_id)
        .collect())
}

/// The resolved disputes of a contract with a non-zero amount that no statement
/// closed by the snapshot carries yet, as the `dispute` adjustments the next
/// statement closed for it carries, by `dispute_id` (statements.md, Disputes): a
/// line's split by that line model's rule in the disputed statement's version, a
/// whole statement's by its `*` rule.
pub(crate) fn carried(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    index: usize,
) -> Result<Vec<CarriedAdjustment>> {
    let versions = &snapshot.contracts.contracts[index];
    let mut resolved: Vec<&DisputeRow> = snapshot
        .disputes_of(&versions.id)
        .filter(|d| d.status == DisputeStatus::Resolved)
        .collect();
    if resolved.is_empty() {
        return Ok(Vec::new());
    }
    let mut already: HashSet<String> = HashSet::new();
    for row in snapshot.statements_of(&versions.id) {
        let statement = verified.get(backend, row)?.statement();
        already.extend(
            statement
                .adjustments
                .iter()
                .filter(|a| a.kind == AdjustmentKind::Dispute)
                .filter_map(|a| a.dispute_id.clone()),
        );
    }
    resolved.retain(|d| !already.contains(&d.dispute_id));
    resolved.sort_by(|a, b| a.dispute_id.cmp(&b.dispute_id));
    let mut out = Vec::new();
    for dispute in resolved {
        let corrupt = |what: &str| AppError::Integrity(format!("dispute {}: {what}", dispute.dispute_id));
        let disputed = snapshot
            .statements_of(&versions.id)
            .find(|s| s.statement_id == dispute.statement_id)
            .ok_or_else(|| corrupt("its statement is not stored"))?;
        let version = version_of(versions, verified.get(backend, disputed)?.statement())?;
        let scale = version.rounding.scale;
        let text = dispute
            .amount
            .as_deref()
            .ok_or_else(|| corrupt("resolved without an amount"))?;
        let value = Decimal::parse(text, scale).map_err(|_| corrupt("its amount does not parse"))?;
        if value.is_zero() {
            continue;
        }
        let payouts: BTreeMap<String, Decimal> = dispute::split(version, dispute.model.as_deref(), &value);
        out.push(CarriedAdjustment {
            adjustment: Adjustment {
                kind: AdjustmentKind::Dispute,
                period: None,
                dispute_id: Some(dispute.dispute_id.clone()),
                reasons: None,
                events: None,
                voided: None,
                amount: value.to_fixed_string(scale),
                payouts: Some(
                    payouts
                        .iter()
                        .map(|(b, p)| (b.clone(), p.to_fixed_string(scale)))
                        .collect(),
                ),
                rerated: None,
                settled_before: None,
            },
            payouts,
        });
    }
    Ok(out)
}

/// The seq of the latest step's entry and its action, for a close's check of the
/// rows it uses.
pub(crate) fn latest_action(row: &DisputeRow) -> Action {
    action_of(row.steps.last().map_or(DisputeStep::Open, |s| s.step))
}

/// Seq of a dispute's resolution, when resolved at or before `seq`.
pub(crate) fn resolved_by(row: &DisputeRow, seq: Seq) -> bool {
    row.status == DisputeStatus::Resolved && row.resolved_seq.is_some_and(|r| r <= seq)
}
