//! What every close, dry or real, reports before its statements: per contract, the
//! events it counts and its exceptions with what would fix each; per host, the
//! events no contract selects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use revshare_core::contract::Contract;
use revshare_core::period::{Day, Period};
use revshare_core::rating::{classify, ExceptionKind, PeriodUsage, RatingInputs, Symbols};
use serde::Serialize;

use crate::checked::Trust;
use crate::period_events::PeriodEvents;
use crate::snapshot::Snapshot;
use crate::{Backend, Result};

/// One contract's part of a close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContractSummary {
    pub contract: String,
    pub period: String,
    /// Events its statement counts (its `events` tree).
    pub events: u64,
    /// Of those, events rated into lines.
    pub rated: u64,
    pub exceptions: Vec<ExceptionNote>,
    /// Events of its host dated before its first close, which no statement counts
    /// (reported on a contract's first close).
    pub outside_settlement: u64,
    /// The events its previous closed period counted, when that period is closed.
    pub previous_events: Option<u64>,
    /// After the contract's term: an adjustment-only statement.
    pub adjustment_only: bool,
}

impl ContractSummary {
    pub(crate) fn empty(contract: &str, period: Period) -> ContractSummary {
        ContractSummary {
            contract: contract.to_string(),
            period: period.to_string(),
            events: 0,
            rated: 0,
            exceptions: Vec::new(),
            outside_settlement: 0,
            previous_events: None,
            adjustment_only: false,
        }
    }

    /// A period with no events after one with some: most often usage not imported
    /// yet, so a real close refuses it unless allowed.
    pub fn suspiciously_empty(&self) -> bool {
        !self.adjustment_only && self.events == 0 && self.previous_events.is_some_and(|n| n > 0)
    }
}

/// Events reported as one kind of exception in one currency, and what would fix them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExceptionNote {
    pub kind: ExceptionKind,
    pub currency: String,
    pub events: u64,
    pub fix: String,
}

/// What each exception group holds, to say what would fix it.
#[derive(Default)]
struct Detail {
    events: u64,
    names: BTreeSet<String>,
    days: BTreeSet<Day>,
}

/// The exceptions of a statement's usage, each with what would fix it.
pub(crate) fn exception_notes(
    contract: &Contract,
    inputs: &RatingInputs,
    usage: &PeriodUsage,
    symbols: &Symbols,
) -> Vec<ExceptionNote> {
    let mut details: BTreeMap<(&'static str, String), (ExceptionKind, Detail)> = BTreeMap::new();
    for (key, sums) in &usage.groups {
        let (model, use_case, currency) = (
            symbols.name(key.model),
            symbols.name(key.use_case),
            symbols.name(key.currency),
        );
        let Err(kind) = classify(contract, &inputs.fx, model, use_case, currency, key.day) else {
            continue;
        };
        let (_, detail) = details
            .entry((kind.as_str(), currency.to_string()))
            .or_insert((kind, Detail::default()));
        detail.events += sums.events;
        detail.days.insert(key.day);
        detail.names.insert(match kind {
            ExceptionKind::UnlicensedModel => model.to_string(),
            _ => use_case.to_string(),
        });
    }
    details
        .into_iter()
        .map(|((_, currency), (kind, detail))| ExceptionNote {
            kind,
            fix: fix(kind, contract, &currency, &detail),
            currency,
            events: detail.events,
        })
        .collect()
}

fn fix(kind: ExceptionKind, contract: &Contract, currency: &str, detail: &Detail) -> String {
    let names = detail.names.iter().cloned().collect::<Vec<_>>().join(", ");
    match kind {
        ExceptionKind::UnlicensedModel => format!(
            "models outside the contract's `models`: {names} (a new contract version can license them; \
             events sent by mistake can be voided)"
        ),
        ExceptionKind::ProhibitedUse => {
            format!("prohibited use cases: {names} (reported, never rated)")
        }
        ExceptionKind::NoRate => {
            format!("no rate for the use cases {names} and no `*` rule (a new contract version can add one)")
        }
        ExceptionKind::NoFxRate => format!(
            "no FX rate {currency}→{} for {} (`revshare fx add` rates dated at most 7 days before; a later close \
             settles these events)",
            contract.currency,
            day_ranges(&detail.days)
        ),
    }
}

/// Days as ranges: `2026-10-03..09, 2026-10-12`.
pub(crate) fn day_ranges(days: &BTreeSet<Day>) -> String {
    let mut ranges: Vec<(Day, Day)> = Vec::new();
    for day in days {
        match ranges.last_mut() {
            Some((_, end)) if end.0 + 1 == day.0 => *end = *day,
            _ => ranges.push((*day, *day)),
        }
    }
    ranges
        .iter()
        .map(|(start, end)| {
            let (a, b) = (start.to_string(), end.to_string());
            match () {
                _ if start == end => a,
                _ if a[..8] == b[..8] => format!("{a}..{}", &b[8..]),
                _ => format!("{a}..{b}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The events of one host and period, read once for every contract of that host
/// that closes (one host at a time, so memory stays one host's month), and per host
/// the events no contract selects.
pub(crate) struct HostEvents {
    period: Period,
    current: Option<(String, Arc<PeriodEvents>)>,
    pub unselected: BTreeMap<String, u64>,
}

impl HostEvents {
    pub fn new(period: Period) -> HostEvents {
        HostEvents {
            period,
            current: None,
            unselected: BTreeMap::new(),
        }
    }

    pub fn get(
        &mut self,
        backend: &mut dyn Backend,
        snapshot: &Snapshot,
        trust: &mut Trust,
        host: &str,
    ) -> Result<&PeriodEvents> {
        if self.current.as_ref().is_none_or(|(loaded, _)| loaded != host) {
            let events = Arc::new(PeriodEvents::read(backend, host, self.period, snapshot.seq)?);
            trust.events(backend, &events, host, self.period)?;
            let unselected = events.unselected(&snapshot.inputs_for(self.period));
            self.unselected.insert(host.to_string(), unselected);
            self.current = Some((host.to_string(), events));
        }
        match &self.current {
            Some((_, events)) => Ok(events),
            None => unreachable!("loaded just above"),
        }
    }

    /// Events of the period that no contract selects, per host (every host with
    /// events, also those no closing contract read).
    pub(crate) fn all_unselected(
        &mut self,
        backend: &mut dyn Backend,
        snapshot: &Snapshot,
        trust: &mut Trust,
    ) -> Result<BTreeMap<String, u64>> {
        let (start, end) = (self.period.start().0, self.period.end().0);
        for (host, count) in backend.event_hosts(start, end, snapshot.seq)? {
            if self.unselected.contains_key(&host) {
                continue;
            }
            if snapshot.contracts.contracts.iter().any(|c| c.host() == host) {
                self.get(backend, snapshot, trust, &host)?;
            } else {
                self.unselected.insert(host, count);
            }
        }
        Ok(self
            .unselected
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(h, n)| (h.clone(), *n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_print_as_ranges() {
        let day = |text: &str| Day::parse(text).unwrap();
        let days: BTreeSet<Day> = [
            "2026-10-03",
            "2026-10-04",
            "2026-10-05",
            "2026-10-09",
            "2026-10-31",
            "2026-11-01",
        ]
        .iter()
        .map(|d| day(d))
        .collect();
        assert_eq!(day_ranges(&days), "2026-10-03..05, 2026-10-09, 2026-10-31..2026-11-01");
    }
}
