//! Closing a period into signed, immutable statements (spec: statements.md).
//!
//! A close runs in one transaction that keeps imports out, so it sees a fixed set of
//! events: those of the period stored up to the highest `seq` at that moment (its
//! watermark). Closing again returns the stored statement; two concurrent closes
//! store one. Late events (stored after their period closed) are settled here as a
//! `prior_period` adjustment: the earlier period re-rated with all its events, minus
//! what was already settled for it.

use std::collections::BTreeMap;

use rayon::prelude::*;
use revshare_core::contract::Contract;
use revshare_core::merkle::{self, Hash};
use revshare_core::money::Decimal;
use revshare_core::period::{day_start_rfc3339, Day, Period};
use revshare_core::rating::{
    rate_statement, version_for, CarriedAdjustment, InternedFacts, PeriodUsage, Rated, RatingInputs, Router,
    StatementKey, Symbols, TreeSummary, UsageMap,
};
use revshare_core::statement::{Adjustment, Statement};
use revshare_core::verify::sign;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, EventView, Result, StatementRow};
use crate::keys::Keys;
use crate::{rating_inputs, StoreError};

/// One statement a close produced or found.
#[derive(Clone, Debug)]
pub struct Closed {
    pub row: StatementRow,
    /// `false` when the statement was already closed (closing is idempotent).
    pub new: bool,
}

/// A prior period's late events settled by a statement: those of `period` with
/// `after < seq <= through`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    pub period: String,
    pub statement_id: String,
    pub after: i64,
    pub through: i64,
}

/// Closes `period` for every contract whose term covers it (or just `only`).
/// `now_seconds` is the service clock; `grace_seconds` lets stragglers arrive.
pub fn close(
    backend: &mut dyn Backend,
    keys: &Keys,
    period: Period,
    only: Option<&str>,
    now_seconds: i64,
    grace_seconds: i64,
    closed_at: &str,
) -> Result<Vec<Closed>> {
    let ends = period.end().unix_seconds() + grace_seconds;
    if now_seconds < ends {
        return Err(StoreError::Refused(format!(
            "period {period} cannot be closed yet: it ends at {}{}",
            day_start_rfc3339(period.end()),
            if grace_seconds > 0 {
                format!(" plus a grace of {grace_seconds} s")
            } else {
                String::new()
            }
        )));
    }
    backend.begin_close()?;
    let outcome = close_in_transaction(backend, keys, period, only, closed_at);
    match outcome {
        Ok(closed) => {
            backend.commit()?;
            Ok(closed)
        }
        Err(error) => {
            // The original error matters more than a failed rollback.
            let _ = backend.rollback();
            Err(error)
        }
    }
}

fn close_in_transaction(
    backend: &mut dyn Backend,
    keys: &Keys,
    period: Period,
    only: Option<&str>,
    closed_at: &str,
) -> Result<Vec<Closed>> {
    let inputs = rating_inputs(backend)?;
    if let Some(id) = only {
        if inputs.contracts.get(id).is_none() {
            return Err(StoreError::Refused(format!("no contract `{id}` is stored")));
        }
    }
    let mut closed = Vec::new();
    for (index, versions) in inputs.contracts.contracts.iter().enumerate() {
        if only.is_some_and(|id| id != versions.id) {
            continue;
        }
        let key = StatementKey {
            contract: index as u32,
            period,
        };
        let Some(contract) = version_for(&inputs.contracts, &key) else {
            if only.is_some() {
                return Err(StoreError::Refused(format!(
                    "contract `{}` has no {} period {period} in its term",
                    versions.id,
                    if period.cadence == revshare_core::period::Cadence::Month {
                        "monthly"
                    } else {
                        "quarterly"
                    }
                )));
            }
            continue;
        };
        let statement_id = format!("{}/{period}", contract.id);
        if let Some(row) = backend.statement(&statement_id)? {
            closed.push(Closed { row, new: false });
            continue;
        }
        let row = close_one(backend, keys, &inputs, key, contract, &statement_id, closed_at)?;
        let stored = backend.insert_statement(&row)?;
        let new = stored == row;
        closed.push(Closed { row: stored, new });
    }
    Ok(closed)
}

/// Everything rating one statement's window of events yields.
struct Window {
    rated: Rated,
    /// Leaf hashes of the selected events, in `(source, id)` order.
    leaves: Vec<Hash>,
}

/// Rates the events of `key` stored in `(after, through]`, with `carried` adjustments.
fn rate_window(
    backend: &mut dyn Backend,
    inputs: &RatingInputs,
    key: StatementKey,
    contract: &Contract,
    after: i64,
    through: i64,
    carried: &[CarriedAdjustment],
) -> Result<Window> {
    let loaded = Loaded::read(backend, &contract.host, key.period, after, through)?;
    let (selected, usage) = loaded.accumulate(inputs, key);
    let leaves: Vec<Hash> = selected.iter().map(|i| loaded.events[*i as usize].leaf).collect();
    let tree = TreeSummary {
        count: leaves.len() as u64,
        root: merkle::root(&leaves),
    };
    let rated = rate_statement(contract, key.period, &usage, &loaded.symbols, inputs, tree, carried);
    Ok(Window { rated, leaves })
}

/// One stored event in compact form: its key in the arena, names interned.
struct Compact {
    key_start: usize,
    source_len: u16,
    id_len: u16,
    leaf: Hash,
    facts: InternedFacts,
}

/// A host's events of a period in `(after, through]`, sorted by `(source, id)`
/// bytewise (the order of Merkle leaves), read without an allocation per event.
struct Loaded {
    symbols: Symbols,
    keys: Vec<u8>,
    events: Vec<Compact>,
}

impl Loaded {
    fn read(backend: &mut dyn Backend, host: &str, period: Period, after: i64, through: i64) -> Result<Loaded> {
        let mut loaded = Loaded {
            symbols: Symbols::default(),
            keys: Vec::new(),
            events: Vec::new(),
        };
        let mut visit = |e: &EventView<'_>| -> Result<()> {
            let bad =
                |what: &str| StoreError::Database(format!("stored event ({}, {}) has a bad {what}", e.source, e.id));
            let leaf: Hash = e.leaf.try_into().map_err(|_| bad("leaf"))?;
            let units: i128 = e.revenue_units.parse().map_err(|_| bad("revenue"))?;
            let customer = match e.customer {
                Some(bytes) => {
                    let mut hex_buffer = [0u8; 64];
                    let text = hex_into(bytes, &mut hex_buffer).ok_or_else(|| bad("customer"))?;
                    Some(loaded.symbols.intern(text))
                }
                None => None,
            };
            let key_start = loaded.keys.len();
            loaded.keys.extend_from_slice(e.source.as_bytes());
            loaded.keys.extend_from_slice(e.id.as_bytes());
            loaded.events.push(Compact {
                key_start,
                source_len: e.source.len() as u16,
                id_len: e.id.len() as u16,
                leaf,
                facts: InternedFacts {
                    host: loaded.symbols.intern(e.host),
                    model: loaded.symbols.intern(e.model),
                    use_case: loaded.symbols.intern(e.use_case),
                    currency: loaded.symbols.intern(e.currency),
                    customer,
                    day: Day(e.day),
                    requests: e.requests as u64,
                    input_tokens: e.input_tokens as u64,
                    output_tokens: e.output_tokens as u64,
                    revenue_units: units,
                },
            });
            Ok(())
        };
        backend.scan_events(host, period.start().0, period.end().0, after, through, &mut visit)?;
        let keys = &loaded.keys;
        loaded
            .events
            .par_sort_unstable_by(|a, b| key_of(keys, a).cmp(&key_of(keys, b)));
        Ok(loaded)
    }

    fn source(&self, event: &Compact) -> &str {
        std::str::from_utf8(key_of(&self.keys, event).0).expect("stored from a str")
    }

    fn id(&self, event: &Compact) -> &str {
        std::str::from_utf8(key_of(&self.keys, event).1).expect("stored from a str")
    }

    /// The events `key`'s statement selects (indices, in key order) and its usage.
    fn accumulate(&self, inputs: &RatingInputs, key: StatementKey) -> (Vec<u32>, PeriodUsage) {
        let mut router = Router::new(inputs);
        let mut usage = UsageMap::default();
        for (index, event) in self.events.iter().enumerate() {
            router.add(&mut usage, &self.symbols, &event.facts, index as u32);
        }
        let usage = usage.remove(&key).unwrap_or_default();
        (usage.events.clone(), usage)
    }
}

fn key_of<'k>(keys: &'k [u8], event: &Compact) -> (&'k [u8], &'k [u8]) {
    let source_end = event.key_start + event.source_len as usize;
    (
        &keys[event.key_start..source_end],
        &keys[source_end..source_end + event.id_len as usize],
    )
}

/// Lower-case hex of up to 32 bytes into `buffer`.
fn hex_into<'b>(bytes: &[u8], buffer: &'b mut [u8; 64]) -> Option<&'b str> {
    if bytes.len() > 32 {
        return None;
    }
    hex::encode_to_slice(bytes, &mut buffer[..bytes.len() * 2]).ok()?;
    std::str::from_utf8(&buffer[..bytes.len() * 2]).ok()
}

fn close_one(
    backend: &mut dyn Backend,
    keys: &Keys,
    inputs: &RatingInputs,
    key: StatementKey,
    contract: &Contract,
    statement_id: &str,
    closed_at: &str,
) -> Result<StatementRow> {
    let watermark = backend.max_seq()?;
    let (carried, settled) = settle_late(backend, inputs, key, contract, watermark)?;
    let window = rate_window(backend, inputs, key, contract, 0, watermark, &carried)?;
    let mut statement = window.rated.statement;
    statement.statement_id = Some(statement_id.to_string());
    statement.contract_sha256 = Some(contract.sha256.clone());
    statement.closed_at = Some(closed_at.to_string());
    sign(&mut statement, keys.signing());
    Ok(StatementRow {
        statement_id: statement_id.to_string(),
        contract: contract.id.clone(),
        period: key.period.to_string(),
        host: contract.host.clone(),
        start_day: key.period.start().0,
        end_day: key.period.end().0,
        watermark,
        settled: serde_json::to_string(&settled).expect("settlements serialize"),
        json: statement.to_json_pretty(),
        closed_at: closed_at.to_string(),
    })
}

fn parse_statement(row: &StatementRow) -> Result<Statement> {
    serde_json::from_str(&row.json)
        .map_err(|e| StoreError::Database(format!("stored statement {} does not parse: {e}", row.statement_id)))
}

fn amount(text: &str) -> Result<Decimal> {
    Decimal::parse(text, 40).map_err(|e| StoreError::Database(format!("a stored amount does not parse: {e}")))
}

/// What a closed period has settled so far: its own total and payouts (without the
/// adjustments it carried from other periods), plus every later prior-period
/// adjustment for it.
fn settled_so_far(
    statements: &[StatementRow],
    own: &StatementRow,
) -> Result<(Decimal, BTreeMap<String, Decimal>, i64)> {
    let statement = parse_statement(own)?;
    let mut total = amount(&statement.total)?;
    let mut payouts: BTreeMap<String, Decimal> = BTreeMap::new();
    for (beneficiary, value) in &statement.payouts {
        payouts.insert(beneficiary.clone(), amount(value)?);
    }
    // Remove what this statement carried from other periods: it is not its own.
    for adjustment in statement
        .adjustments
        .iter()
        .filter(|a| a.kind == "prior_period" || a.kind == "dispute")
    {
        total = total.sub(&amount(&adjustment.amount)?);
        for (beneficiary, value) in adjustment.payouts.iter().flatten() {
            let entry = payouts.entry(beneficiary.clone()).or_default();
            *entry = entry.sub(&amount(value)?);
        }
    }
    let mut through = own.watermark;
    for later in statements
        .iter()
        .filter(|s| s.contract == own.contract && s.start_day > own.start_day)
    {
        let windows: Vec<Settled> = serde_json::from_str(&later.settled)
            .map_err(|e| StoreError::Database(format!("statement {}: {e}", later.statement_id)))?;
        if let Some(window) = windows.iter().find(|w| w.statement_id == own.statement_id) {
            through = through.max(window.through);
            let later_statement = parse_statement(later)?;
            for adjustment in later_statement
                .adjustments
                .iter()
                .filter(|a| a.kind == "prior_period" && a.period.as_deref() == Some(own.period.as_str()))
            {
                total = total.add(&amount(&adjustment.amount)?);
                for (beneficiary, value) in adjustment.payouts.iter().flatten() {
                    let entry = payouts.entry(beneficiary.clone()).or_default();
                    *entry = entry.add(&amount(value)?);
                }
            }
        }
    }
    Ok((total, payouts, through))
}

/// Prior-period adjustments for late events of every earlier closed period.
fn settle_late(
    backend: &mut dyn Backend,
    inputs: &RatingInputs,
    key: StatementKey,
    contract: &Contract,
    watermark: i64,
) -> Result<(Vec<CarriedAdjustment>, Vec<Settled>)> {
    let statements = backend.statements()?;
    let mut carried = Vec::new();
    let mut settled = Vec::new();
    let scale = contract.rounding.scale;
    for earlier in statements
        .iter()
        .filter(|s| s.contract == contract.id && s.end_day <= key.period.start().0)
    {
        let (old_total, old_payouts, after) = settled_so_far(&statements, earlier)?;
        // The partial index of late events answers this without scanning the period.
        if backend.late_events_after(&earlier.host, earlier.start_day, earlier.end_day, after)? == 0 {
            continue;
        }
        let earlier_period = Period::parse(&earlier.period)
            .ok_or_else(|| StoreError::Database(format!("stored period {} does not parse", earlier.period)))?;
        let earlier_key = StatementKey {
            contract: key.contract,
            period: earlier_period,
        };
        let Some(earlier_contract) = version_for(&inputs.contracts, &earlier_key) else {
            continue;
        };
        let late = rate_window(backend, inputs, earlier_key, earlier_contract, after, watermark, &[])?;
        if late.leaves.is_empty() {
            continue; // Late events of the host, but none this contract selects.
        }
        let all = rate_window(backend, inputs, earlier_key, earlier_contract, 0, watermark, &[])?;
        let difference = all.rated.total.sub(&old_total);
        let mut payouts = BTreeMap::new();
        let beneficiaries: std::collections::BTreeSet<&String> =
            all.rated.payouts.keys().chain(old_payouts.keys()).collect();
        for beneficiary in beneficiaries {
            let new = all.rated.payouts.get(beneficiary).cloned().unwrap_or_default();
            let old = old_payouts.get(beneficiary).cloned().unwrap_or_default();
            payouts.insert(beneficiary.clone(), new.sub(&old));
        }
        carried.push(CarriedAdjustment {
            adjustment: Adjustment {
                kind: "prior_period".to_string(),
                period: Some(earlier.period.clone()),
                dispute_id: None,
                events: Some(late.leaves.len() as u64),
                merkle_root: Some(hex::encode(merkle::root(&late.leaves))),
                amount: difference.to_fixed_string(scale),
                payouts: Some(
                    payouts
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_fixed_string(scale)))
                        .collect(),
                ),
            },
            payouts,
        });
        settled.push(Settled {
            period: earlier.period.clone(),
            statement_id: earlier.statement_id.clone(),
            after,
            through: watermark,
        });
    }
    Ok((carried, settled))
}

/// The leaves of one of a statement's trees, for proofs: `events`, or
/// `prior_period:<period>`. Each leaf comes with its `(source, id)`.
pub fn tree_leaves(
    backend: &mut dyn Backend,
    inputs: &RatingInputs,
    row: &StatementRow,
    tree: &str,
) -> Result<Vec<(String, String, Hash)>> {
    let index = inputs
        .contracts
        .contracts
        .iter()
        .position(|c| c.id == row.contract)
        .ok_or_else(|| StoreError::Database(format!("contract {} of {} is gone", row.contract, row.statement_id)))?;
    let (period, after, through) = if tree == "events" {
        (row.period.clone(), 0, row.watermark)
    } else {
        let period = tree.strip_prefix("prior_period:").ok_or_else(|| {
            StoreError::Refused(format!("`{tree}` is not a tree name (events or prior_period:PERIOD)"))
        })?;
        let windows: Vec<Settled> =
            serde_json::from_str(&row.settled).map_err(|e| StoreError::Database(e.to_string()))?;
        let window = windows.iter().find(|w| w.period == period).ok_or_else(|| {
            StoreError::Refused(format!(
                "statement {} settles no late events of {period}",
                row.statement_id
            ))
        })?;
        (period.to_string(), window.after, window.through)
    };
    let period = Period::parse(&period).ok_or_else(|| StoreError::Database(format!("bad period {period}")))?;
    let key = StatementKey {
        contract: index as u32,
        period,
    };
    let contract = version_for(&inputs.contracts, &key)
        .ok_or_else(|| StoreError::Database(format!("no contract version for {}", row.statement_id)))?;
    let loaded = Loaded::read(backend, &contract.host, period, after, through)?;
    let (selected, _) = loaded.accumulate(inputs, key);
    Ok(selected
        .iter()
        .map(|i| {
            let e = &loaded.events[*i as usize];
            (loaded.source(e).to_string(), loaded.id(e).to_string(), e.leaf)
        })
        .collect())
}
