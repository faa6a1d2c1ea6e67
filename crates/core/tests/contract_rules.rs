//! One bad contract per validation rule of contracts.md: each must be refused with an
//! error naming the file, the field and the rule.

use revshare_core::contract::{Contract, ContractSet};

const VALID: &str = r#"
id = "acme-llama"
version = 1
licensor = "meta"
host = "acme-cloud"
currency = "USD"
effective_from = "2026-01-01"
effective_to = "2027-01-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["llama-3.1-*"]
prohibited_use_cases = ["surveillance"]
mau_threshold = 700000000

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "customer_service"
revenue_share = "0.20"

[[rates]]
use_case = "*"
revenue_share = "0.15"
token_fee = { input_per_million = "0.02", output_per_million = "0.06" }

[volume_tiers]
metric = "total_tokens"
mode = "graduated"
tiers = [
  { up_to = "1000", multiplier = "1.00" },
  { up_to = "2000", multiplier = "0.90" },
  { multiplier = "0.80" },
]

[[exclusivity]]
use_case = "search"
holder = "host"
from = "2026-06-01"
to = "2027-01-01"
share_delta = "0.05"

[[contribution_credits]]
by = "host"
kind = "maintenance"
share_delta = "-0.01"
max_abs = "0.03"

[minimum_guarantee]
amount = "50000.00"

[cap]
amount = "5000000.00"

[[splits]]
models = ["llama-3.1-8b-medical-ft"]
shares = { meta = "0.70", finetune-labs = "0.30" }

[[splits]]
models = ["*"]
shares = { meta = "1" }
"#;

fn load(text: &str) -> Result<Contract, revshare_core::contract::ContractError> {
    Contract::from_toml("c.toml", text.as_bytes())
}

#[test]
fn the_valid_contract_loads() {
    let contract = load(VALID).unwrap();
    assert_eq!(contract.splits.len(), 2);
    assert_eq!(contract.sha256.len(), 64);
}

/// (rule, text to replace, replacement, field named, words of the rule)
const CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "id pattern",
        r#"id = "acme-llama""#,
        r#"id = "Acme Llama""#,
        "id",
        "must match",
    ),
    (
        "licensor pattern",
        r#"licensor = "meta""#,
        r#"licensor = "-meta""#,
        "licensor",
        "must match",
    ),
    (
        "host pattern",
        r#"host = "acme-cloud""#,
        r#"host = "acme.cloud""#,
        "host",
        "must match",
    ),
    (
        "licensor differs from host",
        r#"host = "acme-cloud""#,
        r#"host = "meta""#,
        "host",
        "must differ from the licensor",
    ),
    (
        "currency is ISO 4217",
        r#"currency = "USD""#,
        r#"currency = "dollars""#,
        "currency",
        "ISO 4217",
    ),
    (
        "effective_from < effective_to",
        r#"effective_to = "2027-01-01""#,
        r#"effective_to = "2026-01-01""#,
        "effective_to",
        "must be after",
    ),
    (
        "effective_from is a period start",
        r#"effective_from = "2026-01-01""#,
        r#"effective_from = "2026-01-15""#,
        "effective_from",
        "first day of a month",
    ),
    (
        "effective_to is a period start",
        r#"effective_to = "2027-01-01""#,
        r#"effective_to = "2027-01-02""#,
        "effective_to",
        "first day of a month",
    ),
    (
        "unknown top-level keys are errors",
        r#"period = "month""#,
        r#"period = "month"
effective_to_unused = 1"#,
        "effective_to_unused",
        "unknown field",
    ),
    (
        "period is month or quarter",
        r#"period = "month""#,
        r#"period = "week""#,
        "period",
        "\"month\" or \"quarter\"",
    ),
    (
        "dates are dates",
        r#"effective_from = "2026-01-01""#,
        r#"effective_from = "2026-02-30""#,
        "effective_from",
        "must be a date",
    ),
    (
        "rate in [0, 1]",
        r#"revenue_share = "0.20""#,
        r#"revenue_share = "1.20""#,
        "rates[0].revenue_share",
        "must be in [0, 1]",
    ),
    (
        "rate not negative",
        r#"revenue_share = "0.20""#,
        r#"revenue_share = "-0.20""#,
        "rates[0].revenue_share",
        "must be in [0, 1]",
    ),
    (
        "rate has at most 6 places",
        r#"revenue_share = "0.20""#,
        r#"revenue_share = "0.1234567""#,
        "rates[0].revenue_share",
        "at most 6",
    ),
    (
        "rates are strings, not floats",
        r#"revenue_share = "0.20""#,
        "revenue_share = 0.20",
        "(toml)",
        "decimal strings",
    ),
    (
        "fees are non-negative",
        r#"input_per_million = "0.02""#,
        r#"input_per_million = "-0.02""#,
        "rates[1].token_fee.input_per_million",
        "must be ≥ 0",
    ),
    (
        "one rule per use case",
        r#"use_case = "customer_service""#,
        r#"use_case = "*""#,
        "rates[1].use_case",
        "more than one rule",
    ),
    (
        "use cases match the pattern",
        r#"use_case = "customer_service""#,
        r#"use_case = "Customer Service""#,
        "rates[0].use_case",
        "must be `*` or match",
    ),
    (
        "minimum guarantee has at most scale places",
        r#"amount = "50000.00""#,
        r#"amount = "50000.001""#,
        "minimum_guarantee.amount",
        "at most 2",
    ),
    (
        "cap has at most scale places",
        r#"amount = "5000000.00""#,
        r#"amount = "5000000.005""#,
        "cap.amount",
        "at most 2",
    ),
    (
        "amounts are non-negative",
        r#"amount = "50000.00""#,
        r#"amount = "-1""#,
        "minimum_guarantee.amount",
        "must be ≥ 0",
    ),
    (
        "tiers strictly increase",
        r#"up_to = "2000""#,
        r#"up_to = "1000""#,
        "volume_tiers.tiers[1].up_to",
        "strictly increasing",
    ),
    (
        "every tier but the last has up_to",
        r#"{ up_to = "2000", multiplier = "0.90" }"#,
        r#"{ multiplier = "0.90" }"#,
        "volume_tiers.tiers[1].up_to",
        "every tier but the last",
    ),
    (
        "the last tier has no up_to",
        r#"{ multiplier = "0.80" }"#,
        r#"{ up_to = "3000", multiplier = "0.80" }"#,
        "volume_tiers.tiers[2].up_to",
        "the last tier must not",
    ),
    (
        "multipliers are non-negative",
        r#"multiplier = "0.80""#,
        r#"multiplier = "-0.80""#,
        "volume_tiers.tiers[2].multiplier",
        "must be ≥ 0",
    ),
    (
        "tier metric",
        r#"metric = "total_tokens""#,
        r#"metric = "tokens""#,
        "volume_tiers.metric",
        "must be",
    ),
    (
        "tier mode",
        r#"mode = "graduated""#,
        r#"mode = "stepped""#,
        "volume_tiers.mode",
        "must be",
    ),
    (
        "rounding mode",
        r#"mode = "half_even""#,
        r#"mode = "banker""#,
        "rounding.mode",
        "must be",
    ),
    (
        "rounding scale",
        "scale = 2",
        "scale = 13",
        "rounding.scale",
        "from 0 to 12",
    ),
    (
        "exclusivity holder",
        r#"holder = "host""#,
        r#"holder = "both""#,
        "exclusivity[0].holder",
        "must be",
    ),
    (
        "exclusivity window",
        r#"from = "2026-06-01""#,
        r#"from = "2027-06-01""#,
        "exclusivity[0].to",
        "must be after",
    ),
    (
        "exclusivity delta bounded",
        r#"share_delta = "0.05""#,
        r#"share_delta = "1.5""#,
        "exclusivity[0].share_delta",
        "must be in [-1, 1]",
    ),
    (
        "contribution kind",
        r#"kind = "maintenance""#,
        r#"kind = "repairs""#,
        "contribution_credits[0].kind",
        "must be",
    ),
    (
        "contribution party",
        r#"by = "host""#,
        r#"by = "both""#,
        "contribution_credits[0].by",
        "must be",
    ),
    (
        "contribution max_abs non-negative",
        r#"max_abs = "0.03""#,
        r#"max_abs = "-0.03""#,
        "contribution_credits[0].max_abs",
        "must be in [0, 1]",
    ),
    (
        "split shares sum to exactly 1",
        r#"finetune-labs = "0.30""#,
        r#"finetune-labs = "0.31""#,
        "splits[0].shares",
        "must sum to exactly 1",
    ),
    (
        "the last split rule is *",
        r#"models = ["*"]"#,
        r#"models = ["llama-*"]"#,
        "splits[1].models",
        "the last splits rule",
    ),
    (
        "beneficiaries are party ids",
        r#"finetune-labs = "0.30""#,
        r#"Finetune = "0.30""#,
        "splits[0].shares.Finetune",
        "must match",
    ),
    (
        "unknown keys are errors",
        r#"payment_terms_days = 30"#,
        "payment_terms_days = 30\npayment_term_days = 30",
        "payment_term_days",
        "unknown field",
    ),
    (
        "unknown keys in tables are errors",
        "scale = 2",
        "scale = 2\nprecision = 2",
        "precision",
        "unknown field",
    ),
    ("required keys", r#"currency = "USD""#, "", "currency", "missing field"),
    (
        "models are listed",
        r#"models = ["llama-3.1-*"]"#,
        "models = []",
        "models",
        "at least one",
    ),
    ("version is positive", "version = 1", "version = 0", "version", "≥ 1"),
    (
        "days are bounded",
        "payment_terms_days = 30",
        "payment_terms_days = -1",
        "payment_terms_days",
        "whole number of days",
    ),
];

#[test]
fn each_rule_refuses_a_bad_contract() {
    for (rule, from, to, field, words) in CASES {
        assert!(VALID.contains(from), "case `{rule}`: the valid contract lacks {from:?}");
        let text = VALID.replacen(from, to, 1);
        let error = load(&text).expect_err(&format!("case `{rule}` should be refused"));
        let message = error.to_string();
        assert_eq!(error.file, "c.toml", "case `{rule}`: {message}");
        assert_eq!(error.field, *field, "case `{rule}`: {message}");
        assert!(
            message.contains(words),
            "case `{rule}`: {message:?} should say {words:?}"
        );
    }
}

#[test]
fn quarterly_contracts_start_on_quarters() {
    let text = VALID
        .replace(r#"period = "month""#, r#"period = "quarter""#)
        .replace("2026-01-01", "2026-02-01");
    let error = load(&text).unwrap_err();
    assert_eq!(error.field, "effective_from");
    assert!(error.rule.contains("first day of a quarter"), "{error}");
}

fn version(n: u32, from: &str, licensor: &str) -> (String, Contract) {
    let text = VALID
        .replace("version = 1", &format!("version = {n}"))
        .replace(
            r#"effective_from = "2026-01-01""#,
            &format!("effective_from = \"{from}\""),
        )
        .replace(r#"effective_to = "2027-01-01""#, "")
        .replace(r#"licensor = "meta""#, &format!("licensor = \"{licensor}\""))
        .replace(
            r#"shares = { meta = "1" }"#,
            &format!("shares = {{ {licensor} = \"1\" }}"),
        );
    (
        format!("v{n}.toml"),
        Contract::from_toml(&format!("v{n}.toml"), text.as_bytes()).unwrap(),
    )
}

#[test]
fn versions_keep_the_parties_and_take_effect_in_turn() {
    let set = ContractSet::new(vec![version(2, "2026-06-01", "meta"), version(1, "2026-01-01", "meta")]).unwrap();
    let versions = set.get("acme-llama").unwrap();
    let day = |s: &str| revshare_core::period::Day::parse(s).unwrap();
    assert_eq!(versions.version_on(day("2026-05-31")).unwrap().version, 1);
    assert_eq!(versions.version_on(day("2026-06-01")).unwrap().version, 2);
    assert!(versions.version_on(day("2025-12-31")).is_none());

    let error = ContractSet::new(vec![
        version(1, "2026-01-01", "meta"),
        version(2, "2026-06-01", "other"),
    ])
    .unwrap_err();
    assert_eq!((error.file.as_str(), error.field.as_str()), ("v2.toml", "licensor"));
    let error = ContractSet::new(vec![version(1, "2026-06-01", "meta"), version(2, "2026-01-01", "meta")]).unwrap_err();
    assert_eq!(error.field, "effective_from");
    let error = ContractSet::new(vec![version(1, "2026-01-01", "meta"), version(1, "2026-06-01", "meta")]).unwrap_err();
    assert_eq!(error.field, "version");
}
