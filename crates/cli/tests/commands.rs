//! The stateful commands end to end on the embedded store: what a user types, what
//! they see, and the exit codes of refusals.

use std::path::Path;

mod common;

use common::{dir, fixture, fixtures, ok, refused, revshare};

/// Offline verification of the statement, event and proof written to the test folder.
const VERIFY_EVENT: &[&str] = &[
    "verify",
    "--statement",
    "s.json",
    "--public-key",
    "k.json",
    "--event",
    "e.json",
    "--proof",
    "p.json",
];

#[test]
fn a_store_from_init_to_verified_proof() {
    let d = dir("flow");
    let d = d.0.as_path();
    assert!(refused(d, &["contract", "list"]).contains("no store at revshare.db; run `revshare init` first"));
    let init = ok(d, &["init"]);
    assert!(init.contains("signing key") && d.join("revshare.db.key").exists());
    assert!(ok(d, &["init"]).contains("already initialized"));
    let public = ok(d, &["key", "export-public"]);
    assert!(public.contains("\"alg\": \"ed25519\""));
    let secret = std::fs::read_to_string(d.join("revshare.db.key")).unwrap();
    let secret: serde_json::Value = serde_json::from_str(&secret).unwrap();
    assert!(
        !public.contains(secret["secret"].as_str().unwrap()),
        "the secret is never printed"
    );

    for contract in ["acme-llama", "nimbus-llama", "orbit-llama"] {
        let stored = ok(d, &["contract", "add", &fixture(&format!("contracts/{contract}.toml"))]);
        assert!(stored.contains(&format!("stored {contract} version 1")));
    }
    assert!(ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]).contains("already stored"));
    let changed = std::fs::read_to_string(fixtures().join("contracts/acme-llama.toml"))
        .unwrap()
        .replace("0.20", "0.25");
    std::fs::write(d.join("changed.toml"), changed).unwrap();
    assert!(refused(d, &["contract", "add", "changed.toml"]).contains("already stored with other content"));
    // Not a terminal: JSON by default, the API's resources.
    let listed: serde_json::Value = serde_json::from_str(&ok(d, &["contract", "list"])).unwrap();
    let acme = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "acme-llama")
        .expect("acme-llama is listed");
    assert_eq!(
        (&acme["version"], &acme["host"], &acme["licensor"]),
        (
            &serde_json::json!(1),
            &serde_json::json!("acme-cloud"),
            &serde_json::json!("meta")
        )
    );
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let table = ok(d, &["contract", "list", "--format", "table"]);
    assert!(table.contains("acme-llama") && table.contains("acme-cloud"), "{table}");
    assert!(ok(d, &["contract", "list", "--format", "csv"]).starts_with("id,version,licensor,host,sha256,added_at\n"));
    assert!(ok(d, &["contract", "show", "orbit-llama"]).contains("period = \"quarter\""));

    let fx_rows = std::fs::read_to_string(fixtures().join("fx.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(fx_rows, 88);
    assert!(ok(d, &["fx", "add", &fixture("fx.csv")]).contains("stored 88 FX rates (0 already stored"));
    // The same rows again are skipped and counted; another rate for a stored day is refused.
    assert!(ok(d, &["fx", "add", &fixture("fx.csv")])
        .contains("stored 0 FX rates (88 already stored with the same rate, skipped)"));
    std::fs::write(d.join("fx-other.csv"), "date,from,to,rate\n2026-09-01,EUR,USD,1.5\n").unwrap();
    assert!(refused(d, &["fx", "add", "fx-other.csv"]).contains("differs from the stored 1.082904"));
    let fx: serde_json::Value = serde_json::from_str(&ok(d, &["fx", "list"])).unwrap();
    assert_eq!(fx.as_array().unwrap().len(), 88);
    assert!(ok(d, &["fx", "list", "--format", "csv"]).starts_with("date,from,to,rate\n2026-"));

    // The registry in versions: each `models add` is one, effective from --from (the
    // start when nothing is closed).
    assert!(ok(d, &["models", "add", &fixture("edge/models.csv")]).contains("stored registry version 1 (4 rows)"));
    assert!(refused(d, &["models", "add", "/dev/null"]).contains("the header must be `pattern,licensor`"));
    std::fs::write(d.join("registry.csv"), "pattern,licensor\nllama-*,meta\n").unwrap();
    assert!(refused(d, &["models", "add", "registry.csv", "--from", "2026-10-02"]).contains("--from"));
    assert!(ok(d, &["models", "add", "registry.csv", "--from", "2026-09-01"])
        .contains("stored registry version 2 (1 rows), effective from 2026-09-01"));
    assert_eq!(
        ok(d, &["models", "list", "--format", "csv"]),
        "version,effective_from,position,pattern,licensor\n\
         1,1970-01-01,0,m,lic\n1,1970-01-01,1,m-*,lic\n1,1970-01-01,2,x-*,lic\n1,1970-01-01,3,n-*,lic2\n\
         2,2026-09-01,0,llama-*,meta\n"
    );
    let registry: serde_json::Value = serde_json::from_str(&ok(d, &["models", "list"])).unwrap();
    assert_eq!(registry.as_array().unwrap().len(), 2);

    let proposed = ok(
        d,
        &[
            "contribution",
            "propose",
            "--contract",
            "acme-llama",
            "--by",
            "host",
            "--kind",
            "maintenance",
            "--date",
            "2026-10-03",
        ],
    );
    assert!(proposed.contains("proposed contribution 1"));
    ok(d, &["contribution", "accept", "1"]);
    assert!(refused(d, &["contribution", "reject", "1"]).contains("contribution 1 is already accepted"));
    assert!(refused(d, &["contribution", "accept", "1"]).contains("contribution 1 is already accepted"));
    let contributions: serde_json::Value = serde_json::from_str(&ok(d, &["contribution", "list"])).unwrap();
    assert_eq!(contributions[0]["status"], "accepted");
    assert!(refused(
        d,
        &[
            "contribution",
            "propose",
            "--contract",
            "nope",
            "--by",
            "host",
            "--kind",
            "update",
            "--date",
            "2026-10-03"
        ]
    )
    .contains("no contract `nope`"));

    let imported = ok(
        d,
        &["import", &fixture("usage-small.ndjson"), "--report", "report.jsonl"],
    );
    assert!(imported.contains("3000 read"), "{imported}");
    let bad = std::fs::read_to_string(fixtures().join("usage-small.ndjson"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .replace("\"region\":", "\"prompt\":\"secret\",\"region\":");
    std::fs::write(d.join("bad.ndjson"), format!("{bad}\n")).unwrap();
    // A rejected record makes the import exit 2 (the valid ones are stored).
    let message = refused(d, &["import", "bad.ndjson", "--report", "report.jsonl"]);
    assert!(
        message.contains("bad.ndjson:1: rejected: data.prompt: content fields"),
        "{message}"
    );
    assert!(message.contains("1 of 1 records were not stored"), "{message}");
    let report = std::fs::read_to_string(d.join("report.jsonl")).unwrap();
    assert!(report.contains("\"code\":\"content_field\""), "{report}");

    assert!(refused(d, &["close", "2099-01"]).contains("cannot be closed yet: it ends at 2099-02-01T00:00:00Z"));
    assert!(refused(d, &["close", "2026-13"]).contains("is not a period"));
    // Their first close would leave September unsettled for good (acme-llama's
    // events, nimbus-llama's minimum guarantee since July): refused, a dry run too,
    // naming the periods and the flag that confirms where settlement starts.
    for args in [&["close", "2026-10"][..], &["close", "2026-10", "--dry-run"]] {
        let message = refused(d, args);
        assert!(
            message.contains("acme-llama from 2026-09 (")
                && message.contains("nimbus-llama from 2026-07 (its minimum guarantee is owed from 2026-07"),
            "{message}"
        );
        assert!(message.contains("confirm it with --settlement-start"), "{message}");
        assert!(
            !message.contains("settlement_start=true"),
            "the CLI's own words: {message}"
        );
    }
    let listed: serde_json::Value = serde_json::from_str(&ok(d, &["statement", "list"])).unwrap();
    assert_eq!(listed, serde_json::json!([]), "nothing stored");
    let preview = ok(d, &["close", "2026-10", "--dry-run", "--settlement-start"]);
    assert!(preview.contains("would close acme-llama/2026-10"), "{preview}");
    let closed = ok(d, &["close", "2026-10", "--settlement-start"]);
    assert!(
        closed.contains("closed acme-llama/2026-10") && closed.contains("closed nimbus-llama/2026-10"),
        "{closed}"
    );
    assert!(ok(d, &["close", "2026-10", "--contract", "acme-llama"]).contains("already closed acme-llama/2026-10"));
    // `locate` says how each place accounted for the event: its line, or its
    // exception (counted, nobody paid on it).
    let rated = ok(d, &["locate", "acme-cloud/us", "e1-0000000000", "--format", "table"]);
    assert!(
        rated.contains("acme-llama/2026-10 (tree `events`, leaf ")
            && rated.contains("rated into line llama-3.3-70b-instruct / content_generation"),
        "{rated}"
    );
    let usage = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let prohibited: serde_json::Value = serde_json::from_str(
        usage
            .lines()
            .find(|l| {
                l.contains("\"host\":\"acme-cloud\"") && l.contains("surveillance") && l.contains("\"time\":\"2026-10")
            })
            .unwrap(),
    )
    .unwrap();
    let (source, id) = (
        prohibited["source"].as_str().unwrap(),
        prohibited["id"].as_str().unwrap(),
    );
    let table = ok(d, &["locate", source, id, "--format", "table"]);
    assert!(
        table.contains("reported as exception prohibited_use (USD): counted, never rated or paid on"),
        "{table}"
    );
    let located: serde_json::Value = serde_json::from_str(&ok(d, &["locate", source, id, "--format", "json"])).unwrap();
    let place = &located["places"][0];
    assert_eq!(
        place["exception"],
        serde_json::json!({"kind": "prohibited_use", "currency": "USD"}),
        "{located}"
    );
    assert_eq!(place["line"], serde_json::Value::Null, "{located}");
    let listed: serde_json::Value = serde_json::from_str(&ok(d, &["statement", "list"])).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["statement_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme-llama/2026-10", "nimbus-llama/2026-10"]);
    assert!(ok(d, &["statement", "list", "--format", "table"]).contains("acme-llama/2026-10"));
    let json = ok(d, &["statement", "show", "acme-llama/2026-10"]);
    assert!(ok(d, &["statement", "show", "acme-llama/2026-10", "--format", "table"]).contains("subtotal"));
    assert!(ok(d, &["statement", "show", "acme-llama/2026-10", "--format", "csv"]).starts_with("contract,period,"));
    assert!(refused(d, &["statement", "show", "acme-llama/2030-01"]).contains("no statement"));

    // A host's own event, its proof, and offline verification with the public key.
    let line = std::fs::read_to_string(fixtures().join("usage-small.ndjson"))
        .unwrap()
        .lines()
        .find(|l| l.contains("\"host\":\"acme-cloud\"") && l.contains("\"time\":\"2026-10"))
        .unwrap()
        .to_string();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    let proof = ok(
        d,
        &[
            "prove",
            "acme-llama/2026-10",
            event["source"].as_str().unwrap(),
            event["id"].as_str().unwrap(),
        ],
    );
    for (name, text) in [
        ("s.json", &json),
        ("k.json", &public),
        ("p.json", &proof),
        ("e.json", &line),
    ] {
        std::fs::write(d.join(name), text).unwrap();
    }
    let verified = ok(d, VERIFY_EVENT);
    assert!(
        verified.contains("signature valid") && verified.contains("event counted"),
        "{verified}"
    );
    // `verify` exits 1 on a check that fails (README of the spec).
    let not_verified = |d: &Path| {
        let output = revshare(d, VERIFY_EVENT);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{VERIFY_EVENT:?} should fail with exit 1"
        );
        String::from_utf8(output.stderr).unwrap()
    };
    std::fs::write(d.join("e.json"), line.replace("\"requests\":", "\"requests\":1")).unwrap();
    assert!(not_verified(d).contains("NOT VERIFIED"));
    // The host's copy is read as the valid event it must be, never lossily: bytes the
    // service refuses (invalid UTF-8 in an identifier) do not verify as counted.
    let mut invalid = line.clone().into_bytes();
    let at = invalid.windows(6).position(|w| w == b"\"id\":\"").unwrap() + 6;
    invalid[at] = 0xff;
    std::fs::write(d.join("e.json"), &invalid).unwrap();
    let message = not_verified(d);
    assert!(
        message.contains("NOT VERIFIED") && message.contains("event"),
        "{message}"
    );
}

#[test]
fn store_options_go_before_or_after_the_subcommand() {
    let d = dir("options");
    let d = d.0.as_path();
    ok(d, &["--db", "a.db", "init"]);
    ok(d, &["init", "--db", "b.db"]);
    assert!(d.join("a.db").exists() && d.join("b.db.key").exists());
    ok(
        d,
        &["contract", "add", &fixture("contracts/acme-llama.toml"), "--db", "a.db"],
    );
    assert!(ok(d, &["--db", "a.db", "contract", "list"]).contains("acme-llama"));
    assert!(!ok(d, &["--db", "b.db", "contract", "list"]).contains("acme-llama"));
}

#[test]
fn a_broken_file_says_what_was_imported_before_the_break_and_a_repaired_one_counts_once() {
    let d = dir("broken");
    let d = d.0.as_path();
    ok(d, &["init"]);
    let usage = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let lines: Vec<&str> = usage.lines().filter(|l| !l.trim().is_empty()).take(2).collect();
    // A JSON array whose closing bracket is missing: the first element is complete
    // (a comma follows it), the last one cannot be known to be.
    std::fs::write(d.join("cut.json"), format!("[{},\n{}\n", lines[0], lines[1])).unwrap();
    let message = refused(d, &["import", "cut.json"]);
    assert!(
        message.contains("not closed") && message.contains("before it: 1 read, 1 accepted, 0 duplicates, stored"),
        "{message}"
    );
    std::fs::write(d.join("whole.json"), format!("[{},\n{}]\n", lines[0], lines[1])).unwrap();
    let again = ok(d, &["import", "whole.json"]);
    assert!(again.contains("2 read, 1 accepted, 1 duplicates"), "{again}");

    // A stored key re-sent with other content is a conflict: the valid records are
    // stored, the import exits 2.
    let changed = lines[0].replacen("\"requests\":", "\"requests\":1", 1);
    assert_ne!(changed, lines[0]);
    let new = lines[0].replacen("\"id\":\"e1-", "\"id\":\"new-", 1);
    std::fs::write(d.join("conflict.ndjson"), format!("{changed}\n{new}\n")).unwrap();
    let output = revshare(d, &["import", "conflict.ndjson"]);
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("2 read, 1 accepted, 0 duplicates, 1 conflicts, 0 rejected"),
        "{stdout}"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("conflict.ndjson:1: rejected: conflict:")
            && stderr.contains("data.requests differ")
            && stderr.contains("1 of 2 records were not stored (the valid ones were)"),
        "{stderr}"
    );
    // Again: the new record is now a duplicate, the conflict stays one.
    let output = revshare(d, &["import", "conflict.ndjson"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains("2 read, 0 accepted, 1 duplicates, 1 conflicts"));
}

/// A store with acme-llama, the FX rates and the small example imported.
fn acme_store(d: &Path) {
    ok(d, &["init"]);
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    ok(d, &["fx", "add", &fixture("fx.csv")]);
    ok(d, &["import", &fixture("usage-small.ndjson")]);
}

#[test]
fn a_contracts_periods_close_in_order_from_its_first_close() {
    let d = dir("order");
    let d = d.0.as_path();
    acme_store(d);
    // The first close fixes where settlement starts (August: no events of the example).
    assert!(ok(d, &["close", "2026-08"]).contains("closed acme-llama/2026-08: total 0.00 USD, 0 events"));
    let message = refused(d, &["close", "2026-10"]);
    assert!(
        message.contains("cannot close acme-llama/2026-10: acme-llama/2026-09 is still open"),
        "{message}"
    );
    let message = refused(d, &["close", "2026-07"]);
    assert!(
        message.contains("before acme-llama's settlement start 2026-08"),
        "{message}"
    );
    assert!(ok(d, &["close", "2026-09"]).contains("closed acme-llama/2026-09"));
    assert!(ok(d, &["close", "2026-10"]).contains("closed acme-llama/2026-10"));
    // Issue 21, point 10: a quarter when every contract settles by month is refused
    // (it used to exit 0 with "nothing to close").
    let message = refused(d, &["close", "2026-Q3"]);
    assert!(
        message.contains(
            "cannot close 2026-Q3: no contract settles quarterly; close its months instead (2026-07, 2026-08, 2026-09)"
        ),
        "{message}"
    );
    let message = refused(d, &["close", "2026-Q3", "--contract", "acme-llama"]);
    assert!(
        message.contains("contract `acme-llama` does not settle quarterly"),
        "{message}"
    );
    assert!(refused(d, &["close", "2026-10", "--contract", "nope"]).contains("no contract `nope`"));
}

#[test]
fn voids_and_late_events_settle_on_the_next_statement() {
    let d = dir("voids");
    let d = d.0.as_path();
    acme_store(d);
    assert!(ok(d, &["close", "2026-09"]).contains("closed acme-llama/2026-09: total 0.05 USD, 49 events"));
    let usage = std::fs::read_to_string(fixtures().join("usage-small.ndjson")).unwrap();
    let mut september = usage
        .lines()
        .filter(|l| l.contains("\"host\":\"acme-cloud\"") && l.contains("\"time\":\"2026-09"));
    let voided = september.next().unwrap().to_string();
    let late = september.next().unwrap().replacen("\"id\":\"e1-", "\"id\":\"late-", 1);
    let event = |line: &str| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        (
            v["source"].as_str().unwrap().to_string(),
            v["id"].as_str().unwrap().to_string(),
        )
    };
    let (source, id) = event(&voided);

    // A void is recorded once; voiding again is a no-op; an unknown event is refused.
    assert!(ok(d, &["void", &source, &id, "--reason", "sent twice under two ids"]).contains("voided"));
    assert!(ok(d, &["void", &source, &id, "--reason", "again"]).contains("was already voided"));
    assert!(refused(d, &["void", &source, "nope", "--reason", "x"]).contains("was never received"));
    std::fs::write(d.join("late.ndjson"), format!("{late}\n")).unwrap();
    assert!(ok(d, &["import", "late.ndjson"]).contains("1 late"));

    let closed = ok(d, &["close", "2026-10"]);
    assert!(
        closed.contains("closed acme-llama/2026-10") && closed.contains("for 2026-09 (1 late events, 1 voided)"),
        "{closed}"
    );
    let statement = ok(d, &["statement", "show", "acme-llama/2026-10"]);
    let parsed: serde_json::Value = serde_json::from_str(&statement).unwrap();
    let adjustment = &parsed["adjustments"][0];
    assert_eq!(adjustment["period"], "2026-09");
    assert_eq!(adjustment["reasons"], serde_json::json!(["late_events", "voids"]));
    assert_eq!(adjustment["events"]["count"], 1);
    assert_eq!(adjustment["voided"]["count"], 1);
    // September re-rated with the late event and without the voided one, offline:
    // the adjustment is its total minus the 0.05 closed for September.
    let counted: String = usage
        .lines()
        .filter(|l| *l != voided)
        .chain([late.as_str()])
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("september.ndjson"), counted).unwrap();
    let rerated = ok(
        d,
        &[
            "rate",
            "--contract",
            &fixture("contracts/acme-llama.toml"),
            "--fx",
            &fixture("fx.csv"),
            "--usage",
            "september.ndjson",
            "--period",
            "2026-09",
        ],
    );
    let rerated: serde_json::Value = serde_json::from_str(&rerated).unwrap();
    assert_eq!(rerated[0]["events"]["count"], 49);
    let cents = |v: &serde_json::Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    assert_eq!(cents(&adjustment["amount"]), cents(&rerated[0]["total"]) - 5);

    // Each tree's leaves, and proofs a host checks offline with its own copy.
    let leaves = ok(
        d,
        &["statement", "leaves", "acme-llama/2026-10", "--tree", "voided:2026-09"],
    );
    let leaves: serde_json::Value = serde_json::from_str(&leaves).unwrap();
    assert_eq!(leaves["count"], 1);
    assert!(refused(
        d,
        &["statement", "leaves", "acme-llama/2026-10", "--tree", "voided:2026-08"]
    )
    .contains("has no tree `voided:2026-08`"));
    std::fs::write(d.join("s.json"), &statement).unwrap();
    std::fs::write(d.join("k.json"), ok(d, &["key", "export-public"])).unwrap();
    for (line, tree, verb) in [
        (&voided, "voided:2026-09", "event removed"),
        (&late, "prior_period:2026-09", "event counted"),
    ] {
        let (source, id) = event(line);
        let proof = ok(d, &["prove", "acme-llama/2026-10", &source, &id]);
        assert!(proof.contains(&format!("\"tree\": \"{tree}\"")), "{proof}");
        std::fs::write(d.join("p.json"), proof).unwrap();
        std::fs::write(d.join("e.json"), line).unwrap();
        let verified = ok(d, VERIFY_EVENT);
        assert!(verified.contains(verb) && verified.contains(tree), "{verified}");
    }
    // The voided event stays proven in the statement that counted it.
    assert!(ok(d, &["prove", "acme-llama/2026-09", &source, &id]).contains("\"tree\": \"events\""));
    ok(d, &["audit", "verify"]);
}

/// Issue 21, point 10: a key file its group or others may read is refused (exit 2,
/// naming `chmod 600`), as ssh refuses such a private key; `init` makes it 0600 and
/// after `chmod 600` it works again.
#[test]
fn a_key_file_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = dir("key-mode");
    let d = d.0.as_path();
    ok(d, &["init"]);
    let key = d.join("revshare.db.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let message = refused(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
        assert!(
            message.contains(&format!("open to its group or others (mode {mode:04o})"))
                && message.contains("run `chmod 600 revshare.db.key`"),
            "{mode:o}: {message}"
        );
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    // A rotated key file is 0600 too, and the key file it replaces stays so.
    ok(d, &["key", "rotate"]);
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    ok(d, &["contract", "list"]);
}

/// Issue 21, point 10: a contract version must be the next one: version 5 after 1
/// is refused naming version 2, and a new contract starts at version 1.
#[test]
fn a_contract_version_must_be_the_next_one() {
    let d = dir("next-version");
    let d = d.0.as_path();
    ok(d, &["init"]);
    let v1 = std::fs::read_to_string(fixture("contracts/acme-llama.toml")).unwrap();
    std::fs::write(d.join("v3.toml"), v1.replacen("version = 1", "version = 3", 1)).unwrap();
    let message = refused(d, &["contract", "add", "v3.toml"]);
    assert!(
        message.contains("acme-llama has no version yet: its first version must be version 1, not 3"),
        "{message}"
    );
    ok(d, &["contract", "add", &fixture("contracts/acme-llama.toml")]);
    let v5 = v1
        .replacen("version = 1", "version = 5", 1)
        .replace("effective_from = \"2026-01-01\"", "effective_from = \"2027-01-01\"");
    std::fs::write(d.join("v5.toml"), &v5).unwrap();
    let message = refused(d, &["contract", "add", "v5.toml"]);
    assert!(
        message.contains("acme-llama's latest version is 1: the next must be version 2, not 5"),
        "{message}"
    );
    std::fs::write(d.join("v2.toml"), v5.replacen("version = 5", "version = 2", 1)).unwrap();
    assert!(ok(d, &["contract", "add", "v2.toml"]).contains("stored acme-llama version 2"));
}
