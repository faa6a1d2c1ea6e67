//! `revshare dispute` end to end on the embedded store: a dispute opened with
//! evidence, answered, offered, accepted; another escalated and decided; refusals by
//! name and exit code; both carried once by the next statement.

use std::path::Path;

mod common;

use common::{dir, fixture, ok, refused};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A store with acme-llama (licensor meta, host acme-cloud), the FX rates and the
/// small example, September and October closed now.
fn closed(d: &Path) {
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    ok(d, &["import", &fixture("usage-small.ndjson")]);
    ok(d, &["close", "2026-09"]);
    ok(d, &["close", "2026-10"]);
}

#[test]
fn disputes_from_open_to_the_next_statement() {
    let d = dir("disputes");
    let d = d.0.as_path();
    closed(d);
    let open = |extra: &[&str]| {
        let mut args = vec!["dispute", "open", "acme-llama/2026-10", "--reason", "a rate"];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| ok(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let refuse = |args: Vec<String>| refused(d, &args.iter().map(String::as_str).collect::<Vec<_>>());

    // Evidence that the statement does not count is refused by name.
    let message = refuse(open(&[
        "--as",
        "meta",
        "--amount",
        "1.5",
        "--evidence",
        "acme-cloud/us",
        "nope",
    ]));
    assert!(
        message.contains("--evidence") && message.contains("(acme-cloud/us, nope)"),
        "{message}"
    );
    // The operator decides; the parties open (--as).
    let message = refuse(open(&["--amount", "1.5", "--as", "finetune-labs"]));
    assert!(
        message.contains("finetune-labs is not a party of acme-llama"),
        "{message}"
    );

    let id = run(open(&[
        "--as",
        "meta",
        "--amount",
        "1.5",
        "--evidence",
        "acme-cloud/us",
        "e1-0000000000",
    ]))
    .trim()
    .to_string();
    assert!(id.starts_with("D-") && id.len() == 14, "{id}");
    // One unfinished dispute per line: the whole statement's conflicts with a line's.
    let message = refuse(open(&[
        "--as",
        "acme-cloud",
        "--amount",
        "-1",
        "--line",
        "llama-3.3-70b-instruct",
        "content_generation",
    ]));
    assert!(
        message.contains(&format!("dispute {id}")) && message.contains("unfinished"),
        "{message}"
    );

    assert!(ok(
        d,
        &["dispute", "answer", &id, "--as", "acme-cloud", "--note", "looking"]
    )
    .contains("answered"));
    let message = refused(d, &["dispute", "resolve", &id, "--as", "meta", "--amount", "1"]);
    assert!(message.contains("meta cannot resolve this dispute"), "{message}");
    let message = refused(d, &["dispute", "resolve", &id, "--as", "acme-cloud", "--amount", "2"]);
    assert!(message.contains("--amount"), "{message}");
    assert_eq!(
        ok(d, &["dispute", "resolve", &id, "--as", "acme-cloud", "--amount", "1"]).trim(),
        format!("dispute {id} offered (1.00)")
    );
    assert!(refused(d, &["dispute", "accept", &id, "--as", "acme-cloud"]).contains("the party that opened it"));
    assert_eq!(
        ok(d, &["dispute", "accept", &id, "--as", "meta"]).trim(),
        format!("dispute {id} resolved (1.00)")
    );
    assert!(refused(d, &["dispute", "decide", &id, "--amount", "1"]).contains(&format!("dispute {id} is resolved")));

    // The host's dispute of the whole statement, rejected, escalated by the
    // licensor, decided by the operator.
    let other = run(open(&["--as", "acme-cloud", "--amount", "-0.10"]))
        .trim()
        .to_string();
    ok(d, &["dispute", "reject", &other, "--as", "meta", "--note", "no"]);
    assert!(refused(d, &["dispute", "decide", &other, "--amount", "-0.05"]).contains("is rejected"));
    ok(d, &["dispute", "escalate", &other, "--as", "meta"]);
    assert_eq!(
        ok(d, &["dispute", "decide", &other, "--amount", "-0.05"]).trim(),
        format!("dispute {other} resolved (-0.05)")
    );

    let listed = json(&ok(d, &["dispute", "list"]));
    let statuses: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["dispute_id"].as_str().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [(id.as_str(), "resolved"), (other.as_str(), "resolved")]);
    assert!(ok(d, &["dispute", "list", "--format", "csv"])
        .starts_with("dispute_id,statement_id,line,opener,claim,amount,status,window_ends\n"));
    let shown = json(&ok(d, &["dispute", "show", &id]));
    let steps: Vec<&str> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["open", "answer", "resolve", "accept"]);
    assert_eq!(shown["steps"][0]["actor"], "cli as meta");
    assert_eq!(shown["evidence"][0]["id"], "e1-0000000000");
    assert!(refused(d, &["dispute", "show", "D-000000000000"]).contains("no dispute D-000000000000"));

    // Both are carried once, by November's statement, split by the `*` rule (all to meta).
    let closed = ok(d, &["close", "2026-11", "--allow-empty"]);
    assert!(
        closed.contains(&format!("dispute adjustment 1.00 for {id}")),
        "{closed}"
    );
    let november = json(&ok(d, &["statement", "show", "acme-llama/2026-11"]));
    let disputes: Vec<(String, String, String)> = november["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "dispute")
        .map(|a| {
            (
                a["dispute_id"].as_str().unwrap().to_string(),
                a["amount"].as_str().unwrap().to_string(),
                a["payouts"]["meta"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut expected = vec![
        (id.clone(), "1.00".to_string(), "1.00".to_string()),
        (other.clone(), "-0.05".to_string(), "-0.05".to_string()),
    ];
    expected.sort();
    assert_eq!(disputes, expected);
    // December (not ended yet: a dry run) carries neither again.
    let december = ok(
        d,
        &["close", "2026-12", "--allow-empty", "--dry-run", "--format", "json"],
    );
    assert!(
        december.contains("\"statement_id\": \"acme-llama/2026-12\""),
        "{december}"
    );
    assert!(!december.contains("dispute_id"), "never carried twice: {december}");
    // Exit 0: every check holds.
    ok(d, &["audit", "verify"]);
}
