//! The MAU monitor (statements.md, MAU monitor). A host's unique customers in a
//! calendar month (UTC) are the distinct pseudonyms among its accepted events of
//! that month that are not voided, all models together (an event without a
//! `customer` names nobody). At each close, a contract with `mau_threshold` whose
//! host reached it in a month of the period it closes is flagged by one
//! `mau_threshold_reached` entry about `mau:<contract>:<month>`, appended in the
//! close's transaction, once per contract and month ever.
//!
//! Nothing is stored besides the entry: its payload ([`Reached`]) is derived again
//! from the events and voids stored before it (what `audit verify` does, and what
//! the monitor shows of a flag). The count reads only the host's segments of the
//! month (`Backend::scan_events`).

use std::collections::{HashMap, HashSet};

use revshare_core::audit::{Action, Seq};
use revshare_core::contract::{ContractSet, ContractVersions};
use revshare_core::period::{date_of_rfc3339, Cadence, Period};
use revshare_store::backend::{EventView, VoidRow};
use serde::Serialize;

use crate::access::{self, Permission};
use crate::period_events::PeriodEvents;
use crate::rows::{object, payload};
use crate::snapshot::{Snapshot, Voids};
use crate::tx::Tx;
use crate::{AppError, Backend, Ctx, Result};

/// A calendar month as the monitor takes it: `YYYY-MM`.
pub fn parse_month(text: &str) -> Result<Period> {
    Period::parse(text)
        .filter(|p| p.cadence == Cadence::Month && p.to_string() == text)
        .ok_or_else(|| AppError::Invalid(format!("month: `{text}` is not a calendar month such as 2026-10")))
}

/// The calendar months of a period, in order.
pub(crate) fn months_of(period: Period) -> Vec<Period> {
    let mut months = Vec::new();
    let mut month = Cadence::Month.period_of(period.start());
    while month.start() < period.end() {
        months.push(month);
        month = month.next();
    }
    months
}

/// What a flag's entry holds (its payload is SHA-256 of this object's JCS): the
/// contract, its host, the month, the host's unique customers in that month as of
/// the close, and the threshold they reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reached {
    pub contract: String,
    pub host: String,
    /// `YYYY-MM`.
    pub month: String,
    pub customers: u64,
    pub threshold: u64,
}

/// The `mau_threshold` that applies to a contract in `month`: that of the latest
/// version in force on some day of the month; `None` when no version is in force
/// then or it sets none.
pub(crate) fn threshold_in(versions: &ContractVersions, month: Period) -> Option<u64> {
    let (start, end) = (month.start(), month.end());
    let index = (0..versions.versions.len())
        .rev()
        .find(|i| versions.versions[*i].effective_from < end && versions.end_of(*i).is_none_or(|stop| stop > start))?;
    versions.versions[index].mau_threshold
}

/// A month a close may flag for a contract: its threshold applies and it has no
/// flag yet (`name` is the flag's object).
pub(crate) struct Due {
    month: Period,
    threshold: u64,
    name: String,
}

/// The months of `period` a close may flag for a contract (none when it sets no
/// threshold, so a store without thresholds reads nothing for the monitor).
pub(crate) fn due(backend: &mut dyn Backend, versions: &ContractVersions, period: Period) -> Result<Vec<Due>> {
    let mut due = Vec::new();
    for month in months_of(period) {
        let Some(threshold) = threshold_in(versions, month) else {
            continue;
        };
        let name = object::mau(&versions.id, &month.to_string());
        if backend.latest_entry_about(&name)?.is_none() {
            due.push(Due { month, threshold, name });
        }
    }
    Ok(due)
}

/// The flags a close appends for contract `index` of its snapshot: each month of
/// `due` in which its host's unique customers (from `events`, the host's events of
/// the period the close read and checked, voids as of the close) reach the threshold.
pub(crate) fn flag_reached(
    tx: &mut Tx<'_>,
    snapshot: &Snapshot,
    index: usize,
    due: Vec<Due>,
    events: &PeriodEvents,
    voids: &Voids,
) -> Result<Vec<Reached>> {
    let versions = &snapshot.contracts.contracts[index];
    let months: Vec<Period> = due.iter().map(|d| d.month).collect();
    let counts = count_events(voids, events, &months);
    let mut flagged = Vec::new();
    for (Due { month, threshold, name }, customers) in due.into_iter().zip(counts) {
        if customers < threshold {
            continue;
        }
        let reached = Reached {
            contract: versions.id.clone(),
            host: versions.host().to_string(),
            month: month.to_string(),
            customers,
            threshold,
        };
        tx.record(Action::MauThresholdReached, name, payload(&reached))?;
        flagged.push(reached);
    }
    Ok(flagged)
}

/// The distinct customers in each of `months` among a close's events, its voids
/// left out. Customers are the events' interned symbols, so a month's are marked
/// in a vector as long as the symbol table (a close may read a million events).
fn count_events(voids: &Voids, events: &PeriodEvents, months: &[Period]) -> Vec<u64> {
    let bounds: Vec<(i32, i32)> = months.iter().map(|m| (m.start().0, m.end().0)).collect();
    let mut seen: Vec<Vec<bool>> = vec![Vec::new(); months.len()];
    let mut counts = vec![0u64; months.len()];
    let voided = voids.voided();
    for (index, day, customer) in events.customers() {
        let Some(customer) = customer else { continue };
        let Some(month) = bounds.iter().position(|(start, end)| (*start..*end).contains(&day.0)) else {
            continue;
        };
        if voided.contains_key(&(events.source(index), events.id(index))) {
            continue;
        }
        let marks = &mut seen[month];
        if marks.is_empty() {
            marks.resize(events.symbols.len(), false);
        }
        if !std::mem::replace(&mut marks[customer as usize], true) {
            counts[month] += 1;
        }
    }
    counts
}

/// `host`'s unique customers in `month` as of each of `as_of` (events and voids
/// stored at a seq of at most it), read in one pass over the host's segments of
/// the month; `voids` are the store's (any host's, any day's).
pub(crate) fn customers_as_of(
    backend: &mut dyn Backend,
    voids: &[VoidRow],
    host: &str,
    month: Period,
    as_of: &[Seq],
) -> Result<Vec<u64>> {
    let Some(through) = as_of.iter().max().copied() else {
        return Ok(Vec::new());
    };
    let (start, end) = (month.start().0, month.end().0);
    let mut voided_at: HashMap<&str, HashMap<&str, Seq>> = HashMap::new();
    for v in voids.iter().filter(|v| v.host == host && (start..end).contains(&v.day)) {
        voided_at
            .entry(v.source.as_str())
            .or_default()
            .insert(v.id.as_str(), v.seq);
    }
    let mut sets: Vec<HashSet<[u8; 16]>> = as_of.iter().map(|_| HashSet::new()).collect();
    let mut problem = None;
    backend.scan_events(host, start, end, Seq::ZERO, through, &mut |e: &EventView<'_>| {
        let Some(bytes) = e.customer else { return Ok(()) };
        let Ok(customer) = <[u8; 16]>::try_from(bytes) else {
            problem.get_or_insert_with(|| format!("stored event ({}, {}) has a bad customer", e.source, e.id));
            return Ok(());
        };
        let voided = voided_at.get(e.source).and_then(|ids| ids.get(e.id)).copied();
        for (set, seq) in sets.iter_mut().zip(as_of) {
            if e.seq <= *seq && voided.is_none_or(|v| v > *seq) {
                set.insert(customer);
            }
        }
        Ok(())
    })?;
    if let Some(message) = problem {
        return Err(AppError::Integrity(message));
    }
    Ok(sets.into_iter().map(|s| s.len() as u64).collect())
}

/// A flag entry's object read back: the contract and the month it names.
pub(crate) fn flag_object(object: &str) -> Option<(String, Period)> {
    match object.parse::<revshare_core::audit::Object>() {
        Ok(revshare_core::audit::Object::Mau { contract, month }) => Period::parse(&month).map(|m| (contract, m)),
        _ => None,
    }
}

/// What a flag entry must hold, derived again as of its seq: `Err` names what
/// does not hold (an unknown contract, no threshold, a count below it).
pub(crate) fn derive_flag(
    backend: &mut dyn Backend,
    voids: &[VoidRow],
    contracts: &ContractSet,
    object: &str,
    seq: Seq,
) -> Result<std::result::Result<Reached, String>> {
    let Some((contract, month)) = flag_object(object) else {
        return Ok(Err(format!("`{object}` names no contract and month")));
    };
    let Some(versions) = contracts.get(&contract) else {
        return Ok(Err(format!("it flags contract `{contract}`, which is not stored")));
    };
    let Some(threshold) = threshold_in(versions, month) else {
        return Ok(Err(format!(
            "contract `{contract}` sets no mau_threshold in force in {month}"
        )));
    };
    let host = versions.host().to_string();
    let customers = customers_as_of(backend, voids, &host, month, &[seq])?[0];
    if customers < threshold {
        return Ok(Err(format!(
            "as of entry {seq}, host {host} had {customers} unique customers in {month}, below contract \
             `{contract}`'s mau_threshold {threshold}"
        )));
    }
    Ok(Ok(Reached {
        contract,
        host,
        month: month.to_string(),
        customers,
        threshold,
    }))
}

/// What to show: one host (else every host the actor sees with events in the
/// month) and one month, `YYYY-MM` (else the current one, UTC). The month is read
/// after the actor's access, so a role that reads no MAU is refused whatever it
/// asks.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub host: Option<String>,
    pub month: Option<String>,
}

/// A host's unique customers in a month, and the contracts flagged for it there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostMonth {
    pub host: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Distinct customer pseudonyms among its accepted, not voided events of the
    /// month, all models together, as of now.
    pub customers: u64,
    /// The contracts of this host (that the caller sees) flagged for the month.
    pub flagged: Vec<Flag>,
}

/// A contract flagged for a month: its threshold, the count it reached, and the
/// entry of the close that flagged it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Flag {
    pub contract: String,
    pub threshold: u64,
    /// The host's unique customers in the month as of the flag.
    pub customers: u64,
    /// The `mau_threshold_reached` entry.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub seq: Seq,
    /// RFC 3339 UTC: the entry's time.
    pub flagged_at: String,
}

/// The monitor as the actor may see it (api.md: all for the operator, the hosts of
/// its contracts for a licensor or an auditor, its own for a host; a beneficiary
/// none), by host.
pub fn mau(backend: &mut dyn Backend, ctx: Ctx<'_>, filter: &Filter) -> Result<Vec<HostMonth>> {
    let actor = ctx.actor;
    access::require(actor, Permission::Mau)?;
    let month = match &filter.month {
        Some(text) => parse_month(text)?,
        None => {
            let today =
                date_of_rfc3339(&ctx.time()).ok_or_else(|| AppError::Invalid(format!("no day in {}", ctx.time())))?;
            Cadence::Month.period_of(today)
        }
    };
    let contracts = crate::snapshot::contract_set(&backend.contracts()?)?;
    let hosts: Vec<String> = match &filter.host {
        Some(host) => {
            if !access::sees_mau_of(actor, &contracts, host) {
                return Err(access::hidden(format!("no host `{host}` is known")));
            }
            vec![host.clone()]
        }
        None => backend
            .event_hosts(month.start().0, month.end().0, Seq::MAX)?
            .into_iter()
            .map(|(host, _)| host)
            .filter(|host| access::sees_mau_of(actor, &contracts, host))
            .collect(),
    };
    let voids = backend.voids()?;
    let mut shown = Vec::with_capacity(hosts.len());
    for host in hosts {
        shown.push(host_month(backend, actor, &contracts, &voids, host, month)?);
    }
    Ok(shown)
}

/// One host's month: its count now and as of each flag, in one pass.
fn host_month(
    backend: &mut dyn Backend,
    actor: &crate::Actor,
    contracts: &ContractSet,
    voids: &[VoidRow],
    host: String,
    month: Period,
) -> Result<HostMonth> {
    let mut entries = Vec::new();
    for versions in contracts
        .contracts
        .iter()
        .filter(|c| c.host() == host && access::sees_mau_flag(actor, c))
    {
        let name = object::mau(&versions.id, &month.to_string());
        if let Some(seq) = backend.latest_entry_about(&name)? {
            let entry = backend
                .audit_entry(seq)?
                .ok_or_else(|| AppError::Integrity(format!("audit entry {seq} about {name} is gone")))?;
            entries.push((versions, entry));
        }
    }
    let mut as_of = vec![Seq::MAX];
    as_of.extend(entries.iter().map(|(_, e)| e.seq));
    let counts = customers_as_of(backend, voids, &host, month, &as_of)?;
    let flagged = entries
        .into_iter()
        .zip(&counts[1..])
        .map(|((versions, entry), customers)| {
            let threshold = threshold_in(versions, month).ok_or_else(|| {
                AppError::Integrity(format!(
                    "entry {} flags {} for {month}, which sets no mau_threshold then",
                    entry.seq, versions.id
                ))
            })?;
            Ok(Flag {
                contract: versions.id.clone(),
                threshold,
                customers: *customers,
                seq: entry.seq,
                flagged_at: entry.time,
            })
        })
        .collect::<Result<_>>()?;
    Ok(HostMonth {
        host,
        month: month.to_string(),
        customers: counts[0],
        flagged,
    })
}

/// One page of [`mau`].
pub fn mau_page(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    filter: &Filter,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<HostMonth>> {
    crate::page::page(mau(backend, ctx, filter)?, limit, cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_has_three_months_and_a_month_one() {
        let months = |text: &str| {
            months_of(Period::parse(text).unwrap())
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(months("2026-Q4"), ["2026-10", "2026-11", "2026-12"]);
        assert_eq!(months("2026-02"), ["2026-02"]);
    }

    #[test]
    fn only_calendar_months_are_months() {
        assert_eq!(parse_month("2026-10").unwrap().to_string(), "2026-10");
        for bad in ["2026-Q4", "2026-13", "2026-1", "october", ""] {
            let error = parse_month(bad).unwrap_err().to_string();
            assert!(error.starts_with("month: "), "{bad}: {error}");
        }
    }
}
