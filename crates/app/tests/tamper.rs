//! Edits behind the service's back, on both backends: each is named by `audit
//! verify`, and a rewrite of the log's whole history with fresh hashes is caught by
//! anyone holding a statement closed before it.

mod common;

use revshare_app::verify_store::{verify, verify_with_keys, Report};
use revshare_app::{Actor, AppError, Backend};
use revshare_core::audit::{chain_all, check_anchor, check_links, Entry, Head, Link, NewEntry, Seq};
use revshare_core::verify::verify_statement_bytes;
use revshare_store::backend::{StatementRow, TreeRow, LEAVES_PER_CHUNK};

use common::scenario::{fixture, prepared, NOW};
use common::{ctx, Segment, Stored, TestStore};

/// Asserts that the report names `object` in `check`.
fn names(report: &Report, check: u8, object: &str) {
    assert!(
        report.failures.iter().any(|f| f.check == check && f.object == object),
        "check {check} should name {object}: {:#?}",
        report.failures
    );
}

fn verified(backend: &mut dyn Backend) -> Report {
    let report = verify(backend, &Actor::cli(), None).unwrap();
    assert!(!report.holds());
    report
}

/// Edits the first stored event of acme-cloud in October (both stores keep events in
/// segments).
fn edit_an_october_event(t: &TestStore, edit: impl Fn(&mut Stored<'_>)) {
    let october = revshare_core::period::Day::parse("2026-10-01").unwrap().0;
    common::edit_segment(
        t,
        &format!("SELECT number, events FROM segments WHERE host = 'acme-cloud' AND day >= {october} ORDER BY number LIMIT 1"),
        |segment| edit(&mut segment.events[0]),
    );
}

fn an_events_quantity(t: &TestStore) {
    let mut backend = prepared(t);
    edit_an_october_event(t, |e| e.input_tokens += 1_000_000);
    let report = verified(backend.as_mut());
    names(&report, 3, "statement:acme-llama/2026-10");
    names(&report, 5, "events:acme-cloud");
}

fn an_events_leaf_hash(t: &TestStore) {
    let mut backend = prepared(t);
    edit_an_october_event(t, |e| e.leaf[0] ^= 1);
    let report = verified(backend.as_mut());
    names(&report, 3, "statement:acme-llama/2026-10");
    names(&report, 5, "events:acme-cloud");
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.check == 5 && f.object.starts_with("event:acme-cloud")),
        "the key row and the event row disagree: {:#?}",
        report.failures
    );
}

fn a_statements_bytes(t: &TestStore) {
    let mut backend = prepared(t);
    t.tamper(
        "UPDATE statements SET json = replace(json, '\"unique_customers\": ', '\"unique_customers\": 1') \
         WHERE statement_id = 'acme-llama/2026-09'",
    );
    let report = verified(backend.as_mut());
    names(&report, 2, "statement:acme-llama/2026-09");
    names(&report, 5, "statement:acme-llama/2026-09");
}

fn an_fx_row(t: &TestStore) {
    let mut backend = prepared(t);
    t.tamper("UPDATE fx_rates SET rate = '2' WHERE date = (SELECT min(date) FROM fx_rates)");
    let report = verified(backend.as_mut());
    names(&report, 5, "fx");
}

fn a_contribution(t: &TestStore) {
    let mut backend = prepared(t);
    t.tamper("UPDATE contributions SET status = 'rejected' WHERE number = 1");
    let report = verified(backend.as_mut());
    names(&report, 5, "contribution:acme-llama:1");
    names(&report, 3, "statement:acme-llama/2026-10");
}

fn an_audit_entry(t: &TestStore) {
    let mut backend = prepared(t);
    t.tamper("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3");
    let report = verified(backend.as_mut());
    names(&report, 1, "audit:3");
}

fn a_dropped_row(t: &TestStore) {
    let mut backend = prepared(t);
    let void_seq: Seq = backend.voids().unwrap()[0].seq;
    t.tamper("DELETE FROM voids");
    let report = verified(backend.as_mut());
    names(&report, 5, &format!("audit:{void_seq}"));
    names(&report, 3, "statement:acme-llama/2026-10");
}

/// A key row that names a batch without its event (a conflict or `locate` would
/// read the wrong segment) is named, as is a key row that differs from its event.
fn a_keys_batch(t: &TestStore) {
    let mut backend = prepared(t);
    let (source, id) = common::scenario::first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-10");
    let key = backend.event_key(&source, &id).unwrap().unwrap();
    let batch = key.batch.expect("a key stored by this build names its batch");
    t.tamper(&format!(
        "UPDATE event_keys SET batch = {} WHERE source = '{source}' AND id = '{id}'",
        batch + 1
    ));
    let report = verified(backend.as_mut());
    let object = format!("event:{source}/{id}");
    names(&report, 5, &object);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.object == object && f.message.contains(&format!("names batch {}", batch + 1))),
        "{:#?}",
        report.failures
    );
    assert_eq!(
        report.failures.len(),
        1,
        "only the key is named: {:#?}",
        report.failures
    );
    // `locate` reads the segment the key names, and finds the store edited.
    let located = revshare_app::locate::locate(backend.as_mut(), &Actor::cli(), &source, &id);
    assert!(
        matches!(located, Err(revshare_app::AppError::Integrity(_))),
        "{located:?}"
    );
}

fn a_dropped_statement(t: &TestStore) {
    let mut backend = prepared(t);
    let seq = backend.statement("nimbus-llama/2026-10").unwrap().unwrap().seq;
    t.tamper("DELETE FROM statements WHERE statement_id = 'nimbus-llama/2026-10'");
    let report = verified(backend.as_mut());
    names(&report, 5, &format!("audit:{seq}"));
}

/// A statement id edited into a text that is not `<contract>/<period>` does not read
/// back as one: the store names the row as corrupt instead of handing it on.
fn a_statement_id_that_is_not_one(t: &TestStore) {
    let backend = prepared(t);
    drop(backend);
    t.tamper("UPDATE statements SET statement_id = 'nimbus-llama-2026-10' WHERE statement_id = 'nimbus-llama/2026-10'");
    let mut backend = t.open();
    let error = backend
        .statements()
        .expect_err("a statement id that is not one is refused");
    let text = error.to_string();
    assert!(
        text.contains("statements:nimbus-llama-2026-10") && text.contains("altered or damaged"),
        "{text}"
    );
}

/// The operator rewrites the whole log with fresh digests and hashes: the chain
/// links again, but a party holding a statement closed before catches it offline,
/// and `audit verify` names every statement whose anchor moved.
fn a_rewritten_history(t: &TestStore) {
    let mut backend = prepared(t);
    let held = backend.statement("acme-llama/2026-09").unwrap().unwrap().json;
    let held = verify_statement_bytes(held.as_bytes(), &[t.keys().public()]).unwrap();
    let anchor = held.statement().audit_head.clone().unwrap();
    let entries: Vec<Entry> =
        revshare_app::audit::all_entries(backend.as_mut(), revshare_core::audit::Seq::ZERO).unwrap();
    let rewritten: Vec<NewEntry> = entries
        .iter()
        .map(|e| NewEntry {
            time: e.time.clone(),
            actor: if e.seq == 2 {
                "someone else".into()
            } else {
                e.actor.clone()
            },
            action: e.action,
            object: e.object.clone(),
            payload_sha256: hex::decode(&e.payload_sha256).unwrap().try_into().unwrap(),
        })
        .collect();
    let (fresh, _) = chain_all(Head::EMPTY, &rewritten);
    let mut sql = String::from("DELETE FROM audit_log;");
    for e in &fresh {
        sql.push_str(&format!(
            "INSERT INTO audit_log (seq, time, actor, action, object, payload_sha256, digest, prev_hash, hash) \
             VALUES ({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}');",
            e.seq,
            e.time,
            e.actor,
            e.action.as_str(),
            e.object,
            e.payload_sha256,
            e.digest,
            e.prev_hash,
            e.hash
        ));
    }
    t.tamper(&sql);
    let chain: Vec<Link> = revshare_app::audit::chain(backend.as_mut(), Seq::ZERO).unwrap();
    check_links(&chain).unwrap();
    let caught = check_anchor(&chain, &anchor).unwrap_err().to_string();
    assert!(caught.contains("rewritten"), "{caught}");
    let report = verified(backend.as_mut());
    names(&report, 1, "statement:acme-llama/2026-09");
}

/// A statement read once (its signature check is remembered by the process) and
/// then edited is refused on its next read: its bytes, or only the columns beside
/// them, or only its audit entry.
fn a_statement_edited_after_it_was_read(t: &TestStore) {
    let mut backend = prepared(t);
    let id = "acme-llama/2026-09";
    let show = |backend: &mut dyn Backend| revshare_app::statements::show(backend, &Actor::cli(), id);
    let shown = show(backend.as_mut()).unwrap();
    assert_eq!(
        show(backend.as_mut()).unwrap().json(),
        shown.json(),
        "read again, unchanged"
    );

    let seq = shown.row().seq;
    t.tamper(&format!(
        "UPDATE audit_log SET payload_sha256 = '{}' WHERE seq = {seq}",
        "0".repeat(64)
    ));
    let refused = show(backend.as_mut()).unwrap_err().to_string();
    assert!(refused.contains("does not match its audit entry"), "{refused}");
    let payload = hex::encode(revshare_app::rows::payload(shown.row()));
    t.tamper(&format!(
        "UPDATE audit_log SET payload_sha256 = '{payload}' WHERE seq = {seq}"
    ));
    assert_eq!(show(backend.as_mut()).unwrap().json(), shown.json(), "restored");

    t.tamper(&format!(
        "UPDATE statements SET settled = '[]', close_seq = close_seq + 1 WHERE statement_id = '{id}'"
    ));
    let refused = show(backend.as_mut()).unwrap_err().to_string();
    assert!(refused.contains("does not match its audit entry"), "{refused}");

    t.tamper(&format!(
        "UPDATE statements SET json = replace(json, '\"unique_customers\": ', '\"unique_customers\": 1') \
         WHERE statement_id = '{id}'"
    ));
    let refused = show(backend.as_mut()).unwrap_err().to_string();
    assert!(refused.contains("fails verification"), "{refused}");
}

/// The API's read of a statement for a bearer (token and statement read together)
/// checks the token first and the statement as `show` does.
fn a_statement_read_for_a_token(t: &TestStore) {
    use revshare_app::statements::{document_for_token, Document};
    use revshare_app::tokens::{create, revoke, NewToken};
    use revshare_core::records::Role;
    let mut backend = prepared(t);
    let operator = Actor::cli();
    let new = NewToken {
        party: "acme-cloud".into(),
        role: Role::Host,
        contracts: Vec::new(),
        expires: None,
    };
    let token = create(backend.as_mut(), &t.keys(), ctx(&operator, NOW), &new).unwrap();
    let now = common::at(NOW);
    let read = |backend: &mut dyn Backend, token: &str, id: &str| document_for_token(backend, token, id, now);

    let own = "acme-llama/2026-09";
    let shown = revshare_app::statements::show(backend.as_mut(), &operator, own).unwrap();
    match read(backend.as_mut(), &token.token, own).unwrap() {
        Document::Statement(s) => assert_eq!(s.json(), shown.json()),
        Document::Notice(_) => panic!("a host reads the statement itself"),
    }
    // Another host's statement and one never closed are refused alike.
    for hidden in ["nimbus-llama/2026-09", "acme-llama/2031-01"] {
        match read(backend.as_mut(), &token.token, hidden) {
            Err(AppError::NotFound(message)) => {
                assert_eq!(message, format!("no statement `{hidden}` is closed"))
            }
            other => panic!("{hidden}: {:?}", other.map(|d| d.json().len())),
        }
    }
    // A token that is malformed, unknown or wrong is refused before any statement.
    let unknown = format!("rs_0123456789ab_{}", "A".repeat(43));
    let wrong = format!("{}B", &token.token[..token.token.len() - 1]);
    for bad in ["", "rs_nonsense", unknown.as_str(), wrong.as_str()] {
        for id in [own, "acme-llama/2031-01"] {
            let refused = read(backend.as_mut(), bad, id).map(|d| d.json().len());
            assert!(
                matches!(refused, Err(AppError::Unauthenticated(_))),
                "{bad:?} {id}: {refused:?}"
            );
        }
    }

    // The store reads the statement only for a token row holding the hash, unrevoked.
    let token_id = token.row.token_id.as_str();
    let hash = |text: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
    let (row, stored) = backend.token_and_statement(token_id, &hash(&token.token), own).unwrap();
    assert!(row.is_some() && stored.is_some());
    let (row, stored) = backend.token_and_statement(token_id, &hash(&wrong), own).unwrap();
    assert!(row.is_some() && stored.is_none(), "a wrong secret reads no statement");

    // An audit entry that no longer decodes: the statement's reader is told it was
    // altered; another party's reader is told, as for any statement, that it is not
    // there (existence is not leaked by an integrity failure).
    let other = NewToken {
        party: "nimbus-ai".into(),
        ..new
    };
    let other = create(backend.as_mut(), &t.keys(), ctx(&operator, NOW), &other).unwrap();
    t.tamper(&format!(
        "UPDATE audit_log SET action = 'nonsense' WHERE seq = {}",
        shown.row().seq
    ));
    let refused = read(backend.as_mut(), &token.token, own).map(|d| d.json().len());
    assert!(
        matches!(&refused, Err(AppError::Integrity(m)) if m.contains("does not match its audit entry")),
        "{refused:?}"
    );
    let refused = read(backend.as_mut(), &other.token, own).map(|d| d.json().len());
    assert!(matches!(refused, Err(AppError::NotFound(_))), "{refused:?}");
    t.tamper(&format!(
        "UPDATE audit_log SET action = 'statement_closed' WHERE seq = {}",
        shown.row().seq
    ));
    assert!(read(backend.as_mut(), &token.token, own).is_ok(), "restored");

    // A signing key changed in the database: the statement no longer verifies.
    t.tamper("UPDATE signing_keys SET public_key = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'");
    let refused = read(backend.as_mut(), &token.token, own).map(|d| d.json().len());
    assert!(
        matches!(&refused, Err(AppError::Integrity(m)) if m.contains("fails verification")),
        "{refused:?}"
    );

    revoke(backend.as_mut(), &t.keys(), ctx(&operator, NOW), &token.row.token_id).unwrap();
    let refused = read(backend.as_mut(), &token.token, own).map(|d| d.json().len());
    assert!(
        matches!(refused, Err(AppError::Unauthenticated(_))),
        "revoked: {refused:?}"
    );
}

/// Splits every stored tree of more than one leaf into two chunks: its first leaf,
/// then the rest (the same SQL on both backends).
const SPLIT_TREES: &str = "
    INSERT INTO statement_tree_leaves (statement_id, tree, chunk, leaves)
        SELECT statement_id, tree, 1, substr(leaves, 33) FROM statement_tree_leaves
        WHERE chunk = 0 AND length(leaves) > 32;
    UPDATE statement_tree_leaves SET leaves = substr(leaves, 1, 32) WHERE chunk = 0 AND length(leaves) > 32;";

/// A tree's leaves are read by range from the chunk their place names: a tree cut
/// into chunks of other sizes is named by `audit verify`, and a proof from it is
/// refused, never made from the wrong leaves.
fn a_tree_cut_in_other_chunks(t: &TestStore) {
    let mut backend = prepared(t);
    let usage = String::from_utf8(fixture("usage-small.ndjson")).unwrap();
    let october: Vec<serde_json::Value> = usage
        .lines()
        .filter(|l| l.contains("\"host\":\"acme-cloud\"") && l.contains("\"time\":\"2026-10"))
        .take(5)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let proofs = |backend: &mut dyn Backend| -> Vec<Result<String, AppError>> {
        october
            .iter()
            .map(|e| {
                let (source, id) = (e["source"].as_str().unwrap(), e["id"].as_str().unwrap());
                revshare_app::statements::prove(backend, &Actor::cli(), "acme-llama/2026-10", source, id)
                    .map(|proof| serde_json::to_string(&proof).unwrap())
            })
            .collect()
    };
    assert!(proofs(backend.as_mut()).iter().all(Result::is_ok));
    t.tamper(SPLIT_TREES);
    let report = verified(backend.as_mut());
    names(&report, 2, "statement:acme-llama/2026-10");
    for proof in proofs(backend.as_mut()) {
        assert!(matches!(&proof, Err(AppError::Integrity(_))), "{proof:?}");
    }
}

/// Chunks of a tree stored out of order no longer make the signed root.
fn a_trees_chunks_reordered(t: &TestStore) {
    let mut backend = prepared(t);
    t.tamper(SPLIT_TREES);
    t.tamper(
        "UPDATE statement_tree_leaves SET chunk = chunk - 10 WHERE statement_id = 'acme-llama/2026-10';
         UPDATE statement_tree_leaves SET chunk = -9 - chunk WHERE statement_id = 'acme-llama/2026-10';",
    );
    let report = verified(backend.as_mut());
    names(&report, 2, "statement:acme-llama/2026-10");
}

/// Takes out what the schema that made the log a tree added (SQLite schema 4,
/// PostgreSQL schema 5): its tables, its index, and the store id; and what the
/// schemas after it added (the ledger, periods closed after a term, the trees' tiles
/// and leaf index, rollups, key batches, and PostgreSQL's segments by month).
fn before_the_log_tree(t: &TestStore) {
    t.tamper(
        "DROP TABLE audit_tree; DROP TABLE checkpoints; DROP TABLE cosignatures; DROP TABLE witness_keys;
         DROP TABLE rollbacks; DROP INDEX audit_log_object; DELETE FROM meta WHERE key = 'store_id';
         DROP TABLE payments; DROP TABLE ledger_legs; DELETE FROM meta WHERE key = 'ledger';
         DROP TABLE closed_after_term; DROP TABLE disputes; DROP TABLE segment_rollups;
         DROP TABLE statement_tree_tiles; DROP TABLE statement_tree_index;
         DROP INDEX voids_host_day; DROP INDEX statements_contract; ALTER TABLE event_keys DROP COLUMN batch;",
    );
    // The key file as that build wrote it: naming no store, no checkpoint beside it.
    let mut key: serde_json::Value = serde_json::from_slice(&std::fs::read(&t.keys_path).unwrap()).unwrap();
    if let Some(id) = key.as_object_mut().unwrap().remove("store_id") {
        let kept = format!("{}.{}.checkpoint", t.keys_path.display(), id.as_str().unwrap());
        std::fs::remove_file(&kept).unwrap();
        let _ = std::fs::remove_file(format!("{kept}.lock"));
    }
    std::fs::write(&t.keys_path, serde_json::to_vec_pretty(&key).unwrap()).unwrap();
    // (A test that wrote its events back as schema 2's rows has no segments left.)
    if t.is_postgres() && t.scalar("SELECT count(*) FROM pg_class WHERE relname = 'segments' AND relkind = 'p'") == 1 {
        unpartition_segments(t);
    }
}

/// PostgreSQL's `segments` as one table again, as schema 3 made it (schema 12
/// partitions it by month).
fn unpartition_segments(t: &TestStore) {
    t.tamper(
        "CREATE TABLE segments_plain (LIKE segments INCLUDING DEFAULTS);
         INSERT INTO segments_plain SELECT * FROM segments;
         ALTER SEQUENCE segments_number_seq OWNED BY NONE;
         DROP TABLE segments;
         ALTER TABLE segments_plain RENAME TO segments;
         ALTER TABLE segments ADD PRIMARY KEY (number);
         ALTER SEQUENCE segments_number_seq OWNED BY segments.number;
         ALTER TABLE segments ALTER COLUMN events SET STORAGE EXTERNAL;
         CREATE INDEX segments_period ON segments (host, day);
         CREATE INDEX segments_batch ON segments (batch);",
    );
}

/// Puts every tree's leaves back in `statement_trees.leaves`, as the stores of
/// PostgreSQL schema 3 and SQLite schema 2 kept them (the trees here are of one chunk).
fn unchunk_trees(t: &TestStore) {
    before_the_log_tree(t);
    let (blob, empty, version) = match t.is_postgres() {
        true => ("bytea", "''::bytea", "UPDATE schema_migrations SET version = 3"),
        false => ("BLOB", "x''", "PRAGMA user_version = 2"),
    };
    t.tamper(&format!(
        "ALTER TABLE statement_trees ADD COLUMN leaves {blob};
         UPDATE statement_trees SET leaves = coalesce((SELECT l.leaves FROM statement_tree_leaves l
             WHERE l.statement_id = statement_trees.statement_id AND l.tree = statement_trees.tree AND l.chunk = 0), {empty});
         DROP TABLE statement_tree_leaves;
         {version};"
    ));
}

/// `leaves` leaves (32 bytes each) that differ from one another.
fn many_leaves(leaves: usize) -> Vec<u8> {
    (0..leaves as u64).flat_map(|i| [i.to_le_bytes(); 4].concat()).collect()
}

/// A tree stored as the schema before chunks kept it, under a statement id of its own.
fn insert_unchunked_tree(t: &TestStore, statement_id: &str, leaves: &[u8]) {
    let insert = "INSERT INTO statement_trees (statement_id, tree, count, root, leaves) VALUES ";
    let count = (leaves.len() / 32) as i64;
    match &t.location {
        revshare_app::Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let sql = format!("{insert} (?1, 'events', ?2, '', ?3)");
            connection
                .execute(&sql, rusqlite::params![statement_id, count, leaves])
                .unwrap();
        }
        revshare_app::Location::Postgres(url) => {
            let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
            let sql = format!("{insert} ($1, 'events', $2, '', $3)");
            client.execute(&sql, &[&statement_id, &count, &leaves]).unwrap();
        }
    }
}

/// A store of the schema before trees were chunked is moved to chunks when opened,
/// a tree of more than one chunk's leaves cut into chunks as a close cuts it.
fn an_earlier_schemas_trees_are_moved_into_chunks(t: &TestStore) {
    let before = verify(prepared(t).as_mut(), &Actor::cli(), None).unwrap();
    let version = |t: &TestStore| match t.is_postgres() {
        true => t.scalar("SELECT version::bigint FROM schema_migrations"),
        false => t.scalar("PRAGMA user_version"),
    };
    let current = version(t);
    unchunk_trees(t);
    let big = many_leaves(LEAVES_PER_CHUNK + 3);
    insert_unchunked_tree(t, "old/big", &big);
    assert!(version(t) < current);

    let mut backend = t.open();
    // The key upgrades the store to the log tree.
    let keys = t.keys();
    let after = verify_with_keys(backend.as_mut(), &Actor::cli(), &keys, None).unwrap();
    assert!(after.holds(), "after the upgrade: {:#?}", after.failures);
    let counts = |r: &Report| (r.entries, r.statements, r.rerated, r.events);
    assert_eq!(counts(&after), counts(&before));
    assert!(before.statements > 0);
    assert_eq!(version(t), current, "the store is of this build's schema");
    assert_eq!(backend.tree("old/big", "events").unwrap().unwrap().leaves, big);
    let chunks = "SELECT count(*) FROM statement_tree_leaves WHERE statement_id = 'old/big'";
    assert_eq!(t.scalar(chunks), 2);
    let empty = "SELECT count(*) FROM statement_tree_leaves WHERE length(leaves) = 0";
    assert_eq!(t.scalar(empty), 0, "an empty tree has no chunk");
}

/// A close's tree of more than one chunk's leaves is stored in chunks and read whole.
fn a_tree_of_more_than_one_chunk(t: &TestStore) {
    let mut backend = t.open();
    let leaves = many_leaves(2 * LEAVES_PER_CHUNK + 5);
    let row = StatementRow {
        statement_id: "big/2026-11".parse().expect("a statement id"),
        contract: "big".into(),
        period: "2026-11".into(),
        host: "acme-cloud".into(),
        start_day: 0,
        end_day: 0,
        close_seq: Seq::new(0),
        settled: "[]".into(),
        json: "{}".into(),
        closed_at: NOW.into(),
        seq: Seq::new(0),
    };
    let tree = TreeRow {
        statement_id: row.statement_id.to_string(),
        tree: "events".into(),
        count: (leaves.len() / 32) as i64,
        root: String::new(),
        tiles: tiles_of(&leaves),
        leaves,
    };
    backend.begin_write().unwrap();
    assert!(backend
        .insert_statement(&row, std::slice::from_ref(&tree), &[])
        .unwrap());
    backend.commit().unwrap();
    assert_eq!(backend.tree(&row.statement_id, "events").unwrap().unwrap(), tree);
    let chunks = "SELECT count(*) FROM statement_tree_leaves WHERE statement_id = 'big/2026-11'";
    assert_eq!(t.scalar(chunks), 3);
}

both_backends!(
    an_earlier_schemas_trees_are_moved_into_chunks,
    a_tree_of_more_than_one_chunk,
    a_tree_cut_in_other_chunks,
    a_trees_chunks_reordered,
    a_statement_read_for_a_token,
    a_statement_edited_after_it_was_read,
    an_events_quantity,
    an_events_leaf_hash,
    a_statements_bytes,
    an_fx_row,
    a_contribution,
    an_audit_entry,
    a_dropped_row,
    a_dropped_statement,
    a_keys_batch,
    a_statement_id_that_is_not_one,
    a_rewritten_history,
);

/// A PostgreSQL database of schema 2 kept a row per event in a table `events`
/// partitioned by day; opening it with this build moves the events into segments.
/// Made here from a store of this build by writing its events back as rows and its
/// trees' leaves back into `statement_trees`.
#[test]
fn a_schema_2_database_is_upgraded_to_segments() {
    let Some(t) = common::postgres() else { return };
    let before = verify(prepared(&t).as_mut(), &Actor::cli(), None).unwrap();
    let revshare_app::Location::Postgres(url) = &t.location else {
        unreachable!("a PostgreSQL store")
    };
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let segments = client
        .query("SELECT batch, host, day, events FROM segments ORDER BY number", &[])
        .unwrap();
    client
        .batch_execute(
            "CREATE TABLE events (
                 batch bigint NOT NULL, source text COLLATE \"C\" NOT NULL, id text COLLATE \"C\" NOT NULL,
                 leaf bytea NOT NULL, host text NOT NULL, model text NOT NULL, use_case text NOT NULL,
                 currency text NOT NULL, customer bytea, utc_seconds bigint NOT NULL, day integer NOT NULL,
                 requests bigint NOT NULL, input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
                 revenue_units text NOT NULL
             ) PARTITION BY RANGE (day);
             CREATE TABLE events_all PARTITION OF events DEFAULT;
             CREATE INDEX events_batch ON events (batch);",
        )
        .unwrap();
    let mut rows = 0;
    for row in &segments {
        let (batch, host, day, bytes): (i64, String, i32, Vec<u8>) = (row.get(0), row.get(1), row.get(2), row.get(3));
        let segment: Segment<'_> = postcard::from_bytes(&bytes).unwrap();
        let name = |i: u32| segment.names[i as usize];
        for e in &segment.events {
            let customer = e.customer.map(|c| c.to_vec());
            client
                .execute(
                    "INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                    &[
                        &batch,
                        &name(e.source),
                        &e.id,
                        &&e.leaf[..],
                        &host,
                        &name(e.model),
                        &name(e.use_case),
                        &name(e.currency),
                        &customer,
                        &e.utc_seconds,
                        &day,
                        &e.requests,
                        &e.input_tokens,
                        &e.output_tokens,
                        &e.revenue_units,
                    ],
                )
                .unwrap();
            rows += 1;
        }
    }
    assert!(rows > 100, "the example's events: {rows}");
    client.batch_execute("DROP TABLE segments").unwrap();
    unchunk_trees(&t);
    client
        .batch_execute("UPDATE schema_migrations SET version = 2")
        .unwrap();

    let mut backend = t.open();
    let keys = t.keys();
    let after = verify_with_keys(backend.as_mut(), &Actor::cli(), &keys, None).unwrap();
    assert!(after.holds(), "after the upgrade: {:#?}", after.failures);
    let counts = |r: &Report| (r.entries, r.statements, r.rerated, r.events);
    assert_eq!(
        counts(&after),
        counts(&before),
        "the same entries, statements and events checked"
    );
    assert!(before.rerated > 0 && before.events > 0);
    let upgraded = client
        .query_one(
            "SELECT (SELECT sum(count) FROM segments), to_regclass('events') IS NULL, (SELECT version FROM schema_migrations)",
            &[],
        )
        .unwrap();
    assert_eq!(upgraded.get::<_, i64>(0), rows, "every event moved");
    assert_eq!(after.events, rows as u64);
    assert!(upgraded.get::<_, bool>(1), "events dropped");
    assert_eq!(upgraded.get::<_, i32>(2), 13);
}

/// A tree's tiles as a close stores them.
fn tiles_of(leaves: &[u8]) -> Vec<Vec<u8>> {
    let hashes: Vec<revshare_core::merkle::Hash> = leaves.chunks_exact(32).map(|l| l.try_into().unwrap()).collect();
    revshare_core::merkle::root_and_tiles(&hashes)
        .1
        .into_iter()
        .map(|l| l.concat())
        .collect()
}
