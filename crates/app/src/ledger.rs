//! The ledger (statements.md, Ledger): the legs each close and payment step posts,
//! written in that step's transaction, and what they add up to. Balances are sums of
//! stored legs, never a stored counter; `audit verify` (check 4) derives every leg
//! again from the statements and payments and compares.

use std::collections::HashMap;

use revshare_core::audit::Seq;
use revshare_core::contract::{ContractSet, ContractVersions};
use revshare_core::ledger::{self as rules, Ageing, Dated, Direction, Leg, Posting, Side};
use revshare_core::money::Decimal;
use revshare_core::period::{date_of_rfc3339, Day};
use revshare_core::records::{PaymentRow, PaymentStatus};
use revshare_core::statement::Statement;
use revshare_store::backend::{LegRow, StatementRow};
use serde::Serialize;

use crate::{AppError, Backend, Result};

/// The contract facts a posting needs: its host, currency and scale.
pub(crate) struct Terms {
    pub host: String,
    pub currency: String,
    pub scale: u32,
}

impl Terms {
    pub fn of(contracts: &ContractSet, contract: &str) -> Result<Terms> {
        let versions = contracts
            .get(contract)
            .ok_or_else(|| AppError::NotFound(format!("no contract `{contract}` is stored")))?;
        let first = &versions.versions[0];
        // Versions of one id keep host, currency and scale (contract validation).
        Ok(Terms {
            host: first.host.clone(),
            currency: first.currency.clone(),
            scale: first.rounding.scale,
        })
    }
}

/// A leg as the store keeps it.
fn row(leg: Leg, contract: &str, terms: &Terms, seq: Seq) -> LegRow {
    LegRow {
        txn: leg.posting.to_string(),
        contract: contract.to_string(),
        currency: terms.currency.clone(),
        host: leg.host,
        beneficiary: leg.beneficiary,
        side: leg.side.as_str().to_string(),
        amount: leg.amount.to_fixed_string(terms.scale),
        day: leg.day.0,
        due: leg.due.map(|d| d.0),
        seq,
    }
}

fn integrity(what: &str, message: impl std::fmt::Display) -> AppError {
    AppError::Integrity(format!("{what}: {message}"))
}

/// The legs a closed statement posts (its payouts), stored with its entry's seq.
pub(crate) fn statement_legs(statement: &Statement, terms: &Terms, seq: Seq) -> Result<Vec<LegRow>> {
    let id = statement
        .statement_id
        .clone()
        .ok_or_else(|| integrity("a closed statement", "it has no statement_id"))?;
    let what = format!("statement:{id}");
    let closed = statement
        .closed_at
        .as_deref()
        .and_then(date_of_rfc3339)
        .ok_or_else(|| integrity(&what, "no closed_at"))?;
    let due = statement
        .due_date
        .as_deref()
        .and_then(Day::parse)
        .ok_or_else(|| integrity(&what, "no due_date"))?;
    let payouts = statement
        .payouts
        .iter()
        .map(|(b, p)| Ok((b.as_str(), amount(&what, p, terms.scale)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(
        rules::statement_legs(&id, &statement.host, payouts.iter().map(|(b, p)| (*b, p)), closed, due)
            .into_iter()
            .map(|leg| row(leg, &statement.contract, terms, seq))
            .collect(),
    )
}

/// The legs a stored statement's close posted, read from its stored bytes (what an
/// upgrade posts for statements closed before the ledger, and what check 4 derives).
pub(crate) fn stored_statement_legs(row: &StatementRow, contracts: &ContractSet) -> Result<Vec<LegRow>> {
    let statement = serde_json::from_str::<Statement>(&row.json)
        .map_err(|e| integrity(&format!("statement {}", row.statement_id), e))?;
    statement_legs(&statement, &Terms::of(contracts, &row.contract)?, row.seq)
}

/// An exact amount at the contract's scale.
fn amount(what: &str, text: &str, scale: u32) -> Result<Decimal> {
    Decimal::parse(text, scale).map_err(|e| integrity(what, format!("amount `{text}`: {e}")))
}

/// The beneficiary's side of a payment (the side that is not the host).
pub(crate) fn beneficiary_of<'p>(payment: &'p PaymentRow, host: &str) -> &'p str {
    direction(payment, host).1
}

/// Which way a payment goes, and its beneficiary.
fn direction<'p>(payment: &'p PaymentRow, host: &str) -> (Direction, &'p str) {
    match payment.payer == host {
        true => (Direction::ToBeneficiary, &payment.payee),
        false => (Direction::ToHost, &payment.payer),
    }
}

/// The legs a payment's confirmation posts, dated the payment's day.
pub(crate) fn payment_legs(payment: &PaymentRow, terms: &Terms, seq: Seq) -> Result<Vec<LegRow>> {
    let what = format!("payment:{}", payment.payment_id);
    let (direction, beneficiary) = direction(payment, &terms.host);
    let amount = amount(&what, &payment.amount, terms.scale)?;
    Ok(rules::payment_legs(
        &payment.payment_id,
        &terms.host,
        beneficiary,
        direction,
        &amount,
        Day(payment.date),
    )
    .into_iter()
    .map(|leg| row(leg, &payment.contract, terms, seq))
    .collect())
}

/// The legs a payment's reversal posts, dated the reversal's day.
pub(crate) fn reversal_legs(payment: &PaymentRow, terms: &Terms, seq: Seq) -> Result<Vec<LegRow>> {
    let what = format!("payment:{}", payment.payment_id);
    let (direction, beneficiary) = direction(payment, &terms.host);
    let amount = amount(&what, &payment.amount, terms.scale)?;
    let day = payment
        .reversed_at
        .as_deref()
        .and_then(date_of_rfc3339)
        .ok_or_else(|| integrity(&what, "a reversed payment without reversed_at"))?;
    Ok(
        rules::reversal_legs(&payment.payment_id, &terms.host, beneficiary, direction, &amount, day)
            .into_iter()
            .map(|leg| row(leg, &payment.contract, terms, seq))
            .collect(),
    )
}

/// The `meta` key a store's upgrade to the ledger's schema sets to [`TO_POST`]: the
/// statements it already holds were closed before closes posted legs.
const LEDGER_META: &str = "ledger";
const TO_POST: &str = "to post";

/// Posts the legs of the statements a store upgraded from before the ledger already
/// holds, exactly as their closes would have (dated their close, with their entries'
/// seqs), once: what `audit verify` check 4 derives for them. A new store has none.
/// A statement whose stored bytes do not parse is left to checks 2 and 4 to name.
pub(crate) fn post_earlier_statements(backend: &mut dyn Backend) -> Result<()> {
    if backend.meta(LEDGER_META)?.as_deref() != Some(TO_POST) {
        return Ok(());
    }
    backend.begin_write()?;
    let posted = (|| -> Result<()> {
        // Another process may have posted them since.
        if backend.meta(LEDGER_META)?.as_deref() != Some(TO_POST) {
            return Ok(());
        }
        let contracts = crate::snapshot::contract_set(&backend.contracts()?)?;
        let done: std::collections::HashSet<String> = backend.legs()?.into_iter().map(|l| l.txn).collect();
        for row in backend.statements()? {
            if done.contains(&Posting::Statement(row.statement_id.clone()).to_string()) {
                continue;
            }
            if let Ok(legs) = stored_statement_legs(&row, &contracts) {
                backend.add_legs(&legs)?;
            }
        }
        backend.set_meta(LEDGER_META, "posted")?;
        Ok(())
    })();
    match posted {
        Ok(()) => Ok(backend.commit()?),
        Err(error) => {
            let _ = backend.rollback();
            Err(error)
        }
    }
}

/// Whether a payment's status means its confirmation posted.
pub(crate) fn posted(status: PaymentStatus) -> bool {
    matches!(status, PaymentStatus::Confirmed | PaymentStatus::Reversed)
}

/// A stored leg read back into the core's value (an amount that does not parse is
/// an integrity failure, named).
pub(crate) fn leg(row: &LegRow) -> Result<Leg> {
    // Named only on failure: balances read every leg.
    let what = || format!("ledger leg {} {}", row.txn, row.beneficiary);
    let posting = Posting::parse(&row.txn).ok_or_else(|| integrity(&what(), "names no transaction"))?;
    let side = Side::parse(&row.side).ok_or_else(|| integrity(&what(), format!("unknown side `{}`", row.side)))?;
    Ok(Leg {
        posting,
        host: row.host.clone(),
        beneficiary: row.beneficiary.clone(),
        side,
        amount: Decimal::parse(&row.amount, revshare_core::contract::ROUNDING_SCALE_MAX)
            .map_err(|e| integrity(&what(), format!("amount `{}`: {e}", row.amount)))?,
        day: Day(row.day),
        due: row.due.map(Day),
    })
}

/// One account between a host and a beneficiary, per contract and currency: what
/// the host owes (outstanding: positive, the host owes the beneficiary), aged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    pub host: String,
    pub beneficiary: String,
    pub contract: String,
    pub currency: String,
    /// `YYYY-MM-DD`: the legs dated on or before it count.
    pub as_of: String,
    /// The sum of the legs on `receivable:<beneficiary>/<host>`.
    pub outstanding: String,
    /// Unpaid statements by days past their due date as of `as_of`.
    pub current: String,
    #[serde(rename = "1-30")]
    pub days_1_30: String,
    #[serde(rename = "31-60")]
    pub days_31_60: String,
    #[serde(rename = "61-90")]
    pub days_61_90: String,
    #[serde(rename = "91+")]
    pub days_91_plus: String,
    /// Credits beyond every statement (zero or negative: the host is owed).
    pub unapplied: String,
}

/// What to list: the legs of one party (as host or beneficiary), contract or
/// currency, dated on or before `as_of`.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub party: Option<String>,
    pub contract: Option<String>,
    pub currency: Option<String>,
    pub as_of: Option<Day>,
}

impl Filter {
    fn keeps(&self, row: &LegRow) -> bool {
        self.keeps_account(&row.host, &row.beneficiary, &row.contract, &row.currency)
            && self.as_of.is_none_or(|d| row.day <= d.0)
    }

    /// Whether the filter keeps an account's legs (`as_of` aside).
    fn keeps_account(&self, host: &str, beneficiary: &str, contract: &str, currency: &str) -> bool {
        self.party.as_ref().is_none_or(|p| *p == host || *p == beneficiary)
            && self.contract.as_ref().is_none_or(|c| *c == contract)
            && self.currency.as_ref().is_none_or(|c| *c == currency)
    }
}

/// Of `legs`, those the actor sees that the filter keeps.
fn visible(contracts: &ContractSet, actor: &crate::Actor, filter: &Filter, mut legs: Vec<LegRow>) -> Vec<LegRow> {
    let by_id: HashMap<&str, &ContractVersions> = contracts.contracts.iter().map(|c| (c.id.as_str(), c)).collect();
    legs.retain(|row| {
        filter.keeps(row)
            && by_id
                .get(row.contract.as_str())
                .is_some_and(|c| crate::access::sees_account(actor, c, &row.host, &row.beneficiary))
    });
    legs
}

/// One account's legs as ageing reads them, gathered while the store's rows stream
/// by in account order.
struct Account {
    key: [String; 4],
    legs: Vec<Dated>,
}

/// Balances and ageing per (host, beneficiary, contract, currency) as of a day
/// (`as_of` in `filter`, else the UTC day of `ctx.now`), in that order.
pub fn balances(backend: &mut dyn Backend, ctx: crate::Ctx<'_>, filter: &Filter) -> Result<Vec<Balance>> {
    let actor = ctx.actor;
    let as_of = match filter.as_of {
        Some(day) => day,
        None => date_of_rfc3339(&ctx.time()).ok_or_else(|| AppError::Invalid(format!("no day in {}", ctx.time())))?,
    };
    let contracts = crate::snapshot::contract_set(&backend.contracts()?)?;
    let by_id: HashMap<&str, &ContractVersions> = contracts.contracts.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut accounts: Vec<Account> = Vec::new();
    // Whether the account of the legs streaming by is seen, decided once an account.
    let mut last: Option<([String; 4], bool)> = None;
    backend.scan_receivable(&mut |leg| {
        let key = [leg.host, leg.beneficiary, leg.contract, leg.currency];
        let seen = match &last {
            Some((last_key, seen)) if *last_key == key => *seen,
            _ => {
                let seen = filter.keeps_account(leg.host, leg.beneficiary, leg.contract, leg.currency)
                    && by_id
                        .get(leg.contract)
                        .is_some_and(|c| crate::access::sees_account(actor, c, leg.host, leg.beneficiary));
                last = Some((key.map(str::to_string), seen));
                seen
            }
        };
        if !seen || leg.day > as_of.0 {
            return Ok(());
        }
        let amount = Decimal::parse(leg.amount, revshare_core::contract::ROUNDING_SCALE_MAX).map_err(|e| {
            let what = format!("a ledger leg of {} to {}", leg.host, leg.beneficiary);
            revshare_store::StoreError::corrupt(what, format!("amount `{}`: {e}", leg.amount))
        })?;
        let dated = Dated {
            amount,
            day: Day(leg.day),
            due: leg.due.map(Day),
        };
        match accounts.last_mut() {
            Some(account) if account.key == key => account.legs.push(dated),
            _ => accounts.push(Account {
                key: key.map(str::to_string),
                legs: vec![dated],
            }),
        }
        Ok(())
    })?;
    accounts
        .into_iter()
        .map(|account| balance(&contracts, account, as_of))
        .collect()
}

/// One account's balance, aged as of a day, at its contract's scale.
fn balance(contracts: &ContractSet, account: Account, as_of: Day) -> Result<Balance> {
    let [host, beneficiary, contract, currency] = account.key;
    let scale = Terms::of(contracts, &contract)?.scale;
    let outstanding = account.legs.iter().fold(Decimal::zero(), |sum, l| sum.add(&l.amount));
    let Ageing { buckets, unapplied } = rules::age_dated(account.legs, as_of);
    let fixed = |d: &Decimal| d.to_fixed_string(scale);
    Ok(Balance {
        host,
        beneficiary,
        contract,
        currency,
        as_of: as_of.to_string(),
        outstanding: fixed(&outstanding),
        current: fixed(&buckets[0]),
        days_1_30: fixed(&buckets[1]),
        days_31_60: fixed(&buckets[2]),
        days_61_90: fixed(&buckets[3]),
        days_91_plus: fixed(&buckets[4]),
        unapplied: fixed(&unapplied),
    })
}

/// One leg as the edges show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    /// `statement:<id>`, `payment:<id>` or `reversal:<id>`.
    pub txn: String,
    /// `receivable:<beneficiary>/<host>` or `payable:<host>/<beneficiary>`.
    pub account: String,
    pub contract: String,
    pub currency: String,
    pub amount: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// A statement's due date.
    pub due_date: Option<String>,
    /// The audit seq of the step that posted it.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub seq: Seq,
}

/// The legs the actor sees, in the order posted.
pub fn entries(backend: &mut dyn Backend, actor: &crate::Actor, filter: &Filter) -> Result<Vec<Entry>> {
    let contracts = crate::snapshot::contract_set(&backend.contracts()?)?;
    visible(&contracts, actor, filter, backend.legs()?)
        .into_iter()
        .map(|row| {
            let side = leg(&row)?.side;
            Ok(Entry {
                account: side.account(&row.host, &row.beneficiary),
                txn: row.txn,
                contract: row.contract,
                currency: row.currency,
                amount: row.amount,
                date: Day(row.day).to_string(),
                due_date: row.due.map(|d| Day(d).to_string()),
                seq: row.seq,
            })
        })
        .collect()
}

/// One page of [`balances`].
pub fn balances_page(
    backend: &mut dyn Backend,
    ctx: crate::Ctx<'_>,
    filter: &Filter,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<Balance>> {
    crate::page::page(balances(backend, ctx, filter)?, limit, cursor)
}

/// One page of [`entries`].
pub fn entries_page(
    backend: &mut dyn Backend,
    actor: &crate::Actor,
    filter: &Filter,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<Entry>> {
    crate::page::page(entries(backend, actor, filter)?, limit, cursor)
}
