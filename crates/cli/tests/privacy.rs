//! Privacy (statements.md, Privacy): a raw customer reference is never stored, logged
//! or printed. Events whose references are recognisable go in by `import` and over
//! HTTP (refused ones too: a bad field, a conflicting copy), through every command
//! that shows what was stored, offline rating and reconciliation included; then the
//! store's files (the SQLite file and its side files, or a `pg_dump` of the
//! PostgreSQL database), the server's log and every output are searched for them.

mod common;

use std::path::{Path, PathBuf};

use common::{dir, event, fixture, Serve, Store};

/// Every customer reference this test sends starts with it.
const CANARY: &str = "PRIVACY-CANARY";

/// What a place holds, under a name saying where it came from.
struct Seen(Vec<(String, Vec<u8>)>);

impl Seen {
    fn add(&mut self, label: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((label.into(), bytes.into()));
    }

    /// Runs a store command (it may succeed or be refused) and keeps both streams.
    fn run(&mut self, store: &Store, args: &[&str]) -> String {
        let output = store.output(args);
        self.add(format!("stderr of {args:?}"), output.stderr);
        self.add(format!("stdout of {args:?}"), output.stdout.clone());
        String::from_utf8(output.stdout).unwrap()
    }

    /// Every file under `root`, recursively.
    fn files(&mut self, root: &Path) {
        for entry in std::fs::read_dir(root).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                self.files(&path);
            } else {
                self.add(format!("file {}", path.display()), std::fs::read(&path).unwrap());
            }
        }
    }

    #[track_caller]
    fn assert_no_reference(&self) {
        assert!(self.0.len() > 40, "too few places searched: {}", self.0.len());
        for (label, bytes) in &self.0 {
            assert!(!holds_reference(bytes), "a raw customer reference in the {label}");
        }
    }
}

fn holds_reference(bytes: &[u8]) -> bool {
    bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes())
}

/// The spec's small usage with every customer reference made recognisable, one event
/// refused for a bad field and one conflicting copy of a stored event, both with a
/// recognisable reference.
fn usage(folder: &Path) -> (PathBuf, Vec<(String, String)>) {
    let text = std::fs::read_to_string(fixture("usage-small.ndjson")).unwrap();
    let marked = text.replace("\"customer\":\"", &format!("\"customer\":\"{CANARY}-"));
    assert!(
        marked.matches(CANARY).count() > 100,
        "the fixture's references were not marked"
    );
    let mut events: Vec<serde_json::Value> = marked.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let keys = events
        .iter()
        .filter(|e| e["data"]["host"] == "acme-cloud")
        .take(3)
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut conflicting = events[0].clone();
    conflicting["data"]["requests"] = serde_json::json!(999_999);
    let mut bad = events[1].clone();
    bad["id"] = serde_json::json!("privacy-bad-1");
    bad["data"]["requests"] = serde_json::json!(-1);
    events.extend([conflicting, bad]);
    let path = folder.join("usage.ndjson");
    let lines: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, keys)
}

fn no_reference_anywhere(store: Store) {
    let input = dir(&format!("privacy-input-{}", store.file.is_some()));
    let (usage, keys) = usage(&input.0);
    let usage = usage.display().to_string();
    let mut seen = Seen(Vec::new());
    store.setup();
    for contract in ["nimbus-llama", "orbit-llama"] {
        store.run(&["contract", "add", &fixture(&format!("contracts/{contract}.toml"))]);
    }

    let imported = seen.run(&store, &["import", &usage]);
    assert!(
        imported.contains("conflict") || imported.contains("refused"),
        "{imported}"
    );
    seen.run(&store, &["import", &usage, "--format", "json"]);
    seen.run(&store, &["close", "2026-10", "--dry-run", "--settlement-start"]);
    seen.run(&store, &["close", "2026-10", "--settlement-start"]);
    let statement = "acme-llama/2026-10";
    for format in ["table", "json", "csv"] {
        seen.run(&store, &["statement", "list", "--format", format]);
        seen.run(&store, &["statement", "show", statement, "--format", format]);
        seen.run(&store, &["audit", "log", "--format", format]);
        seen.run(&store, &["ledger", "balances", "--format", format]);
    }
    seen.run(
        &store,
        &["statement", "show", statement, "--beneficiary", "finetune-labs"],
    );
    seen.run(&store, &["statement", "leaves", statement]);
    let inputs = store.dir.join("inputs").display().to_string();
    seen.run(&store, &["statement", "inputs", statement, "--out", &inputs]);
    for (source, id) in &keys {
        seen.run(&store, &["locate", source, id, "--format", "json"]);
        seen.run(&store, &["prove", statement, source, id]);
    }
    let (source, id) = &keys[2];
    seen.run(&store, &["void", source, id, "--reason", "sent twice"]);
    seen.run(&store, &["locate", source, id]);
    seen.run(&store, &["audit", "verify", "--format", "json"]);
    seen.run(&store, &["audit", "chain"]);

    // Offline: the host rates and reconciles its own copy, references and all.
    let ex = |name: &str| fixture(name);
    let contract = ex("contracts/acme-llama.toml");
    let rate = [
        "rate",
        "--contract",
        &contract,
        "--fx",
        &ex("fx.csv"),
        "--usage",
        &usage,
    ];
    for format in ["table", "json", "csv"] {
        seen.run(&store, &[&rate[..], &["--format", format]].concat());
    }
    std::fs::write(
        store.dir.join("s.json"),
        seen.run(&store, &["statement", "show", statement, "--format", "json"]),
    )
    .unwrap();
    std::fs::write(
        store.dir.join("l.json"),
        seen.run(&store, &["statement", "leaves", statement]),
    )
    .unwrap();
    std::fs::write(store.dir.join("k.json"), seen.run(&store, &["key", "export-public"])).unwrap();
    let (s, l, k) = (
        store.dir.join("s.json"),
        store.dir.join("l.json"),
        store.dir.join("k.json"),
    );
    let (s, l, k) = (
        s.display().to_string(),
        l.display().to_string(),
        k.display().to_string(),
    );
    let reconcile = [
        "reconcile",
        "--statement",
        &s,
        "--leaves",
        &l,
        "--inputs",
        &inputs,
        "--usage",
        &usage,
    ];
    seen.run(&store, &[&reconcile[..], &["--public-key", &k]].concat());

    over_http(&store, &mut seen, &keys);
    seen.files(&store.dir);
    if store.file.is_none() {
        seen.add("pg_dump of the database", pg_dump(&store));
    }
    // The search finds a reference where there is one: in the host's own file.
    assert!(holds_reference(&std::fs::read(&usage).unwrap()));
    seen.assert_no_reference();
}

/// Events posted by a host (one refused), then what the parties read back, and the
/// server's log.
fn over_http(store: &Store, seen: &mut Seen, keys: &[(String, String)]) {
    let host = store.token("acme-cloud", "host");
    let licensor = store.token("meta", "licensor");
    let server = Serve::start(store, &[]);
    let mut body = String::new();
    for i in 0..20 {
        body.push_str(&event(&format!("privacy-http-{i}"), &format!("{CANARY}-http-{i}"), i));
        body.push('\n');
    }
    body.push_str(
        &event("privacy-http-bad", &format!("{CANARY}-http-bad"), 99).replace("\"requests\":1", "\"requests\":-1"),
    );
    let answer = server.post("/v1/events", &host, "application/x-ndjson", body);
    assert!(answer.status < 500, "{}", answer.text());
    seen.add("answer to POST /v1/events", answer.body.clone());
    let (source, id) = &keys[0];
    for (path, token) in [
        (format!("/v1/events/locate?source={source}&id={id}"), &host),
        (format!("/v1/events/locate?source={source}&id={id}"), &licensor),
        ("/v1/statements".to_string(), &licensor),
        ("/v1/statements/acme-llama/2026-10".to_string(), &host),
        ("/v1/statements/acme-llama/2026-10/inputs".to_string(), &host),
        (
            "/v1/statements/acme-llama/2026-10/leaves?tree=events".to_string(),
            &host,
        ),
        ("/v1/audit/entries?after_seq=0".to_string(), &licensor),
    ] {
        let answer = server.get(&path, token);
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        seen.add(format!("answer to GET {path}"), answer.body.clone());
    }
    let (_, logs) = server.terminate();
    seen.add("server log", logs.join("\n"));
}

fn pg_dump(store: &Store) -> Vec<u8> {
    let url = &store.args[store.args.iter().position(|a| a == "--database-url").unwrap() + 1];
    let output = std::process::Command::new("pg_dump").arg(url).output().unwrap();
    assert!(
        output.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn no_raw_customer_reference_in_the_sqlite_file_the_log_or_any_output() {
    no_reference_anywhere(Store::sqlite("privacy_sqlite"));
}

#[test]
fn no_raw_customer_reference_in_a_postgresql_dump_the_log_or_any_output() {
    if let Some(store) = Store::postgres("privacy_pg") {
        no_reference_anywhere(store);
    }
}
