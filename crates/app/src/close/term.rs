//! Where a period stands in a contract's term, and the order closes run in.

use revshare_core::contract::{Contract, ContractVersions};
use revshare_core::period::{Day, Period};
use revshare_core::rating::{version_for, StatementKey};

use crate::snapshot::Snapshot;
use crate::{AppError, Result};

/// Where a period stands in a contract's term.
pub(crate) enum Term<'c> {
    /// Covered: this version rates it.
    In(&'c Contract),
    /// After the term ended, in the last version's cadence.
    After(&'c Contract),
    Outside,
}

pub(crate) fn term_of<'c>(
    versions: &'c ContractVersions,
    index: usize,
    period: Period,
    snapshot: &Snapshot,
) -> Term<'c> {
    let key = StatementKey {
        contract: index as u32,
        period,
    };
    if version_for(&snapshot.contracts, &key).is_some() {
        return match versions.version_on(period.start()) {
            Some(version) => Term::In(version),
            None => Term::Outside,
        };
    }
    let last_index = versions.versions.len() - 1;
    let last = &versions.versions[last_index];
    match versions.end_of(last_index) {
        Some(end) if period.start() >= end && last.cadence == period.cadence => Term::After(last),
        _ => Term::Outside,
    }
}

/// The period after `period` in the contract's cadence then, if its term goes on.
pub(crate) fn next_period(versions: &ContractVersions, period: Period) -> Option<Period> {
    let day = period.end();
    versions.version_on(day).map(|v| v.cadence.period_of(day))
}

/// The period a contract's next close would close, as of `today`: the one after its
/// latest closed period (`None` once its term has ended), or, before its first
/// close, the period holding `today` in the cadence of the version then (`None`
/// outside its term); `true` for a first close, whose settlement start a close
/// must confirm.
pub(crate) fn open_period(versions: &ContractVersions, latest: Option<Period>, today: Day) -> Option<(Period, bool)> {
    match latest {
        Some(latest) => next_period(versions, latest).map(|p| (p, false)),
        None => versions.version_on(today).map(|v| (v.cadence.period_of(today), true)),
    }
}

/// Closes run in order (statements.md): the first close of a contract fixes where
/// its settlement starts; after it, each close must be the next period.
pub(crate) fn check_order(snapshot: &Snapshot, index: usize, period: Period) -> Result<()> {
    let versions = &snapshot.contracts.contracts[index];
    let own: Vec<Period> = snapshot
        .statements_of(&versions.id)
        .filter_map(|s| Period::parse(&s.period))
        .filter(|p| matches!(term_of(versions, index, *p, snapshot), Term::In(_)))
        .collect();
    let (Some(first), Some(last)) = (own.first(), own.last()) else {
        return Ok(());
    };
    let covered = match term_of(versions, index, period, snapshot) {
        Term::In(_) => true,
        Term::After(_) => false,
        Term::Outside => return Ok(()),
    };
    if covered && period.start() < first.start() {
        return Err(AppError::Conflict(format!(
            "{}/{period} is before {}'s settlement start {first} (its first close); periods before it \
             are outside settlement",
            versions.id, versions.id
        )));
    }
    match next_period(versions, *last) {
        Some(next) if next.start() < period.start() || (covered && next != period) => Err(AppError::Conflict(format!(
            "cannot close {}/{period}: {}/{next} is still open (a contract's periods close in order)",
            versions.id, versions.id
        ))),
        _ => Ok(()),
    }
}

/// Whether `period`, after the contract's term, counts as closed already
/// (statements.md: a post-term period counts as closed whether or not a statement
/// was issued): a close of it or of a later period recorded one or issued a
/// statement. Its late events and changes belong to the next close.
pub(crate) fn closed_after_term(snapshot: &Snapshot, index: usize, period: Period) -> bool {
    let versions = &snapshot.contracts.contracts[index];
    if !matches!(term_of(versions, index, period, snapshot), Term::After(_)) {
        return false;
    }
    let at_or_after = |p: &str| Period::parse(p).is_some_and(|p| p.start() >= period.start());
    snapshot
        .closed_after_term_of(&versions.id)
        .any(|c| at_or_after(&c.period))
        || snapshot.statements_of(&versions.id).any(|s| at_or_after(&s.period))
}
