//! `revshare rate` end to end, on the spec's examples copied into `fixtures/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/spec-examples")
}

fn revshare(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

const EDGE: &[&str] = &[
    "rate",
    "--contract",
    "edge.toml",
    "--contract",
    "edge-fx.toml",
    "--contract",
    "edge-two.toml",
    "--usage",
    "usage.ndjson",
    "--fx",
    "fx.csv",
    "--contributions",
    "contributions.csv",
    "--models",
    "models.csv",
];
const SMALL: &[&str] = &[
    "rate",
    "--contract",
    "contracts/acme-llama.toml",
    "--contract",
    "contracts/nimbus-llama.toml",
    "--contract",
    "contracts/orbit-llama.toml",
    "--usage",
    "usage-small.ndjson",
    "--fx",
    "fx.csv",
    "--contributions",
    "contributions.csv",
];

fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("rate prints JSON")
}

fn expected(relative: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(relative)).unwrap()).unwrap()
}

#[test]
fn edge_cases_reproduce_expected_json() {
    let output = revshare(EDGE, &fixtures().join("edge"));
    assert_eq!(json(&output), expected("edge/expected.json"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("16 events read"), "{stderr}");
    assert!(stderr.contains("1 duplicates"), "{stderr}");
}

#[test]
fn small_example_reproduces_expected_json() {
    assert_eq!(json(&revshare(SMALL, &fixtures())), expected("expected-small.json"));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let first = revshare(SMALL, &fixtures());
    let second = revshare(SMALL, &fixtures());
    assert!(first.status.success());
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn the_fixture_copy_matches_the_shared_examples() {
    // The repository carries a copy of ../shared/examples so that it tests on its
    // own; where the original is present, the copy must not have drifted.
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/examples");
    if !shared.exists() {
        return;
    }
    for relative in [
        "edge/edge.toml",
        "edge/edge-fx.toml",
        "edge/edge-two.toml",
        "edge/usage.ndjson",
        "edge/fx.csv",
        "edge/contributions.csv",
        "edge/models.csv",
        "edge/expected.json",
        "contracts/acme-llama.toml",
        "contracts/nimbus-llama.toml",
        "contracts/orbit-llama.toml",
        "usage-small.ndjson",
        "fx.csv",
        "contributions.csv",
        "expected-small.json",
    ] {
        let copy = std::fs::read(fixtures().join(relative)).unwrap();
        let original = std::fs::read(shared.join(relative)).unwrap();
        assert!(
            copy == original,
            "fixtures/spec-examples/{relative} differs from ../shared/examples"
        );
    }
}

#[test]
fn invalid_events_are_reported_with_line_numbers_and_skipped() {
    let dir = tempdir("invalid-events");
    let good = std::fs::read_to_string(fixtures().join("edge/usage.ndjson")).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    lines.insert(
        2,
        lines[0]
            .replace(r#""customer":"c1""#, r#""customer":"c1","prompt":"hello""#)
            .replace("\"e1\"", "\"bad1\""),
    );
    lines.insert(
        4,
        lines[0]
            .replace(r#""revenue":"150""#, r#""revenue":150"#)
            .replace("\"e1\"", "\"bad2\""),
    );
    lines.insert(5, String::new());
    lines.insert(6, "not json".to_string());
    lines.push(lines[1].replace(r#""revenue":"100""#, r#""revenue":"101""#));
    std::fs::write(dir.join("usage.ndjson"), lines.join("\n")).unwrap();
    for file in [
        "edge.toml",
        "edge-fx.toml",
        "edge-two.toml",
        "fx.csv",
        "contributions.csv",
        "models.csv",
    ] {
        std::fs::copy(fixtures().join("edge").join(file), dir.join(file)).unwrap();
    }
    let output = revshare(EDGE, &dir);
    // The bad events are skipped: the statements are those of the clean file.
    assert_eq!(json(&output), expected("edge/expected.json"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "usage.ndjson:3: invalid event: data.prompt: content fields are not allowed",
        "usage.ndjson:5: invalid event: data.revenue: must be a decimal string",
        "usage.ndjson:7: invalid event: invalid JSON",
        "usage.ndjson:21: conflicting event: conflict: (h1/x, e2)",
        "3 invalid",
        "1 conflicts",
    ] {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}:\n{stderr}");
    }
}

#[test]
fn an_invalid_contract_is_exit_2_naming_file_and_field() {
    let dir = tempdir("invalid-contract");
    let text = std::fs::read_to_string(fixtures().join("contracts/acme-llama.toml")).unwrap();
    std::fs::write(
        dir.join("bad.toml"),
        text.replace(r#"revenue_share = "0.20""#, r#"revenue_share = "1.20""#),
    )
    .unwrap();
    std::fs::write(dir.join("u.ndjson"), "").unwrap();
    let output = revshare(&["rate", "--contract", "bad.toml", "--usage", "u.ndjson"], &dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml: rates[0].revenue_share, line 22: 1.20 must be in [0, 1]"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn a_period_lists_every_covering_contract_even_without_events() {
    let mut args = SMALL.to_vec();
    args.extend(["--period", "2026-12"]);
    let statements = json(&revshare(&args, &fixtures()));
    let statements = statements.as_array().unwrap();
    let ids: Vec<(&str, &str)> = statements
        .iter()
        .map(|s| (s["contract"].as_str().unwrap(), s["period"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, vec![("acme-llama", "2026-12"), ("nimbus-llama", "2026-12")]);
    // No events: Nimbus still owes its minimum guarantee, to the licensor.
    let nimbus = &statements[1];
    assert_eq!(nimbus["events"]["count"], 0);
    assert_eq!(nimbus["total"], "25000.00");
    assert_eq!(nimbus["payouts"]["meta"], "25000.00");
    assert_eq!(
        nimbus["events"]["merkle_root"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn a_json_array_rates_like_ndjson() {
    let dir = tempdir("array");
    let usage = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let array = format!("[\n{}\n]\n", usage.lines().collect::<Vec<_>>().join(",\n"));
    std::fs::write(dir.join("usage.json"), array).unwrap();
    let mut args: Vec<String> = SMALL.iter().map(|a| a.to_string()).collect();
    for arg in args.iter_mut() {
        if arg.ends_with(".toml") || arg.ends_with(".csv") {
            *arg = fixtures().join(&*arg).display().to_string();
        }
    }
    let position = args.iter().position(|a| a == "usage-small.ndjson").unwrap();
    args[position] = "usage.json".to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(json(&revshare(&args, &dir)), expected("expected-small.json"));
}

#[test]
fn table_and_csv_carry_the_same_amounts() {
    let expected = expected("expected-small.json");
    let mut args = SMALL.to_vec();
    args.extend(["--format", "csv"]);
    let output = revshare(&args, &fixtures());
    assert!(output.status.success());
    let csv = String::from_utf8(output.stdout).unwrap();
    let mut table_args = SMALL.to_vec();
    table_args.extend(["--format", "table"]);
    let table = String::from_utf8(revshare(&table_args, &fixtures()).stdout).unwrap();
    for statement in expected.as_array().unwrap() {
        let (contract, period, total) = (
            statement["contract"].as_str().unwrap(),
            statement["period"].as_str().unwrap(),
            statement["total"].as_str().unwrap(),
        );
        let row = format!("{contract},{period},{},total,", statement["currency"].as_str().unwrap());
        let line = csv
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no total row {row}"));
        assert!(line.contains(&format!(",{total},")), "{line}");
        assert!(table.contains(&format!("{contract}/{period}")), "{table}");
        // Tables group the digits of amounts (25000.00 shows as 25,000.00).
        assert!(table.contains(&grouped(total)), "{table}");
    }
}

/// An amount with its integer digits grouped by thousands.
fn grouped(amount: &str) -> String {
    let (sign, rest) = amount.strip_prefix('-').map_or(("", amount), |r| ("-", r));
    let (integer, fraction) = rest.split_once('.').unwrap_or((rest, ""));
    let mut out = String::from(sign);
    for (index, digit) in integer.chars().enumerate() {
        if index > 0 && (integer.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if fraction.is_empty() {
        out
    } else {
        format!("{out}.{fraction}")
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("revshare-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
