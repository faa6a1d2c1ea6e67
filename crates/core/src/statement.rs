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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merkle_root: Option<String>,
    pub amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payouts: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionRow {
    pub kind: String,
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
