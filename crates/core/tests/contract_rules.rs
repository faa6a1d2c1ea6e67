//! One bad contract per validation rule of contracts.md: each must be refused with an
//! error naming the file, the field and the rule.

mod common;

use revshare_core::contract::{Contract, ContractError, ContractSet};

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

fn load(text: &str) -> Result<Contract, ContractError> {
    Contract::from_toml("c.toml", text.as_bytes())
}

#[test]
fn the_valid_contract_loads() {
    let contract = load(VALID).unwrap();
    assert_eq!(contract.splits.len(), 2);
    assert_eq!(contract.sha256.len(), 64);
}

/// (rule, text to replace, replacement, field named, words of the rule, line of the field
/// in the changed text: counted by hand in `VALID`, whose first line is empty)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<usize>,
);

const CASES: &[Case] = &[
    (
        "id pattern",
        r#"id = "acme-llama""#,
        r#"id = "Acme Llama""#,
        "id",
        "must match",
        Some(2),
    ),
    (
        "licensor pattern",
        r#"licensor = "meta""#,
        r#"licensor = "-meta""#,
        "licensor",
        "must match",
        Some(4),
    ),
    (
        "host pattern",
        r#"host = "acme-cloud""#,
        r#"host = "acme.cloud""#,
        "host",
        "must match",
        Some(5),
    ),
    (
        "licensor differs from host",
        r#"host = "acme-cloud""#,
        r#"host = "meta""#,
        "host",
        "must differ from the licensor",
        Some(5),
    ),
    (
        "currency is ISO 4217",
        r#"currency = "USD""#,
        r#"currency = "dollars""#,
        "currency",
        "ISO 4217",
        Some(6),
    ),
    (
        "effective_from < effective_to",
        r#"effective_to = "2027-01-01""#,
        r#"effective_to = "2026-01-01""#,
        "effective_to",
        "must be after",
        Some(8),
    ),
    (
        "effective_from is a period start",
        r#"effective_from = "2026-01-01""#,
        r#"effective_from = "2026-01-15""#,
        "effective_from",
        "first day of a month",
        Some(7),
    ),
    (
        "effective_to is a period start",
        r#"effective_to = "2027-01-01""#,
        r#"effective_to = "2027-01-02""#,
        "effective_to",
        "first day of a month",
        Some(8),
    ),
    (
        "unknown top-level keys are errors",
        r#"period = "month""#,
        r#"period = "month"
effective_to_unused = 1"#,
        "effective_to_unused",
        "unknown key",
        Some(10),
    ),
    (
        "period is month or quarter",
        r#"period = "month""#,
        r#"period = "week""#,
        "period",
        "\"month\" or \"quarter\"",
        Some(9),
    ),
    (
        "dates are dates",
        r#"effective_from = "2026-01-01""#,
        r#"effective_from = "2026-02-30""#,
        "effective_from",
        "must be a date",
        Some(7),
    ),
    (
        "rate in [0, 1]",
        r#"revenue_share = "0.20""#,
        r#"revenue_share = "1.20""#,
        "rates[0].revenue_share",
        "must be in [0, 1]",
        Some(22),
    ),
    (
        "rate not negative",
        r#"revenue_share = "0.20""#,
        r#"revenue_share = "-0.20""#,
        "rates[0].revenue_share",
        "must be in [0, 1]",
        Some(22),
    ),
    (
        "rate has at most 6 places",
        r#"revenue_share = "0.20""#,
        r#"revenue_share = "0.1234567""#,
        "rates[0].revenue_share",
        "at most 6",
        Some(22),
    ),
    (
        "rates are strings, not floats",
        r#"revenue_share = "0.20""#,
        "revenue_share = 0.20",
        "rates[0].revenue_share",
        "expected a string like \"0.12\", found a float",
        Some(22),
    ),
    (
        "fees are non-negative",
        r#"input_per_million = "0.02""#,
        r#"input_per_million = "-0.02""#,
        "rates[1].token_fee.input_per_million",
        "must be ≥ 0",
        Some(27),
    ),
    (
        "one rule per use case",
        r#"use_case = "customer_service""#,
        r#"use_case = "*""#,
        "rates[1].use_case",
        "more than one rule",
        Some(25),
    ),
    (
        "use cases match the pattern",
        r#"use_case = "customer_service""#,
        r#"use_case = "Customer Service""#,
        "rates[0].use_case",
        "must be `*` or match",
        Some(21),
    ),
    (
        "minimum guarantee has at most scale places",
        r#"amount = "50000.00""#,
        r#"amount = "50000.001""#,
        "minimum_guarantee.amount",
        "at most 2",
        Some(52),
    ),
    (
        "cap has at most scale places",
        r#"amount = "5000000.00""#,
        r#"amount = "5000000.005""#,
        "cap.amount",
        "at most 2",
        Some(55),
    ),
    (
        "amounts are non-negative",
        r#"amount = "50000.00""#,
        r#"amount = "-1""#,
        "minimum_guarantee.amount",
        "must be ≥ 0",
        Some(52),
    ),
    (
        "tiers strictly increase",
        r#"up_to = "2000""#,
        r#"up_to = "1000""#,
        "volume_tiers.tiers[1].up_to",
        "strictly increasing",
        Some(34),
    ),
    (
        "every tier but the last has up_to",
        r#"{ up_to = "2000", multiplier = "0.90" }"#,
        r#"{ multiplier = "0.90" }"#,
        "volume_tiers.tiers[1].up_to",
        "every tier but the last",
        Some(34),
    ),
    (
        "the last tier has no up_to",
        r#"{ multiplier = "0.80" }"#,
        r#"{ up_to = "3000", multiplier = "0.80" }"#,
        "volume_tiers.tiers[2].up_to",
        "the last tier must not",
        Some(35),
    ),
    (
        "multipliers are non-negative",
        r#"multiplier = "0.80""#,
        r#"multiplier = "-0.80""#,
        "volume_tiers.tiers[2].multiplier",
        "must be ≥ 0",
        Some(35),
    ),
    (
        "tier metric",
        r#"metric = "total_tokens""#,
        r#"metric = "tokens""#,
        "volume_tiers.metric",
        "must be",
        Some(30),
    ),
    (
        "tier mode",
        r#"mode = "graduated""#,
        r#"mode = "stepped""#,
        "volume_tiers.mode",
        "must be",
        Some(31),
    ),
    (
        "rounding mode",
        r#"mode = "half_even""#,
        r#"mode = "banker""#,
        "rounding.mode",
        "must be",
        Some(18),
    ),
    (
        "rounding scale",
        "scale = 2",
        "scale = 13",
        "rounding.scale",
        "from 0 to 12",
        Some(17),
    ),
    (
        "exclusivity holder",
        r#"holder = "host""#,
        r#"holder = "both""#,
        "exclusivity[0].holder",
        "must be",
        Some(40),
    ),
    (
        "exclusivity window",
        r#"from = "2026-06-01""#,
        r#"from = "2027-06-01""#,
        "exclusivity[0].to",
        "must be after",
        Some(42),
    ),
    (
        "exclusivity delta bounded",
        r#"share_delta = "0.05""#,
        r#"share_delta = "1.5""#,
        "exclusivity[0].share_delta",
        "must be in [-1, 1]",
        Some(43),
    ),
    (
        "contribution kind",
        r#"kind = "maintenance""#,
        r#"kind = "repairs""#,
        "contribution_credits[0].kind",
        "must be",
        Some(47),
    ),
    (
        "contribution party",
        r#"by = "host""#,
        r#"by = "both""#,
        "contribution_credits[0].by",
        "must be",
        Some(46),
    ),
    (
        "contribution max_abs non-negative",
        r#"max_abs = "0.03""#,
        r#"max_abs = "-0.03""#,
        "contribution_credits[0].max_abs",
        "must be in [0, 1]",
        Some(49),
    ),
    (
        "split shares sum to exactly 1",
        r#"finetune-labs = "0.30""#,
        r#"finetune-labs = "0.31""#,
        "splits[0].shares",
        "must sum to exactly 1",
        Some(59),
    ),
    (
        "the last split rule is *",
        r#"models = ["*"]"#,
        r#"models = ["llama-*"]"#,
        "splits[1].models",
        "the last splits rule",
        Some(62),
    ),
    (
        "beneficiaries are party ids",
        r#"finetune-labs = "0.30""#,
        r#"Finetune = "0.30""#,
        "splits[0].shares.Finetune",
        "must match",
        Some(59),
    ),
    (
        "unknown keys are errors",
        r#"payment_terms_days = 30"#,
        "payment_terms_days = 30\npayment_term_days = 30",
        "payment_term_days",
        "unknown key; did you mean \"payment_terms_days\"?",
        Some(11),
    ),
    (
        "unknown keys in tables are errors",
        "scale = 2",
        "scale = 2\nprecision = 2",
        "rounding.precision",
        "unknown key; expected `scale` or `mode`",
        Some(18),
    ),
    (
        "required keys",
        r#"currency = "USD""#,
        "",
        "currency",
        "required key is missing",
        None,
    ),
    (
        "models are listed",
        r#"models = ["llama-3.1-*"]"#,
        "models = []",
        "models",
        "at least one",
        Some(12),
    ),
    (
        "version is positive",
        "version = 1",
        "version = 0",
        "version",
        "≥ 1",
        Some(3),
    ),
    (
        "days are bounded",
        "payment_terms_days = 30",
        "payment_terms_days = -1",
        "payment_terms_days",
        "whole number of days",
        Some(10),
    ),
];

#[test]
fn each_rule_refuses_a_bad_contract() {
    for (rule, from, to, field, words, line) in CASES {
        assert!(VALID.contains(from), "case `{rule}`: the valid contract lacks {from:?}");
        let text = VALID.replacen(from, to, 1);
        let error = load(&text).expect_err(&format!("case `{rule}` should be refused"));
        let message = error.to_string();
        assert_eq!(error.file, "c.toml", "case `{rule}`: {message}");
        assert_eq!(error.field, *field, "case `{rule}`: {message}");
        assert_eq!(error.line, *line, "case `{rule}`: {message}");
        assert_eq!(error.column, None, "case `{rule}`: {message}");
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
    assert_eq!(
        error.rule,
        r#"version 2 has licensor "other" but version 1 (v1.toml) has "meta"; versions of one contract keep licensor"#
    );
    let error = ContractSet::new(vec![version(1, "2026-06-01", "meta"), version(2, "2026-01-01", "meta")]).unwrap_err();
    assert_eq!(error.field, "effective_from");
    let error = ContractSet::new(vec![version(1, "2026-01-01", "meta"), version(1, "2026-06-01", "meta")]).unwrap_err();
    assert_eq!(error.field, "version");
}

// Errors located in the spec's example contracts (fixtures/spec-examples/contracts),
// each changed in one place. Lines are those of the fixture files, counted by hand.

fn example(name: &str) -> String {
    String::from_utf8(common::read(&format!("contracts/{name}"))).unwrap()
}

/// The spec example `name` with the first `from` replaced by `to`.
fn changed_example(name: &str, from: &str, to: &str) -> String {
    let text = example(name);
    assert!(text.contains(from), "{name} lacks {from:?}");
    text.replacen(from, to, 1)
}

fn example_error(name: &str, from: &str, to: &str) -> ContractError {
    let text = changed_example(name, from, to);
    Contract::from_toml(name, text.as_bytes()).expect_err(&format!("{name} with {to:?} should be refused"))
}

#[test]
fn the_spec_examples_load() {
    for name in ["acme-llama.toml", "nimbus-llama.toml", "orbit-llama.toml"] {
        Contract::from_toml(name, example(name).as_bytes()).unwrap();
    }
}

#[test]
fn a_float_rate_names_the_second_rates_table_and_its_line() {
    // acme-llama.toml line 26 is the second [[rates]] table's revenue_share.
    let error = example_error("acme-llama.toml", r#"revenue_share = "0.10""#, "revenue_share = 0.10");
    assert_eq!(
        error.to_string(),
        r#"acme-llama.toml: rates[1].revenue_share, line 26: expected a string like "0.12", found a float"#
    );
    assert_eq!(
        (error.field.as_str(), error.line, error.column),
        ("rates[1].revenue_share", Some(26), None)
    );
}

#[test]
fn an_integer_amount_names_the_minimum_guarantee() {
    // nimbus-llama.toml line 38: `amount = "25000.00"` under [minimum_guarantee].
    let error = example_error("nimbus-llama.toml", r#"amount = "25000.00""#, "amount = 25000");
    assert_eq!(
        error.to_string(),
        r#"nimbus-llama.toml: minimum_guarantee.amount, line 38: expected a string like "0.12", found an integer"#
    );
}

#[test]
fn unknown_keys_in_nested_tables_are_named_with_a_suggestion() {
    // acme-llama.toml line 35: the `*` rule (rates[3]) has an inline token_fee table.
    let error = example_error("acme-llama.toml", "input_per_million", "input_per_milion");
    assert_eq!(
        error.to_string(),
        r#"acme-llama.toml: rates[3].token_fee.input_per_milion, line 35: unknown key; did you mean "input_per_million"?"#
    );
    // orbit-llama.toml line 16 is `mode = "down"` in [rounding]; the new key is line 17.
    let error = example_error(
        "orbit-llama.toml",
        "mode = \"down\"\n",
        "mode = \"down\"\nprecision = 2\n",
    );
    assert_eq!((error.field.as_str(), error.line), ("rounding.precision", Some(17)));
    assert_eq!(error.rule, "unknown key; expected `scale` or `mode`");
    // A typo of a top-level key (line 10 of orbit-llama.toml).
    let error = example_error("orbit-llama.toml", "dispute_window_days", "dispute_windows_days");
    assert_eq!((error.field.as_str(), error.line), ("dispute_windows_days", Some(10)));
    assert_eq!(error.rule, r#"unknown key; did you mean "dispute_window_days"?"#);
}

#[test]
fn a_missing_key_names_its_table_and_the_line_the_table_starts_on() {
    // acme-llama.toml: [rounding] is line 16, its `mode` line 18.
    let error = example_error("acme-llama.toml", "mode = \"half_even\"\n", "");
    assert_eq!(
        error.to_string(),
        "acme-llama.toml: rounding.mode, line 16: required key is missing from the table that starts on this line"
    );
    // nimbus-llama.toml: the second [[rates]] starts on line 22 (use_case on 23).
    let error = example_error("nimbus-llama.toml", "use_case = \"recommendations\"\n", "");
    assert_eq!((error.field.as_str(), error.line), ("rates[1].use_case", Some(22)));
    // A top-level key left out is nowhere in the file: no line.
    let error = example_error("nimbus-llama.toml", "currency = \"USD\"\n", "");
    assert_eq!(
        error.to_string(),
        "nimbus-llama.toml: currency: required key is missing"
    );
}

#[test]
fn a_bad_tier_bound_names_its_element_of_the_inline_array() {
    // orbit-llama.toml lines 27-29 hold the three tiers; the second is line 28.
    let error = example_error("orbit-llama.toml", r#"up_to = "1000000""#, "up_to = 1000000");
    assert_eq!(
        error.to_string(),
        r#"orbit-llama.toml: volume_tiers.tiers[1].up_to, line 28: expected a string like "0.12", found an integer"#
    );
    let error = example_error("orbit-llama.toml", r#"up_to = "1000000""#, r#"up_to = "100000""#);
    assert_eq!(
        error.to_string(),
        "orbit-llama.toml: volume_tiers.tiers[1].up_to, line 28: 100000 must be greater than 100000 (strictly increasing)"
    );
    // A tier left without up_to is reported on the line of its inline table.
    let error = example_error("orbit-llama.toml", r#"up_to = "1000000", "#, "");
    assert_eq!(
        (error.field.as_str(), error.line),
        ("volume_tiers.tiers[1].up_to", Some(28))
    );
    assert_eq!(error.rule, "every tier but the last must have up_to");
}

#[test]
fn a_syntax_error_gives_the_line_the_column_and_tomls_message() {
    // acme-llama.toml line 18: `mode = "half_even"`; the unquoted value starts at column 8.
    let error = example_error("acme-llama.toml", r#"mode = "half_even""#, "mode = half_even");
    assert_eq!(
        (error.field.as_str(), error.line, error.column),
        ("rounding.mode", Some(18), Some(8))
    );
    assert!(error.rule.starts_with("TOML syntax error: "), "{error}");
    assert!(error.rule.contains("string values must be quoted"), "{error}");
    assert!(error
        .to_string()
        .starts_with("acme-llama.toml: rounding.mode, line 18, column 8: TOML syntax error: "));
    // An unclosed header (line 16, `[rounding` is 9 characters): no field can be named.
    let error = example_error("acme-llama.toml", "[rounding]", "[rounding");
    assert_eq!(
        (error.field.as_str(), error.line, error.column),
        ("(toml)", Some(16), Some(10))
    );
    assert!(error.rule.contains("unclosed table"), "{error}");
    // A key given twice: the second one (orbit-llama.toml has `period` on line 8, so the
    // repeat is line 9).
    let error = example_error(
        "orbit-llama.toml",
        "period = \"quarter\"\n",
        "period = \"quarter\"\nperiod = \"month\"\n",
    );
    assert_eq!((error.line, error.column), (Some(9), Some(1)));
    assert_eq!(error.rule, "TOML syntax error: duplicate key (at `period`)");
}

#[test]
fn split_shares_that_miss_1_name_the_rule_and_its_line() {
    // orbit-llama.toml line 37: shares of the first [[splits]] rule, 0.6 + 0.25 + 0.16.
    let error = example_error("orbit-llama.toml", r#"safety-lab = "0.15""#, r#"safety-lab = "0.16""#);
    assert_eq!(
        error.to_string(),
        "orbit-llama.toml: splits[0].shares, line 37: sum to 1.01, must sum to exactly 1"
    );
}

#[test]
fn invalid_utf8_names_the_line() {
    let mut bytes = common::read("contracts/acme-llama.toml");
    let at = bytes.windows(4).position(|w| w == b"meta").unwrap(); // line 4: licensor = "meta"
    bytes[at] = 0xff;
    let error = Contract::from_toml("acme-llama.toml", &bytes).unwrap_err();
    assert_eq!((error.field.as_str(), error.line), ("(file)", Some(4)));
}

#[test]
fn versions_keep_the_rounding_scale() {
    let v1 = example("acme-llama.toml");
    // Version 2 from 2027-01: the same contract with amounts in whole units.
    let v2 = v1.replacen("version = 1", "version = 2", 1).replacen(
        r#"effective_from = "2026-01-01""#,
        r#"effective_from = "2027-01-01""#,
        1,
    );
    let load = |file: &str, text: &str| (file.to_string(), Contract::from_toml(file, text.as_bytes()).unwrap());
    assert!(ContractSet::new(vec![load("b.toml", &v2), load("a.toml", &v1)]).is_ok());

    let v2 = v2.replacen("scale = 2", "scale = 0", 1);
    let error = ContractSet::new(vec![load("b.toml", &v2), load("a.toml", &v1)]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "b.toml: rounding.scale: version 2 has scale 0 but version 1 (a.toml) has 2; \
         versions of one contract keep rounding.scale"
    );
}
