//! Reconciliation end to end (statements.md, Reconciliation): a store closes the
//! example's October, the host takes the statement, its leaves and its inputs away,
//! and checks them offline against its own copy of the usage.

use std::path::Path;

use serde_json::Value;

mod common;

use common::{dir, fixture, ok, refused, revshare};

const STATEMENT: &str = "acme-llama/2026-10";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The example's events of acme-cloud in October under a model acme-llama licenses,
/// each as its line of the fixture and parsed.
fn acme_october() -> Vec<(String, Value)> {
    std::fs::read_to_string(fixture("usage-small.ndjson"))
        .unwrap()
        .lines()
        .map(|line| (line.to_string(), json(line)))
        .filter(|(_, e)| {
            let model = e["data"]["model"].as_str().unwrap();
            e["data"]["host"] == "acme-cloud"
                && e["time"].as_str().unwrap().starts_with("2026-10")
                && (model.starts_with("llama-3.1-") || model == "llama-3.3-70b-instruct")
                && e["data"]["use_case"] != "surveillance"
        })
        .collect()
}

fn key(event: &Value) -> (String, String) {
    (
        event["source"].as_str().unwrap().to_string(),
        event["id"].as_str().unwrap().to_string(),
    )
}

fn line_of(event: &Value) -> (String, String) {
    (
        event["data"]["model"].as_str().unwrap().to_string(),
        event["data"]["use_case"].as_str().unwrap().to_string(),
    )
}

/// The leaf an event has in the statement's `events` tree, by `locate` and the
/// leaves file.
fn leaf_of(d: &Path, leaves: &Value, (source, id): &(String, String)) -> String {
    let located = json(&ok(d, &["locate", source, id, "--format", "json"]));
    let place = located["places"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["statement_id"] == STATEMENT && p["tree"] == "events")
        .unwrap_or_else(|| panic!("({source}, {id}) is not counted in {STATEMENT}: {located}"));
    leaves["leaves"][place["leaf_index"].as_u64().unwrap() as usize]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_host_reconciles_its_copy_and_each_difference_is_named() {
    let d = dir("reconcile");
    let d = d.0.as_path();
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    ok(d, &["import", &fixture("usage-small.ndjson")]);
    let events = acme_october();
    // One event voided before the close: the statement leaves it out, the host's copy
    // still holds it, and reconciliation excepts it through voids.csv.
    let voided = key(&events[2].1);
    ok(d, &["void", &voided.0, &voided.1, "--reason", "a test request"]);
    ok(d, &["close", "2026-10", "--settlement-start"]);
    std::fs::write(
        d.join("s.json"),
        ok(d, &["statement", "show", STATEMENT, "--format", "json"]),
    )
    .unwrap();
    let leaves_text = ok(d, &["statement", "leaves", STATEMENT]);
    std::fs::write(d.join("l.json"), &leaves_text).unwrap();
    std::fs::write(d.join("k.json"), ok(d, &["key", "export-public"])).unwrap();
    let written = ok(d, &["statement", "inputs", STATEMENT, "--out", "inputs"]);
    for file in ["contract.toml", "fx.csv", "contributions.csv", "voids.csv"] {
        assert!(written.contains(file), "{written}");
    }
    assert!(refused(d, &["statement", "inputs", STATEMENT, "--out", "inputs"]).contains("already exists"));
    let voids = std::fs::read_to_string(d.join("inputs/voids.csv")).unwrap();
    assert!(voids.starts_with("source,id\n") && voids.contains(&format!("{},{}", voided.0, voided.1)));
    let statement = json(&std::fs::read_to_string(d.join("s.json")).unwrap());

    // `rate` with the inputs and `--voids` gives the statement's lines and tree.
    let rated = json(&ok(
        d,
        &[
            "rate",
            "--contract",
            "inputs/contract.toml",
            "--fx",
            "inputs/fx.csv",
            "--contributions",
            "inputs/contributions.csv",
            "--voids",
            "inputs/voids.csv",
            "--usage",
            &fixture("usage-small.ndjson"),
            "--period",
            "2026-10",
            "--format",
            "json",
        ],
    ));
    assert_eq!(rated[0]["lines"], statement["lines"]);
    assert_eq!(rated[0]["events"], statement["events"]);

    // (a) The host's copy is what it sent: everything agrees, signature included.
    let reconcile = |usage: &str, format: &str| {
        revshare(
            d,
            &[
                "reconcile",
                "--statement",
                "s.json",
                "--leaves",
                "l.json",
                "--inputs",
                "inputs",
                "--usage",
                usage,
                "--public-key",
                "k.json",
                "--format",
                format,
            ],
        )
    };
    let same = reconcile(&fixture("usage-small.ndjson"), "table");
    let same_text = String::from_utf8(same.stdout).unwrap();
    assert_eq!(
        same.status.code(),
        Some(0),
        "{same_text}{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(
        same_text.contains("signature valid") && same_text.contains("agrees"),
        "{same_text}"
    );
    let same = json(&String::from_utf8(reconcile(&fixture("usage-small.ndjson"), "json").stdout).unwrap());
    assert_eq!(same["agrees"], true);
    assert_eq!(same["voided"], 1);
    assert_eq!(same["host_events"], statement["events"]["count"]);

    // (b) The host's copy lacks one counted event, holds one the statement does not
    // count, and has another's input tokens changed.
    let changed = &events[0];
    let removed = events
        .iter()
        .skip(3)
        .find(|(_, e)| line_of(e) != line_of(&changed.1))
        .expect("the example has events on two lines");
    let mut extra = removed.1.clone();
    extra["id"] = Value::from("reconcile-extra-1");
    let mut altered = changed.1.clone();
    let tokens = altered["data"]["input_tokens"].as_u64().unwrap();
    altered["data"]["input_tokens"] = Value::from(tokens + 1000);
    let mut copy = String::new();
    for line in std::fs::read_to_string(fixture("usage-small.ndjson")).unwrap().lines() {
        if line == removed.0 {
            continue;
        }
        if line == changed.0 {
            copy.push_str(&serde_json::to_string(&altered).unwrap());
        } else {
            copy.push_str(line);
        }
        copy.push('\n');
    }
    copy.push_str(&serde_json::to_string(&extra).unwrap());
    copy.push('\n');
    std::fs::write(d.join("mine.ndjson"), copy).unwrap();

    let output = reconcile("mine.ndjson", "json");
    assert_eq!(output.status.code(), Some(1), "a disagreement is a failed check");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("does not reconcile"), "{stderr}");
    let report = json(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(report["agrees"], false);
    let not_counted: Vec<(String, String)> = report["not_counted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["source"].as_str().unwrap().into(), k["id"].as_str().unwrap().into()))
        .collect();
    let mut expected = vec![key(&extra), key(&altered)];
    expected.sort();
    assert_eq!(
        not_counted, expected,
        "the extra and the changed event, by (source, id)"
    );
    let leaves = json(&leaves_text);
    let mut missing_expected = vec![
        leaf_of(d, &leaves, &key(&removed.1)),
        leaf_of(d, &leaves, &key(&changed.1)),
    ];
    missing_expected.sort_by_key(|leaf| {
        leaves["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l == leaf.as_str())
    });
    let missing: Vec<&str> = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        missing, missing_expected,
        "the removed and the original changed event, by leaf"
    );
    // The changed event's line differs in its input tokens, by exactly the change.
    let (model, use_case) = line_of(&changed.1);
    let line = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["model"] == model.as_str() && l["use_case"] == use_case.as_str())
        .unwrap();
    let before = line["input_tokens"].as_u64().unwrap();
    let differs = report["differences"].as_array().unwrap();
    let item = format!("line {model}/{use_case} (USD)");
    assert!(
        differs.iter().any(|x| x["item"] == item.as_str()
            && x["field"] == "input_tokens"
            && x["statement"] == before.to_string().as_str()
            && x["host"] == (before + 1000).to_string().as_str()),
        "{differs:?}"
    );
    // The copy of the removed event under another id leaves that line as it was.
    let (model, use_case) = line_of(&removed.1);
    let other = format!("line {model}/{use_case} (USD)");
    assert!(!differs.iter().any(|x| x["item"] == other.as_str()), "{differs:?}");
    assert!(differs
        .iter()
        .any(|x| x["item"] == "events" && x["field"] == "merkle_root"));

    // The text names the same things.
    let text = String::from_utf8(reconcile("mine.ndjson", "table").stdout).unwrap();
    assert!(text.contains(&format!(
        "not counted: ({}, {})",
        extra["source"].as_str().unwrap(),
        "reconcile-extra-1"
    )));
    assert!(text.contains(&format!("not in your copy: leaf {}", missing_expected[0])));
    assert!(text.contains(&format!(
        "differs: {item}: input_tokens: statement {before}, host {}",
        before + 1000
    )));

    // A statement edited after signing fails the check, as `verify` does (exit 1).
    let signed = std::fs::read_to_string(d.join("s.json")).unwrap();
    std::fs::write(d.join("s.json"), signed.replacen("acme-cloud", "acme-clouD", 1)).unwrap();
    let output = reconcile(&fixture("usage-small.ndjson"), "table");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("s.json: NOT VERIFIED"));
    std::fs::write(d.join("s.json"), signed).unwrap();

    // A voids file without its header is refused, naming it.
    std::fs::write(d.join("bad-voids.csv"), "a,b\n").unwrap();
    let message = refused(
        d,
        &[
            "rate",
            "--contract",
            "inputs/contract.toml",
            "--voids",
            "bad-voids.csv",
            "--usage",
            "mine.ndjson",
        ],
    );
    assert!(
        message.contains("bad-voids.csv: line 1") && message.contains("source,id"),
        "{message}"
    );

    // Inputs or leaves of another statement are refused, not reconciled.
    std::fs::write(d.join("bad-leaves.json"), r#"{"leaves": []}"#).unwrap();
    let message = refused(
        d,
        &[
            "reconcile",
            "--statement",
            "s.json",
            "--leaves",
            "bad-leaves.json",
            "--inputs",
            "inputs",
            "--usage",
            "mine.ndjson",
        ],
    );
    assert!(
        message.contains("bad-leaves.json") && message.contains("events tree"),
        "{message}"
    );
}

#[test]
fn the_operator_shows_a_beneficiarys_payout_notice() {
    let d = dir("reconcile-notice");
    let d = d.0.as_path();
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    ok(d, &["import", &fixture("usage-small.ndjson")]);
    ok(d, &["close", "2026-10", "--settlement-start"]);
    let notice = ok(d, &["statement", "show", STATEMENT, "--beneficiary", "finetune-labs"]);
    let parsed = json(&notice);
    assert_eq!(parsed["kind"], "payout_notice");
    assert_eq!(parsed["beneficiary"], "finetune-labs");
    let statement = json(&ok(d, &["statement", "show", STATEMENT, "--format", "json"]));
    assert_eq!(parsed["payout"], statement["payouts"]["finetune-labs"]);
    // Exactly as signed: it verifies offline.
    std::fs::write(d.join("n.json"), &notice).unwrap();
    std::fs::write(d.join("k.json"), ok(d, &["key", "export-public"])).unwrap();
    assert!(ok(d, &["verify", "--statement", "n.json", "--public-key", "k.json"]).contains("payout notice of"));
    let message = refused(d, &["statement", "show", STATEMENT, "--beneficiary", "nobody"]);
    assert!(
        message.contains("no payout notice for `nobody`") && message.contains("finetune-labs"),
        "{message}"
    );
    assert!(refused(
        d,
        &[
            "statement",
            "show",
            "acme-llama/2026-11",
            "--beneficiary",
            "finetune-labs"
        ]
    )
    .contains("no statement"));
}
