//! `revshare store copy` at the command line (issue 21, point 11): an embedded store
//! into PostgreSQL and that one back into a new file, the key file placed beside
//! the file, `audit verify` and every statement's bytes on each copy, the retired
//! source's refusals, and the refused targets (exit 2, named).

mod common;

use std::path::Path;

use common::{fixture, Store};

/// A closed month: statements with trees, payout notices, the audit log.
/// Settlement starts at October (the fixture's September is left out).
fn filled(store: &Store) {
    store.setup();
    store.run(&["import", &fixture("usage-small.ndjson")]);
    store.run(&["close", "2026-10", "--settlement-start"]);
}

fn statement(args: &[String], dir: &Path) -> Vec<u8> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(["statement", "show", "acme-llama/2026-10", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn refused(store: &Store, args: &[&str]) -> String {
    let output = store.output(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn a_file_into_postgres_and_back() {
    let Some(pg) = Store::postgres("copy_cli") else {
        return;
    };
    let file = Store::sqlite("copy_cli_file");
    filled(&file);
    let signed = statement(&file.args, &file.dir);
    let url = pg.args[1].clone();
    let pg_key = pg.args[3].clone();

    // Refused before anything: this store itself, an initialized target, a key file
    // of another store where the copy's would go.
    let db = file.file.as_ref().unwrap().display().to_string();
    let message = refused(&file, &["store", "copy", "--to", &db]);
    assert!(message.contains("names this store"), "{message}");
    let other = Store::sqlite("copy_cli_other");
    other.run(&["init"]);
    let other_db = other.file.as_ref().unwrap().display().to_string();
    let message = refused(&file, &["store", "copy", "--to", &other_db, "--to-key-file", &pg_key]);
    assert!(
        message.contains(&other_db) && message.contains("not empty"),
        "{message}"
    );
    let other_key = format!("{other_db}.key");
    let message = refused(&file, &["store", "copy", "--to", &url, "--to-key-file", &other_key]);
    assert!(message.contains("holds another key"), "{message}");
    file.run(&["party", "add", "still-writable"]);

    // Into PostgreSQL.
    let output = file.output(&["store", "copy", "--to", &url, "--to-key-file", &pg_key]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("copied store") && stdout.contains("retired"),
        "{stdout}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("copying"),
        "no bar off a terminal"
    );
    assert_eq!(
        std::fs::read(&pg_key).unwrap(),
        std::fs::read(format!("{db}.key")).unwrap(),
        "the same key"
    );
    pg.assert_audit_verifies();
    assert_eq!(statement(&pg.args, &pg.dir), signed, "the same bytes");
    let log = pg.run(&["audit", "log", "--format", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&log).unwrap();
    let last = entries.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "store_copied", "{last}");

    // The source answers reads and refuses writes, naming the copy.
    file.assert_audit_verifies();
    assert_eq!(statement(&file.args, &file.dir), signed);
    for write in [
        vec!["party", "add", "late-co"],
        vec!["import", &fixture("usage-small.ndjson")],
        vec!["close", "2026-11"],
    ] {
        let message = refused(&file, &write);
        assert!(
            message.contains("retired") && message.contains(&url),
            "{write:?}: {message}"
        );
    }
    let message = refused(
        &file,
        &["store", "copy", "--to", &pg.dir.join("x.db").display().to_string()],
    );
    assert!(message.contains("retired"), "{message}");

    // Writes go on in the copy, then back into a new file, its key file beside it.
    pg.run(&["party", "add", "pg-co"]);
    let back = pg.dir.join("back.db");
    let back_db = back.display().to_string();
    let spare_key = pg.dir.join("spare.key").display().to_string();
    let message = refused(&pg, &["store", "copy", "--to", &other_db, "--to-key-file", &spare_key]);
    assert!(message.contains("not empty"), "{message}");
    assert!(
        !Path::new(&spare_key).exists(),
        "no key file is written for a refused copy"
    );
    let stdout = pg.run(&["store", "copy", "--to", &back_db]);
    assert!(stdout.contains(&format!("--db {back_db}")), "{stdout}");
    let key = std::fs::metadata(format!("{back_db}.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    let back_args = vec!["--db".to_string(), back_db.clone()];
    assert_eq!(statement(&back_args, &pg.dir), signed);
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(["audit", "verify"])
        .args(&back_args)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let message = refused(&pg, &["party", "add", "late-co"]);
    assert!(message.contains("retired") && message.contains(&back_db), "{message}");
}
