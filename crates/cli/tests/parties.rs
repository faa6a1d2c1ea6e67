//! Parties' legal names (issue 21, point 6): `party update ID --name`, audited as
//! `party_updated` and checked by `audit verify`; the names in the table and CSV
//! forms of statements and payout notices, the signed JSON unchanged. Both backends.

mod common;

use common::{fixture, Store};

fn stderr_of(store: &Store, args: &[&str], code: i32) -> String {
    let output = store.output(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
    stderr
}

fn legal_names(store: &Store) {
    store.setup();
    // A party a contract created cannot be added again: the refusal says how to name it.
    let message = stderr_of(store, &["party", "add", "meta", "--name", "Meta Platforms, Inc."], 2);
    assert!(
        message.contains("party `meta` exists already") && message.contains("revshare party update meta --name"),
        "{message}"
    );
    store.run(&["import", &fixture("usage-small.ndjson")]);
    store.run(&["close", "2026-09"]);
    let id = "acme-llama/2026-09";
    let signed = store.run(&["statement", "show", id, "--format", "json"]);
    let notice = store.run(&[
        "statement",
        "show",
        id,
        "--beneficiary",
        "finetune-labs",
        "--format",
        "json",
    ]);

    // Before any name is set, the table names no parties (each is named by its id).
    let table = store.run(&["statement", "show", id, "--format", "table"]);
    assert!(!table.contains("licensor meta:"), "{table}");

    assert_eq!(
        store
            .run(&["party", "update", "meta", "--name", "Meta Platforms, Inc."])
            .trim(),
        "party meta is now named Meta Platforms, Inc."
    );
    store.run(&["party", "update", "finetune-labs", "--name", "Finetune Labs GmbH"]);
    // The same name again records nothing.
    let entries = |store: &Store| -> Vec<serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(&store.run(&["audit", "log", "--format", "json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let before = entries(store).len();
    store.run(&["party", "update", "meta", "--name", "Meta Platforms, Inc."]);
    let log = entries(store);
    assert_eq!(log.len(), before);
    let updated: Vec<&serde_json::Value> = log.iter().filter(|e| e["action"] == "party_updated").collect();
    assert_eq!(updated.len(), 2);
    assert_eq!(updated[0]["object"], "party:meta");
    assert_eq!(updated[1]["object"], "party:finetune-labs");

    // What is refused: no such party, an empty name, a name with a line break.
    assert!(stderr_of(store, &["party", "update", "nobody", "--name", "X"], 2).contains("no party `nobody`"));
    assert!(stderr_of(store, &["party", "update", "meta", "--name", ""], 2).contains("name: 1 to 200 characters"));
    assert!(
        stderr_of(store, &["party", "update", "meta", "--name", "Meta\nInc"], 2).contains("control character U+000A")
    );

    let parties: serde_json::Value = serde_json::from_str(&store.run(&["party", "list", "--format", "json"])).unwrap();
    let meta = parties.as_array().unwrap().iter().find(|p| p["id"] == "meta").unwrap();
    assert_eq!(meta["name"], "Meta Platforms, Inc.");

    // The signed documents are unchanged, byte for byte.
    assert_eq!(store.run(&["statement", "show", id, "--format", "json"]), signed);
    assert_eq!(
        store.run(&[
            "statement",
            "show",
            id,
            "--beneficiary",
            "finetune-labs",
            "--format",
            "json"
        ]),
        notice
    );
    // The table and CSV forms name them.
    let table = store.run(&["statement", "show", id, "--format", "table"]);
    assert!(table.contains("licensor meta: Meta Platforms, Inc."), "{table}");
    assert!(table.contains("host acme-cloud: acme-cloud"), "{table}");
    assert!(
        table.contains("beneficiary finetune-labs: Finetune Labs GmbH"),
        "{table}"
    );
    let csv = store.run(&["statement", "show", id, "--format", "csv"]);
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",licensor,licensor_name,host,host_name,beneficiary_name"),
        "{header}"
    );
    for line in csv.lines().skip(1) {
        assert!(
            line.contains(r#",meta,"Meta Platforms, Inc.",acme-cloud,acme-cloud,"#),
            "{line}"
        );
    }
    let payout = csv
        .lines()
        .find(|l| l.contains(",payout,") && l.contains("finetune-labs"))
        .expect("finetune-labs's payout row");
    assert!(payout.ends_with(",Finetune Labs GmbH"), "{payout}");
    let notice_csv = store.run(&[
        "statement",
        "show",
        id,
        "--beneficiary",
        "finetune-labs",
        "--format",
        "csv",
    ]);
    let mut lines = notice_csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "statement_id,contract,period,currency,closed_at,due_date,beneficiary,beneficiary_name,payout,\
         statement_sha256,audit_seq,key_id"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with("acme-llama/2026-09,acme-llama,2026-09,USD,")
            && row.contains(",finetune-labs,Finetune Labs GmbH,"),
        "{row}"
    );
    let notice_table = store.run(&[
        "statement",
        "show",
        id,
        "--beneficiary",
        "finetune-labs",
        "--format",
        "table",
    ]);
    assert!(
        notice_table.contains("finetune-labs (Finetune Labs GmbH)"),
        "{notice_table}"
    );

    // Check 5 takes the latest entry about the party; an edit behind its back fails.
    store.assert_audit_verifies();
}

#[test]
fn legal_names_sqlite() {
    let store = Store::sqlite("names-sqlite");
    legal_names(&store);
    store
        .sqlite_connection()
        .execute("UPDATE parties SET name = 'Meta Inc' WHERE id = 'meta'", [])
        .unwrap();
    let output = store.output(&["audit", "verify"]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("party:meta"), "{said}");
}

#[test]
fn legal_names_postgres() {
    let Some(store) = Store::postgres("names_pg") else {
        return;
    };
    legal_names(&store);
}
