//! Payments (statements.md, Ledger): recorded by the payer, confirmed once by the
//! payee (or the operator), withdrawn by the payer while unconfirmed, reversed by
//! the operator with a reason. A payment posts nothing until it is confirmed; its
//! confirmation and its reversal post their legs in the step's own transaction.

use revshare_core::audit::Action;
use revshare_core::contract::ContractVersions;
use revshare_core::money::Decimal;
use revshare_core::period::Day;
use revshare_core::records::{PaymentRow, PaymentStatus};

use crate::access::{require_payment_side, require_reversal, PaymentSide};
use crate::keys::Keys;
use crate::ledger::{self, Terms};
use crate::limits::REFERENCE_CHARS_MAX;
use crate::rows::{object, payload};
use crate::tx;
use crate::Field;
use crate::{Actor, AppError, Backend, Ctx, Result};

/// A payment as its payer records it. The payer is the actor's party (a token's,
/// or the one of `--as`); the operator names it.
#[derive(Clone, Debug)]
pub struct NewPayment {
    pub contract: String,
    /// Only the operator (acting for no party) names the payer.
    pub payer: Option<String>,
    pub payee: String,
    /// Positive, at most the contract's scale in fraction digits.
    pub amount: String,
    pub date: Day,
    pub reference: String,
}

/// A step on a recorded payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// By the payee (or the operator), once.
    Confirm,
    /// By the payer (or the operator), while unconfirmed.
    Withdraw,
    /// By the operator, of a confirmed payment, with a reason.
    Reverse { reason: String },
}

/// A payment step, by name: what a form offers ([`steps_open_to`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepName {
    Confirm,
    Withdraw,
    Reverse,
}

impl StepName {
    const ALL: [StepName; 3] = [StepName::Confirm, StepName::Withdraw, StepName::Reverse];

    /// The step [`StepName::as_str`] names.
    pub fn parse(text: &str) -> Option<StepName> {
        StepName::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepName::Confirm => "confirm",
            StepName::Withdraw => "withdraw",
            StepName::Reverse => "reverse",
        }
    }
}

/// The steps `actor` may take now on a payment it sees (one of [`list`]): what
/// the dashboard offers as forms, by the same access decisions and the status
/// [`step`] requires; [`step`] still decides each step taken.
pub fn steps_open_to(actor: &Actor, payment: &PaymentRow) -> Vec<StepName> {
    let may = |side| require_payment_side(actor, side, &payment.payer, &payment.payee).is_ok();
    match payment.status {
        PaymentStatus::Recorded => [
            (StepName::Confirm, PaymentSide::Payee),
            (StepName::Withdraw, PaymentSide::Payer),
        ]
        .into_iter()
        .filter(|(_, side)| may(*side))
        .map(|(name, _)| name)
        .collect(),
        PaymentStatus::Confirmed if require_reversal(actor).is_ok() => vec![StepName::Reverse],
        _ => Vec::new(),
    }
}

/// A new payment id: `P-` and 12 random lowercase hex digits.
fn new_id() -> Result<String> {
    Ok(format!("P-{}", hex::encode(crate::tokens::random_bytes::<6>()?)))
}

/// The stored contracts, as versions, and the one named (not found, as if absent,
/// when the actor does not own it).
fn contract_of(backend: &mut dyn Backend, actor: &Actor, contract: &str) -> Result<ContractVersions> {
    let set = crate::snapshot::contract_set(&backend.contracts()?)?;
    set.contracts
        .into_iter()
        .find(|c| c.id == contract && crate::access::owns_contract(actor, c))
        .ok_or_else(|| crate::access::hidden(format!("no contract `{contract}` is stored")))
}

/// Whether `party` receives a share of a contract: its licensor (who receives all
/// without splits) or a beneficiary named in any version's splits.
fn is_beneficiary(contract: &ContractVersions, party: &str) -> bool {
    contract.licensor() == party || contract.names_beneficiary(party)
}

/// Records a payment; it posts nothing until confirmed.
pub fn record(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, new: &NewPayment) -> Result<PaymentRow> {
    crate::access::require(ctx.actor, crate::access::Permission::PaymentSteps)?;
    let contract = contract_of(backend, ctx.actor, &new.contract)?;
    let payer = match (ctx.actor.side(), &new.payer) {
        (Some(side), Some(named)) if side != named => {
            return Err(AppError::Forbidden(format!(
                "{side} records its own payments, not {named}'s"
            )))
        }
        (Some(side), _) => side.to_string(),
        (None, Some(named)) => named.clone(),
        (None, None) => {
            return Err(AppError::InvalidField(
                Field::Payer,
                "the operator names the payer of a payment".to_string(),
            ))
        }
    };
    let host = contract.host();
    let other = if payer == host { &new.payee } else { &payer };
    if (payer != host && new.payee != host) || payer == new.payee || !is_beneficiary(&contract, other) {
        return Err(AppError::InvalidField(
            Field::Payee,
            format!(
                "a payment on {} is between its host {host} and one of its beneficiaries; {other} is not one",
                contract.id
            ),
        ));
    }
    let scale = contract.versions[0].rounding.scale;
    let amount = Decimal::parse(&new.amount, scale)
        .map_err(|e| AppError::InvalidField(Field::Amount, format!("`{}`: {e}", new.amount)))?;
    if amount.is_zero() || amount.is_negative() {
        return Err(AppError::InvalidField(
            Field::Amount,
            format!("`{}` must be more than 0", new.amount),
        ));
    }
    if new.reference.chars().count() > REFERENCE_CHARS_MAX {
        return Err(AppError::InvalidField(
            Field::Reference,
            format!("at most {REFERENCE_CHARS_MAX} characters"),
        ));
    }
    let payment_id = new_id()?;
    tx::write(backend, keys, ctx, |tx| {
        let seq = tx.next_seq();
        let row = PaymentRow {
            payment_id: payment_id.clone(),
            contract: contract.id.clone(),
            currency: contract.versions[0].currency.clone(),
            payer: payer.clone(),
            payee: new.payee.clone(),
            amount: amount.to_fixed_string(scale),
            date: new.date.0,
            reference: new.reference.clone(),
            status: PaymentStatus::Recorded,
            recorded_by: tx.actor().to_string(),
            recorded_at: tx.time().to_string(),
            recorded_seq: seq,
            confirmed_by: None,
            confirmed_at: None,
            withdrawn_by: None,
            withdrawn_at: None,
            reversed_by: None,
            reversed_at: None,
            reversal_reason: None,
            seq,
        };
        if tx.backend.payment(&row.payment_id)?.is_some() {
            return Err(AppError::Conflict(format!(
                "payment id {} is taken; record it again",
                row.payment_id
            )));
        }
        tx.backend.add_payment(&row)?;
        tx.record(Action::PaymentRecorded, object::payment(&row.payment_id), payload(&row))?;
        Ok(row)
    })
}

/// Takes a step on a payment: confirms, withdraws or reverses it.
pub fn step(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, payment_id: &str, step: &Step) -> Result<PaymentRow> {
    // A role that takes no such step is refused before any lookup, so that the
    // answer says nothing about which payments exist.
    match step {
        Step::Confirm | Step::Withdraw => crate::access::require(ctx.actor, crate::access::Permission::PaymentSteps)?,
        Step::Reverse { .. } => require_reversal(ctx.actor)?,
    }
    let not_found = || crate::access::hidden(format!("no payment {payment_id} is stored"));
    let found = backend.payment(payment_id)?.ok_or_else(not_found)?;
    let contract = contract_of(backend, ctx.actor, &found.contract).map_err(|e| match e {
        AppError::NotFound(_) => not_found(),
        other => other,
    })?;
    if !crate::access::sees_account(
        ctx.actor,
        &contract,
        contract.host(),
        ledger::beneficiary_of(&found, contract.host()),
    ) {
        return Err(not_found());
    }
    match step {
        Step::Confirm => require_payment_side(ctx.actor, PaymentSide::Payee, &found.payer, &found.payee)?,
        Step::Withdraw => require_payment_side(ctx.actor, PaymentSide::Payer, &found.payer, &found.payee)?,
        Step::Reverse { reason } => {
            require_reversal(ctx.actor)?;
            check_reason(reason)?;
        }
    }
    tx::write(backend, keys, ctx, |tx| {
        // Read again under the write lock: a step is taken once.
        let mut row = tx.backend.payment(payment_id)?.ok_or_else(not_found)?;
        let terms = Terms::of(&crate::snapshot::contract_set(&tx.backend.contracts()?)?, &row.contract)?;
        let needed = match step {
            Step::Confirm | Step::Withdraw => PaymentStatus::Recorded,
            Step::Reverse { .. } => PaymentStatus::Confirmed,
        };
        if row.status != needed {
            return Err(AppError::Conflict(format!(
                "payment {payment_id} is {}: it can be {} only while {}",
                row.status.as_str(),
                step_done(step),
                needed.as_str()
            )));
        }
        let seq = tx.next_seq();
        let (actor, time) = (Some(tx.actor().to_string()), Some(tx.time().to_string()));
        let (action, legs) = match step {
            Step::Confirm => {
                row.status = PaymentStatus::Confirmed;
                (row.confirmed_by, row.confirmed_at) = (actor, time);
                (Action::PaymentConfirmed, ledger::payment_legs(&row, &terms, seq)?)
            }
            Step::Withdraw => {
                row.status = PaymentStatus::Withdrawn;
                (row.withdrawn_by, row.withdrawn_at) = (actor, time);
                (Action::PaymentWithdrawn, Vec::new())
            }
            Step::Reverse { reason } => {
                row.status = PaymentStatus::Reversed;
                (row.reversed_by, row.reversed_at) = (actor, time);
                row.reversal_reason = Some(reason.clone());
                (Action::PaymentReversed, ledger::reversal_legs(&row, &terms, seq)?)
            }
        };
        row.seq = seq;
        tx.record(action, object::payment(payment_id), payload(&row))?;
        tx.backend.update_payment(&row)?;
        tx.backend.add_legs(&legs)?;
        Ok(row)
    })
}

fn step_done(step: &Step) -> &'static str {
    match step {
        Step::Confirm => "confirmed",
        Step::Withdraw => "withdrawn",
        Step::Reverse { .. } => "reversed",
    }
}

/// A reversal's reason: not blank, within the limit every reason has.
fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(AppError::InvalidField(
            Field::Reason,
            "a reversal needs a reason".to_string(),
        ));
    }
    crate::limits::check_reason(reason)
}

/// The payments the actor sees, in the order recorded.
pub fn list(backend: &mut dyn Backend, actor: &Actor) -> Result<Vec<PaymentRow>> {
    let set = crate::snapshot::contract_set(&backend.contracts()?)?;
    Ok(backend
        .payments()?
        .into_iter()
        .filter(|p| {
            set.get(&p.contract)
                .is_some_and(|c| crate::access::sees_account(actor, c, c.host(), ledger::beneficiary_of(p, c.host())))
        })
        .collect())
}

/// One page of [`list`].
pub fn list_page(
    backend: &mut dyn Backend,
    actor: &Actor,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<PaymentRow>> {
    crate::page::page(list(backend, actor)?, limit, cursor)
}
