//! Rating (spec: contracts.md, steps 1–11).
//!
//! Rating is split in two so that millions of events cost little:
//!
//! 1. [`Engine::add`] routes each event to the statements that select it (contract
//!    and period) and adds its quantities to a group keyed by
//!    `(model, use_case, currency, UTC day)`. Everything a rate depends on (FX, the
//!    exclusivity windows) is constant within such a group, and all arithmetic is
//!    exact, so rating a group's sums equals summing per-event results.
//! 2. [`rate_statement`] turns one statement's groups into lines, adjustments and
//!    payouts with exact decimals, rounding only where the spec says.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::contract::{Contract, ContractSet, ContractVersions, Metric, TierMode, VolumeTiers};
use crate::merkle::Hash;
use crate::money::{split_largest_remainder, Decimal};
use crate::period::{day_start_rfc3339, Day, Period};
use crate::statement::{Adjustment, AdjustmentKind, EventsSummary, ExceptionRow, Line, Statement, Volume};
use crate::tables::{Contributions, FxTable, ModelRegistry};

/// Significant digits of the displayed volume multiplier.
pub const MULTIPLIER_DIGITS: u32 = 20;
const REVENUE_SCALE: u32 = crate::event::REVENUE_SCALE;

/// Everything rating reads besides usage.
#[derive(Clone, Debug, Default)]
pub struct RatingInputs {
    pub contracts: ContractSet,
    pub fx: FxTable,
    pub contributions: Contributions,
    pub registry: Option<ModelRegistry>,
}

/// The facts of one (deduplicated) event that rating needs.
#[derive(Clone, Copy, Debug)]
pub struct EventFacts<'a> {
    pub host: &'a str,
    pub model: &'a str,
    pub use_case: &'a str,
    pub currency: &'a str,
    /// The customer reference or its pseudonym: only distinctness matters.
    pub customer: Option<&'a str>,
    pub day: Day,
    /// With the default of 1 already applied.
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub revenue_units: i128,
}

/// A statement's identity: contract (index into the set) and period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatementKey {
    pub contract: u32,
    pub period: Period,
}

/// Interned strings, so that group keys are small and cheap to hash.
#[derive(Default, Debug)]
pub struct Symbols {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Symbols {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct names");
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub model: u32,
    pub use_case: u32,
    pub currency: u32,
    pub day: Day,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    pub events: u64,
    pub requests: u128,
    pub input_tokens: u128,
    pub output_tokens: u128,
    pub revenue_units: i128,
}

impl Sums {
    /// These sums without `other`'s, which they hold (a voided event's, say);
    /// `None` where `other` holds more than these do.
    pub fn checked_sub(&self, other: &Sums) -> Option<Sums> {
        Some(Sums {
            events: self.events.checked_sub(other.events)?,
            requests: self.requests.checked_sub(other.requests)?,
            input_tokens: self.input_tokens.checked_sub(other.input_tokens)?,
            output_tokens: self.output_tokens.checked_sub(other.output_tokens)?,
            revenue_units: self.revenue_units.checked_sub(other.revenue_units)?,
        })
    }

    /// Adds another group's sums (of other events).
    pub fn merge(&mut self, other: &Sums) {
        self.events += other.events;
        self.requests += other.requests;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.revenue_units += other.revenue_units;
    }
}

/// What one statement accounts for, before rating.
#[derive(Default, Debug)]
pub struct PeriodUsage {
    pub groups: FxHashMap<GroupKey, Sums>,
    pub customers: FxHashSet<u32>,
    /// The caller's references to the events counted (for the Merkle tree).
    pub events: Vec<u32>,
}

impl PeriodUsage {
    /// Adds another usage of the same statement (for merging parallel partials).
    pub fn merge(&mut self, other: PeriodUsage) {
        for (key, sums) in other.groups {
            self.groups.entry(key).or_default().merge(&sums);
        }
        self.customers.extend(other.customers);
        self.events.extend(other.events);
    }
}

/// [`EventFacts`] with its names interned in the engine's [`Symbols`].
#[derive(Clone, Copy, Debug)]
pub struct InternedFacts {
    pub host: u32,
    pub model: u32,
    pub use_case: u32,
    pub currency: u32,
    pub customer: Option<u32>,
    pub day: Day,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub revenue_units: i128,
}

/// Usage per statement.
pub type UsageMap = FxHashMap<StatementKey, PeriodUsage>;

/// Finds the statements that select an event (step 1), caching the contracts that
/// may select each `(host, model)`. One per thread: it is cheap to create.
pub struct Router<'i> {
    inputs: &'i RatingInputs,
    routes: FxHashMap<(u32, u32), Box<[u32]>>,
}

impl<'i> Router<'i> {
    pub fn new(inputs: &'i RatingInputs) -> Router<'i> {
        Router {
            inputs,
            routes: FxHashMap::default(),
        }
    }

    /// Adds the event to every statement that selects it, in `usage`; returns how
    /// many did (0: no statement's business).
    pub fn add(&mut self, usage: &mut UsageMap, symbols: &Symbols, facts: &InternedFacts, event_ref: u32) -> usize {
        self.route(symbols, facts.host, facts.model, facts.day, |key| {
            usage.entry(key).or_default().add(facts, event_ref);
        })
    }

    /// Adds the sums of a group of events of one host, model, use case, currency and
    /// day (a rollup's) to every statement that selects them, as [`Router::add`]
    /// adds each of its events, except that no event is named (a statement rated so
    /// has no tree) and no customer counted; returns how many statements did.
    pub fn add_sums(
        &mut self,
        usage: &mut UsageMap,
        symbols: &Symbols,
        host: u32,
        group: GroupKey,
        sums: &Sums,
    ) -> usize {
        self.route(symbols, host, group.model, group.day, |key| {
            usage
                .entry(key)
                .or_default()
                .groups
                .entry(group)
                .or_default()
                .merge(sums);
        })
    }

    /// Calls `counted` with each statement that selects an event of `host` and
    /// `model` on `day` (step 1); returns how many did.
    fn route(
        &mut self,
        symbols: &Symbols,
        host: u32,
        model: u32,
        day: Day,
        mut counted: impl FnMut(StatementKey),
    ) -> usize {
        let inputs = self.inputs;
        let candidates = self
            .routes
            .entry((host, model))
            .or_insert_with(|| route(inputs, symbols.name(host), symbols.name(model)));
        let mut count = 0;
        for &contract_index in candidates.iter() {
            let versions = &inputs.contracts.contracts[contract_index as usize];
            let Some(version) = versions.version_on(day) else {
                continue;
            };
            counted(StatementKey {
                contract: contract_index,
                period: version.cadence.period_of(day),
            });
            count += 1;
        }
        count
    }
}

impl PeriodUsage {
    fn add(&mut self, facts: &InternedFacts, event_ref: u32) {
        let sums = self
            .groups
            .entry(GroupKey {
                model: facts.model,
                use_case: facts.use_case,
                currency: facts.currency,
                day: facts.day,
            })
            .or_default();
        sums.events += 1;
        sums.requests += u128::from(facts.requests);
        sums.input_tokens += u128::from(facts.input_tokens);
        sums.output_tokens += u128::from(facts.output_tokens);
        sums.revenue_units = sums
            .revenue_units
            .checked_add(facts.revenue_units)
            .expect("revenue sums stay far below 2^127 units within the spec's bounds");
        if let Some(customer) = facts.customer {
            self.customers.insert(customer);
        }
        self.events.push(event_ref);
    }
}

/// Merges usage maps built from disjoint parts of the events, in order: each
/// statement's event references keep the order of `parts`.
pub fn merge_usage(parts: Vec<UsageMap>) -> UsageMap {
    let mut merged = UsageMap::default();
    for part in parts {
        for (key, usage) in part {
            match merged.get_mut(&key) {
                Some(existing) => existing.merge(usage),
                None => {
                    merged.insert(key, usage);
                }
            }
        }
    }
    merged
}

/// Ensures a statement exists for `period` for every contract of that cadence whose
/// term covers it (`rate --period`: a minimum guarantee is owed anyway).
pub fn require_period(usage: &mut UsageMap, inputs: &RatingInputs, period: Period) {
    for (index, versions) in inputs.contracts.contracts.iter().enumerate() {
        if let Some(version) = versions.version_on(period.start()) {
            if version.cadence == period.cadence {
                usage
                    .entry(StatementKey {
                        contract: index as u32,
                        period,
                    })
                    .or_default();
            }
        }
    }
}

/// Routes events to statements and accumulates their usage, in one thread.
pub struct Engine<'i> {
    inputs: &'i RatingInputs,
    pub symbols: Symbols,
    router: Router<'i>,
    pub usage: UsageMap,
}

impl<'i> Engine<'i> {
    pub fn new(inputs: &'i RatingInputs) -> Engine<'i> {
        Engine {
            inputs,
            symbols: Symbols::default(),
            router: Router::new(inputs),
            usage: UsageMap::default(),
        }
    }

    /// Adds one event; returns how many statements count it (0: none selects it).
    pub fn add(&mut self, facts: &EventFacts<'_>, event_ref: u32) -> usize {
        let interned = InternedFacts {
            host: self.symbols.intern(facts.host),
            model: self.symbols.intern(facts.model),
            use_case: self.symbols.intern(facts.use_case),
            currency: self.symbols.intern(facts.currency),
            customer: facts.customer.map(|c| self.symbols.intern(c)),
            day: facts.day,
            requests: facts.requests,
            input_tokens: facts.input_tokens,
            output_tokens: facts.output_tokens,
            revenue_units: facts.revenue_units,
        };
        self.router.add(&mut self.usage, &self.symbols, &interned, event_ref)
    }

    pub fn require_period(&mut self, period: Period) {
        require_period(&mut self.usage, self.inputs, period);
    }
}

/// The contracts whose selection may hold an event of `host` and `model` (step 1).
fn route(inputs: &RatingInputs, host: &str, model: &str) -> Box<[u32]> {
    inputs
        .contracts
        .contracts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.host() == host && licensor_owns(inputs.registry.as_ref(), c.licensor(), model))
        .map(|(index, _)| index as u32)
        .collect()
}

/// Step 1's ownership rule: with a registry, a model belongs to the licensor of the
/// first row that matches it; without one, to every licensor with a contract with
/// the host.
pub fn licensor_owns(registry: Option<&ModelRegistry>, licensor: &str, model: &str) -> bool {
    registry.is_none_or(|r| r.owner(model) == Some(licensor))
}

/// Step 1 for one contract and one event: the period of the statement that counts
/// an event of `host` and `model` on `day`, if the contract selects it (its host, a
/// version in force that day, and the model its licensor's under the registry in
/// force at that period's start, which `registry_on` gives).
pub fn selects<'r>(
    contract: &ContractVersions,
    registry_on: impl FnOnce(Day) -> Option<&'r ModelRegistry>,
    host: &str,
    model: &str,
    day: Day,
) -> Option<Period> {
    if contract.host() != host {
        return None;
    }
    let period = contract.version_on(day)?.cadence.period_of(day);
    licensor_owns(registry_on(period.start()), contract.licensor(), model).then_some(period)
}

pub use crate::statement::ExceptionKind;

/// What rates an event group (step 3): its use-case rule, and the FX rate into the
/// contract currency (`None`: already in it).
#[derive(Clone, Copy, Debug)]
pub struct RatedBy<'c> {
    pub rule: &'c crate::contract::RateRule,
    pub fx: Option<&'c Decimal>,
}

/// Step 2: an event group's exception (the first kind that applies, in the spec's
/// order), or what rates it.
pub fn classify<'c>(
    contract: &'c Contract,
    fx: &'c FxTable,
    model: &str,
    use_case: &str,
    currency: &str,
    day: Day,
) -> Result<RatedBy<'c>, ExceptionKind> {
    if !contract.licenses_model(model) {
        return Err(ExceptionKind::UnlicensedModel);
    }
    if contract.prohibited_use_cases.iter().any(|p| p == use_case) {
        return Err(ExceptionKind::ProhibitedUse);
    }
    let rule = contract.rate_for(use_case).ok_or(ExceptionKind::NoRate)?;
    if currency == contract.currency {
        return Ok(RatedBy { rule, fx: None });
    }
    let rate = fx
        .rate(currency, &contract.currency, day)
        .ok_or(ExceptionKind::NoFxRate)?;
    Ok(RatedBy { rule, fx: Some(rate) })
}

/// An adjustment carried into a statement from outside the period's own usage:
/// prior-period settlements and resolved disputes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedAdjustment {
    pub adjustment: Adjustment,
    /// Per-beneficiary parts; they add up to the adjustment's amount.
    pub payouts: BTreeMap<String, Decimal>,
}

/// The Merkle summary of a statement's events, computed by the caller (who knows
/// the events' keys and hashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeSummary {
    pub count: u64,
    pub root: Hash,
}

/// What the rating of one statement produced, with exact values for further use.
#[derive(Clone, Debug)]
pub struct Rated {
    pub statement: Statement,
    pub total: Decimal,
    pub payouts: BTreeMap<String, Decimal>,
    /// Events rated into lines, and events reported as exceptions.
    pub rated_events: u64,
    pub exception_events: u64,
}

/// The contribution delta `C` of a contract version for a period (step 4).
pub fn contribution_delta(contract: &Contract, contributions: &Contributions, period: Period) -> Decimal {
    let mut delta = Decimal::zero();
    for rule in &contract.contribution_credits {
        let n = contributions.accepted_count(&contract.id, rule.by, rule.kind, period.start(), period.end());
        let raw = rule.share_delta.mul(&Decimal::from_int(n));
        delta = delta.add(&raw.clamped(&rule.max_abs.neg(), &rule.max_abs));
    }
    delta
}

#[derive(Default)]
struct LineSums {
    sums: Sums,
    revenue: Decimal,
    base: Decimal,
}

/// The volume multiplier: exact as `numerator / denominator`.
struct Multiplier {
    numerator: Decimal,
    denominator: Decimal,
}

fn multiplier(tiers: Option<&VolumeTiers>, volume: &Decimal) -> Multiplier {
    let exact = |m: &Decimal| Multiplier {
        numerator: m.clone(),
        denominator: Decimal::one(),
    };
    let Some(tiers) = tiers else {
        return exact(&Decimal::one());
    };
    match tiers.mode {
        TierMode::Volume => {
            let tier = tiers
                .tiers
                .iter()
                .find(|t| t.up_to.as_ref().is_none_or(|up| volume <= up))
                .expect("the last tier is unbounded");
            exact(&tier.multiplier)
        }
        TierMode::Graduated if volume.is_zero() => exact(&tiers.tiers[0].multiplier),
        TierMode::Graduated => {
            let mut weighted = Decimal::zero();
            let mut lower = Decimal::zero();
            for tier in &tiers.tiers {
                if volume <= &lower {
                    break;
                }
                let upper = tier.up_to.as_ref().map_or(volume, |up| std::cmp::min(up, volume));
                weighted = weighted.add(&tier.multiplier.mul(&upper.sub(&lower)));
                lower = upper.clone();
            }
            Multiplier {
                numerator: weighted,
                denominator: volume.clone(),
            }
        }
    }
}

fn fixed(amount: &Decimal, scale: u32) -> String {
    amount.to_fixed_string(scale)
}

/// Rates one statement: `contract` is the version in force for `period`.
pub fn rate_statement(
    contract: &Contract,
    period: Period,
    usage: &PeriodUsage,
    symbols: &Symbols,
    inputs: &RatingInputs,
    tree: TreeSummary,
    carried: &[CarriedAdjustment],
) -> Rated {
    let scale = contract.rounding.scale;
    let mode = contract.rounding.mode;
    let c = contribution_delta(contract, &inputs.contributions, period);
    let (zero, one) = (Decimal::zero(), Decimal::one());

    // Steps 2–3: classify each group, then rate it.
    // Sorted by (kind, currency) bytewise, as the spec orders them.
    let mut exceptions: BTreeMap<(&str, &str), (ExceptionKind, Sums)> = BTreeMap::new();
    let mut lines: BTreeMap<(&str, &str), LineSums> = BTreeMap::new();
    let mut groups: Vec<(&GroupKey, &Sums)> = usage.groups.iter().collect();
    groups.sort_by_key(|(key, _)| **key);
    for (key, sums) in groups {
        let (model, use_case, currency) = (
            symbols.name(key.model),
            symbols.name(key.use_case),
            symbols.name(key.currency),
        );
        let (rule, fx) = match classify(contract, &inputs.fx, model, use_case, currency, key.day) {
            Ok(rated) => (rated.rule, rated.fx),
            Err(kind) => {
                exceptions
                    .entry((kind.as_str(), currency))
                    .or_insert((kind, Sums::default()))
                    .1
                    .merge(sums);
                continue;
            }
        };
        let revenue = Decimal::from_units(sums.revenue_units, REVENUE_SCALE);
        let revenue = fx.map_or_else(|| revenue.clone(), |rate| revenue.mul(rate));
        let mut rate = rule.revenue_share.add(&c);
        for window in &contract.exclusivity {
            if (window.use_case == use_case || window.use_case == "*") && window.from <= key.day && key.day < window.to
            {
                rate = rate.add(&window.share_delta);
            }
        }
        let rate = rate.clamped(&zero, &one);
        let fee = Decimal::from_int(sums.input_tokens)
            .mul(&rule.input_per_million)
            .add(&Decimal::from_int(sums.output_tokens).mul(&rule.output_per_million));
        let fee = Decimal::from_units(fee.units().clone(), fee.scale() + 6);
        let base = revenue.mul(&rate).add(&fee);
        let line = lines.entry((model, use_case)).or_default();
        line.sums.merge(sums);
        line.revenue = line.revenue.add(&revenue);
        line.base = line.base.add(&base);
    }

    // Step 5: the volume and its multiplier.
    let metric = contract.volume_tiers.as_ref().map_or(Metric::TotalTokens, |t| t.metric);
    let volume = match metric {
        Metric::TotalTokens => Decimal::from_int(
            lines
                .values()
                .map(|l| l.sums.input_tokens + l.sums.output_tokens)
                .sum::<u128>(),
        ),
        Metric::Requests => Decimal::from_int(lines.values().map(|l| l.sums.requests).sum::<u128>()),
        Metric::Revenue => lines.values().fold(Decimal::zero(), |acc, l| acc.add(&l.revenue)),
    };
    let m = multiplier(contract.volume_tiers.as_ref(), &volume);

    // Steps 6–7: line amounts and the subtotal.
    let mut subtotal = Decimal::zero();
    let mut line_rows = Vec::with_capacity(lines.len());
    let mut line_amounts = Vec::with_capacity(lines.len());
    let mut rated_events = 0;
    for ((model, use_case), line) in &lines {
        let amount = line.base.mul_div_round(&m.numerator, &m.denominator, scale, mode);
        subtotal = subtotal.add(&amount);
        rated_events += line.sums.events;
        line_rows.push(Line {
            model: model.to_string(),
            use_case: use_case.to_string(),
            events: line.sums.events,
            requests: line.sums.requests,
            input_tokens: line.sums.input_tokens,
            output_tokens: line.sums.output_tokens,
            revenue: line.revenue.to_normalized_string(),
            base: line.base.to_normalized_string(),
            amount: fixed(&amount, scale),
        });
        line_amounts.push((*model, amount));
    }

    // Steps 8–9: minimum guarantee, then cap.
    let mut adjustments: Vec<(Adjustment, Decimal)> = Vec::new();
    let mut guaranteed = subtotal.clone();
    if let Some(minimum) = &contract.minimum_guarantee {
        if &subtotal < minimum {
            let topup = minimum.sub(&subtotal);
            guaranteed = minimum.clone();
            adjustments.push((
                simple_adjustment(AdjustmentKind::MinimumGuaranteeTopup, &topup, scale),
                topup,
            ));
        }
    }
    if let Some(cap) = &contract.cap {
        if &guaranteed > cap {
            let reduction = cap.sub(&guaranteed);
            adjustments.push((
                simple_adjustment(AdjustmentKind::CapReduction, &reduction, scale),
                reduction,
            ));
        }
    }

    // Step 11: payouts. Lines split by their own rule; own adjustments pro rata.
    let mut payouts: BTreeMap<String, Decimal> = BTreeMap::new();
    for (model, amount) in &line_amounts {
        let rule = contract.split_for(model);
        let weights: Vec<Decimal> = rule.shares.values().cloned().collect();
        for (beneficiary, part) in rule.shares.keys().zip(split_largest_remainder(amount, &weights, scale)) {
            let entry = payouts.entry(beneficiary.clone()).or_default();
            *entry = entry.add(&part);
        }
    }
    if line_amounts.is_empty() {
        for beneficiary in contract.catch_all_split().shares.keys() {
            payouts.entry(beneficiary.clone()).or_default();
        }
    }
    let line_parts = payouts.clone();
    for (_, amount) in &adjustments {
        let parts = split_own_adjustment(contract, amount, &line_parts, &subtotal, scale);
        for (beneficiary, part) in parts {
            let entry = payouts.entry(beneficiary).or_default();
            *entry = entry.add(&part);
        }
    }

    // Step 10: carried adjustments, then the total.
    let mut total = subtotal.clone();
    for (_, amount) in &adjustments {
        total = total.add(amount);
    }
    let mut adjustment_rows: Vec<Adjustment> = adjustments.into_iter().map(|(a, _)| a).collect();
    carry(carried, scale, &mut total, &mut payouts);
    adjustment_rows.extend(carried.iter().map(|c| c.adjustment.clone()));
    // Conservation: a statement whose payouts do not add up to its total is never
    // signed (a bug here must stop the close, not pay the wrong amounts).
    assert_eq!(
        payouts.values().fold(Decimal::zero(), |acc, p| acc.add(p)),
        total,
        "payouts add up to the total"
    );

    let mut exception_events = 0;
    let exception_rows = exceptions
        .into_iter()
        .map(|((_, currency), (kind, sums))| {
            exception_events += sums.events;
            ExceptionRow {
                kind,
                currency: currency.to_string(),
                events: sums.events,
                revenue: Decimal::from_units(sums.revenue_units, REVENUE_SCALE).to_normalized_string(),
            }
        })
        .collect();
    let shown_multiplier = Decimal::ratio_significant(&m.numerator, &m.denominator, MULTIPLIER_DIGITS);
    let volume = Volume {
        metric: metric.as_str().to_string(),
        value: volume.to_normalized_string(),
        multiplier: shown_multiplier.to_normalized_string(),
    };
    let statement = Statement {
        contribution_delta: c.to_normalized_string(),
        lines: line_rows,
        subtotal: fixed(&subtotal, scale),
        adjustments: adjustment_rows,
        exceptions: exception_rows,
        total: fixed(&total, scale),
        payouts: payouts.iter().map(|(k, v)| (k.clone(), fixed(v, scale))).collect(),
        unique_customers: usage.customers.len() as u64,
        events: EventsSummary {
            count: tree.count,
            merkle_root: hex::encode(tree.root),
        },
        ..unclosed(contract, period, volume, scale)
    };
    Rated {
        statement,
        total,
        payouts,
        rated_events,
        exception_events,
    }
}

fn simple_adjustment(kind: AdjustmentKind, amount: &Decimal, scale: u32) -> Adjustment {
    Adjustment {
        kind,
        period: None,
        dispute_id: None,
        reasons: None,
        events: None,
        voided: None,
        amount: fixed(amount, scale),
        payouts: None,
        rerated: None,
        settled_before: None,
    }
}

/// Splits a top-up or cap reduction pro rata to the beneficiaries' rounded line
/// parts, or by the `*` rule where the subtotal is zero.
fn split_own_adjustment(
    contract: &Contract,
    amount: &Decimal,
    line_parts: &BTreeMap<String, Decimal>,
    subtotal: &Decimal,
    scale: u32,
) -> Vec<(String, Decimal)> {
    if subtotal.is_zero() {
        return split_by_catch_all(contract, amount, scale);
    }
    let weights: Vec<Decimal> = line_parts.values().cloned().collect();
    line_parts
        .keys()
        .cloned()
        .zip(split_largest_remainder(amount, &weights, scale))
        .collect()
}

/// Splits an amount by the contract's `*` rule (disputes, zero subtotals).
pub fn split_by_catch_all(contract: &Contract, amount: &Decimal, scale: u32) -> Vec<(String, Decimal)> {
    let rule = contract.catch_all_split();
    let weights: Vec<Decimal> = rule.shares.values().cloned().collect();
    rule.shares
        .keys()
        .cloned()
        .zip(split_largest_remainder(amount, &weights, scale))
        .collect()
}

/// The version of a contract that rates a statement. Versions change only at period
/// starts of both cadences (validation), so the version in force on the period's first
/// day governs the whole period.
pub fn version_for<'c>(contracts: &'c ContractSet, key: &StatementKey) -> Option<&'c Contract> {
    contracts.contracts[key.contract as usize]
        .version_on(key.period.start())
        .filter(|v| v.cadence == key.period.cadence)
}

/// One event for [`rate_events`]: its key, leaf hash and facts.
#[derive(Clone, Copy, Debug)]
pub struct KeyedFacts<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub leaf: Hash,
    pub facts: EventFacts<'a>,
}

impl<'a> KeyedFacts<'a> {
    /// The facts of a parsed event (the customer as sent; only distinctness counts).
    pub fn of(event: &'a crate::event::UsageEvent<'a>, leaf: Hash) -> KeyedFacts<'a> {
        let data = &event.data;
        KeyedFacts {
            source: &event.source,
            id: &event.id,
            leaf,
            facts: EventFacts {
                host: &data.host,
                model: &data.model,
                use_case: &data.use_case,
                currency: &data.currency,
                customer: data.customer.as_deref(),
                day: Day(event.time_utc.utc_day()),
                requests: data.requests_rated(),
                input_tokens: data.input_tokens,
                output_tokens: data.output_tokens,
                revenue_units: data.revenue_units,
            },
        }
    }
}

/// Rates events held in memory, in one thread: deduplicates by `(source, id)` (the
/// first occurrence wins; a later one with another leaf is a conflict and dropped),
/// routes, accumulates and builds each statement's tree. Statements come sorted by
/// `(contract, period)`; with `period`, only that period, for every contract of its
/// cadence whose term covers it.
///
/// This is the reference path: the parallel offline pipeline and the store's close
/// must agree with it.
pub fn rate_events(inputs: &RatingInputs, events: &[KeyedFacts<'_>], period: Option<Period>) -> Vec<Rated> {
    let mut engine = Engine::new(inputs);
    let mut first: FxHashMap<(&str, &str), u32> = FxHashMap::default();
    for (index, event) in events.iter().enumerate() {
        if first.contains_key(&(event.source, event.id)) {
            continue;
        }
        first.insert((event.source, event.id), index as u32);
        engine.add(&event.facts, index as u32);
    }
    if let Some(period) = period {
        engine.require_period(period);
    }
    let mut keys: Vec<(&StatementKey, &PeriodUsage)> = engine
        .usage
        .iter()
        .filter(|(key, _)| period.is_none_or(|p| key.period == p))
        .collect();
    keys.sort_by_key(|(key, _)| {
        (
            inputs.contracts.contracts[key.contract as usize].id.as_str(),
            key.period.to_string(),
        )
    });
    keys.into_iter()
        .map(|(key, usage)| {
            let mut counted: Vec<&KeyedFacts<'_>> = usage.events.iter().map(|i| &events[*i as usize]).collect();
            counted.sort_by(|a, b| (a.source, a.id).cmp(&(b.source, b.id)));
            let leaves: Vec<Hash> = counted.iter().map(|e| e.leaf).collect();
            let tree = TreeSummary {
                count: leaves.len() as u64,
                root: crate::merkle::root(&leaves),
            };
            let contract = version_for(&inputs.contracts, key).expect("events are routed only to versions in force");
            rate_statement(contract, key.period, usage, &engine.symbols, inputs, tree, &[])
        })
        .collect()
}

/// Step 10's carried adjustments: each one's amount into the total, its parts into
/// the payouts.
fn carry(carried: &[CarriedAdjustment], scale: u32, total: &mut Decimal, payouts: &mut BTreeMap<String, Decimal>) {
    for carried_adjustment in carried {
        let amount =
            Decimal::parse(&carried_adjustment.adjustment.amount, scale).expect("carried amounts are at scale");
        *total = total.add(&amount);
        for (beneficiary, part) in &carried_adjustment.payouts {
            let entry = payouts.entry(beneficiary.clone()).or_default();
            *entry = entry.add(part);
        }
    }
}

/// A statement of `contract` for `period` before its body: no lines, adjustments,
/// exceptions or events, zero amounts, not closed.
fn unclosed(contract: &Contract, period: Period, volume: Volume, scale: u32) -> Statement {
    let zero = fixed(&Decimal::zero(), scale);
    Statement {
        statement_id: None,
        contract: contract.id.clone(),
        contract_version: contract.version,
        contract_sha256: None,
        licensor: contract.licensor.clone(),
        host: contract.host.clone(),
        period: period.to_string(),
        period_start: day_start_rfc3339(period.start()),
        period_end: day_start_rfc3339(period.end()),
        currency: contract.currency.clone(),
        volume,
        contribution_delta: "0".to_string(),
        lines: Vec::new(),
        subtotal: zero.clone(),
        adjustments: Vec::new(),
        exceptions: Vec::new(),
        total: zero,
        payouts: BTreeMap::new(),
        unique_customers: 0,
        events: EventsSummary {
            count: 0,
            merkle_root: hex::encode(crate::merkle::empty_root()),
        },
        closed_at: None,
        due_date: None,
        audit_head: None,
        signature: None,
    }
}

/// An adjustment-only statement (statements.md, What a close uses): after a
/// contract's term, the prior-period or dispute adjustments pending for it, under its
/// last version's terms: no lines, no minimum guarantee or cap, an empty `events`
/// tree, `total` the sum of the adjustments and `payouts` the sum of theirs.
pub fn adjustment_only(contract: &Contract, period: Period, carried: &[CarriedAdjustment]) -> Rated {
    let scale = contract.rounding.scale;
    let metric = contract.volume_tiers.as_ref().map_or(Metric::TotalTokens, |t| t.metric);
    let m = multiplier(contract.volume_tiers.as_ref(), &Decimal::zero());
    let mut total = Decimal::zero();
    let mut payouts: BTreeMap<String, Decimal> = BTreeMap::new();
    carry(carried, scale, &mut total, &mut payouts);
    let volume = Volume {
        metric: metric.as_str().to_string(),
        value: "0".to_string(),
        multiplier: Decimal::ratio_significant(&m.numerator, &m.denominator, MULTIPLIER_DIGITS).to_normalized_string(),
    };
    let statement = Statement {
        adjustments: carried.iter().map(|c| c.adjustment.clone()).collect(),
        total: fixed(&total, scale),
        payouts: payouts.iter().map(|(k, v)| (k.clone(), fixed(v, scale))).collect(),
        ..unclosed(contract, period, volume, scale)
    };
    Rated {
        statement,
        total,
        payouts,
        rated_events: 0,
        exception_events: 0,
    }
}
