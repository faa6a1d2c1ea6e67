//! `revshare mau` end to end on the embedded store: acme-llama with a
//! `mau_threshold` of 3, and acme-cloud's October customers c-1, c-2 (twice) and c-3.
//! The October close flags it once, in its output and the audit log; the monitor
//! lists the count and the flag in each format.

use std::path::Path;

mod common;

use common::{dir, event, fixtures, ok, refused};

fn store(d: &Path) {
    ok(d, &["init"]);
    let contract = std::fs::read_to_string(fixtures().join("contracts/acme-llama.toml"))
        .unwrap()
        .replace("mau_threshold = 700000000", "mau_threshold = 3");
    assert!(contract.contains("mau_threshold = 3"));
    std::fs::write(d.join("acme-llama.toml"), contract).unwrap();
    ok(d, &["contract", "add", "acme-llama.toml"]);
    let usage: String = [("o1", "c-1", 1), ("o2", "c-2", 2), ("o3", "c-2", 3), ("o4", "c-3", 4)]
        .iter()
        .map(|(id, customer, day)| event(id, customer, *day) + "\n")
        .collect();
    std::fs::write(d.join("usage.ndjson"), usage).unwrap();
    ok(d, &["import", "usage.ndjson"]);
}

#[test]
fn a_close_flags_a_reached_threshold_once_and_mau_shows_it() {
    let d = dir("mau");
    let d = d.0.as_path();
    store(d);
    let before: serde_json::Value = serde_json::from_str(&ok(d, &["mau", "--month", "2026-10"])).unwrap();
    assert_eq!(
        before,
        serde_json::json!([{"host": "acme-cloud", "month": "2026-10", "customers": 3, "flagged": []}])
    );

    let closed = ok(d, &["close", "2026-10"]);
    assert!(
        closed.contains(
            "MAU: host acme-cloud had 3 unique customers in 2026-10, reaching contract acme-llama's mau_threshold of 3"
        ),
        "{closed}"
    );
    let again = ok(d, &["close", "2026-10"]);
    assert!(!again.contains("MAU:"), "{again}");
    let log = ok(d, &["audit", "log", "--format", "json"]);
    assert_eq!(log.matches("\"mau_threshold_reached\"").count(), 1, "{log}");
    assert!(log.contains("\"mau:acme-llama:2026-10\""), "{log}");

    let shown: serde_json::Value =
        serde_json::from_str(&ok(d, &["mau", "--host", "acme-cloud", "--month", "2026-10"])).unwrap();
    let flag = &shown[0]["flagged"][0];
    assert_eq!(shown[0]["customers"], 3);
    assert_eq!(
        (&flag["contract"], &flag["threshold"], &flag["customers"]),
        (
            &serde_json::json!("acme-llama"),
            &serde_json::json!(3),
            &serde_json::json!(3)
        )
    );
    let csv = ok(d, &["mau", "--month", "2026-10", "--format", "csv"]);
    assert!(
        csv.starts_with(
            "host,month,customers,flagged\nacme-cloud,2026-10,3,\"acme-llama (threshold 3, 3 customers, entry "
        ),
        "{csv}"
    );
    let table = ok(d, &["mau", "--month", "2026-10", "--format", "table"]);
    assert!(
        table.contains("acme-cloud") && table.contains("acme-llama (threshold 3"),
        "{table}"
    );
    // Another month: no events, nothing listed; a host named counts none.
    assert_eq!(ok(d, &["mau", "--month", "2026-11"]).trim(), "[]");
    let none: serde_json::Value =
        serde_json::from_str(&ok(d, &["mau", "--host", "nimbus-ai", "--month", "2026-10"])).unwrap();
    assert_eq!(none[0]["customers"], 0);

    let refusal = refused(d, &["mau", "--month", "2026-Q4"]);
    assert!(refusal.contains("not a calendar month such as 2026-10"), "{refusal}");
    ok(d, &["audit", "verify"]);
}
