//! An open period's accrual so far, from the rollups stored with the events rather
//! than the events themselves: each segment's sums by model, use case and currency
//! (`revshare_store::backend::StoredRollup`), less the voided events', routed to
//! statements by step 1's rule (`rating::Router`, the close's own) and rated by
//! `rating::rate_statement` as a close rates its groups. So the figures are the
//! period's own usage exactly as its close would rate it as of now; what a close
//! adds beside them (prior-period and dispute adjustments) is not in them, nor is a
//! tree (no event is read) or a count of unique customers. Reading costs one row
//! per stored segment of the host's days, however many events they hold.

use revshare_core::period::{Day, Period};
use revshare_core::rating::{rate_statement, version_for, GroupKey, Rated, Router, StatementKey, Sums, Symbols};
use revshare_core::rating::{TreeSummary, UsageMap};
use revshare_store::backend::{EventView, StoredRollup};
use rustc_hash::FxHashMap;

use crate::snapshot::Snapshot;
use crate::{AppError, Backend, Result};

/// A host's usage of some days, summed per `(model, use case, currency, day)`.
struct HostDays {
    symbols: Symbols,
    host: u32,
    groups: FxHashMap<GroupKey, Sums>,
}

/// What the rollups of contract `index`'s host say its statement for `period`
/// rates as of `snapshot.seq`, or `None` where no version of the contract is in
/// force for the period.
pub(crate) fn rate(
    backend: &mut dyn Backend,
    snapshot: &Snapshot,
    index: usize,
    period: Period,
) -> Result<Option<Rated>> {
    let key = StatementKey {
        contract: index as u32,
        period,
    };
    let Some(version) = version_for(&snapshot.contracts, &key) else {
        return Ok(None);
    };
    let days = host_days(backend, snapshot, &version.host, period)?;
    let inputs = snapshot.inputs_for(period);
    let mut router = Router::new(&inputs);
    let mut usage = UsageMap::default();
    for (group, sums) in &days.groups {
        router.add_sums(&mut usage, &days.symbols, days.host, *group, sums);
    }
    let usage = usage.remove(&key).unwrap_or_default();
    let count = usage.groups.values().map(|s| s.events).sum();
    let tree = TreeSummary { count, root: [0; 32] };
    Ok(Some(rate_statement(
        version,
        period,
        &usage,
        &days.symbols,
        &inputs,
        tree,
        &[],
    )))
}

/// `host`'s rollups of `period`'s days stored by `snapshot.seq`, less the events
/// voided by then.
fn host_days(backend: &mut dyn Backend, snapshot: &Snapshot, host: &str, period: Period) -> Result<HostDays> {
    let mut symbols = Symbols::default();
    let host_symbol = symbols.intern(host);
    let mut groups: FxHashMap<GroupKey, Sums> = FxHashMap::default();
    let (start, end) = (period.start().0, period.end().0);
    backend.scan_rollups(host, start, end, snapshot.seq, &mut |rollup: &StoredRollup<'_>| {
        for line in &rollup.lines {
            let group = GroupKey {
                model: symbols.intern(line.key.model),
                use_case: symbols.intern(line.key.use_case),
                currency: symbols.intern(line.key.currency),
                day: Day(rollup.day),
            };
            groups.entry(group).or_default().merge(&line.sums);
        }
        Ok(())
    })?;
    for void in &backend.voids_in(host, start, end, snapshot.seq)? {
        let (group, figures) = voided_event(backend, void, &mut symbols)?;
        let held = groups.get(&group).and_then(|sums| sums.checked_sub(&figures));
        let Some(left) = held else {
            return Err(AppError::Integrity(format!(
                "the rollups of {host} on day {} do not hold voided event {}/{}",
                void.day, void.source, void.id
            )));
        };
        groups.insert(group, left);
    }
    Ok(HostDays {
        symbols,
        host: host_symbol,
        groups,
    })
}

/// A voided event's group and figures, read from the segment its key names.
fn voided_event(
    backend: &mut dyn Backend,
    void: &revshare_store::backend::VoidRow,
    symbols: &mut Symbols,
) -> Result<(GroupKey, Sums)> {
    let mut found = None;
    let mut visit = |event: &EventView<'_>| {
        let group = GroupKey {
            model: symbols.intern(event.model),
            use_case: symbols.intern(event.use_case),
            currency: symbols.intern(event.currency),
            day: Day(event.day),
        };
        found = Some((group, event.figures(&format!("event:{}/{}", void.source, void.id))?));
        Ok(())
    };
    if let Some(key) = backend.event_key(&void.source, &void.id)? {
        backend.key_event(&key, &mut visit)?;
    }
    found.ok_or_else(|| {
        AppError::Integrity(format!(
            "voided event {}/{} is not among {}'s events of day {}",
            void.source, void.id, void.host, void.day
        ))
    })
}
