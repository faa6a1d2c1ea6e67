//! The statement's JSON form (spec: statements.md). Every decimal is a string: amounts
//! with exactly the contract's scale, unrounded values normalized.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<String>,
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
    pub statement_id: String,
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
