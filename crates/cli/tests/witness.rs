//! Parties as witnesses (statements.md, Checkpoints and witnesses): two witnesses, a
//! host and the licensor, follow a store through imports and closes with `revshare
//! witness`; what the operator, who holds the key, can still do to the log is caught
//! by a witness that cosigned a later checkpoint, by `revshare verify` from what a
//! party holds, or by `audit verify`. And stored data that does not decode is an
//! integrity failure at both edges (exit 1, HTTP 500 `integrity`).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use base64::Engine as _;
use common::{fixture, Serve, Store};
use revshare_core::audit::{Head, NewEntry};
use revshare_core::checkpoint::{Checkpoint, LogSigner, StoreId};
use revshare_core::log_tree;

/// A party's witness: its token file and state folder.
struct Witness {
    token: PathBuf,
    state: PathBuf,
}

impl Witness {
    fn new(store: &Store, party: &str, role: &str) -> Witness {
        let token = store.dir.join(format!("{party}.token"));
        std::fs::write(&token, store.token(party, role)).unwrap();
        Witness {
            token,
            state: store.dir.join(format!("{party}-witness")),
        }
    }

    /// One round against the server.
    fn round(&self, store: &Store, server: &Serve) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_revshare"))
            .args(["witness", "--url", &format!("http://{}", server.address)])
            .arg("--token-file")
            .arg(&self.token)
            .arg("--public-key")
            .arg(store.dir.join("public-key.json"))
            .arg("--state")
            .arg(&self.state)
            .output()
            .unwrap()
    }

    /// A round that must cosign.
    fn cosigns(&self, store: &Store, server: &Serve) {
        let output = self.round(store, server);
        assert!(
            output.status.success(),
            "the witness round failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A round that must fail with `code`; its stderr.
    fn fails(&self, store: &Store, server: &Serve, code: i32) -> String {
        let output = self.round(store, server);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        stderr
    }

    /// The size of the checkpoint it holds.
    fn held(&self) -> u64 {
        let note = std::fs::read_to_string(self.state.join("checkpoint")).unwrap();
        note.lines().nth(1).unwrap().parse().unwrap()
    }
}

/// The operator, who holds the key: what it can do to the log by hand.
struct Operator<'s> {
    store: &'s Store,
}

impl Operator<'_> {
    fn sql(&self, sql: &str) {
        self.store.sqlite_connection().execute_batch(sql).unwrap();
    }

    fn key_file(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.store.dir.join("serve.db.key")).unwrap()).unwrap()
    }

    fn signer(&self) -> LogSigner {
        let file = self.key_file();
        let secret: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(file["secret"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let store_id = StoreId::parse(file["store_id"].as_str().unwrap()).unwrap();
        LogSigner::new(ed25519_dalek::SigningKey::from_bytes(&secret), &store_id)
    }

    fn checkpoint_file(&self) -> PathBuf {
        let store_id = self.key_file()["store_id"].as_str().unwrap().to_string();
        self.store.dir.join(format!("serve.db.key.{store_id}.checkpoint"))
    }

    /// Every entry: its seq and what its digest covers.
    fn entries(&self) -> Vec<(u64, NewEntry)> {
        let connection = self.store.sqlite_connection();
        let mut statement = connection
            .prepare("SELECT seq, time, actor, action, object, payload_sha256 FROM audit_log ORDER BY seq")
            .unwrap();
        let rows = statement
            .query_map([], |r| {
                let (action, payload): (String, String) = (r.get(3)?, r.get(5)?);
                let entry = NewEntry {
                    time: r.get(1)?,
                    actor: r.get(2)?,
                    action: revshare_core::audit::Action::parse(&action).unwrap(),
                    object: r.get(4)?,
                    payload_sha256: hex::decode(payload).unwrap().try_into().unwrap(),
                };
                Ok((r.get(0)?, entry))
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Chains every entry again, rebuilds the log's tree, and signs its checkpoints
    /// with the key (the newest, and those cosigned before entry `from`, the first
    /// rewritten), into the store and the checkpoint file beside the key: a rewritten
    /// history that every check of the service itself accepts. The cosignatures of
    /// the rewritten sizes are forgotten, or kept as the service shows them.
    fn reseal(&self, from: u64, cosignatures: Cosignatures) {
        let mut head = Head::EMPTY;
        let mut digests = Vec::new();
        let mut sql = String::new();
        for (seq, new) in self.entries() {
            let (entry, next) = new.chain(head);
            assert_eq!(entry.seq, seq);
            head = next;
            digests.push(hex::decode(&entry.digest).unwrap().try_into().unwrap());
            sql.push_str(&format!(
                "UPDATE audit_log SET digest = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {seq};",
                entry.digest, entry.prev_hash, entry.hash
            ));
        }
        sql.push_str("DELETE FROM audit_tree; DELETE FROM checkpoints;");
        if cosignatures == Cosignatures::Forget {
            sql.push_str(&format!("DELETE FROM cosignatures WHERE size >= {from};"));
        }
        let tree = log_tree::build(&digests);
        for (index, hash) in tree.iter().enumerate() {
            sql.push_str(&format!(
                "INSERT INTO audit_tree (idx, hash) VALUES ({index}, x'{}');",
                hex::encode(hash)
            ));
        }
        let size = digests.len() as u64;
        let signer = self.signer();
        let sign = |size: u64| {
            let mut nodes: &[[u8; 32]] = &tree;
            let root = log_tree::root(size, &mut nodes).unwrap();
            signer.sign(&Checkpoint::new(signer.origin(), size, root))
        };
        let cosigned: Vec<u64> = {
            let connection = self.store.sqlite_connection();
            let mut statement = connection
                .prepare(&format!(
                    "SELECT DISTINCT size FROM cosignatures WHERE size < {from} AND size < {size}"
                ))
                .unwrap();
            let sizes = statement.query_map([], |r| r.get(0)).unwrap();
            sizes.map(Result::unwrap).collect()
        };
        for size in cosigned.into_iter().chain([size]) {
            sql.push_str(&format!(
                "INSERT INTO checkpoints (size, note) VALUES ({size}, '{}');",
                sign(size).note().replace('\'', "''")
            ));
        }
        self.sql(&sql);
        std::fs::write(self.checkpoint_file(), sign(size).note()).unwrap();
    }

    /// Undoes everything after entry `keep` (rows of the statements closed after it
    /// included), then reseals.
    fn cut_after(&self, keep: u64) {
        self.sql(&format!(
            "DELETE FROM payout_notices WHERE statement_id IN (SELECT statement_id FROM statements WHERE seq > {keep});
             DELETE FROM statement_tree_leaves WHERE statement_id IN (SELECT statement_id FROM statements WHERE seq > {keep});
             DELETE FROM statement_tree_tiles WHERE statement_id IN (SELECT statement_id FROM statements WHERE seq > {keep});
             DELETE FROM statement_tree_index WHERE statement_id IN (SELECT statement_id FROM statements WHERE seq > {keep});
             DELETE FROM statement_trees WHERE statement_id IN (SELECT statement_id FROM statements WHERE seq > {keep});
             DELETE FROM statements WHERE seq > {keep};
             DELETE FROM ledger_legs WHERE seq > {keep};
             DELETE FROM audit_log WHERE seq > {keep};"
        ));
        self.reseal(keep + 1, Cosignatures::Forget);
    }
}

/// What a resealing operator does with the cosignatures of the sizes it rewrites.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cosignatures {
    Forget,
    /// Left where the service keeps them, and shown with the checkpoints.
    Keep,
}

fn head(store: &Store) -> u64 {
    store
        .sqlite_connection()
        .query_row("SELECT max(seq) FROM audit_log", [], |r| r.get(0))
        .unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A store with the acme-llama contract and the small example's usage, the public
/// key written out, a server, and the witnesses of the host and the licensor.
fn followed(name: &str) -> (Store, Serve, Witness, Witness) {
    let store = Store::sqlite(name);
    store.setup();
    write(
        &store.dir.join("public-key.json"),
        &store.run(&["key", "export-public"]),
    );
    let host = Witness::new(&store, "acme-cloud", "host");
    let licensor = Witness::new(&store, "meta", "licensor");
    let server = Serve::start(&store, &[]);
    host.cosigns(&store, &server);
    licensor.cosigns(&store, &server);
    store.run(&["import", &fixture("usage-small.ndjson")]);
    host.cosigns(&store, &server);
    store.run(&["close", "2026-09"]);
    licensor.cosigns(&store, &server);
    host.cosigns(&store, &server);
    store.run(&["close", "2026-10"]);
    host.cosigns(&store, &server);
    licensor.cosigns(&store, &server);
    assert_eq!(host.held(), head(&store));
    // Each one's registered key cosigned the newest checkpoint.
    let note = store.run(&["audit", "checkpoint"]);
    assert!(
        note.contains("— revshare-witness/acme-cloud ") && note.contains("— revshare-witness/meta "),
        "{note}"
    );
    store.assert_audit_verifies();
    (store, server, host, licensor)
}

#[test]
fn two_witnesses_follow_the_log_and_a_statement_checks_against_their_cosignatures() {
    let (store, _server, host, licensor) = followed("witness-follow");
    let d = &store.dir;
    write(
        &d.join("s.json"),
        &store.run(&["statement", "show", "acme-llama/2026-10"]),
    );
    write(&d.join("c.txt"), &store.run(&["audit", "checkpoint"]));
    let anchor: u64 = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(d.join("s.json")).unwrap())
        .unwrap()["audit_head"]["tree_size"]
        .as_u64()
        .unwrap();
    let newest = head(&store);
    write(
        &d.join("p.json"),
        &store.run(&["audit", "consistency", &anchor.to_string(), &newest.to_string()]),
    );
    let witness_keys: Vec<String> = [&host, &licensor]
        .iter()
        .map(|w| w.state.join("witness.pub").display().to_string())
        .collect();
    let mut args = vec![
        "verify",
        "--statement",
        "s.json",
        "--public-key",
        "public-key.json",
        "--checkpoint",
        "c.txt",
        "--consistency",
        "p.json",
    ];
    for key in &witness_keys {
        args.extend(["--witness-key", key]);
    }
    let verified = store.run(&args);
    assert!(
        verified.contains("is a prefix of its") && verified.contains("cosigned by 2"),
        "{verified}"
    );
    // A proof of another span does not do.
    write(
        &d.join("p.json"),
        &store.run(&["audit", "consistency", "1", &newest.to_string()]),
    );
    let output = store.output(&args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Nor a witness that did not cosign.
    write(
        &d.join("p.json"),
        &store.run(&["audit", "consistency", &anchor.to_string(), &newest.to_string()]),
    );
    let stranger =
        revshare_core::checkpoint::WitnessSigner::new("nobody", ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    write(&d.join("stranger.pub"), &stranger.key().vkey());
    let stranger_key = d.join("stranger.pub").display().to_string();
    args.extend(["--witness-key", &stranger_key]);
    let output = store.output(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("2 of the given witnesses"));
    args.extend(["--witnesses", "2"]);
    store.run(&args);
}

#[test]
fn a_rewrite_after_the_newest_statement_is_caught_by_the_witness_that_saw_more() {
    let (store, server, host, licensor) = followed("witness-rewrite");
    // A contract version added after the newest statement; only the host's witness
    // sees the log with it.
    let version_2 = std::fs::read_to_string(fixture("contracts/acme-llama.toml"))
        .unwrap()
        .replace("version = 1", "version = 2")
        .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-11-01\"");
    write(&store.dir.join("v2.toml"), &version_2);
    store.run(&["contract", "add", "v2.toml"]);
    host.cosigns(&store, &server);
    let seen = host.held();
    // The operator, with the key, edits it and rewrites everything after it: the
    // service itself has nothing to object (audit verify holds).
    let operator = Operator { store: &store };
    let edited = version_2.replace("revenue_share = \"0.15\"", "revenue_share = \"0.01\"");
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(edited.as_bytes()));
    let connection = store.sqlite_connection();
    let (seq, file_name, added_at): (i64, String, String) = connection
        .query_row(
            "SELECT seq, file_name, added_at FROM contracts WHERE id = 'acme-llama' AND version = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let payload = serde_json::json!({
        "id": "acme-llama", "version": 2, "licensor": "meta", "host": "acme-cloud", "file_name": file_name,
        "sha256": sha256, "toml": edited, "added_at": added_at,
    });
    let payload = hex::encode(revshare_core::json::canonical_sha256(&payload));
    connection
        .execute(
            "UPDATE contracts SET toml = ?1, sha256 = ?2 WHERE id = 'acme-llama' AND version = 2",
            rusqlite::params![edited, sha256],
        )
        .unwrap();
    connection
        .execute(
            "UPDATE audit_log SET payload_sha256 = ?1 WHERE seq = ?2",
            rusqlite::params![payload, seq],
        )
        .unwrap();
    drop(connection);
    operator.reseal(seq as u64, Cosignatures::Forget);
    store.assert_audit_verifies();
    // The host's witness holds a signed checkpoint of the same size with another root.
    let caught = host.fails(&store, &server, 3);
    assert!(caught.contains("EQUIVOCATION"), "{caught}");
    assert!(host.state.join(format!("equivocation-{seen}-held")).exists());
    assert!(host.state.join(format!("equivocation-{seen}-received")).exists());
    // The licensor's witness, which never saw the original, takes the rewritten log:
    // only a witness that saw more can catch a rewrite.
    licensor.cosigns(&store, &server);
}

#[test]
fn a_period_closed_again_is_caught_by_a_witness_and_by_verify() {
    let (store, server, host, licensor) = followed("witness-reclose");
    let first = store.run(&["statement", "show", "acme-llama/2026-10"]);
    write(&store.dir.join("a.json"), &first);
    let first_close: i64 = store
        .sqlite_connection()
        .query_row("SELECT min(seq) FROM statements WHERE period = '2026-10'", [], |r| {
            r.get(0)
        })
        .unwrap();
    // The operator undoes the close with the key, voids an event, closes again.
    let operator = Operator { store: &store };
    operator.cut_after(first_close as u64 - 1);
    let line = std::fs::read_to_string(fixture("usage-small.ndjson"))
        .unwrap()
        .lines()
        .find(|l| l.contains("\"host\":\"acme-cloud\"") && l.contains("\"time\":\"2026-10"))
        .unwrap()
        .to_string();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    store.run(&[
        "void",
        event["source"].as_str().unwrap(),
        event["id"].as_str().unwrap(),
        "--reason",
        "never happened",
    ]);
    store.run(&["close", "2026-10"]);
    let second = store.run(&["statement", "show", "acme-llama/2026-10"]);
    assert_ne!(first, second);
    write(&store.dir.join("b.json"), &second);
    // Both statements verify on their own; together they prove the equivocation.
    store.run(&["verify", "--statement", "a.json", "--public-key", "public-key.json"]);
    store.run(&["verify", "--statement", "b.json", "--public-key", "public-key.json"]);
    let both = store.output(&[
        "verify",
        "--statement",
        "a.json",
        "--statement",
        "b.json",
        "--public-key",
        "public-key.json",
    ]);
    assert_eq!(both.status.code(), Some(3), "{}", String::from_utf8_lossy(&both.stderr));
    assert!(String::from_utf8_lossy(&both.stderr).contains("EQUIVOCATION"));
    // The same statement twice is no equivocation.
    store.run(&[
        "verify",
        "--statement",
        "a.json",
        "--statement",
        "a.json",
        "--public-key",
        "public-key.json",
    ]);
    // The witnesses that cosigned the first close catch the rewritten log.
    for witness in [&host, &licensor] {
        let output = witness.round(&store, &server);
        assert!(
            matches!(output.status.code(), Some(1) | Some(3)),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// October closed again after only its statements' rows were deleted (their entries
/// kept): `audit verify` names the statement closed twice.
#[test]
fn a_period_closed_twice_is_named_by_audit_verify() {
    let store = Store::sqlite("closed-twice");
    store.setup();
    store.run(&["import", &fixture("usage-small.ndjson")]);
    store.run(&["close", "2026-10", "--settlement-start"]);
    let operator = Operator { store: &store };
    operator.sql(
        "DELETE FROM payout_notices; DELETE FROM statement_tree_leaves; DELETE FROM statement_tree_tiles;
         DELETE FROM statement_tree_index; DELETE FROM statement_trees;
         DELETE FROM statements; DELETE FROM ledger_legs;",
    );
    // The checkpoint kept beside the key still extends the log: the close goes on.
    store.run(&["close", "2026-10", "--settlement-start"]);
    let output = store.output(&["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("statement:acme-llama/2026-10") && stdout.contains("closed more than once"),
        "{stdout}"
    );
}

#[test]
fn a_log_shown_differently_to_two_witnesses_is_caught() {
    let (store, server, host, licensor) = followed("witness-split");
    let size = head(&store);
    // The host's witness is shown one log of size + 1 and cosigns it.
    store.run(&["party", "add", "shown-to-the-host"]);
    host.cosigns(&store, &server);
    // The operator then shows another log of that size: the entry replaced, the
    // tree, the checkpoints and the file beside the key rewritten (the host's
    // cosignature of that size stays where the service keeps cosignatures).
    let operator = Operator { store: &store };
    operator.sql(&format!(
        "DELETE FROM parties WHERE id = 'shown-to-the-host'; DELETE FROM audit_log WHERE seq > {size};"
    ));
    operator.reseal(size + 1, Cosignatures::Keep);
    store.run(&["party", "add", "shown-to-the-licensor"]);
    assert_eq!(head(&store), size + 1);
    // The licensor's witness sees the host's cosignature of size + 1 over another
    // root than the one it is shown.
    let caught = licensor.fails(&store, &server, 1);
    assert!(caught.contains("cosigned another log"), "{caught}");
    // And the host's witness holds a checkpoint of that size with another root.
    let caught = host.fails(&store, &server, 3);
    assert!(caught.contains("EQUIVOCATION"), "{caught}");
}

#[test]
fn a_log_cut_behind_a_witness_is_reported_with_what_was_received() {
    let (store, server, host, _) = followed("witness-cut");
    let held = host.held();
    Operator { store: &store }.cut_after(held - 3);
    let caught = host.fails(&store, &server, 1);
    assert!(caught.contains(&format!("shrank from {held} entries")), "{caught}");
    let received = std::fs::read_dir(&host.state)
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("received-")
        })
        .count();
    assert!(received > 0, "what was received is kept");
}

#[test]
fn checkpoints_and_proofs_on_the_command_line_check_offline() {
    let store = Store::sqlite("checkpoints");
    store.setup();
    store.run(&["import", &fixture("usage-small.ndjson")]);
    let d = &store.dir;
    write(&d.join("public-key.json"), &store.run(&["key", "export-public"]));
    let small = head(&store);
    write(&d.join("a.txt"), &store.run(&["audit", "checkpoint"]));
    store.run(&["close", "2026-10", "--settlement-start"]);
    let large = head(&store);
    write(&d.join("b.txt"), &store.run(&["audit", "checkpoint"]));
    write(
        &d.join("p.json"),
        &store.run(&["audit", "consistency", &small.to_string(), &large.to_string()]),
    );
    let two = [
        "verify",
        "--checkpoint",
        "a.txt",
        "--checkpoint",
        "b.txt",
        "--public-key",
        "public-key.json",
    ];
    let mut with_proof = two.to_vec();
    with_proof.extend(["--consistency", "p.json"]);
    assert!(store.run(&with_proof).contains("are consistent"));
    // An inclusion proof of an entry in the newest log.
    let proof: serde_json::Value = serde_json::from_str(&store.run(&["audit", "inclusion", "3"])).unwrap();
    assert_eq!((proof["seq"].as_u64(), proof["size"].as_u64()), (Some(3), Some(large)));
    // Refused by name: a size past the log, a size 0, an entry past the size.
    for args in [
        vec!["audit", "consistency", "0", "3"],
        vec!["audit", "consistency", "3", "999999"],
        vec!["audit", "inclusion", "999999"],
        vec!["audit", "checkpoint", "--size", "999999"],
    ] {
        let output = store.output(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    // Two checkpoints of one size with different roots: exit 3.
    let b = std::fs::read_to_string(d.join("b.txt")).unwrap();
    let operator = Operator { store: &store };
    let signer = operator.signer();
    let other = signer.sign(&Checkpoint::new(signer.origin(), large, [7; 32]));
    write(&d.join("b2.txt"), other.note());
    let output = store.output(&[
        "verify",
        "--checkpoint",
        "b.txt",
        "--checkpoint",
        "b2.txt",
        "--public-key",
        "public-key.json",
    ]);
    assert_eq!(output.status.code(), Some(3), "{b}");
}

#[test]
fn stored_data_that_does_not_decode_is_exit_1_and_http_500_integrity() {
    let store = Store::sqlite("integrity");
    store.setup();
    store.run(&["import", &fixture("usage-small.ndjson")]);
    let operator = store.token("ops", "operator");
    store
        .sqlite_connection()
        .execute_batch("UPDATE segments SET events = x'ffff'")
        .unwrap();
    let output = store.output(&["close", "2026-10", "--dry-run"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("altered or damaged"));
    let server = Serve::start(&store, &[]);
    server
        .get("/v1/events/locate?source=acme-cloud/us&id=e1-0000000000", &operator)
        .assert_error(500, "integrity", "segment:");
    // audit verify names each damaged segment, and goes on.
    let output = store.output(&["audit", "verify", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("segment:"));
}
