//! Regressions, at the command line: each test runs what a user (or an attacker with
//! access to the files) would do, and checks the exit code and that the message
//! names what is wrong.
//!
//! The periods used are September and October 2026, the fixtures' months: they have
//! ended by any clock these tests run on, and closes run in order (September first).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

mod common;

use common::{dir, fixture, fixtures};

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_revshare"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE");
    command
}

fn revshare(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let output = revshare(dir, args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command that must fail with `code`; returns its stderr.
fn fails(dir: &Path, code: i32, args: &[&str]) -> String {
    let output = revshare(dir, args);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{args:?} should exit {code}; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The ids of the closed statements, from `statement list --format json`.
fn statement_ids(dir: &Path, store: &[&str]) -> Vec<String> {
    let args: Vec<&str> = store
        .iter()
        .copied()
        .chain(["statement", "list", "--format", "json"])
        .collect();
    json(&ok(dir, &args))
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["statement_id"].as_str().unwrap().to_string())
        .collect()
}

/// How many entries the audit log holds (`audit log --format json`).
fn audit_entries(dir: &Path, store: &[&str]) -> usize {
    let args: Vec<&str> = store
        .iter()
        .copied()
        .chain(["audit", "log", "--format", "json"])
        .collect();
    json(&ok(dir, &args)).as_array().unwrap().len()
}

/// The first acme-cloud event of the fixture in `month` (e.g. "2026-09"), as sent.
fn acme_event(month: &str) -> String {
    std::fs::read_to_string(fixtures().join("usage-small.ndjson"))
        .unwrap()
        .lines()
        .find(|l| l.contains("\"host\":\"acme-cloud\"") && l.contains(&format!("\"time\":\"{month}-")))
        .unwrap()
        .to_string()
}

/// A store with acme-llama, the FX rates and the small example imported, and
/// September 2026 closed.
fn acme_store(d: &Path) {
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    let imported = ok(d, &["import", &fixture("usage-small.ndjson")]);
    assert!(imported.contains("3000 read"), "{imported}");
    assert!(ok(d, &["close", "2026-09"]).contains("closed acme-llama/2026-09"));
}

/// The statement `revshare rate` computes for acme-llama in `period` on these files.
fn rated(period: &str, usage: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "rate".to_string(),
        "--contract".to_string(),
        fixture("contracts/acme-llama.toml"),
        "--fx".to_string(),
        fixture("fx.csv"),
        "--period".to_string(),
        period.to_string(),
    ];
    for file in usage {
        args.push("--usage".to_string());
        args.push(file.to_string());
    }
    let output = Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(&args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    json(&String::from_utf8(output.stdout).unwrap())[0].clone()
}

fn sqlite(d: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(d.join("revshare.db")).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// 1. A member added to a signed statement fails verification (the signature covers
// the statement as received, every member included); so do a removed and a changed
// one.
#[test]
fn verify_refuses_a_statement_with_an_added_member() {
    let d = dir("added-member");
    let d = d.0.as_path();
    acme_store(d);
    let statement = ok(d, &["statement", "show", "acme-llama/2026-09"]);
    std::fs::write(d.join("k.json"), ok(d, &["key", "export-public"])).unwrap();
    std::fs::write(d.join("s.json"), &statement).unwrap();
    let args = ["verify", "--statement", "s.json", "--public-key", "k.json"];
    assert!(ok(d, &args).contains("statement acme-llama/2026-09: signature valid"));

    assert!(statement.starts_with("{\n"), "{statement}");
    let added = statement.replacen("{\n", "{\n  \"note\": \"host owes 1000000 extra\",\n", 1);
    assert_eq!(json(&added)["note"], "host owes 1000000 extra");
    std::fs::write(d.join("s.json"), &added).unwrap();
    let message = fails(d, 1, &args);
    assert!(message.contains("s.json: NOT VERIFIED"), "{message}");

    let mut removed = json(&statement);
    removed.as_object_mut().unwrap().remove("due_date").unwrap();
    std::fs::write(d.join("s.json"), removed.to_string()).unwrap();
    assert!(fails(d, 1, &args).contains("NOT VERIFIED"));

    let mut changed = json(&statement);
    changed["due_date"] = serde_json::json!("2099-01-01");
    std::fs::write(d.join("s.json"), changed.to_string()).unwrap();
    assert!(fails(d, 1, &args).contains("NOT VERIFIED"));

    // The statement re-serialized without any change still verifies: what is signed
    // is the JSON value, not its whitespace.
    std::fs::write(d.join("s.json"), json(&statement).to_string()).unwrap();
    ok(d, &args);
}

/// Edits the stored `total` of a closed statement in the SQLite file, bypassing
/// the service; returns the original bytes.
fn edit_total(d: &Path, statement_id: &str, new_total: &str) -> String {
    let db = sqlite(d);
    let original: String = db
        .query_row(
            "SELECT json FROM statements WHERE statement_id = ?1",
            [statement_id],
            |row| row.get(0),
        )
        .unwrap();
    let total = json(&original)["total"].as_str().unwrap().to_string();
    assert_ne!(total, new_total);
    let member = format!("\"total\": \"{total}\"");
    assert_eq!(original.matches(&member).count(), 1, "{original}");
    let edited = original.replace(&member, &format!("\"total\": \"{new_total}\""));
    db.execute(
        "UPDATE statements SET json = ?1 WHERE statement_id = ?2",
        [&edited, statement_id],
    )
    .unwrap();
    original
}

fn restore(d: &Path, statement_id: &str, original: &str) {
    sqlite(d)
        .execute(
            "UPDATE statements SET json = ?1 WHERE statement_id = ?2",
            [original, statement_id],
        )
        .unwrap();
}

// 2. A closed statement edited in the database is named by every read of it and by
// `audit verify`.
#[test]
fn a_statement_edited_in_the_database_is_named_by_show_and_audit_verify() {
    let d = dir("edited-show");
    let d = d.0.as_path();
    acme_store(d);
    let original = edit_total(d, "acme-llama/2026-09", "1000000.00");

    let message = fails(d, 1, &["statement", "show", "acme-llama/2026-09"]);
    assert!(
        message.contains("acme-llama/2026-09") && message.contains("fails verification"),
        "{message}"
    );
    // Every list checks every statement it shows.
    let message = fails(d, 1, &["statement", "list", "--format", "json"]);
    assert!(message.contains("acme-llama/2026-09"), "{message}");
    // Closing the same period again returns the stored statement: checked first.
    let message = fails(d, 1, &["close", "2026-09"]);
    assert!(message.contains("acme-llama/2026-09"), "{message}");

    let output = revshare(d, &["audit", "verify", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&String::from_utf8(output.stdout).unwrap());
    let named: Vec<(u64, &str)> = report[0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["check"].as_u64().unwrap(), f["object"].as_str().unwrap()))
        .collect();
    // Its signature (check 2), its re-rating (check 3) and its row against the log
    // (check 5) all fail; the chain (check 1) holds.
    for check in [2, 3, 5] {
        assert!(
            named.contains(&(check, "statement:acme-llama/2026-09")),
            "check {check}: {named:?}"
        );
    }
    assert!(
        named
            .iter()
            .all(|(_, object)| *object == "statement:acme-llama/2026-09"),
        "{named:?}"
    );
    let table = revshare(d, &["audit", "verify", "--format", "table"]);
    assert_ne!(table.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&table.stdout).contains("statement:acme-llama/2026-09: its signature fails"));

    // Put back, everything holds again.
    restore(d, "acme-llama/2026-09", &original);
    ok(d, &["statement", "show", "acme-llama/2026-09"]);
    ok(d, &["audit", "verify"]);
}

// 2 (continued). The next close builds on the earlier statements of the contract:
// one edited in the database must stop it (exit 1, naming it) before anything is
// signed, also when nothing changed for the edited period since it closed.
#[test]
fn the_next_close_refuses_to_build_on_an_edited_statement() {
    let d = dir("edited-close");
    let d = d.0.as_path();
    acme_store(d);
    let original = edit_total(d, "acme-llama/2026-09", "1000000.00");
    let entries = audit_entries(d, &[]);
    let message = fails(d, 1, &["close", "2026-10"]);
    assert!(message.contains("acme-llama/2026-09"), "{message}");
    // Nothing was signed or logged.
    assert_eq!(audit_entries(d, &[]), entries);
    restore(d, "acme-llama/2026-09", &original);
    assert_eq!(statement_ids(d, &[]), ["acme-llama/2026-09"]);
}

// 2 (continued). With a change pending for the edited period (a late event), the
// close does re-read it, and refuses.
#[test]
fn a_close_settling_an_edited_statement_refuses_it() {
    let d = dir("edited-late");
    let d = d.0.as_path();
    acme_store(d);
    let late = acme_event("2026-09").replacen("\"id\":\"e1-", "\"id\":\"late-", 1);
    std::fs::write(d.join("late.ndjson"), format!("{late}\n")).unwrap();
    assert!(ok(d, &["import", "late.ndjson"]).contains("1 late"));
    let original = edit_total(d, "acme-llama/2026-09", "1000000.00");
    let entries = audit_entries(d, &[]);
    let message = fails(d, 1, &["close", "2026-10"]);
    assert!(
        message.contains("acme-llama/2026-09") && message.contains("fails verification"),
        "{message}"
    );
    assert_eq!(audit_entries(d, &[]), entries);
    restore(d, "acme-llama/2026-09", &original);
    assert_eq!(statement_ids(d, &[]), ["acme-llama/2026-09"]);
}

// 3. The grace period is bounded (0 to a year): a negative one would close a period
// before it ends, a huge one would wrap around where it is held. Both are refused
// before the clock is read, so November (not ended on every clock) is fine here.
#[test]
fn close_refuses_a_grace_outside_zero_to_a_year() {
    let d = dir("grace");
    let d = d.0.as_path();
    acme_store(d);
    for grace in [
        "--grace-seconds=-2000000",
        "--grace-seconds=99999999999",
        "--grace-seconds=-1",
    ] {
        let message = fails(d, 2, &["close", "2026-11", grace]);
        assert!(
            message.contains("--grace-seconds") && message.contains("must be from 0 to"),
            "{grace}: {message}"
        );
        let message = fails(d, 2, &["close", "2026-10", grace]);
        assert!(message.contains("--grace-seconds"), "{grace}: {message}");
    }
    assert_eq!(statement_ids(d, &[]), ["acme-llama/2026-09"]);
    // Within the bounds, a grace only delays: October has ended well over an hour ago.
    assert!(ok(d, &["close", "2026-10", "--grace-seconds", "3600"]).contains("closed acme-llama/2026-10"));
}

// 4. A key file is checked against the store on every load: another store's key
// signs nothing and imports nothing here.
#[test]
fn the_key_file_of_another_store_is_refused_naming_both_keys() {
    let d = dir("other-key");
    let d = d.0.as_path();
    ok(d, &["--db", "a.db", "init"]);
    ok(d, &["--db", "b.db", "init"]);
    let key_id = |db: &str| {
        json(&ok(d, &["--db", db, "key", "export-public"]))["key_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b) = (key_id("a.db"), key_id("b.db"));
    assert_ne!(a, b);
    ok(
        d,
        &["--db", "a.db", "contract", "add", &fixture("contracts/acme-llama.toml")],
    );
    let a_store = ["--db", "a.db"];
    let entries = audit_entries(d, &a_store);

    let usage = fixture("usage-small.ndjson");
    for args in [
        vec!["--db", "a.db", "import", &usage, "--key-file", "b.db.key"],
        vec!["--db", "a.db", "close", "2026-10", "--key-file", "b.db.key"],
        vec!["--db", "a.db", "init", "--key-file", "b.db.key"],
    ] {
        let message = fails(d, 2, &args);
        assert!(
            message.contains(&format!("holds key {b}")) && message.contains(&format!("signs with key {a}")),
            "{args:?}: {message}"
        );
    }
    // The same through the environment.
    let output = command(d, &["--db", "a.db", "import", &usage])
        .env("REVSHARE_KEY_FILE", "b.db.key")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("signs with key {a}")));

    assert_eq!(audit_entries(d, &a_store), entries, "nothing was imported or closed");
    assert!(statement_ids(d, &a_store).is_empty());
    // Its own key works.
    assert!(ok(d, &["--db", "a.db", "import", &usage]).contains("2967 accepted"));
}

// 4 (PostgreSQL). No default key file: the error names the key the store needs.
#[test]
fn postgres_needs_its_key_file_and_names_the_key() {
    const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
    let mut admin = match postgres::Client::connect(ADMIN, postgres::NoTls) {
        Ok(admin) => admin,
        Err(error) if std::env::var_os("CI").is_some() => panic!("PostgreSQL is unreachable in CI: {error}"),
        Err(error) => {
            eprintln!("skipping a PostgreSQL test outside CI: {error}");
            return;
        }
    };
    let database = format!("revshare_regressions_keys_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {database}")).unwrap();
    struct DropDatabase(String);
    impl Drop for DropDatabase {
        fn drop(&mut self) {
            if let Ok(mut admin) = postgres::Client::connect(ADMIN, postgres::NoTls) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
            }
        }
    }
    let _dropped = DropDatabase(database.clone());
    let d = dir("pg-keys");
    let d = d.0.as_path();
    let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
    let message = fails(d, 2, &["--database-url", &url, "init"]);
    assert!(message.contains("needs its key file"), "{message}");
    ok(d, &["--database-url", &url, "init", "--key-file", "pg.key"]);
    assert_eq!(mode(&d.join("pg.key")), 0o600);
    let key_id = json(&std::fs::read_to_string(d.join("pg.key")).unwrap())["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let message = fails(
        d,
        2,
        &["--database-url", &url, "import", &fixture("usage-small.ndjson")],
    );
    assert!(
        message.contains("needs its key file") && message.contains(&format!("signs with key {key_id}")),
        "{message}"
    );
    // A file in the current folder is never picked up by default.
    std::fs::copy(d.join("pg.key"), d.join("revshare.db.key")).unwrap();
    fails(d, 2, &["--database-url", &url, "close", "2026-10"]);
    ok(
        d,
        &[
            "--database-url",
            &url,
            "import",
            &fixture("usage-small.ndjson"),
            "--key-file",
            "pg.key",
        ],
    );
}

// 5. The demo replaces only a store it made, and never deletes a key file.
#[test]
fn demo_refuses_a_store_it_did_not_make_and_keeps_its_key() {
    let d = dir("demo");
    let d = d.0.as_path();
    ok(d, &["--db", "x.db", "init"]);
    ok(
        d,
        &["--db", "x.db", "contract", "add", &fixture("contracts/acme-llama.toml")],
    );
    let db = std::fs::read(d.join("x.db")).unwrap();
    let key = std::fs::read(d.join("x.db.key")).unwrap();
    let message = fails(d, 2, &["--db", "x.db", "demo", "--events", "3000"]);
    assert!(
        message.contains("x.db exists and was not made by `revshare demo`"),
        "{message}"
    );
    assert_eq!(std::fs::read(d.join("x.db")).unwrap(), db, "x.db is untouched");
    assert_eq!(std::fs::read(d.join("x.db.key")).unwrap(), key, "x.db.key is untouched");
    assert!(ok(d, &["--db", "x.db", "contract", "list"]).contains("acme-llama"));

    // Nor a file that is not a store at all.
    std::fs::write(d.join("notes.txt"), "my notes\n").unwrap();
    let message = fails(d, 2, &["--db", "notes.txt", "demo", "--events", "3000"]);
    assert!(message.contains("notes.txt exists"), "{message}");
    assert_eq!(std::fs::read_to_string(d.join("notes.txt")).unwrap(), "my notes\n");
    assert!(!d.join("notes.txt.key").exists());
    // Nor another program's SQLite database.
    {
        let app = rusqlite::Connection::open(d.join("app.db")).unwrap();
        app.execute_batch("CREATE TABLE notes(t TEXT); INSERT INTO notes VALUES ('hello');")
            .unwrap();
    }
    let app = std::fs::read(d.join("app.db")).unwrap();
    let message = fails(d, 2, &["--db", "app.db", "demo", "--events", "3000"]);
    assert!(
        message.contains("app.db exists and was not made by `revshare demo`"),
        "{message}"
    );
    assert_eq!(std::fs::read(d.join("app.db")).unwrap(), app);
    assert!(!d.join("app.db.key").exists());

    // Twice in a folder: the second run replaces its own store and keeps the key.
    let first = ok(d, &["demo", "--events", "3000"]);
    assert!(first.contains("closed acme-llama/2026-10"), "{first}");
    // It settles (issue 20, point 8): the host's dispute, resolved by the licensor,
    // carried once by November's statement; a payment confirmed; balances; every check.
    let dispute = first
        .lines()
        .find_map(|l| {
            l.strip_prefix("dispute ")
                .and_then(|rest| rest.strip_suffix(" open (its inclusion proof checked)"))
        })
        .unwrap_or_else(|| panic!("no dispute opened: {first}"));
    assert!(
        first.contains("meta resolves it for the whole claim: resolved -12.50"),
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "closed acme-llama/2026-11: total -12.50 USD, 0 events, dispute adjustment -12.50 for {dispute}"
        )),
        "{first}"
    );
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("payment P-") && l.ends_with(" confirmed")),
        "{first}"
    );
    assert!(first.contains("outstanding"), "{first}");
    let checks = first.lines().filter(|l| l.trim_end().ends_with("  ok")).count();
    assert_eq!(checks, 6, "audit verify: every check holds\n{first}");
    let key = std::fs::read(d.join("revshare-demo.db.key")).unwrap();
    let key_id = json(std::str::from_utf8(&key).unwrap())["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = ok(d, &["demo", "--events", "3000"]);
    assert!(
        second.contains(&format!("signing key {key_id} taken from revshare-demo.db.key")),
        "{second}"
    );
    // The same key, now naming the new store (each store has an id of its own).
    let kept = json(&std::fs::read_to_string(d.join("revshare-demo.db.key")).unwrap());
    let before = json(std::str::from_utf8(&key).unwrap());
    for field in ["alg", "key_id", "secret", "pseudonym_secret"] {
        assert_eq!(kept[field], before[field], "{field}");
    }
    assert_ne!(kept["store_id"], before["store_id"]);
    // The new store signs with it, and holds one run's data, not two.
    let public = json(&ok(d, &["--db", "revshare-demo.db", "key", "export-public"]));
    assert_eq!(public["key_id"], key_id.as_str());
    ok(d, &["--db", "revshare-demo.db", "audit", "verify"]);
    let ids = statement_ids(d, &["--db", "revshare-demo.db"]);
    assert!(ids.contains(&"acme-llama/2026-10".to_string()), "{ids:?}");
}

// 6. `--report` never follows a symbolic link, to an existing file or not.
#[test]
fn report_never_follows_a_symlink() {
    let d = dir("report-link");
    let d = d.0.as_path();
    ok(d, &["init"]);
    let bad = acme_event("2026-10").replace("\"region\":", "\"prompt\":\"secret\",\"region\":");
    std::fs::write(d.join("bad.ndjson"), format!("{bad}\n")).unwrap();
    std::fs::write(d.join("victim.txt"), "precious\n").unwrap();
    std::os::unix::fs::symlink("victim.txt", d.join("report.jsonl")).unwrap();
    let entries = audit_entries(d, &[]);
    let message = fails(d, 2, &["import", "bad.ndjson", "--report", "report.jsonl"]);
    assert!(
        message.contains("report.jsonl") && message.contains("symbolic link"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(d.join("victim.txt")).unwrap(), "precious\n");
    std::os::unix::fs::symlink("nowhere.txt", d.join("dangling.jsonl")).unwrap();
    assert!(fails(d, 2, &["import", "bad.ndjson", "--report", "dangling.jsonl"]).contains("symbolic link"));
    assert!(!d.join("nowhere.txt").exists());
    assert_eq!(audit_entries(d, &[]), entries);

    // A plain path works, and the report is private too.
    let message = fails(d, 2, &["import", "bad.ndjson", "--report", "report.txt"]);
    assert!(message.contains("1 of 1 records were not stored"), "{message}");
    let report = std::fs::read_to_string(d.join("report.txt")).unwrap();
    assert!(
        report.contains("\"code\":\"content_field\"") && !report.contains("secret"),
        "{report}"
    );
    assert_eq!(mode(&d.join("report.txt")), 0o600);
}

// 7. The store and its key are private (mode 0600) whatever the umask; so is the
// write-ahead log while the store is in use.
#[test]
fn the_store_the_wal_and_the_key_are_created_private() {
    let d = dir("modes");
    let d = d.0.as_path();
    let permissive = |args: &str| {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("umask 000 && exec \"$0\" {args}"))
            .arg(env!("CARGO_BIN_EXE_revshare"))
            .current_dir(d)
            .env_remove("REVSHARE_DATABASE_URL")
            .env_remove("REVSHARE_KEY_FILE")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{args}");
    };
    permissive("init");
    assert_eq!(mode(&d.join("revshare.db")), 0o600);
    assert_eq!(mode(&d.join("revshare.db.key")), 0o600);
    permissive("--db other.db init --key-file elsewhere.key");
    assert_eq!(mode(&d.join("other.db")), 0o600);
    assert_eq!(mode(&d.join("elsewhere.key")), 0o600);

    // The -wal exists while a command has the store open: a long import.
    let small = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let mut usage = String::new();
    for copy in 0..20 {
        usage.push_str(&small.replace("\"id\":\"e1-", &format!("\"id\":\"k{copy:02}-")));
    }
    std::fs::write(d.join("usage.ndjson"), usage).unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" import usage.ndjson")
        .arg(env!("CARGO_BIN_EXE_revshare"))
        .current_dir(d)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wal = d.join("revshare.db-wal");
    let started = Instant::now();
    let mut seen = None;
    while seen.is_none() && started.elapsed() < Duration::from_secs(60) {
        if let Ok(metadata) = std::fs::metadata(&wal) {
            seen = Some(metadata.permissions().mode() & 0o777);
        } else if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(seen, Some(0o600), "the -wal while the import ran");
    for suffix in ["-wal", "-shm"] {
        let path = d.join(format!("revshare.db{suffix}"));
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{suffix}");
        }
    }
}

// 8. Proofs come from the leaves a statement was closed with: a registry version
// added after the close changes no proof.
#[test]
fn a_registry_version_after_a_close_changes_no_proof() {
    let d = dir("registry-proof");
    let d = d.0.as_path();
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    std::fs::write(d.join("registry-1.csv"), "pattern,licensor\nllama-*,meta\n").unwrap();
    assert!(ok(d, &["models", "add", "registry-1.csv"]).contains("effective from the start"));
    ok(d, &["import", &fixture("usage-small.ndjson")]);
    ok(d, &["close", "2026-09"]);

    let line = acme_event("2026-09");
    let event = json(&line);
    let (source, id) = (event["source"].as_str().unwrap(), event["id"].as_str().unwrap());
    let proof = ok(d, &["prove", "acme-llama/2026-09", source, id]);
    let leaves = ok(d, &["statement", "leaves", "acme-llama/2026-09"]);
    let statement = ok(d, &["statement", "show", "acme-llama/2026-09"]);

    // The new version names another licensor for every model: under it, no llama
    // event would be meta's, so re-deriving membership would drop the event.
    std::fs::write(d.join("registry-2.csv"), "pattern,licensor\n*,someone-else\n").unwrap();
    let message = fails(d, 2, &["models", "add", "registry-2.csv", "--from", "2026-09-01"]);
    assert!(message.contains("acme-llama/2026-09"), "{message}");
    assert!(ok(d, &["models", "add", "registry-2.csv"]).contains("version 2 (1 rows), effective from 2026-10-01"));

    assert_eq!(ok(d, &["prove", "acme-llama/2026-09", source, id]), proof);
    assert_eq!(ok(d, &["statement", "leaves", "acme-llama/2026-09"]), leaves);
    assert_eq!(ok(d, &["statement", "show", "acme-llama/2026-09"]), statement);
    for (name, text) in [
        ("s.json", statement.clone()),
        ("k.json", ok(d, &["key", "export-public"])),
        ("p.json", proof.clone()),
        ("e.json", line.clone()),
    ] {
        std::fs::write(d.join(name), text).unwrap();
    }
    let verified = ok(
        d,
        &[
            "verify",
            "--statement",
            "s.json",
            "--public-key",
            "k.json",
            "--event",
            "e.json",
            "--proof",
            "p.json",
        ],
    );
    assert!(verified.contains("event counted"), "{verified}");
    // The leaf list rebuilds the signed root.
    let leaves = json(&leaves);
    let signed = json(&statement);
    assert_eq!(leaves["count"], signed["events"]["count"]);
    assert_eq!(leaves["tree"], "events");
    // Closing October under the new version re-rates nothing of September. Under
    // it, acme-llama selects no October event, which a close refuses unless allowed.
    let empty = fails(d, 2, &["close", "2026-10"]);
    assert!(empty.contains("--allow-empty"), "{empty}");
    ok(d, &["close", "2026-10", "--allow-empty"]);
    assert_eq!(ok(d, &["prove", "acme-llama/2026-09", source, id]), proof);
    ok(d, &["audit", "verify"]);
}

// 9. Versions of a contract keep `rounding.scale`; after the refusal, a late event
// and the next close work (with a valid second version in force).
#[test]
fn a_version_changing_rounding_scale_is_refused_and_closes_go_on() {
    let d = dir("scale");
    let d = d.0.as_path();
    acme_store(d);
    let v1 = std::fs::read_to_string(fixtures().join("contracts/acme-llama.toml")).unwrap();
    let v2 = v1
        .replace("version = 1", "version = 2")
        .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-10-01\"");
    assert_ne!(v1, v2);
    std::fs::write(d.join("scale.toml"), v2.replace("scale = 2", "scale = 3")).unwrap();
    let message = fails(d, 2, &["contract", "add", "scale.toml"]);
    assert!(
        message.contains("rounding.scale") && message.contains("scale.toml"),
        "{message}"
    );
    assert_eq!(
        json(&ok(d, &["contract", "list"])).as_array().unwrap().len(),
        1,
        "nothing stored"
    );
    std::fs::write(
        d.join("v2.toml"),
        v2.replace("revenue_share = \"0.20\"", "revenue_share = \"0.25\""),
    )
    .unwrap();
    assert!(ok(d, &["contract", "add", "v2.toml"]).contains("stored acme-llama version 2"));

    let late = acme_event("2026-09").replacen("\"id\":\"e1-", "\"id\":\"late-", 1);
    std::fs::write(d.join("late.ndjson"), format!("{late}\n")).unwrap();
    assert!(ok(d, &["import", "late.ndjson"]).contains("1 accepted, 0 duplicates, 0 conflicts, 0 rejected; 1 late"));
    let closed = ok(d, &["close", "2026-10"]);
    assert!(
        closed.contains("closed acme-llama/2026-10") && closed.contains("for 2026-09 (1 late events)"),
        "{closed}"
    );
    let october = json(&ok(d, &["statement", "show", "acme-llama/2026-10"]));
    assert_eq!(october["contract_version"], 2);
    let adjustment = &october["adjustments"][0];
    assert_eq!(adjustment["kind"], "prior_period");
    assert_eq!(adjustment["period"], "2026-09");
    assert_eq!(adjustment["events"]["count"], 1);
    // September re-rated under version 1 with the late event, minus what was settled.
    let usage = fixture("usage-small.ndjson");
    let late_file = d.join("late.ndjson").display().to_string();
    let before = rated("2026-09", &[&usage]);
    let after = rated("2026-09", &[&usage, &late_file]);
    let cents = |v: &serde_json::Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    assert_eq!(
        cents(&adjustment["amount"]),
        cents(&after["total"]) - cents(&before["total"])
    );
    assert_eq!(
        adjustment["amount"].as_str().unwrap().split('.').nth(1).unwrap().len(),
        2
    );
    ok(d, &["audit", "verify"]);
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(hex::decode(part).unwrap());
    }
    hex::encode(hasher.finalize())
}

// 10. A statement anchors the audit log's history: a chain rewritten before its
// anchor is detected, even with every later hash recomputed.
#[test]
fn verify_detects_a_rewritten_audit_chain() {
    let d = dir("chain");
    let d = d.0.as_path();
    acme_store(d);
    let statement = ok(d, &["statement", "show", "acme-llama/2026-09"]);
    let anchor = json(&statement)["audit_head"].clone();
    std::fs::write(d.join("s.json"), &statement).unwrap();
    std::fs::write(d.join("k.json"), ok(d, &["key", "export-public"])).unwrap();
    let chain_text = ok(d, &["audit", "chain", "--format", "json"]);
    std::fs::write(d.join("c.json"), &chain_text).unwrap();
    let args = [
        "verify",
        "--statement",
        "s.json",
        "--public-key",
        "k.json",
        "--audit-chain",
        "c.json",
    ];
    let verified = ok(d, &args);
    assert!(
        verified.contains(&format!("it holds the signed audit_head (entry {})", anchor["seq"])),
        "{verified}"
    );

    let chain = json(&chain_text);
    let links = chain.as_array().unwrap();
    let anchor_seq = anchor["seq"].as_u64().unwrap();
    assert!(anchor_seq >= 3 && links.len() as u64 > anchor_seq, "{anchor}");
    // The chain is what it claims: hash = SHA-256(prev_hash ‖ digest), linked from zeros.
    let mut prev = "0".repeat(64);
    for link in links {
        assert_eq!(link["prev_hash"], prev.as_str());
        let hash = sha256_hex(&[&prev, link["digest"].as_str().unwrap()]);
        assert_eq!(link["hash"], hash.as_str());
        prev = hash;
    }

    // Edited without recomputing: a broken link.
    let mut broken = chain.clone();
    broken[1]["digest"] = serde_json::json!("ab".repeat(32));
    std::fs::write(d.join("c.json"), broken.to_string()).unwrap();
    let message = fails(d, 1, &args);
    assert!(
        message.contains("c.json: NOT VERIFIED") && message.contains("entry 2"),
        "{message}"
    );

    // Rewritten: entry 2 changed and every later hash recomputed. The links hold,
    // the signed anchor does not.
    let mut rewritten = chain.clone();
    rewritten[1]["digest"] = serde_json::json!("ab".repeat(32));
    let mut prev = "0".repeat(64);
    for link in rewritten.as_array_mut().unwrap() {
        link["prev_hash"] = serde_json::json!(prev);
        let hash = sha256_hex(&[&prev, link["digest"].as_str().unwrap()]);
        link["hash"] = serde_json::json!(hash);
        prev = hash;
    }
    std::fs::write(d.join("c.json"), rewritten.to_string()).unwrap();
    let message = fails(d, 1, &args);
    assert!(
        message.contains("NOT VERIFIED")
            && message.contains(&format!("names entry {anchor_seq}"))
            && message.contains("rewritten"),
        "{message}"
    );

    // A chain that stops before the anchor cannot vouch for it.
    let cut: Vec<_> = links.iter().take(anchor_seq as usize - 1).cloned().collect();
    std::fs::write(d.join("c.json"), serde_json::Value::from(cut).to_string()).unwrap();
    let message = fails(d, 1, &args);
    assert!(message.contains(&format!("names entry {anchor_seq}")), "{message}");
    // Nor does a chain that starts at the anchor: the entries before it, which the
    // anchor's hash stands for, would go unchecked.
    let from_anchor: Vec<_> = links.iter().skip(anchor_seq as usize - 1).cloned().collect();
    std::fs::write(d.join("c.json"), serde_json::Value::from(from_anchor).to_string()).unwrap();
    let message = fails(d, 1, &args);
    assert!(message.contains("starts at entry"), "{message}");
}

// 11. A dry run shows what a close would sign, and stores nothing.
#[test]
fn a_dry_run_close_stores_nothing() {
    let d = dir("dry-run");
    let d = d.0.as_path();
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    ok(d, &["import", &fixture("usage-small.ndjson")]);
    let entries = audit_entries(d, &[]);
    // The summary alone, then (issue 21, point 4) the statements as JSON alone on
    // stdout with `--format json`, the summary on stderr.
    let summary = ok(d, &["close", "2026-10", "--dry-run", "--settlement-start"]);
    assert!(summary.contains("would close acme-llama/2026-10"), "{summary}");
    let output = revshare(
        d,
        &[
            "close",
            "2026-10",
            "--dry-run",
            "--settlement-start",
            "--format",
            "json",
        ],
    );
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stderr).unwrap(), summary);
    let statements = json(&String::from_utf8(output.stdout).unwrap());
    let statements = statements.as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let preview = &statements[0];
    assert_eq!(preview["statement_id"], "acme-llama/2026-10");
    assert!(preview.get("signature").is_none(), "a preview is unsigned");
    // The preview is what `rate` computes for the same inputs.
    let rate = rated("2026-10", &[&fixture("usage-small.ndjson")]);
    for member in ["lines", "subtotal", "total", "payouts", "events", "exceptions"] {
        assert_eq!(preview[member], rate[member], "{member}");
    }

    assert_eq!(ok(d, &["statement", "list", "--format", "json"]).trim(), "[]");
    assert_eq!(audit_entries(d, &[]), entries, "nothing logged");
    fails(d, 2, &["statement", "show", "acme-llama/2026-10"]);
    // The real close then signs the same amounts.
    assert!(ok(d, &["close", "2026-10", "--settlement-start"]).contains("closed acme-llama/2026-10"));
    let signed = json(&ok(d, &["statement", "show", "acme-llama/2026-10"]));
    for member in ["lines", "total", "payouts", "events"] {
        assert_eq!(signed[member], preview[member], "{member}");
    }
}

// 10 (continued). A signed statement without an `audit_head` (as one signed before
// statements carried it) anchors nothing: checking a chain against it is refused,
// never reported as held.
#[test]
fn verify_refuses_a_chain_check_without_an_anchor() {
    use base64::Engine as _;

    let d = dir("no-anchor");
    let d = d.0.as_path();
    acme_store(d);
    let key_file = json(&std::fs::read_to_string(d.join("revshare.db.key")).unwrap());
    let secret: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(key_file["secret"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&secret);
    let mut statement = json(&ok(d, &["statement", "show", "acme-llama/2026-09"]));
    let object = statement.as_object_mut().unwrap();
    object.remove("signature").unwrap();
    object.remove("audit_head").unwrap();
    let signature = revshare_core::verify::sign_object(object, &key);
    object.insert("signature".into(), serde_json::to_value(signature).unwrap());
    std::fs::write(d.join("s.json"), serde_json::to_string_pretty(&statement).unwrap()).unwrap();
    std::fs::write(d.join("k.json"), ok(d, &["key", "export-public"])).unwrap();
    std::fs::write(d.join("c.json"), ok(d, &["audit", "chain", "--format", "json"])).unwrap();
    let verify = ["verify", "--statement", "s.json", "--public-key", "k.json"];
    assert!(ok(d, &verify).contains("signature valid"));
    let mut with_chain = verify.to_vec();
    with_chain.extend(["--audit-chain", "c.json"]);
    let message = fails(d, 2, &with_chain);
    assert!(
        message.contains("NOT VERIFIED") && message.contains("no audit_head"),
        "{message}"
    );
}

// Output piped into a reader that stops early ends the command quietly (as a Unix
// tool does, by SIGPIPE), not with a panic and a backtrace.
#[test]
fn output_into_a_closed_pipe_is_not_a_panic() {
    use std::os::unix::process::ExitStatusExt;

    let d = dir("pipe");
    let d = d.0.as_path();
    acme_store(d);
    ok(d, &["close", "2026-10"]);
    // 1593 leaves, more than a pipe buffers: the writer meets the closed pipe.
    let mut child = command(d, &["statement", "leaves", "acme-llama/2026-10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.signal(), Some(13), "SIGPIPE: {:?}", output.status);
}
