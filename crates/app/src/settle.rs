//! Prior-period adjustments (statements.md): when a contract closes a period, each
//! of its earlier closed periods on which something bearing changed since it was last
//! settled (late events, voids, FX rates dated in it or its look-back, decisions on
//! its contributions) is re-rated as of this close, and the difference from what was
//! settled for it so far is carried as an adjustment.

use std::collections::{BTreeMap, BTreeSet};

use revshare_core::audit::Seq;
use revshare_core::contract::Contract;
use revshare_core::merkle::{self, Hash};
use revshare_core::money::Decimal;
use revshare_core::period::Period;
use revshare_core::rating::{rate_statement, version_for, CarriedAdjustment, StatementKey, TreeSummary};
use revshare_core::statement::{
    Adjustment, AdjustmentKind, EventsSummary, Reason, Rerated as RerateShown, SettledBefore, Statement, StatementId,
};
use revshare_core::tables::FX_LOOK_BACK_DAYS;
use revshare_core::verify::TreeName;
use revshare_store::backend::StatementRow;
use serde::{Deserialize, Serialize};

use crate::checked::Trust;
use crate::closed::VerifiedStatements;
use crate::period_events::PeriodEvents;
use crate::snapshot::Snapshot;
use crate::{AppError, Backend, Result};

/// A prior period's re-rating recorded by the statement that did it: `P'` was
/// settled for changes stored at a seq in `(after, through]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    pub period: String,
    pub statement_id: StatementId,
    pub after: Seq,
    pub through: Seq,
}

/// The windows a statement, or a period closed after the term without one
/// (`statement_id`), records in its `settled` column.
fn settled_of(statement_id: &str, settled: &str) -> Result<Vec<Settled>> {
    serde_json::from_str(settled)
        .map_err(|e| AppError::Integrity(format!("{statement_id}: its settlement record does not parse: {e}")))
}

/// A statement's tree as closed: its name, its leaves in tree order, their root and
/// the tree's tiles (computed once, in one pass: the statement names the root and the
/// stored tree carries it and the tiles).
pub struct Tree {
    pub name: TreeName,
    pub leaves: Vec<Hash>,
    pub root: Hash,
    pub tiles: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(name: TreeName, leaves: Vec<Hash>) -> Tree {
        let (root, tiles) = merkle::root_and_tiles(&leaves);
        Tree {
            name,
            leaves,
            root,
            tiles,
        }
    }

    fn summary(&self) -> EventsSummary {
        EventsSummary {
            count: self.leaves.len() as u64,
            merkle_root: hex::encode(self.root),
        }
    }
}

/// What earlier periods a close settles.
#[derive(Default)]
pub struct Pending {
    pub carried: Vec<CarriedAdjustment>,
    pub trees: Vec<Tree>,
    pub settled: Vec<Settled>,
}

/// The contract's closed periods before `period` and what is pending for each, as of
/// the snapshot's seq.
pub(crate) fn pending(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    trust: &mut Trust,
    contract: usize,
    period: Period,
) -> Result<Pending> {
    let id = snapshot.contracts.contracts[contract].id.clone();
    let mut pending = Pending::default();
    let closed: Vec<&StatementRow> = snapshot
        .statements_of(&id)
        .filter(|s| s.end_day <= period.start().0)
        .collect();
    // Every earlier statement is checked, also those nothing is pending for: what
    // they record decides what this close settles.
    for row in &closed {
        verified.get(backend, row)?;
        trust.statement(backend, row)?;
    }
    for row in closed {
        let Some(earlier) = Period::parse(&row.period) else {
            return Err(AppError::Integrity(format!(
                "statement {}: bad period",
                row.statement_id
            )));
        };
        let key = StatementKey {
            contract: contract as u32,
            period: earlier,
        };
        let Some(version) = version_for(&snapshot.contracts, &key) else {
            continue; // An adjustment-only statement: no events of its own to re-rate.
        };
        let after = settled_through(snapshot, row)?;
        if !changed(backend, snapshot, version, earlier, after)? {
            continue;
        }
        let settled_so_far = settled_amounts(backend, snapshot, verified, row)?;
        let rerated = rerate(backend, snapshot, trust, key, version, after)?;
        if let Some((carried, trees)) = adjustment(version, earlier, &rerated, &settled_so_far) {
            pending.carried.push(carried);
            pending.trees.extend(trees);
        }
        pending.settled.push(Settled {
            period: row.period.clone(),
            statement_id: row.statement_id.clone(),
            after,
            through: snapshot.seq,
        });
    }
    Ok(pending)
}

/// The seq up to which a closed period is settled: its own close, or the latest
/// re-rating of it (by a statement, or by a close after the term that issued none).
fn settled_through(snapshot: &Snapshot, row: &StatementRow) -> Result<Seq> {
    let records = snapshot
        .statements_of(&row.contract)
        .map(|s| (&s.statement_id, &s.settled))
        .chain(
            snapshot
                .closed_after_term_of(&row.contract)
                .map(|c| (&c.statement_id, &c.settled)),
        );
    let mut through = row.close_seq;
    for (id, settled) in records {
        for window in settled_of(id, settled)? {
            if window.statement_id == row.statement_id {
                through = through.max(window.through);
            }
        }
    }
    Ok(through)
}

/// Whether anything bearing on `period` was stored in `(after, snapshot.seq]`.
fn changed(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    contract: &Contract,
    period: Period,
    after: Seq,
) -> Result<bool> {
    let through = snapshot.seq;
    let window = |seq: Seq| after < seq && seq <= through;
    let (start, end) = (period.start().0, period.end().0);
    let fx = snapshot
        .fx_rows
        .iter()
        .any(|r| window(r.seq) && r.to == contract.currency && (start - FX_LOOK_BACK_DAYS..end).contains(&r.date));
    let contributions = snapshot
        .contribution_rows
        .iter()
        .any(|c| c.contract == contract.id && c.decided_seq.is_some_and(window) && (start..end).contains(&c.date));
    Ok(fx
        || contributions
        || backend.has_voids(&contract.host, start, end, after, through)?
        || backend.has_events(&contract.host, start, end, after, through)?)
}

/// A closed period re-rated as of the snapshot, and which events that adds and
/// removes since `after`.
struct Rerated {
    statement: Statement,
    total: Decimal,
    payouts: BTreeMap<String, Decimal>,
    added: Vec<Hash>,
    removed: Vec<Hash>,
    reasons: Vec<Reason>,
}

fn rerate(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    trust: &mut Trust,
    key: StatementKey,
    version: &Contract,
    after: Seq,
) -> Result<Rerated> {
    let events = std::sync::Arc::new(PeriodEvents::read(backend, &version.host, key.period, snapshot.seq)?);
    trust.events(backend, &events, &version.host, key.period)?;
    let inputs = snapshot.inputs_for(key.period);
    let voids = snapshot.voids_in(backend, trust, &version.host, key.period.start().0, key.period.end().0)?;
    let voided = voids.voided();
    let voided_at = |i: u32| -> Option<Seq> { voided.get(&(events.source(i), events.id(i))).copied() };
    let counted = |i: u32| voided_at(i).is_none();
    let usage = events.accumulate(&inputs, key, counted);
    let selected = events.accumulate(&inputs, key, |_| true).events;
    let added: Vec<u32> = selected
        .iter()
        .copied()
        .filter(|i| counted(*i) && events.seq(*i) > after)
        .collect();
    let removed: Vec<u32> = selected
        .iter()
        .copied()
        .filter(|i| events.seq(*i) <= after && voided_at(*i).is_some_and(|v| v > after))
        .collect();
    let leaves = events.leaves(&usage.events);
    let tree = TreeSummary {
        count: leaves.len() as u64,
        root: merkle::root(&leaves),
    };
    let rated = rate_statement(version, key.period, &usage, &events.symbols, &inputs, tree, &[]);
    let mut reasons = Vec::new();
    if !added.is_empty() {
        reasons.push(Reason::LateEvents);
    }
    if !removed.is_empty() {
        reasons.push(Reason::Voids);
    }
    reasons.extend(table_reasons(snapshot, version, key.period, after));
    Ok(Rerated {
        statement: rated.statement,
        total: rated.total,
        payouts: rated.payouts,
        added: events.leaves(&added),
        removed: events.leaves(&removed),
        reasons,
    })
}

fn table_reasons(snapshot: &Snapshot, contract: &Contract, period: Period, after: Seq) -> Vec<Reason> {
    let window = |seq: Seq| after < seq && seq <= snapshot.seq;
    let (start, end) = (period.start().0, period.end().0);
    let mut reasons = Vec::new();
    if snapshot
        .fx_rows
        .iter()
        .any(|r| window(r.seq) && r.to == contract.currency && (start - FX_LOOK_BACK_DAYS..end).contains(&r.date))
    {
        reasons.push(Reason::FxRates);
    }
    if snapshot
        .contribution_rows
        .iter()
        .any(|c| c.contract == contract.id && c.decided_seq.is_some_and(window) && (start..end).contains(&c.date))
    {
        reasons.push(Reason::Contributions);
    }
    reasons
}

/// A total and its parts per beneficiary.
type Settlement = (Decimal, BTreeMap<String, Decimal>);

/// What was settled for a closed period so far: its own closed total (subtotal plus
/// its own minimum-guarantee and cap adjustments) and payouts (without what it
/// carried for other periods), plus every later prior-period adjustment for it.
fn settled_amounts(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    verified: &mut VerifiedStatements,
    own: &StatementRow,
) -> Result<Settlement> {
    let statement = verified.get(backend, own)?.statement().clone();
    let mut total = amount(&statement.total, own)?;
    let mut payouts: BTreeMap<String, Decimal> = BTreeMap::new();
    for (beneficiary, value) in &statement.payouts {
        payouts.insert(beneficiary.clone(), amount(value, own)?);
    }
    for adjustment in statement.adjustments.iter().filter(|a| a.kind.is_carried()) {
        add_adjustment(&mut total, &mut payouts, adjustment, own, Decimal::neg)?;
    }
    for later in snapshot.statements_of(&own.contract) {
        if later.statement_id == own.statement_id {
            continue;
        }
        let later_statement = verified.get(backend, later)?.statement().clone();
        for adjustment in later_statement
            .adjustments
            .iter()
            .filter(|a| a.kind == AdjustmentKind::PriorPeriod && a.period.as_deref() == Some(own.period.as_str()))
        {
            add_adjustment(&mut total, &mut payouts, adjustment, later, Decimal::clone)?;
        }
    }
    Ok((total, payouts))
}

fn add_adjustment(
    total: &mut Decimal,
    payouts: &mut BTreeMap<String, Decimal>,
    adjustment: &Adjustment,
    row: &StatementRow,
    sign: fn(&Decimal) -> Decimal,
) -> Result<()> {
    *total = total.add(&sign(&amount(&adjustment.amount, row)?));
    for (beneficiary, value) in adjustment.payouts.iter().flatten() {
        let entry = payouts.entry(beneficiary.clone()).or_default();
        *entry = entry.add(&sign(&amount(value, row)?));
    }
    Ok(())
}

fn amount(text: &str, row: &StatementRow) -> Result<Decimal> {
    Decimal::parse(text, 40).map_err(|e| {
        AppError::Integrity(format!(
            "statement {}: amount {text} does not parse: {e}",
            row.statement_id
        ))
    })
}

/// The adjustment for one re-rated period, unless it changes nothing and settles no
/// event.
fn adjustment(
    version: &Contract,
    period: Period,
    rerated: &Rerated,
    (old_total, old_payouts): &Settlement,
) -> Option<(CarriedAdjustment, Vec<Tree>)> {
    let scale = version.rounding.scale;
    let difference = rerated.total.sub(old_total);
    let beneficiaries: BTreeSet<&String> = rerated.payouts.keys().chain(old_payouts.keys()).collect();
    let payouts: BTreeMap<String, Decimal> = beneficiaries
        .into_iter()
        .map(|b| {
            let new = rerated.payouts.get(b).cloned().unwrap_or_default();
            let old = old_payouts.get(b).cloned().unwrap_or_default();
            (b.clone(), new.sub(&old))
        })
        .collect();
    let settles_events = !rerated.added.is_empty() || !rerated.removed.is_empty();
    if !settles_events && difference.is_zero() && payouts.values().all(Decimal::is_zero) {
        return None;
    }
    debug_assert_eq!(rerated.statement.period, period.to_string());
    let name = period.to_string();
    let added = Tree::new(TreeName::PriorPeriod(name.clone()), rerated.added.clone());
    let removed =
        (!rerated.removed.is_empty()).then(|| Tree::new(TreeName::Voided(name.clone()), rerated.removed.clone()));
    let adjustment = Adjustment {
        kind: AdjustmentKind::PriorPeriod,
        period: Some(name),
        dispute_id: None,
        reasons: Some(rerated.reasons.clone()),
        events: Some(added.summary()),
        voided: removed.as_ref().map(Tree::summary),
        amount: difference.to_fixed_string(scale),
        payouts: Some(fixed(&payouts, scale)),
        rerated: Some(explained(rerated, &payouts, scale)),
        settled_before: Some(SettledBefore {
            total: old_total.to_fixed_string(scale),
            payouts: fixed(&with_zeros(old_payouts, &payouts), scale),
        }),
    };
    let trees = std::iter::once(added).chain(removed).collect();
    Some((CarriedAdjustment { adjustment, payouts }, trees))
}

/// The re-rated side of an adjustment: the new rating's own figures, its payouts
/// listing every beneficiary the adjustment pays (zeros included), so that each of
/// the adjustment's payouts is the difference of the two sides' entries.
fn explained(rerated: &Rerated, payouts: &BTreeMap<String, Decimal>, scale: u32) -> RerateShown {
    let statement = &rerated.statement;
    let own = |kind: AdjustmentKind| {
        statement
            .adjustments
            .iter()
            .find(|a| a.kind == kind)
            .map_or_else(|| Decimal::zero().to_fixed_string(scale), |a| a.amount.clone())
    };
    RerateShown {
        subtotal: statement.subtotal.clone(),
        minimum_guarantee_topup: own(AdjustmentKind::MinimumGuaranteeTopup),
        cap_reduction: own(AdjustmentKind::CapReduction),
        total: rerated.total.to_fixed_string(scale),
        payouts: fixed(&with_zeros(&rerated.payouts, payouts), scale),
    }
}

/// `amounts`, with a zero for each of `all`'s beneficiaries it lacks.
fn with_zeros(amounts: &BTreeMap<String, Decimal>, all: &BTreeMap<String, Decimal>) -> BTreeMap<String, Decimal> {
    let mut out = amounts.clone();
    for beneficiary in all.keys() {
        out.entry(beneficiary.clone()).or_default();
    }
    out
}

fn fixed(amounts: &BTreeMap<String, Decimal>, scale: u32) -> BTreeMap<String, String> {
    amounts
        .iter()
        .map(|(k, v)| (k.clone(), v.to_fixed_string(scale)))
        .collect()
}
