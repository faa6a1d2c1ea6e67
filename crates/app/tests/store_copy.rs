//! `revshare store copy` (issue 21, point 11): a store with a row in every table
//! copied from SQLite into PostgreSQL and back into a new file. Each copy holds
//! every row of every table, `audit verify` holds on it with the same key file,
//! every statement is the same bytes, and the source's log ends with the
//! `store_copied` entry the copy holds too; the source then refuses writes, and a
//! target that is not empty is refused, naming it, with nothing changed.

mod common;

use std::collections::BTreeMap;

use revshare_app::keys::Keys;
use revshare_app::store_copy::{copy_store, Copied, CopyProgress};
use revshare_app::verify_store::verify_with_keys;
use revshare_app::{Actor, AppError, Backend};
use revshare_core::audit::Action;
use revshare_store::backend::{CopyRow, Value};

use common::rich::rich;
use common::{ctx, TestStore};

const LATER: &str = "2026-12-03T00:00:00Z";

/// Every row of every table the copy takes, sorted (the order rows are stored in
/// is the database's).
fn contents(backend: &mut dyn Backend) -> BTreeMap<String, Vec<CopyRow>> {
    let mut all = BTreeMap::new();
    for table in backend.copy_tables().unwrap() {
        let mut rows: Vec<CopyRow> = Vec::new();
        backend
            .export_rows(&table, &mut |batch| {
                rows.extend_from_slice(batch);
                Ok(())
            })
            .unwrap();
        rows.sort_by_key(|row| format!("{row:?}"));
        all.insert(table.name, rows);
    }
    all
}

fn copy(from: &TestStore, to: &TestStore, steps: &mut Vec<CopyProgress>) -> Result<Copied, AppError> {
    let mut source = from.open();
    let keys = Keys::open(&from.keys_path, source.as_mut()).unwrap();
    let mut target = to.open();
    let operator = Actor::cli();
    copy_store(
        source.as_mut(),
        &keys,
        ctx(&operator, LATER),
        target.as_mut(),
        &to.location.describe(),
        &mut |step| steps.push(step),
    )
}

/// Copies `from` into the empty `to` (whose key file becomes `from`'s), and checks
/// the copy whole; returns the copy's entry seq.
fn copied(from: &TestStore, to: &mut TestStore) -> u64 {
    let before = contents(from.open().as_mut());
    let statements_before = from.open().statements().unwrap();
    let mut steps = Vec::new();
    let copied = copy(from, to, &mut steps).unwrap();
    to.keys_path = from.keys_path.clone();

    // The source's last entry retires it; the target holds the same log.
    let (mut source, mut target) = (from.open(), to.open());
    let head = source.audit_head().unwrap();
    assert_eq!(head, target.audit_head().unwrap());
    assert_eq!(head.seq, copied.entry.seq);
    assert_eq!(copied.entry.action, Action::StoreCopied);
    let last = target.audit_entry(head.seq).unwrap().unwrap();
    assert_eq!(last, copied.entry);
    assert!(last.payload_sha256.len() == 64 && last.object == "log");

    // Every row of every table, the events' batches and segments included.
    let (after, copy) = (contents(source.as_mut()), contents(target.as_mut()));
    for (table, rows) in &after {
        if table == "meta" {
            // Every value but the mark of the store retired, which is the source's alone.
            let retired = |row: &CopyRow| row.first() == Some(&Value::Text("retired".into()));
            for row in rows.iter().filter(|r| !retired(r)) {
                assert!(copy[table].contains(row), "meta row {row:?} copied");
            }
            assert!(rows.iter().any(retired) && !copy[table].iter().any(retired));
            continue;
        }
        assert_eq!(&copy[table], rows, "table {table}");
    }
    // Nothing but the copy's entry (and its sealing) changed in the source.
    let changed: Vec<&String> = after.keys().filter(|t| before.get(*t) != after.get(*t)).collect();
    assert_eq!(changed, ["audit_log", "audit_tree", "checkpoints", "meta"]);
    let empty: Vec<&String> = after
        .iter()
        .filter(|(_, rows)| rows.is_empty())
        .map(|(t, _)| t)
        .collect();
    assert!(empty.is_empty(), "every table holds rows, but not {empty:?}");
    // The progress counted every row once.
    let total: u64 = steps
        .iter()
        .map(|s| match s {
            CopyProgress::Copied { rows, .. } => *rows,
            CopyProgress::Started { .. } => 0,
        })
        .sum();
    assert_eq!(steps.first(), Some(&CopyProgress::Started { rows: total }));
    assert_eq!(total, copied.tables.iter().map(|(_, n)| n).sum::<u64>());

    // Every statement, the same bytes.
    let statements = target.statements().unwrap();
    assert_eq!(statements, statements_before);
    assert!(statements.len() >= 3);

    // audit verify holds on the copy with the same key file, and on the retired source.
    let operator = Actor::cli();
    let keys = Keys::open(&to.keys_path, target.as_mut()).unwrap();
    let report = verify_with_keys(target.as_mut(), &operator, &keys, None).unwrap();
    assert!(report.holds(), "the copy verifies: {:#?}", report.failures);
    let keys = Keys::open(&from.keys_path, source.as_mut()).unwrap();
    let report = verify_with_keys(source.as_mut(), &operator, &keys, None).unwrap();
    assert!(report.holds(), "the source verifies: {:#?}", report.failures);
    copied.entry.seq.get()
}

/// The source refuses every write after the copy, naming the copy; reads go on.
fn refuses_writes(source: &TestStore, target: &TestStore) {
    let mut backend = source.open();
    let keys = Keys::open(&source.keys_path, backend.as_mut()).unwrap();
    let operator = Actor::cli();
    let head = backend.audit_head().unwrap();
    let refused = revshare_app::parties::add(backend.as_mut(), &keys, ctx(&operator, LATER), "late-co", None)
        .expect_err("a retired store refuses writes");
    assert_eq!(refused.code(), "conflict", "{refused}");
    let message = refused.to_string();
    assert!(message.contains("retired"), "{message}");
    assert!(message.contains(&target.location.describe()), "{message}");
    let usage = common::scenario::fixture("usage-small.ndjson");
    let imported = revshare_app::import::import(
        backend.as_mut(),
        &keys,
        ctx(&operator, LATER),
        vec![revshare_ingest::offline::UsageInput {
            name: "usage-small.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(usage)),
        }],
        revshare_app::import::Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    );
    assert!(imported.is_err_and(|e| e.to_string().contains("retired")));
    // A second copy of a retired store is refused too: its log went on elsewhere.
    let other = common::empty_sqlite();
    let again = copy(source, &other, &mut Vec::new()).expect_err("refused");
    assert!(again.to_string().contains("retired"), "{again}");
    assert_eq!(backend.audit_head().unwrap(), head, "nothing was appended");
    assert!(!backend.statements().unwrap().is_empty(), "reads go on");
}

/// The copy takes writes, and goes on verifying.
fn takes_writes(target: &TestStore, party: &str) {
    let mut backend = target.open();
    let keys = Keys::open(&target.keys_path, backend.as_mut()).unwrap();
    let operator = Actor::cli();
    revshare_app::parties::add(backend.as_mut(), &keys, ctx(&operator, LATER), party, None).unwrap();
    let report = verify_with_keys(backend.as_mut(), &operator, &keys, None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

/// A target that holds anything is refused by name, and neither store changes.
fn refuses_a_store_that_is_not_empty(source: &TestStore, full: &TestStore) {
    let head = source.open().audit_head().unwrap();
    let theirs = full.open().audit_head().unwrap();
    let refused = copy(source, full, &mut Vec::new()).expect_err("refused");
    assert_eq!(refused.code(), "conflict", "{refused}");
    let message = refused.to_string();
    assert!(message.contains(&full.location.describe()), "{message}");
    assert!(message.contains("not empty"), "{message}");
    assert_eq!(source.open().audit_head().unwrap(), head, "the source is unchanged");
    assert_eq!(full.open().audit_head().unwrap(), theirs, "the target is unchanged");
    assert_eq!(
        source.open().meta("retired").unwrap(),
        None,
        "the source is not retired"
    );
}

#[test]
fn sqlite_to_postgres_and_back() {
    let Some(mut pg) = common::empty_postgres() else {
        return;
    };
    let file = common::sqlite();
    rich(&file);
    // Refused: a store that is initialized already, of either kind.
    refuses_a_store_that_is_not_empty(&file, &common::sqlite());
    if let Some(initialized) = common::postgres() {
        refuses_a_store_that_is_not_empty(&file, &initialized);
    }

    let first = copied(&file, &mut pg);
    refuses_writes(&file, &pg);
    // A copy is not empty either.
    refuses_a_store_that_is_not_empty(&common::sqlite(), &pg);
    takes_writes(&pg, "pg-co");

    // And back into a new file: both copies' entries, and the write between them.
    let mut back = common::empty_sqlite();
    let second = copied(&pg, &mut back);
    assert!(second > first + 1);
    refuses_writes(&pg, &back);
    takes_writes(&back, "back-co");
    let mut backend = back.open();
    let entries = revshare_app::audit::all_entries(backend.as_mut(), revshare_core::audit::Seq::ZERO).unwrap();
    let copies: Vec<u64> = entries
        .iter()
        .filter(|e| e.action == Action::StoreCopied)
        .map(|e| e.seq.get())
        .collect();
    assert_eq!(copies, [first, second]);
}

#[test]
fn the_copied_values_keep_their_types() {
    // SQLite into SQLite: the same path as between the backends, on one kind.
    let file = common::sqlite();
    rich(&file);
    let mut to = common::empty_sqlite();
    copied(&file, &mut to);
    let mut backend = to.open();
    let tables = contents(backend.as_mut());
    let leaves = &tables["statement_tree_leaves"];
    assert!(leaves.iter().all(|row| matches!(row.last(), Some(Value::Bytes(_)))));
}

#[test]
fn a_copy_that_fails_changes_neither_store() {
    let file = common::sqlite();
    rich(&file);
    let head = file.open().audit_head().unwrap();
    let to = common::empty_sqlite();
    to.open();
    // The target fails on its last table, once everything else is in.
    to.tamper("CREATE TRIGGER fail BEFORE INSERT ON segments BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;");
    let failed = copy(&file, &to, &mut Vec::new()).expect_err("the copy fails");
    assert!(failed.to_string().contains("the disk is full"), "{failed}");
    assert_eq!(
        to.scalar("SELECT count(*) FROM audit_log"),
        0,
        "the target holds nothing"
    );
    assert_eq!(to.scalar("SELECT count(*) FROM parties"), 0, "the target holds nothing");
    let mut source = file.open();
    assert_eq!(source.audit_head().unwrap(), head, "the source's log is as it was");
    assert_eq!(source.meta("retired").unwrap(), None);
    takes_writes(&file, "still-co");
}

#[test]
fn both_backends_keep_the_same_tables() {
    let Some(pg) = common::postgres() else {
        return;
    };
    let file = common::sqlite();
    let names = |t: &TestStore| -> Vec<(String, Vec<String>)> {
        let mut tables: Vec<_> = t
            .open()
            .copy_tables()
            .unwrap()
            .into_iter()
            .map(|t| {
                let mut columns = t.columns;
                columns.sort();
                (t.name, columns)
            })
            .collect();
        tables.sort();
        tables
    };
    assert_eq!(names(&file), names(&pg));
}
