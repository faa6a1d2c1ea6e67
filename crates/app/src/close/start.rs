//! Where a contract's settlement starts (statements.md): its first close is refused
//! when it would leave an earlier period of its term unsettled for good, because
//! stored events the contract selects are dated in it or because the contract owes a
//! minimum guarantee there, unless the close confirms that settlement starts at the
//! period it closes (`settlement_start`: a contract taken over mid-term).

use std::collections::HashMap;

use revshare_core::audit::Seq;
use revshare_core::period::{Day, Period};
use revshare_core::rating::selects;
use revshare_store::backend::EventView;

use super::term::{term_of, Term};
use super::CloseRequest;
use crate::checked::Trust;
use crate::snapshot::Snapshot;
use crate::{AppError, Backend, Result};

/// A close refused because, as the first close of some contracts, it would leave
/// earlier periods of their terms unsettled for good (statements.md). Each edge
/// words how to confirm the settlement start ([`Unsettled::message`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsettled {
    /// The period the close was asked to close.
    pub period: Period,
    /// Each contract this close would close for the first time with an earlier
    /// period left unsettled, in the order contracts are stored.
    pub contracts: Vec<UnsettledContract>,
}

/// One contract whose first close would leave earlier periods of its term unsettled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsettledContract {
    pub contract: String,
    /// The earliest period of its term left unsettled.
    pub earliest: Period,
    /// Its stored events (those it selects, voided ones left out) dated in its term
    /// before the period closed.
    pub events: u64,
    /// The earliest period holding one of those events.
    pub events_from: Option<Period>,
    /// The earliest period of its term before the one closed with a minimum
    /// guarantee owed.
    pub minimum_guarantee_from: Option<Period>,
}

impl UnsettledContract {
    /// Why its earlier periods would stay unsettled, in words.
    fn reasons(&self, period: Period) -> String {
        let mut reasons = Vec::new();
        if let Some(from) = self.minimum_guarantee_from {
            reasons.push(format!("its minimum guarantee is owed from {from}"));
        }
        if let Some(from) = self.events_from {
            let events = match self.events {
                1 => "1 of its events is".to_string(),
                n => format!("{n} of its events are"),
            };
            reasons.push(format!("{events} dated before {period}, from {from} on"));
        }
        reasons.join("; ")
    }
}

impl Unsettled {
    /// The refusal, with `confirm` saying how to confirm the settlement start on
    /// this edge (`--settlement-start`, `?settlement_start=true`).
    pub fn message(&self, confirm: &str) -> String {
        let period = self.period;
        match self.contracts.as_slice() {
            [one] => format!(
                "cannot close {}/{period}: as the first close of {} it would leave {} unsettled for good ({}). \
                 Close {} first, or, if settlement starts at {period} (a contract taken over mid-term, its earlier \
                 periods settled elsewhere), confirm it with {confirm}",
                one.contract,
                one.contract,
                one.earliest,
                one.reasons(period),
                one.earliest,
            ),
            many => {
                let each: Vec<String> = many
                    .iter()
                    .map(|c| format!("{} from {} ({})", c.contract, c.earliest, c.reasons(period)))
                    .collect();
                format!(
                    "cannot close {period}: as the first close of {} contracts it would leave earlier periods of \
                     their terms unsettled for good: {}. Close those periods first, or, if settlement starts at \
                     {period} for all of them (contracts taken over mid-term, their earlier periods settled \
                     elsewhere), confirm it with {confirm}",
                    many.len(),
                    each.join("; "),
                )
            }
        }
    }
}

impl std::fmt::Display for Unsettled {
    /// Named as the API names the confirmation (as [`crate::Field`]s are).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message("settlement_start=true"))
    }
}

/// Refuses a close that, as the first close of some contract it closes, would leave
/// an earlier period of that contract's term unsettled, unless the request confirms
/// that settlement starts at its period.
pub(crate) fn check(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    trust: &mut Trust,
    request: &CloseRequest,
) -> Result<()> {
    if request.settlement_start {
        return Ok(());
    }
    let mut contracts = Vec::new();
    for index in 0..snapshot.contracts.contracts.len() {
        let id = &snapshot.contracts.contracts[index].id;
        if request.contract.as_ref().is_some_and(|only| only != id) {
            continue;
        }
        if let Some(unsettled) = unsettled_before(backend, snapshot, trust, index, request.period)? {
            contracts.push(unsettled);
        }
    }
    if contracts.is_empty() {
        return Ok(());
    }
    Err(AppError::Unsettled(Unsettled {
        period: request.period,
        contracts,
    }))
}

/// What closing `period` as contract `index`'s first close would leave unsettled
/// before it; `None` when it is not its first close, not in its term, or leaves
/// nothing.
fn unsettled_before(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    trust: &mut Trust,
    index: usize,
    period: Period,
) -> Result<Option<UnsettledContract>> {
    let versions = &snapshot.contracts.contracts[index];
    if !matches!(term_of(versions, index, period, snapshot), Term::In(_)) {
        return Ok(None);
    }
    let closed_in_term = snapshot
        .statements_of(&versions.id)
        .filter_map(|s| Period::parse(&s.period))
        .any(|p| matches!(term_of(versions, index, p, snapshot), Term::In(_)));
    if closed_in_term {
        return Ok(None);
    }
    let start = versions.versions[0].effective_from;
    if start >= period.start() {
        return Ok(None);
    }
    let minimum_guarantee_from = minimum_guarantee_from(snapshot, index, period);
    let (events, events_from) = events_before(backend, snapshot, trust, index, period)?;
    let earliest = match (minimum_guarantee_from, events_from) {
        (Some(a), Some(b)) => a.min(b),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return Ok(None),
    };
    Ok(Some(UnsettledContract {
        contract: versions.id.clone(),
        earliest,
        events,
        events_from,
        minimum_guarantee_from,
    }))
}

/// The earliest period of the contract's term before `period` in which a version
/// with a (non-zero) minimum guarantee is in force.
fn minimum_guarantee_from(snapshot: &Snapshot, index: usize, period: Period) -> Option<Period> {
    let versions = &snapshot.contracts.contracts[index];
    let mut day = versions.versions[0].effective_from;
    while day < period.start() {
        match versions.version_on(day) {
            Some(version) => {
                let covering = version.cadence.period_of(day);
                if covering.start() >= period.start() {
                    return None;
                }
                if version.minimum_guarantee.as_ref().is_some_and(|m| !m.is_zero()) {
                    return Some(covering);
                }
                day = covering.end();
            }
            // A gap between versions: on to the next one's start.
            None => {
                day = versions
                    .versions
                    .iter()
                    .map(|v| v.effective_from)
                    .find(|from| *from > day)?;
            }
        }
    }
    None
}

/// How many stored events the contract selects (step 1; voided ones left out) are
/// dated in its term before `period`, and the earliest period holding one.
fn events_before(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    trust: &mut Trust,
    index: usize,
    period: Period,
) -> Result<(u64, Option<Period>)> {
    let versions = &snapshot.contracts.contracts[index];
    let host = versions.host();
    let (start, end) = (versions.versions[0].effective_from.0, period.start().0);
    // The segments' counts first: most first closes have nothing before them.
    if backend.count_events(host, start, end, Seq::ZERO, snapshot.seq)? == 0 {
        return Ok((0, None));
    }
    let voids = snapshot.voids_in(backend, trust, host, start, end)?;
    let voided = voids.voided();
    // Step 1's answer per model and day, asked once each.
    let mut selected: HashMap<String, HashMap<i32, Option<Period>>> = HashMap::new();
    let mut count = 0u64;
    let mut earliest: Option<Period> = None;
    let mut visit = |e: &EventView<'_>| -> revshare_store::backend::Result<()> {
        if voided.contains_key(&(e.source, e.id)) {
            return Ok(());
        }
        let by_day = match selected.get_mut(e.model) {
            Some(by_day) => by_day,
            None => selected.entry(e.model.to_string()).or_default(),
        };
        let holding = *by_day.entry(e.day).or_insert_with(|| {
            let registry_on = |start| snapshot.model_registry_on(start);
            selects(versions, registry_on, host, e.model, Day(e.day))
        });
        if let Some(holding) = holding {
            count += 1;
            earliest = Some(earliest.map_or(holding, |p| p.min(holding)));
        }
        Ok(())
    };
    backend.scan_events(host, start, end, Seq::ZERO, snapshot.seq, &mut visit)?;
    Ok((count, earliest))
}
