//! Contracts (spec: contracts.md): the TOML format, every validation rule, versions.
//!
//! A contract is parsed into raw serde structs that refuse unknown keys, then checked
//! rule by rule into a [`Contract`] whose invariants the rating code relies on.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::event::is_currency_code;
use crate::money::{Decimal, RoundingMode};
use crate::period::{Cadence, Day};

/// Decimal places the spec allows for rates, deltas, multipliers and token prices.
pub const RATE_SCALE_MAX: u32 = 6;
/// The largest `rounding.scale`; amounts beyond a trillionth of a unit make no sense.
pub const ROUNDING_SCALE_MAX: u32 = 12;
/// Integer digits of an amount, tier bound or token price (as for revenue).
pub const AMOUNT_INT_DIGITS_MAX: u32 = 15;
/// Decimal places of a split share.
pub const SHARE_SCALE_MAX: u32 = 12;
const LIST_LEN_MAX: usize = 1_000;
const DAYS_MAX: i64 = 36_500;

/// A contract that failed to load: which file, which field, which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {rule}")]
pub struct ContractError {
    pub file: String,
    pub field: String,
    pub rule: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Party {
    Host,
    Licensor,
}

impl Party {
    pub fn parse(text: &str) -> Option<Party> {
        match text {
            "host" => Some(Party::Host),
            "licensor" => Some(Party::Licensor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Host => "host",
            Party::Licensor => "licensor",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContributionKind {
    Maintenance,
    Update,
    Improvement,
}

impl ContributionKind {
    pub fn parse(text: &str) -> Option<ContributionKind> {
        match text {
            "maintenance" => Some(ContributionKind::Maintenance),
            "update" => Some(ContributionKind::Update),
            "improvement" => Some(ContributionKind::Improvement),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContributionKind::Maintenance => "maintenance",
            ContributionKind::Update => "update",
            ContributionKind::Improvement => "improvement",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    TotalTokens,
    Revenue,
    Requests,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::TotalTokens => "total_tokens",
            Metric::Revenue => "revenue",
            Metric::Requests => "requests",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TierMode {
    Graduated,
    Volume,
}

/// A `*` glob: `*` matches any run of characters, everything else matches itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob(pattern.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, text: &str) -> bool {
        glob_match(self.0.as_bytes(), text.as_bytes())
    }
}

fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Greedy with backtracking to the last star: linear for patterns with one star,
    // and correct for several.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rounding {
    pub scale: u32,
    pub mode: RoundingMode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateRule {
    /// A use case, or `*` for any other permitted use case.
    pub use_case: String,
    pub revenue_share: Decimal,
    pub input_per_million: Decimal,
    pub output_per_million: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    /// `None` on the last tier only.
    pub up_to: Option<Decimal>,
    pub multiplier: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeTiers {
    pub metric: Metric,
    pub mode: TierMode,
    pub tiers: Vec<Tier>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusivity {
    pub use_case: String,
    pub holder: Party,
    pub from: Day,
    pub to: Day,
    pub share_delta: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContributionCredit {
    pub by: Party,
    pub kind: ContributionKind,
    pub share_delta: Decimal,
    pub max_abs: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitRule {
    pub models: Vec<Glob>,
    /// Beneficiary id → share; ordered by id, which is also the tie-break order.
    pub shares: BTreeMap<String, Decimal>,
}

/// One validated version of a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    pub id: String,
    pub version: u32,
    pub licensor: String,
    pub host: String,
    pub currency: String,
    pub effective_from: Day,
    pub effective_to: Option<Day>,
    pub cadence: Cadence,
    pub payment_terms_days: u32,
    pub dispute_window_days: u32,
    pub models: Vec<Glob>,
    pub prohibited_use_cases: Vec<String>,
    pub mau_threshold: Option<u64>,
    pub rounding: Rounding,
    pub rates: Vec<RateRule>,
    pub volume_tiers: Option<VolumeTiers>,
    pub exclusivity: Vec<Exclusivity>,
    pub contribution_credits: Vec<ContributionCredit>,
    pub minimum_guarantee: Option<Decimal>,
    pub cap: Option<Decimal>,
    /// Never empty: without `[[splits]]` in the file, one `*` rule gives the licensor all.
    pub splits: Vec<SplitRule>,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

impl Contract {
    /// Loads and validates one contract file. `file` names it in errors.
    pub fn from_toml(file: &str, bytes: &[u8]) -> Result<Contract, ContractError> {
        let error = |field: &str, rule: String| ContractError {
            file: file.to_string(),
            field: field.to_string(),
            rule,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| error("(file)", format!("is not UTF-8: {e}")))?;
        let raw: RawContract = toml::from_str(text).map_err(|e| toml_error(file, &e))?;
        let mut contract = Checker { file }.contract(raw)?;
        contract.sha256 = hex::encode(Sha256::digest(bytes));
        Ok(contract)
    }

    /// The rule for a use case: its own, else `*`.
    pub fn rate_for(&self, use_case: &str) -> Option<&RateRule> {
        self.rates
            .iter()
            .find(|r| r.use_case == use_case)
            .or_else(|| self.rates.iter().find(|r| r.use_case == "*"))
    }

    pub fn licenses_model(&self, model: &str) -> bool {
        self.models.iter().any(|g| g.matches(model))
    }

    pub fn split_for(&self, model: &str) -> &SplitRule {
        self.splits
            .iter()
            .find(|rule| rule.models.iter().any(|g| g.matches(model)))
            .expect("validation guarantees a last `*` split rule")
    }

    /// The `*` split rule (always the last).
    pub fn catch_all_split(&self) -> &SplitRule {
        self.splits
            .last()
            .expect("validation guarantees at least one split rule")
    }
}

/// Turns a TOML error into the file/field/rule shape.
fn toml_error(file: &str, error: &toml::de::Error) -> ContractError {
    let message = error.message().to_string();
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| {
            message.starts_with("unknown field")
                || message.starts_with("missing field")
                || message.starts_with("duplicate")
        })
        .unwrap_or("(toml)")
        .to_string();
    let position = error
        .span()
        .map(|span| format!(" (at byte {})", span.start))
        .unwrap_or_default();
    let rule = if message.starts_with("unknown field") {
        format!("{message}{position}; unknown keys are errors so that a typo never drops a term")
    } else if message.contains("floating point") {
        format!("{message}{position}; amounts and rates are decimal strings such as \"0.15\", never TOML floats")
    } else {
        format!("{message}{position}")
    };
    ContractError {
        file: file.to_string(),
        field,
        rule,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    id: String,
    version: i64,
    licensor: String,
    host: String,
    currency: String,
    effective_from: String,
    effective_to: Option<String>,
    period: String,
    payment_terms_days: i64,
    dispute_window_days: i64,
    models: Vec<String>,
    #[serde(default)]
    prohibited_use_cases: Vec<String>,
    mau_threshold: Option<i64>,
    rounding: RawRounding,
    rates: Vec<RawRate>,
    volume_tiers: Option<RawTiers>,
    #[serde(default)]
    exclusivity: Vec<RawExclusivity>,
    #[serde(default)]
    contribution_credits: Vec<RawCredit>,
    minimum_guarantee: Option<RawAmount>,
    cap: Option<RawAmount>,
    #[serde(default)]
    splits: Vec<RawSplit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRounding {
    scale: i64,
    mode: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    use_case: String,
    revenue_share: String,
    token_fee: Option<RawFee>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFee {
    input_per_million: Option<String>,
    output_per_million: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiers {
    metric: String,
    mode: String,
    tiers: Vec<RawTier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    up_to: Option<String>,
    multiplier: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusivity {
    use_case: String,
    holder: String,
    from: String,
    to: String,
    share_delta: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredit {
    by: String,
    kind: String,
    share_delta: String,
    max_abs: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmount {
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    models: Vec<String>,
    shares: BTreeMap<String, String>,
}

/// `[a-z0-9][a-z0-9_-]{0,63}`: contract and party ids.
pub fn is_party_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// `[a-z0-9_]{1,64}`: use cases.
pub fn is_use_case(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

struct Checker<'f> {
    file: &'f str,
}

type Checked<T> = Result<T, ContractError>;

impl Checker<'_> {
    fn fail<T>(&self, field: &str, rule: impl Into<String>) -> Checked<T> {
        Err(ContractError {
            file: self.file.to_string(),
            field: field.to_string(),
            rule: rule.into(),
        })
    }

    fn party(&self, field: &str, value: &str) -> Checked<String> {
        if !is_party_id(value) {
            return self.fail(field, format!("\"{value}\" must match [a-z0-9][a-z0-9_-]{{0,63}}"));
        }
        Ok(value.to_string())
    }

    fn day(&self, field: &str, value: &str) -> Checked<Day> {
        match Day::parse(value) {
            Some(day) => Ok(day),
            None => self.fail(field, format!("\"{value}\" must be a date YYYY-MM-DD")),
        }
    }

    fn days(&self, field: &str, value: i64) -> Checked<u32> {
        if !(0..=DAYS_MAX).contains(&value) {
            return self.fail(
                field,
                format!("{value} must be a whole number of days from 0 to {DAYS_MAX}"),
            );
        }
        Ok(value as u32)
    }

    fn decimal(&self, field: &str, value: &str, frac_max: u32) -> Checked<Decimal> {
        Decimal::parse_bounded(value, frac_max, AMOUNT_INT_DIGITS_MAX).or_else(|e| self.fail(field, e.to_string()))
    }

    /// A decimal in `[low, high]`.
    fn bounded(&self, field: &str, value: &str, frac_max: u32, low: &str, high: Option<&str>) -> Checked<Decimal> {
        let d = self.decimal(field, value, frac_max)?;
        let low_d = Decimal::parse(low, 12).expect("literal");
        if d < low_d {
            return match high {
                Some(high) => self.fail(field, format!("{value} must be in [{low}, {high}]")),
                None => self.fail(field, format!("{value} must be ≥ {low}")),
            };
        }
        if let Some(high) = high {
            if d > Decimal::parse(high, 12).expect("literal") {
                return self.fail(field, format!("{value} must be in [{low}, {high}]"));
            }
        }
        Ok(d)
    }

    fn use_case(&self, field: &str, value: &str, star_allowed: bool) -> Checked<String> {
        if (star_allowed && value == "*") || is_use_case(value) {
            return Ok(value.to_string());
        }
        let rule = if star_allowed {
            format!("\"{value}\" must be `*` or match [a-z0-9_]{{1,64}}")
        } else {
            format!("\"{value}\" must match [a-z0-9_]{{1,64}}")
        };
        self.fail(field, rule)
    }

    fn globs(&self, field: &str, patterns: &[String]) -> Checked<Vec<Glob>> {
        if patterns.is_empty() {
            return self.fail(field, "must list at least one model pattern");
        }
        if patterns.len() > LIST_LEN_MAX {
            return self.fail(field, format!("lists more than {LIST_LEN_MAX} patterns"));
        }
        for (index, pattern) in patterns.iter().enumerate() {
            if pattern.is_empty() || pattern.len() > 256 {
                return self.fail(&format!("{field}[{index}]"), "a model pattern is 1 to 256 characters");
            }
        }
        Ok(patterns.iter().map(|p| Glob::new(p)).collect())
    }

    fn contract(&self, raw: RawContract) -> Checked<Contract> {
        let id = self.party("id", &raw.id)?;
        if !(1..=i64::from(u32::MAX)).contains(&raw.version) {
            return self.fail("version", format!("{} must be a whole number ≥ 1", raw.version));
        }
        let licensor = self.party("licensor", &raw.licensor)?;
        let host = self.party("host", &raw.host)?;
        if licensor == host {
            return self.fail("host", format!("\"{host}\" must differ from the licensor"));
        }
        if !is_currency_code(&raw.currency) {
            return self.fail(
                "currency",
                format!("\"{}\" must be an ISO 4217 code such as \"USD\"", raw.currency),
            );
        }
        let Some(cadence) = Cadence::parse(&raw.period) else {
            return self.fail("period", format!("\"{}\" must be \"month\" or \"quarter\"", raw.period));
        };
        let effective_from = self.day("effective_from", &raw.effective_from)?;
        if !cadence.is_period_start(effective_from) {
            return self.fail(
                "effective_from",
                format!("{effective_from} must be the first day of a {}", raw.period),
            );
        }
        let effective_to = match &raw.effective_to {
            None => None,
            Some(text) => {
                let to = self.day("effective_to", text)?;
                if to <= effective_from {
                    return self.fail(
                        "effective_to",
                        format!("{to} must be after effective_from {effective_from}"),
                    );
                }
                if !cadence.is_period_start(to) {
                    return self.fail(
                        "effective_to",
                        format!("{to} must be the first day of a {}", raw.period),
                    );
                }
                Some(to)
            }
        };
        let payment_terms_days = self.days("payment_terms_days", raw.payment_terms_days)?;
        let dispute_window_days = self.days("dispute_window_days", raw.dispute_window_days)?;
        let models = self.globs("models", &raw.models)?;
        let mut prohibited_use_cases = Vec::new();
        for (index, use_case) in raw.prohibited_use_cases.iter().enumerate() {
            prohibited_use_cases.push(self.use_case(&format!("prohibited_use_cases[{index}]"), use_case, false)?);
        }
        let mau_threshold = match raw.mau_threshold {
            Some(n) if n < 1 => return self.fail("mau_threshold", format!("{n} must be ≥ 1")),
            other => other.map(|n| n as u64),
        };
        if !(0..=i64::from(ROUNDING_SCALE_MAX)).contains(&raw.rounding.scale) {
            return self.fail(
                "rounding.scale",
                format!("{} must be from 0 to {ROUNDING_SCALE_MAX}", raw.rounding.scale),
            );
        }
        let Some(mode) = RoundingMode::parse(&raw.rounding.mode) else {
            return self.fail(
                "rounding.mode",
                format!(
                    "\"{}\" must be \"half_even\", \"half_up\" or \"down\"",
                    raw.rounding.mode
                ),
            );
        };
        let rounding = Rounding {
            scale: raw.rounding.scale as u32,
            mode,
        };
        let rates = self.rates(&raw.rates)?;
        let volume_tiers = raw.volume_tiers.as_ref().map(|t| self.tiers(t)).transpose()?;
        let mut exclusivity = Vec::new();
        for (index, e) in raw.exclusivity.iter().enumerate() {
            let at = |name: &str| format!("exclusivity[{index}].{name}");
            let Some(holder) = Party::parse(&e.holder) else {
                return self.fail(
                    &at("holder"),
                    format!("\"{}\" must be \"host\" or \"licensor\"", e.holder),
                );
            };
            let from = self.day(&at("from"), &e.from)?;
            let to = self.day(&at("to"), &e.to)?;
            if to <= from {
                return self.fail(&at("to"), format!("{to} must be after from {from}"));
            }
            exclusivity.push(Exclusivity {
                use_case: self.use_case(&at("use_case"), &e.use_case, true)?,
                holder,
                from,
                to,
                share_delta: self.bounded(&at("share_delta"), &e.share_delta, RATE_SCALE_MAX, "-1", Some("1"))?,
            });
        }
        let mut contribution_credits = Vec::new();
        for (index, c) in raw.contribution_credits.iter().enumerate() {
            let at = |name: &str| format!("contribution_credits[{index}].{name}");
            let Some(by) = Party::parse(&c.by) else {
                return self.fail(&at("by"), format!("\"{}\" must be \"host\" or \"licensor\"", c.by));
            };
            let Some(kind) = ContributionKind::parse(&c.kind) else {
                return self.fail(
                    &at("kind"),
                    format!("\"{}\" must be \"maintenance\", \"update\" or \"improvement\"", c.kind),
                );
            };
            contribution_credits.push(ContributionCredit {
                by,
                kind,
                share_delta: self.bounded(&at("share_delta"), &c.share_delta, RATE_SCALE_MAX, "-1", Some("1"))?,
                max_abs: self.bounded(&at("max_abs"), &c.max_abs, RATE_SCALE_MAX, "0", Some("1"))?,
            });
        }
        let amount = |field: &str, raw: &Option<RawAmount>| -> Checked<Option<Decimal>> {
            raw.as_ref()
                .map(|a| self.bounded(field, &a.amount, rounding.scale, "0", None))
                .transpose()
        };
        let minimum_guarantee = amount("minimum_guarantee.amount", &raw.minimum_guarantee)?;
        let cap = amount("cap.amount", &raw.cap)?;
        let splits = self.splits(&raw.splits, &licensor)?;
        Ok(Contract {
            id,
            version: raw.version as u32,
            licensor,
            host,
            currency: raw.currency,
            effective_from,
            effective_to,
            cadence,
            payment_terms_days,
            dispute_window_days,
            models,
            prohibited_use_cases,
            mau_threshold,
            rounding,
            rates,
            volume_tiers,
            exclusivity,
            contribution_credits,
            minimum_guarantee,
            cap,
            splits,
            sha256: String::new(),
        })
    }

    fn rates(&self, raw: &[RawRate]) -> Checked<Vec<RateRule>> {
        if raw.is_empty() {
            return self.fail("rates", "must have at least one [[rates]] rule");
        }
        let mut seen = BTreeSet::new();
        let mut rates = Vec::new();
        for (index, r) in raw.iter().enumerate() {
            let at = |name: &str| format!("rates[{index}].{name}");
            let use_case = self.use_case(&at("use_case"), &r.use_case, true)?;
            if !seen.insert(use_case.clone()) {
                return self.fail(
                    &at("use_case"),
                    format!("\"{use_case}\" has more than one rule (at most one per use case)"),
                );
            }
            let fee = |name: &str, value: Option<&String>| -> Checked<Decimal> {
                match value {
                    None => Ok(Decimal::zero()),
                    Some(v) => self.bounded(&at(&format!("token_fee.{name}")), v, RATE_SCALE_MAX, "0", None),
                }
            };
            let (input, output) = match &r.token_fee {
                None => (Decimal::zero(), Decimal::zero()),
                Some(f) => (
                    fee("input_per_million", f.input_per_million.as_ref())?,
                    fee("output_per_million", f.output_per_million.as_ref())?,
                ),
            };
            rates.push(RateRule {
                use_case,
                revenue_share: self.bounded(&at("revenue_share"), &r.revenue_share, RATE_SCALE_MAX, "0", Some("1"))?,
                input_per_million: input,
                output_per_million: output,
            });
        }
        Ok(rates)
    }

    fn tiers(&self, raw: &RawTiers) -> Checked<VolumeTiers> {
        let metric = match raw.metric.as_str() {
            "total_tokens" => Metric::TotalTokens,
            "revenue" => Metric::Revenue,
            "requests" => Metric::Requests,
            other => {
                return self.fail(
                    "volume_tiers.metric",
                    format!("\"{other}\" must be \"total_tokens\", \"revenue\" or \"requests\""),
                )
            }
        };
        let mode = match raw.mode.as_str() {
            "graduated" => TierMode::Graduated,
            "volume" => TierMode::Volume,
            other => {
                return self.fail(
                    "volume_tiers.mode",
                    format!("\"{other}\" must be \"graduated\" or \"volume\""),
                )
            }
        };
        if raw.tiers.is_empty() {
            return self.fail("volume_tiers.tiers", "must have at least one tier");
        }
        if raw.tiers.len() > LIST_LEN_MAX {
            return self.fail("volume_tiers.tiers", format!("has more than {LIST_LEN_MAX} tiers"));
        }
        let last = raw.tiers.len() - 1;
        let mut tiers = Vec::new();
        let mut previous = Decimal::zero();
        for (index, t) in raw.tiers.iter().enumerate() {
            let at = |name: &str| format!("volume_tiers.tiers[{index}].{name}");
            let multiplier = self.bounded(&at("multiplier"), &t.multiplier, RATE_SCALE_MAX, "0", None)?;
            let up_to = match (&t.up_to, index == last) {
                (Some(_), true) => {
                    return self.fail(&at("up_to"), "the last tier must not have up_to (it is unbounded)")
                }
                (None, false) => return self.fail(&at("up_to"), "every tier but the last must have up_to"),
                (None, true) => None,
                (Some(text), false) => {
                    let bound = self.decimal(&at("up_to"), text, 12)?;
                    if bound <= previous {
                        return self.fail(
                            &at("up_to"),
                            format!("{text} must be greater than {previous} (strictly increasing)"),
                        );
                    }
                    previous = bound.clone();
                    Some(bound)
                }
            };
            tiers.push(Tier { up_to, multiplier });
        }
        Ok(VolumeTiers { metric, mode, tiers })
    }

    fn splits(&self, raw: &[RawSplit], licensor: &str) -> Checked<Vec<SplitRule>> {
        if raw.is_empty() {
            return Ok(vec![SplitRule {
                models: vec![Glob::new("*")],
                shares: BTreeMap::from([(licensor.to_string(), Decimal::one())]),
            }]);
        }
        let mut rules = Vec::new();
        for (index, s) in raw.iter().enumerate() {
            let at = |name: &str| format!("splits[{index}].{name}");
            let models = self.globs(&at("models"), &s.models)?;
            if s.shares.is_empty() {
                return self.fail(&at("shares"), "must name at least one beneficiary");
            }
            let mut shares = BTreeMap::new();
            let mut sum = Decimal::zero();
            for (beneficiary, share) in &s.shares {
                let field = at(&format!("shares.{beneficiary}"));
                self.party(&field, beneficiary)?;
                let share = self.bounded(&field, share, SHARE_SCALE_MAX, "0", Some("1"))?;
                sum = sum.add(&share);
                shares.insert(beneficiary.clone(), share);
            }
            if sum != Decimal::one() {
                return self.fail(
                    &at("shares"),
                    format!("sum to {}, must sum to exactly 1", sum.to_normalized_string()),
                );
            }
            rules.push(SplitRule { models, shares });
        }
        let last = rules.last().expect("non-empty");
        if !(last.models.len() == 1 && last.models[0].as_str() == "*") {
            return self.fail(
                &format!("splits[{}].models", rules.len() - 1),
                "the last splits rule must have models = [\"*\"]",
            );
        }
        Ok(rules)
    }
}

/// All versions of all contracts in play, checked against each other.
#[derive(Clone, Debug, Default)]
pub struct ContractSet {
    /// One entry per contract id, versions ascending.
    pub contracts: Vec<ContractVersions>,
}

#[derive(Clone, Debug)]
pub struct ContractVersions {
    pub id: String,
    pub versions: Vec<Contract>,
}

impl ContractVersions {
    /// Where version `index` stops applying: its own `effective_to` or the next
    /// version's `effective_from`, whichever is earlier.
    pub fn end_of(&self, index: usize) -> Option<Day> {
        let own = self.versions[index].effective_to;
        match (own, self.versions.get(index + 1)) {
            (Some(own), Some(next)) => Some(own.min(next.effective_from)),
            (None, Some(next)) => Some(next.effective_from),
            (own, None) => own,
        }
    }

    /// The version in force on `day`, if any.
    pub fn version_on(&self, day: Day) -> Option<&Contract> {
        let index = self.versions.iter().rposition(|v| v.effective_from <= day)?;
        match self.end_of(index) {
            Some(end) if day >= end => None,
            _ => Some(&self.versions[index]),
        }
    }

    pub fn licensor(&self) -> &str {
        &self.versions[0].licensor
    }

    pub fn host(&self) -> &str {
        &self.versions[0].host
    }
}

impl ContractSet {
    /// Groups versions by id and checks the rules between versions. `file_of` names
    /// the file each contract came from, for errors.
    pub fn new(mut loaded: Vec<(String, Contract)>) -> Result<ContractSet, ContractError> {
        loaded.sort_by(|a, b| (&a.1.id, a.1.version).cmp(&(&b.1.id, b.1.version)));
        let mut contracts: Vec<ContractVersions> = Vec::new();
        let mut files: Vec<String> = Vec::new();
        for (file, contract) in loaded {
            let fail = |field: &str, rule: String| ContractError {
                file: file.clone(),
                field: field.to_string(),
                rule,
            };
            match contracts.last_mut() {
                Some(group) if group.id == contract.id => {
                    let previous = group.versions.last().expect("groups are never empty");
                    if previous.version == contract.version {
                        return Err(fail(
                            "version",
                            format!(
                                "{} {} is also given by {}",
                                contract.id,
                                contract.version,
                                files.last().expect("same length")
                            ),
                        ));
                    }
                    for (field, old, new) in [
                        ("licensor", &previous.licensor, &contract.licensor),
                        ("host", &previous.host, &contract.host),
                        ("currency", &previous.currency, &contract.currency),
                    ] {
                        if old != new {
                            return Err(fail(
                                field,
                                format!("\"{new}\" differs from version {}'s \"{old}\" (versions keep licensor, host and currency)", previous.version),
                            ));
                        }
                    }
                    if contract.effective_from <= previous.effective_from {
                        return Err(fail(
                            "effective_from",
                            format!(
                                "{} must be after version {}'s effective_from {} (a new version takes effect later)",
                                contract.effective_from, previous.version, previous.effective_from
                            ),
                        ));
                    }
                    if !previous.cadence.is_period_start(contract.effective_from) {
                        return Err(fail(
                            "effective_from",
                            format!(
                                "{} must also start a period of version {} so that no period is split between versions",
                                contract.effective_from, previous.version
                            ),
                        ));
                    }
                    group.versions.push(contract);
                    *files.last_mut().expect("same length") = file;
                }
                _ => {
                    contracts.push(ContractVersions {
                        id: contract.id.clone(),
                        versions: vec![contract],
                    });
                    files.push(file);
                }
            }
        }
        Ok(ContractSet { contracts })
    }

    pub fn get(&self, id: &str) -> Option<&ContractVersions> {
        self.contracts.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("llama-3.1-*", "llama-3.1-70b-instruct", true),
            ("llama-3.1-*", "llama-3.3-70b-instruct", false),
            ("m", "m", true),
            ("m", "m-a", false),
            ("m-*", "m-", true),
            ("*-ft", "llama-medical-ft", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
        ] {
            assert_eq!(Glob::new(pattern).matches(text), expected, "{pattern} ~ {text}");
        }
    }
}
