//! History no one can rewrite: the edits a database writer made pass unnoticed
//! before the log was a tree with signed checkpoints (issue 18), each now named by
//! `audit verify` and refused by the next write, on both backends; and a close that
//! checks the rows it uses before it signs.

mod common;

use revshare_app::close::{close, CloseOutcome, CloseRequest, Grace};
use revshare_app::import::{import, Observers};
use revshare_app::verify_store::{verify_with_keys, Report};
use revshare_app::{Actor, AppError, Backend};
use revshare_core::audit::{Head, NewEntry};
use revshare_core::period::Period;
use revshare_core::statement::AdjustmentKind;
use revshare_ingest::offline::UsageInput;

use common::scenario::{fixture, prepared, NOW};
use common::{ctx, TestStore};

/// When November may close.
const DECEMBER: &str = "2026-12-02T00:00:00Z";

fn event(id: &str, time: &str, model: &str, revenue: &str) -> String {
    format!(
        r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us","id":"{id}","time":"{time}","data":{{"host":"acme-cloud","model":"{model}","use_case":"chat","customer":"c-{id}","requests":1,"input_tokens":1000,"output_tokens":500,"revenue":"{revenue}","currency":"USD"}}}}"#
    )
}

fn import_text(t: &TestStore, backend: &mut dyn Backend, text: String) {
    let operator = Actor::cli();
    import(
        backend,
        &t.keys(),
        ctx(&operator, NOW),
        vec![UsageInput {
            name: "more.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(text.into_bytes())),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |r| panic!("refused: {r:?}"),
        },
    )
    .unwrap();
}

/// `count` acme-cloud events on `day` (`YYYY-MM-DD`), each with `revenue`.
fn events(tag: &str, day: &str, count: usize, revenue: &str) -> String {
    (0..count)
        .map(|i| {
            event(
                &format!("{tag}-{i}"),
                &format!("{day}T12:00:{:02}Z", i % 60),
                "llama-3.1-8b-instruct",
                revenue,
            ) + "\n"
        })
        .collect()
}

fn close_at(t: &TestStore, backend: &mut dyn Backend, period: &str, dry_run: bool) -> Result<CloseOutcome, AppError> {
    let operator = Actor::cli();
    let request = CloseRequest {
        period: Period::parse(period).unwrap(),
        contract: Some("acme-llama".into()),
        grace: Grace::default(),
        dry_run,
        allow_empty: true,
        settlement_start: false,
    };
    close(backend, &t.keys(), ctx(&operator, DECEMBER), &request)
}

fn report(t: &TestStore, backend: &mut dyn Backend) -> Report {
    verify_with_keys(backend, &Actor::cli(), &t.keys(), None).unwrap()
}

fn names(report: &Report, check: u8, object_starts: &str, message_has: &str) {
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.check == check && f.object.starts_with(object_starts) && f.message.contains(message_has)),
        "check {check} should name {object_starts}… ({message_has}): {:#?}",
        report.failures
    );
}

fn refused_as_integrity(result: Result<CloseOutcome, AppError>, has: &[&str]) {
    match result {
        Err(AppError::Integrity(message)) => {
            for part in has {
                assert!(message.contains(part), "`{part}` in: {message}");
            }
        }
        other => panic!(
            "the close should be refused as an integrity failure: {:?}",
            other.map(|o| o.statements.len())
        ),
    }
}

/// The prior-period adjustment for October of a closed (or dry-run) November.
fn october_adjustment(outcome: &CloseOutcome) -> (u64, String) {
    let statement = &outcome.statements[0].statement;
    let adjustment = statement
        .adjustments
        .iter()
        .find(|a| a.kind == AdjustmentKind::PriorPeriod && a.period.as_deref() == Some("2026-10"))
        .expect("an adjustment for October");
    (adjustment.events.as_ref().unwrap().count, adjustment.amount.clone())
}

/// Finding 1: a stored count that no payload covers decided whether anything
/// changed. Zeroing it no longer drops late usage, and `audit verify` names it.
fn a_zeroed_event_count_neither_drops_late_usage_nor_passes_verify(t: &TestStore) {
    let mut backend = prepared(t);
    import_text(t, backend.as_mut(), events("late", "2026-10-20", 20, "1.000000"));
    let late_seq = backend.audit_head().unwrap().size();
    let expected = october_adjustment(&close_at(t, backend.as_mut(), "2026-11", true).unwrap());
    assert_eq!(expected.0, 20, "the dry run settles the late events");
    match t.is_postgres() {
        true => t.tamper(&format!(
            "UPDATE segments SET count = 0 WHERE batch IN (SELECT batch FROM event_batches WHERE seq = {late_seq});
             UPDATE event_batches SET count = 0 WHERE seq = {late_seq};"
        )),
        false => t.tamper(&format!("UPDATE segments SET count = 0 WHERE seq = {late_seq}")),
    }
    let found = report(t, backend.as_mut());
    names(&found, 5, "segment:", "its stored count is 0");
    if t.is_postgres() {
        names(&found, 5, "batch:", "20 events");
    }
    let closed = close_at(t, backend.as_mut(), "2026-11", false).unwrap();
    assert_eq!(
        october_adjustment(&closed),
        expected,
        "the late usage is settled as before"
    );
}

/// The digests of entries `from..` chained again from entry `from - 1`, as someone
/// who rewrites history after editing an entry does (no key is needed for that).
fn rechain_from(t: &TestStore, backend: &mut dyn Backend, from: u64) {
    let entries = revshare_app::audit::all_entries(backend, revshare_core::audit::Seq::ZERO).unwrap();
    let mut head = match from {
        1 => Head::EMPTY,
        _ => entries[(from - 2) as usize].head().unwrap(),
    };
    let mut sql = String::new();
    for entry in &entries[(from - 1) as usize..] {
        let new = NewEntry {
            time: entry.time.clone(),
            actor: entry.actor.clone(),
            action: entry.action,
            object: entry.object.clone(),
            payload_sha256: hex::decode(&entry.payload_sha256).unwrap().try_into().unwrap(),
        };
        let (chained, next) = new.chain(head);
        head = next;
        sql.push_str(&format!(
            "UPDATE audit_log SET digest = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {};",
            chained.digest, chained.prev_hash, chained.hash, chained.seq
        ));
    }
    t.tamper(&sql);
}

/// Every stored hash of the log's tree made again from the entries, as someone who
/// also rewrites the tree does.
fn rebuild_tree(t: &TestStore, backend: &mut dyn Backend) {
    let entries = revshare_app::audit::all_entries(backend, revshare_core::audit::Seq::ZERO).unwrap();
    let digests: Vec<[u8; 32]> = entries
        .iter()
        .map(|e| hex::decode(&e.digest).unwrap().try_into().unwrap())
        .collect();
    let blob = |h: &[u8; 32]| match t.is_postgres() {
        true => format!("'\\x{}'::bytea", hex::encode(h)),
        false => format!("x'{}'", hex::encode(h)),
    };
    let mut sql = String::from("DELETE FROM audit_tree;");
    for (index, hash) in revshare_core::log_tree::build(&digests).iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO audit_tree (idx, hash) VALUES ({index}, {});",
            blob(hash)
        ));
    }
    t.tamper(&sql);
}

/// Finding 2: a contract version added after the newest statement, edited with its
/// payload recomputed and the chain re-hashed (and, in a second try, the log's tree
/// too). The close no longer signs it, and `audit verify` names it.
fn history_after_the_newest_statement_cannot_be_rewritten(t: &TestStore) {
    for rewrite_the_tree in [false, true] {
        let t = &t.fresh();
        let mut backend = prepared(t);
        let operator = Actor::cli();
        let version_2 = String::from_utf8(fixture("contracts/acme-llama.toml"))
            .unwrap()
            .replace("version = 1", "version = 2")
            .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-11-01\"");
        revshare_app::contracts::add_version(
            backend.as_mut(),
            &t.keys(),
            ctx(&operator, NOW),
            "acme-llama-v2.toml",
            version_2.as_bytes(),
        )
        .unwrap();
        import_text(t, backend.as_mut(), events("nov", "2026-11-10", 30, "1.000000"));
        let honest = close_at(t, backend.as_mut(), "2026-11", true).unwrap();

        let row = backend
            .contracts()
            .unwrap()
            .into_iter()
            .find(|r| r.id == "acme-llama" && r.version == 2)
            .unwrap();
        let mut edited = row.clone();
        edited.toml = row.toml.replace(
            "use_case = \"*\"\nrevenue_share = \"0.15\"",
            "use_case = \"*\"\nrevenue_share = \"0.01\"",
        );
        assert_ne!(edited.toml, row.toml);
        edited.sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(edited.toml.as_bytes()));
        t.tamper(&format!(
            "UPDATE contracts SET toml = '{}', sha256 = '{}' WHERE id = 'acme-llama' AND version = 2;
             UPDATE audit_log SET payload_sha256 = '{}' WHERE seq = {};",
            edited.toml.replace('\'', "''"),
            edited.sha256,
            hex::encode(revshare_app::rows::payload(&edited)),
            row.seq
        ));
        rechain_from(t, backend.as_mut(), row.seq.get());
        if rewrite_the_tree {
            rebuild_tree(t, backend.as_mut());
        }
        // Before the log was a tree, this close signed a smaller total.
        let attacked = close_at(t, backend.as_mut(), "2026-11", false);
        assert!(honest.statements[0].statement.total != "0.00");
        refused_as_integrity(attacked, &["edited"]);
        let found = report(t, backend.as_mut());
        names(&found, 6, "checkpoint:", "history was rewritten");
    }
}

/// Finding 3: the newest close undone (its statements, entries, and what the log's
/// tree and checkpoints held of them deleted). `audit verify` names both sizes from
/// the checkpoint kept beside the key file, and no write follows it.
fn the_newest_close_cannot_be_undone(t: &TestStore) {
    let mut backend = prepared(t);
    let size = backend.audit_head().unwrap().size();
    let october: Vec<_> = backend
        .statements()
        .unwrap()
        .into_iter()
        .filter(|s| s.period == "2026-10")
        .collect();
    let first = october.iter().map(|s| i64::try_from(s.seq).unwrap()).min().unwrap();
    let kept = first - 1;
    let index = revshare_core::log_tree::stored_index(0, kept as u64);
    t.tamper(&format!(
        "DELETE FROM payout_notices WHERE statement_id IN (SELECT statement_id FROM statements WHERE period = '2026-10');
         DELETE FROM statement_tree_leaves WHERE statement_id IN (SELECT statement_id FROM statements WHERE period = '2026-10');
         DELETE FROM statement_tree_tiles WHERE statement_id IN (SELECT statement_id FROM statements WHERE period = '2026-10');
         DELETE FROM statement_tree_index WHERE statement_id IN (SELECT statement_id FROM statements WHERE period = '2026-10');
         DELETE FROM statement_trees WHERE statement_id IN (SELECT statement_id FROM statements WHERE period = '2026-10');
         DELETE FROM statements WHERE period = '2026-10';
         DELETE FROM audit_log WHERE seq > {kept};
         DELETE FROM audit_tree WHERE idx >= {index};
         DELETE FROM checkpoints WHERE size > {kept};"
    ));
    assert!(
        backend.checkpoint(kept).unwrap().is_some(),
        "the anchored checkpoint stays"
    );
    let found = report(t, backend.as_mut());
    names(&found, 6, "log", &format!("the log has {kept} entries"));
    names(&found, 6, "log", &format!("signs {size}"));
    // Before, a void and a second close of October signed a second statement.
    let (source, id) = common::scenario::first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-10");
    let operator = Actor::cli();
    let voided = revshare_app::void::void(backend.as_mut(), &t.keys(), ctx(&operator, NOW), &source, &id, "again");
    assert!(
        matches!(&voided, Err(AppError::Integrity(m)) if m.contains(&format!("signs {size}"))),
        "{voided:?}"
    );
    refused_as_integrity(
        close_at(t, backend.as_mut(), "2026-10", false),
        &[&format!("the log has {kept} entries"), &format!("signs {size}")],
    );
}

/// A close checks every row it uses against its entry: a contract version edited
/// in place (its entry untouched) is refused by name, not signed.
fn a_close_never_signs_an_edited_contract_row(t: &TestStore) {
    let mut backend = prepared(t);
    import_text(t, backend.as_mut(), events("nov", "2026-11-10", 5, "1.000000"));
    t.tamper(
        "UPDATE contracts SET toml = replace(toml, 'revenue_share = \"0.15\"', 'revenue_share = \"0.01\"') \
         WHERE id = 'acme-llama'",
    );
    refused_as_integrity(
        close_at(t, backend.as_mut(), "2026-11", false),
        &["contract:acme-llama:v1"],
    );
    // Nor a dry run.
    refused_as_integrity(
        close_at(t, backend.as_mut(), "2026-11", true),
        &["contract:acme-llama:v1"],
    );
}

/// A close re-hashes every batch of events it reads: one event's quantity edited is
/// refused by name, also when the batch reaches into another period.
fn a_close_never_signs_edited_events(t: &TestStore) {
    let mut backend = prepared(t);
    // One batch with events in October (late) and November.
    import_text(
        t,
        backend.as_mut(),
        events("late", "2026-10-30", 3, "2.000000") + &events("nov", "2026-11-02", 3, "2.000000"),
    );
    let seq = backend.audit_head().unwrap().size();
    common::edit_event(t, seq, "late-1", |e| e.input_tokens += 1_000_000);
    refused_as_integrity(
        close_at(t, backend.as_mut(), "2026-11", false),
        &[&format!("entry {seq}"), "events:acme-cloud"],
    );
}

/// A backup restored under the service: every write is refused, naming both sizes,
/// until the operator accepts the rollback (the size given to confirm it), which is
/// the first entry after the restore; then writes and `audit verify` go on. A store
/// that was not rolled back has no rollback to accept.
fn a_restored_backup_is_accepted_by_the_operator(t: &TestStore) {
    drop(prepared(t));
    let backup = t.copy();
    let operator = Actor::cli();
    let mut backend = t.open();
    revshare_app::parties::add(backend.as_mut(), &t.keys(), ctx(&operator, NOW), "later", None).unwrap();
    let size = backend.audit_head().unwrap().size();
    let refused = revshare_app::log::accept_rollback(backend.as_mut(), &t.keys(), ctx(&operator, NOW), size, "none");
    assert!(
        matches!(&refused, Err(AppError::Conflict(m)) if m.contains("no rollback")),
        "{refused:?}"
    );
    drop(backend);

    // The restore: the backup's data under the service's key and checkpoint files.
    for file in std::fs::read_dir(&t.dir).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains(".key") {
            std::fs::copy(&path, backup.dir.join(&name)).unwrap();
        }
    }
    let mut restored = backup.open();
    let keys = backup.keys();
    let restored_size = restored.audit_head().unwrap().size();
    assert_eq!(restored_size + 1, size);
    let refused = revshare_app::parties::add(restored.as_mut(), &keys, ctx(&operator, NOW), "after", None);
    assert!(
        matches!(&refused, Err(AppError::Integrity(m)) if m.contains(&format!("the log has {restored_size} entries"))
            && m.contains(&format!("signs {size}")) && m.contains("accept-rollback")),
        "{refused:?}"
    );
    let wrong = revshare_app::log::accept_rollback(restored.as_mut(), &keys, ctx(&operator, NOW), size, "restored");
    assert!(
        matches!(&wrong, Err(AppError::Conflict(m)) if m.contains(&format!("has {restored_size} entries, not {size}"))),
        "{wrong:?}"
    );
    assert_eq!(restored.audit_head().unwrap().size(), restored_size, "nothing written");

    let row =
        revshare_app::log::accept_rollback(restored.as_mut(), &keys, ctx(&operator, NOW), restored_size, "restored")
            .unwrap();
    assert_eq!((row.from_size, row.to_size), (size as i64, restored_size as i64));
    let entry = restored.audit_head().unwrap().size();
    assert_eq!(entry, restored_size + 1, "the first entry after the restore");
    revshare_app::parties::add(restored.as_mut(), &keys, ctx(&operator, NOW), "after", None).unwrap();
    let found = verify_with_keys(restored.as_mut(), &operator, &keys, None).unwrap();
    assert!(found.holds(), "{:#?}", found.failures);
}

both_backends!(
    a_restored_backup_is_accepted_by_the_operator,
    a_zeroed_event_count_neither_drops_late_usage_nor_passes_verify,
    history_after_the_newest_statement_cannot_be_rewritten,
    the_newest_close_cannot_be_undone,
    a_close_never_signs_an_edited_contract_row,
    a_close_never_signs_edited_events,
);
