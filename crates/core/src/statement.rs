//! The statement's JSON form (spec: statements.md). Every decimal is a string: amounts
//! with exactly the contract's scale, unrounded values normalized.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::period::Period;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<StatementId>,
    pub contract: String,
    pub contract_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_sha256: Option<String>,
    pub licensor: String,
    pub host: String,
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    pub currency: String,
    pub volume: Volume,
    pub contribution_delta: String,
    pub lines: Vec<Line>,
    pub subtotal: String,
    pub adjustments: Vec<Adjustment>,
    pub exceptions: Vec<ExceptionRow>,
    pub total: String,
    pub payouts: BTreeMap<String, String>,
    pub unique_customers: u64,
    pub events: EventsSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// The UTC date of `closed_at` plus the contract's `payment_terms_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// The audit log's last entry before the close's own: the statement anchors the
    /// log's history up to there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditHead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A statement's id, `<contract>/<period>` (statements.md): a contract id
/// (`[a-z0-9][a-z0-9_-]{0,63}`) and a period in its canonical text. Built from the two
/// or parsed from that form, so every id in the system is spelled one way.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StatementId(String);

impl StatementId {
    /// The id of `contract`'s statement for `period`; `None` when `contract` is not
    /// a contract id.
    pub fn new(contract: &str, period: Period) -> Option<StatementId> {
        crate::contract::is_party_id(contract).then(|| StatementId(format!("{contract}/{period}")))
    }

    /// Parses `<contract>/<period>`; `None` for any other text.
    pub fn parse(text: &str) -> Option<StatementId> {
        let (contract, period) = text.split_once('/')?;
        let parsed = Period::parse(period)?;
        (parsed.to_string() == period).then_some(())?;
        StatementId::new(contract, parsed)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn contract(&self) -> &str {
        self.parts().0
    }

    pub fn period(&self) -> Period {
        Period::parse(self.parts().1).expect("a statement id holds a valid period")
    }

    fn parts(&self) -> (&str, &str) {
        self.0.split_once('/').expect("a statement id holds a '/'")
    }
}

impl std::fmt::Display for StatementId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a text is not a statement id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a statement id <contract>/<period>")]
pub struct NotAStatementId(pub String);

impl std::str::FromStr for StatementId {
    type Err = NotAStatementId;

    fn from_str(text: &str) -> Result<StatementId, NotAStatementId> {
        StatementId::parse(text).ok_or_else(|| NotAStatementId(text.to_string()))
    }
}

impl TryFrom<String> for StatementId {
    type Error = NotAStatementId;

    fn try_from(text: String) -> Result<StatementId, NotAStatementId> {
        text.parse()
    }
}

impl From<StatementId> for String {
    fn from(id: StatementId) -> String {
        id.0
    }
}

/// Read-only: an id is compared and looked up as the text it is.
impl std::ops::Deref for StatementId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for StatementId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for StatementId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for StatementId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<StatementId> for String {
    fn eq(&self, other: &StatementId) -> bool {
        *self == other.0
    }
}

impl PartialEq<StatementId> for str {
    fn eq(&self, other: &StatementId) -> bool {
        self == other.0
    }
}

/// An audit log position: `{seq, hash}` (hash in lowercase hex) and, since the log
/// is also a Merkle tree, `{tree_size, root}` of the tree at that entry (`tree_size`
/// = `seq`). Statements closed before the tree existed carry no `tree_size` or
/// `root` and keep that form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub metric: String,
    pub value: String,
    pub multiplier: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub model: String,
    pub use_case: String,
    pub events: u64,
    pub requests: u128,
    pub input_tokens: u128,
    pub output_tokens: u128,
    pub revenue: String,
    pub base: String,
    pub amount: String,
}

/// One adjustment of a statement (statements.md): the kind decides which of the
/// optional members are present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub kind: AdjustmentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_id: Option<String>,
    /// Why a prior period was re-rated, in the spec's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<Reason>>,
    /// The late events a prior-period adjustment settles (tree `prior_period:<P>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsSummary>,
    /// The voided events it removes (tree `voided:<P>`), present when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided: Option<EventsSummary>,
    pub amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payouts: Option<BTreeMap<String, String>>,
    /// How a prior-period adjustment arises: `P'`'s new rating, and what was settled
    /// for it before (`amount = rerated.total − settled_before.total`, per
    /// beneficiary likewise). Statements closed before these members existed lack
    /// them and keep that form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerated: Option<Rerated>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_before: Option<SettledBefore>,
}

/// A closed period's new rating, as a prior-period adjustment shows it: its own
/// subtotal, minimum-guarantee top-up and cap reduction (zero when none), total and
/// payouts, at the contract's scale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rerated {
    pub subtotal: String,
    pub minimum_guarantee_topup: String,
    pub cap_reduction: String,
    pub total: String,
    pub payouts: BTreeMap<String, String>,
}

/// What was settled for a closed period before a prior-period adjustment: its closed
/// total plus the earlier prior-period adjustments for it, per beneficiary likewise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledBefore {
    pub total: String,
    pub payouts: BTreeMap<String, String>,
}

/// The kinds of adjustment, in the order a statement lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    MinimumGuaranteeTopup,
    CapReduction,
    PriorPeriod,
    Dispute,
}

impl AdjustmentKind {
    /// Adjustments a statement carries for other periods (not its own amount).
    pub fn is_carried(self) -> bool {
        matches!(self, AdjustmentKind::PriorPeriod | AdjustmentKind::Dispute)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentKind::MinimumGuaranteeTopup => "minimum_guarantee_topup",
            AdjustmentKind::CapReduction => "cap_reduction",
            AdjustmentKind::PriorPeriod => "prior_period",
            AdjustmentKind::Dispute => "dispute",
        }
    }
}

/// Why a closed period is re-rated (statements.md, Prior-period adjustments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    LateEvents,
    Voids,
    FxRates,
    Contributions,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LateEvents => "late_events",
            Reason::Voids => "voids",
            Reason::FxRates => "fx_rates",
            Reason::Contributions => "contributions",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRow {
    pub kind: ExceptionKind,
    pub currency: String,
    pub events: u64,
    pub revenue: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsSummary {
    pub count: u64,
    pub merkle_root: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub alg: String,
    pub key_id: String,
    pub value: String,
}

impl Statement {
    /// The statement's pretty JSON (deterministic: fields in spec order, maps sorted).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("statements always serialize")
    }
}

/// Statements as `revshare rate` prints them: a JSON array.
pub fn statements_json(statements: &[Statement]) -> String {
    let mut text = serde_json::to_string_pretty(statements).expect("statements always serialize");
    text.push('\n');
    text
}

/// What a beneficiary that is neither the licensor nor the host receives at close
/// instead of the statement (statements.md, Payout notices).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutNotice {
    /// Always `payout_notice`.
    pub kind: NoticeKind,
    pub statement_id: StatementId,
    /// SHA-256 of the JCS of the full signed statement.
    pub statement_sha256: String,
    pub contract: String,
    pub period: String,
    pub currency: String,
    pub closed_at: String,
    pub due_date: String,
    pub beneficiary: String,
    pub payout: String,
    pub audit_head: AuditHead,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    PayoutNotice,
}

impl PayoutNotice {
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("notices always serialize")
    }
}

/// The largest integer a statement may hold: JCS writes numbers as IEEE doubles.
pub const INTEGER_MAX: u128 = crate::event::INTEGER_MAX as u128;

impl Statement {
    /// The first integer member at or above 2^53, if any (statements.md: integers
    /// in a statement stay below 2^53, or JCS would round them).
    pub fn integer_too_large(&self) -> Option<String> {
        let mut checks: Vec<(String, u128)> = vec![
            ("unique_customers".into(), u128::from(self.unique_customers)),
            ("events.count".into(), u128::from(self.events.count)),
        ];
        for (i, adjustment) in self.adjustments.iter().enumerate() {
            for (tree, summary) in [("events", &adjustment.events), ("voided", &adjustment.voided)] {
                if let Some(summary) = summary {
                    checks.push((format!("adjustments[{i}].{tree}.count"), u128::from(summary.count)));
                }
            }
        }
        for (i, exception) in self.exceptions.iter().enumerate() {
            checks.push((format!("exceptions[{i}].events"), u128::from(exception.events)));
        }
        for (i, line) in self.lines.iter().enumerate() {
            checks.push((format!("lines[{i}].events"), u128::from(line.events)));
            checks.push((format!("lines[{i}].requests"), line.requests));
            checks.push((format!("lines[{i}].input_tokens"), line.input_tokens));
            checks.push((format!("lines[{i}].output_tokens"), line.output_tokens));
        }
        checks
            .into_iter()
            .find(|(_, value)| *value > INTEGER_MAX)
            .map(|(field, value)| format!("{field} = {value}"))
    }
}

/// Why an event is not rated (in the order the checks apply; statements list them
/// by name, bytewise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    UnlicensedModel,
    ProhibitedUse,
    NoRate,
    NoFxRate,
}

impl ExceptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::UnlicensedModel => "unlicensed_model",
            ExceptionKind::ProhibitedUse => "prohibited_use",
            ExceptionKind::NoRate => "no_rate",
            ExceptionKind::NoFxRate => "no_fx_rate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_ids_are_a_contract_id_and_a_canonical_period() {
        let id = StatementId::new("acme-llama", Period::parse("2026-Q4").unwrap()).unwrap();
        assert_eq!(id.as_str(), "acme-llama/2026-Q4");
        assert_eq!(
            (id.contract(), id.period().to_string()),
            ("acme-llama", "2026-Q4".to_string())
        );
        assert_eq!(StatementId::parse("acme-llama/2026-Q4"), Some(id.clone()));
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"acme-llama/2026-Q4\"");
        assert_eq!(
            serde_json::from_str::<StatementId>("\"acme-llama/2026-Q4\"").unwrap(),
            id
        );
        for bad in [
            "",
            "acme",
            "acme/",
            "/2026-10",
            "Acme/2026-10",
            "acme/2026-13",
            "a/b/2026-10",
            "acme/2026-10 ",
        ] {
            assert_eq!(StatementId::parse(bad), None, "{bad}");
        }
        assert!(serde_json::from_str::<StatementId>("\"acme/2026-1\"").is_err());
        assert_eq!(StatementId::new("big llama", Period::parse("2026-10").unwrap()), None);
    }
}
