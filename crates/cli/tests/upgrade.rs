//! Stores made by the build before the audit log was a tree (fixtures/schema3, made
//! by scripts/upgrade-fixture.sh with that build: SQLite schema 3, PostgreSQL schema
//! 4) are upgraded as statements.md says: with the key, `audit verify` first and
//! refused on a failure, then the tree over the existing entries and its first
//! checkpoint. Their statements verify in the form they were closed with; later
//! closes anchor the tree.

use std::path::{Path, PathBuf};

mod common;

use common::Store;

fn schema3() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/schema3")
}

/// The key file the store is opened with.
fn key_file(store: &Store) -> PathBuf {
    match &store.file {
        Some(file) => PathBuf::from(format!("{}.key", file.display())),
        None => store.dir.join("serve.key"),
    }
}

/// The fixture's store of this backend, with its key file, where `store` lives.
fn from_fixture(store: &Store) {
    let (key, data) = match &store.file {
        Some(file) => {
            std::fs::copy(schema3().join("store.db"), file).unwrap();
            ("store.db.key", None)
        }
        None => (
            "postgres.key",
            Some(std::fs::read_to_string(schema3().join("postgres.sql")).unwrap()),
        ),
    };
    if let Some(sql) = data {
        let url = &store.args[1];
        let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
        client.batch_execute(&sql).unwrap();
    }
    let key_file = key_file(store);
    std::fs::copy(schema3().join(key), &key_file).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn stdout_of(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The checkpoint files beside the key file.
fn kept_checkpoints(store: &Store) -> Vec<PathBuf> {
    let key = key_file(store);
    let prefix = format!("{}.", key.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(&store.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".checkpoint")
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Upgraded with its key by `audit verify`: the old statements unchanged and
/// verifying in their own form (through the chain), the tree and its first
/// checkpoint there, and a later close anchoring the tree.
fn upgraded(store: &Store) {
    from_fixture(store);
    let d = &store.dir;
    let before = std::fs::read_to_string(key_file(store)).unwrap();
    assert!(!before.contains("store_id"), "a key file of the build before: {before}");
    store.run(&["audit", "verify"]);
    let key: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(key_file(store)).unwrap()).unwrap();
    let store_id = key["store_id"].as_str().expect("the key file names its store now");
    let [kept] = kept_checkpoints(store).try_into().expect("one checkpoint file");
    assert!(kept.display().to_string().contains(store_id));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600);
    let note = store.run(&["audit", "checkpoint"]);
    assert!(note.starts_with(&format!("revshare/{store_id}\n")), "{note}");

    // The statements closed before: stored as they were, verifying in their own form.
    write(&d.join("public-keys.json"), &store.run(&["key", "export-public"]));
    write(
        &d.join("chain.json"),
        &store.run(&["audit", "chain", "--format", "json"]),
    );
    let mut old = 0;
    let mut old_prior_periods = 0;
    let backend = if store.file.is_some() { "sqlite" } else { "postgres" };
    for file in std::fs::read_dir(schema3().join("statements").join(backend)).unwrap() {
        let path = file.unwrap().path();
        let signed = std::fs::read_to_string(&path).unwrap();
        let statement: serde_json::Value = serde_json::from_str(&signed).unwrap();
        let id = statement["statement_id"].as_str().unwrap();
        assert!(
            statement["audit_head"].get("tree_size").is_none(),
            "{id}: the form before trees"
        );
        // Its prior-period adjustments predate `rerated` and `settled_before`: the
        // `audit verify` above re-rated them equal in that form.
        for adjustment in statement["adjustments"].as_array().unwrap() {
            assert!(adjustment.get("rerated").is_none(), "{id}: the form before");
            assert!(adjustment.get("settled_before").is_none(), "{id}: the form before");
            old_prior_periods += usize::from(adjustment["kind"] == "prior_period");
        }
        assert_eq!(
            store.run(&["statement", "show", id, "--format", "json"]),
            signed,
            "{id} unchanged"
        );
        let verified = store.run(&[
            "verify",
            "--statement",
            &path.display().to_string(),
            "--public-key",
            "public-keys.json",
            "--audit-chain",
            "chain.json",
        ]);
        assert!(verified.contains("it holds the signed audit_head"), "{verified}");
        old += 1;
    }
    assert_eq!(old, 4);
    assert!(old_prior_periods > 0, "the fixture holds a prior-period adjustment");

    // Writes go on: a late October event and a void, settled by November's close,
    // whose statements anchor the tree.
    let late = "{\"specversion\":\"1.0\",\"type\":\"ai.usage.v1\",\"source\":\"acme-cloud/us\",\"id\":\"late-1\",\
                \"time\":\"2026-10-30T10:00:00Z\",\"data\":{\"host\":\"acme-cloud\",\"model\":\"llama-3.3-70b-instruct\",\
                \"use_case\":\"content_generation\",\"customer\":\"c-9\",\"requests\":1,\"input_tokens\":1000,\
                \"output_tokens\":100,\"revenue\":\"2.000000\",\"currency\":\"USD\"}}\n";
    write(&d.join("late.ndjson"), late);
    store.run(&["import", "late.ndjson"]);
    store.run(&["close", "2026-11", "--allow-empty"]);
    store.assert_audit_verifies();
    let new = store.run(&["statement", "show", "acme-llama/2026-11", "--format", "json"]);
    write(&d.join("new.json"), &new);
    let anchor = serde_json::from_str::<serde_json::Value>(&new).unwrap()["audit_head"]["tree_size"]
        .as_u64()
        .expect("a statement closed after the upgrade anchors the tree");
    assert!(
        new.contains("2026-10"),
        "November settles the late October event: {new}"
    );
    let november: serde_json::Value = serde_json::from_str(&new).unwrap();
    let settles = november["adjustments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "prior_period")
        .expect("November's prior-period adjustment");
    assert!(
        settles.get("rerated").is_some() && settles.get("settled_before").is_some(),
        "{new}"
    );
    write(&d.join("c.txt"), &store.run(&["audit", "checkpoint"]));
    let newest: serde_json::Value = serde_json::from_str(&store.run(&["audit", "inclusion", "1"])).unwrap();
    let newest = newest["size"].as_u64().unwrap();
    write(
        &d.join("p.json"),
        &store.run(&["audit", "consistency", &anchor.to_string(), &newest.to_string()]),
    );
    let verified = store.run(&[
        "verify",
        "--statement",
        "new.json",
        "--public-key",
        "public-keys.json",
        "--checkpoint",
        "c.txt",
        "--consistency",
        "p.json",
    ]);
    assert!(verified.contains("is a prefix of its"), "{verified}");

    // The store made to look as if never upgraded (its id, tree and checkpoints
    // deleted) is not upgraded again: the key file names it and keeps its checkpoint.
    execute(
        store,
        "DELETE FROM meta WHERE key = 'store_id'; DELETE FROM audit_tree; DELETE FROM checkpoints; \
         DELETE FROM cosignatures",
    );
    let output = store.output(&["party", "add", "someone"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout_of(&output));
    assert!(stdout_of(&output).contains("its id was removed behind the service's back"));
    assert_eq!(query_one(store, "SELECT count(*) FROM audit_tree"), "0");
}

/// A store whose `audit verify` fails is not upgraded: the command names the
/// failure, and neither the store nor the key file changes; once the row is put
/// back, the upgrade goes through.
fn refused_on_a_failure(store: &Store) {
    from_fixture(store);
    let edit = "UPDATE fx_rates SET rate = '2.0' WHERE rate = (SELECT min(rate) FROM fx_rates)";
    let undo_of = |rate: &str| format!("UPDATE fx_rates SET rate = '{rate}' WHERE rate = '2.0'");
    let rate = query_one(store, "SELECT min(rate) FROM fx_rates");
    execute(store, edit);
    let key_before = std::fs::read(key_file(store)).unwrap();
    let output = store.output(&["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout_of(&output));
    let said = stdout_of(&output);
    assert!(
        said.contains("upgrading it needs `audit verify` to hold first") && said.contains("fx"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(key_file(store)).unwrap(),
        key_before,
        "the key file untouched"
    );
    assert!(kept_checkpoints(store).is_empty(), "no checkpoint kept");
    assert_eq!(query_one(store, "SELECT count(*) FROM audit_tree"), "0");
    // A write is refused the same way, before it changes anything.
    let output = store.output(&["party", "add", "someone"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout_of(&output));
    assert_eq!(
        query_one(store, "SELECT count(*) FROM parties WHERE id = 'someone'"),
        "0"
    );

    execute(store, &undo_of(&rate));
    store.assert_audit_verifies();
    assert_eq!(kept_checkpoints(store).len(), 1);
}

/// Without its key the store is not upgraded: `audit verify` checks 1 to 5 and
/// names the missing tree; a write is refused for want of the key.
fn not_without_its_key(store: &Store) {
    from_fixture(store);
    std::fs::remove_file(key_file(store)).unwrap();
    // PostgreSQL's key file is named by --key-file: left out here.
    let without_key: Vec<&String> = match store.file {
        Some(_) => store.args.iter().collect(),
        None => store.args[..2].iter().collect(),
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_revshare"))
        .args(["audit", "verify"])
        .args(without_key)
        .env_remove("REVSHARE_DATABASE_URL")
        .env_remove("REVSHARE_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout_of(&output));
    let said = stdout_of(&output);
    assert!(said.contains("upgraded by any command given its key file"), "{said}");
    assert_eq!(query_one(store, "SELECT count(*) FROM audit_tree"), "0");
}

fn query_one(store: &Store, sql: &str) -> String {
    match &store.file {
        Some(_) => store
            .sqlite_connection()
            .query_row(sql, [], |r| {
                r.get_ref(0).map(|v| match v {
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
            })
            .unwrap(),
        None => {
            let mut client = ::postgres::Client::connect(&store.args[1], ::postgres::NoTls).unwrap();
            let row = client.query_one(&format!("SELECT ({sql})::text"), &[]).unwrap();
            row.get(0)
        }
    }
}

fn execute(store: &Store, sql: &str) {
    match &store.file {
        Some(_) => {
            store.sqlite_connection().execute_batch(sql).unwrap();
        }
        None => {
            let mut client = ::postgres::Client::connect(&store.args[1], ::postgres::NoTls).unwrap();
            client.batch_execute(sql).unwrap();
        }
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Store::sqlite(concat!("upgrade-sqlite-", stringify!($name)))); })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(store) = super::Store::postgres(stringify!($name)) { super::$name(&store); }
            })*
        }
    };
}

both_backends!(upgraded, refused_on_a_failure, not_without_its_key);
