//! Every stored column is covered by an audit payload or recomputed by `audit verify`
//! (statements.md, Audit log). For every column of every table, read from each
//! store's own schema (so tables added later join by themselves), an edit of one
//! row and then of the whole column, made behind the service's back, must be named
//! by `audit verify`, refused by the next write, or change nothing a party sees: the
//! next close's statements, every stored statement and the API's answers (the use
//! cases every endpoint calls, as each kind of party) equal an untouched copy's.
//! Operational tables are listed below with the reason they are outside the rule.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::import::{import, Observers};
use revshare_app::keys::Keys;
use revshare_app::verify_store::verify_with_keys;
use revshare_app::{Actor, AppError, Backend, Ctx, Location};
use revshare_core::period::Period;
use revshare_core::records::Role;
use revshare_core::verify::TreeName;
use revshare_ingest::offline::UsageInput;

use common::rich::rich;
use common::scenario::{first_event, fixture, NOW};
use common::{ctx, TestStore};

/// Rows outside the rule (statements.md: "operational rows … are outside this
/// rule"), with why.
const OPERATIONAL: &[(&str, &str)] = &[
    ("idempotency", "the API's record of its own answers to retried requests"),
    ("jobs", "audit verify jobs and their reports"),
];

/// When the writes of the judgement happen (November may close).
const DECEMBER: &str = "2026-12-02T00:00:00Z";

/// The writes that follow an edit: late October usage, November's, and the close
/// of November. The outcome of each (an error by its code and message).
fn next_writes(t: &TestStore, backend: &mut dyn Backend, keys: &Keys) -> Vec<String> {
    let operator = Actor::cli();
    let usage: String = [("late", "2026-10-21"), ("nov", "2026-11-12")]
        .iter()
        .flat_map(|(tag, day)| {
            (0..4).map(move |i| {
                format!(
                    r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us","id":"{tag}-{i}","time":"{day}T08:00:0{i}Z","data":{{"host":"acme-cloud","model":"llama-3.1-8b-instruct","use_case":"chat","customer":"c-{i}","requests":1,"input_tokens":100,"output_tokens":50,"revenue":"2.500000","currency":"USD"}}}}"#
                ) + "\n"
            })
        })
        .collect();
    let imported = import(
        backend,
        keys,
        ctx(&operator, NOW),
        vec![UsageInput {
            name: "next.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(usage.into_bytes())),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    );
    let request = CloseRequest {
        period: Period::parse("2026-11").unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: true,
        settlement_start: false,
    };
    let _ = t;
    let closed = close(backend, keys, ctx(&operator, DECEMBER), &request);
    vec![
        outcome(imported.map(|s| (s.accepted, s.duplicates, s.late))),
        outcome(closed.map(|c| c.statements.iter().map(|s| s.json.clone()).collect::<Vec<_>>())),
    ]
}

fn outcome<T: Debug>(result: Result<T, AppError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(error) => format!("error {}: {error}", error.code()),
    }
}

/// Whether an outcome is a refusal for stored data that failed a check.
fn refused(outcome: &str) -> bool {
    outcome.starts_with("error integrity:")
}

/// What every kind of party reads, by what it read.
fn observe(backend: &mut dyn Backend) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    let operator = Actor::cli();
    let ids: Vec<String> = backend
        .statements()
        .unwrap()
        .into_iter()
        .map(|s| s.statement_id.to_string())
        .collect();
    let events = [
        first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-10"),
        first_event(&fixture("usage-small.ndjson"), "nimbus-ai", "2026-10"),
        first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-09"),
    ];
    let parties = [
        operator.clone(),
        Actor::token("000000000001", Role::Host, "acme-cloud", None),
        Actor::token("000000000002", Role::Licensor, "meta", None),
        Actor::token("000000000003", Role::Beneficiary, "finetune-labs", None),
        Actor::token(
            "000000000004",
            Role::Auditor,
            "audit-co",
            Some(vec!["acme-llama".into()]),
        ),
    ];
    for actor in &parties {
        let who = format!("{:?} {:?}", actor.role(), actor.party());
        let mut see = |what: String, value: String| {
            seen.insert(format!("{who}: {what}"), value);
        };
        see(
            "statements".into(),
            outcome(revshare_app::statements::entries(backend, actor, None, None)),
        );
        for id in &ids {
            let document = revshare_app::statements::document(backend, actor, id).map(|d| d.json().to_string());
            see(format!("statement {id}"), outcome(document));
            let leaves = revshare_app::statements::leaves(backend, actor, id, &TreeName::Events);
            see(format!("leaves {id}"), outcome(leaves.map(|l| l.leaves)));
            see(
                format!("inputs {id}"),
                outcome(revshare_app::statements::inputs(backend, actor, id)),
            );
            for (source, event) in &events {
                let proof = revshare_app::statements::prove(backend, actor, id, source, event);
                see(format!("proof {id} {source} {event}"), outcome(proof));
            }
        }
        for (source, event) in &events {
            let located = revshare_app::locate::locate(backend, actor, source, event);
            see(
                format!("locate {source} {event}"),
                outcome(located.map(|l| format!("{l:?}"))),
            );
        }
        see(
            "contracts".into(),
            outcome(revshare_app::contracts::list(backend, actor)),
        );
        see("fx".into(), outcome(revshare_app::tables::fx(backend, actor)));
        see(
            "models".into(),
            outcome(revshare_app::tables::registries(backend, actor)),
        );
        see(
            "contributions".into(),
            outcome(revshare_app::contributions::list(backend, actor)),
        );
        see("payments".into(), outcome(revshare_app::payments::list(backend, actor)));
        see(
            "disputes".into(),
            outcome(revshare_app::disputes::list(backend, ctx(actor, DECEMBER))),
        );
        let all = revshare_app::ledger::Filter::default();
        see(
            "ledger balances".into(),
            outcome(revshare_app::ledger::balances(backend, ctx(actor, DECEMBER), &all)),
        );
        see(
            "ledger entries".into(),
            outcome(revshare_app::ledger::entries(backend, actor, &all)),
        );
        see(
            "audit entries".into(),
            outcome(revshare_app::audit::entries(
                backend,
                actor,
                revshare_core::audit::Seq::ZERO,
                1000,
            )),
        );
    }
    let now = Ctx {
        actor: &operator,
        now: common::at(NOW),
    };
    let mut see = |what: &str, value: String| {
        seen.insert(what.to_string(), value);
    };
    see("parties", outcome(revshare_app::parties::list(backend, now)));
    see("tokens", outcome(revshare_app::tokens::list(backend, now)));
    see(
        "chain",
        outcome(revshare_app::audit::chain_page(
            backend,
            revshare_core::audit::Seq::ZERO,
            1000,
        )),
    );
    see("checkpoint", outcome(revshare_app::log::checkpoint(backend, None)));
    let size = backend.audit_head().unwrap().size();
    see("consistency", outcome(revshare_app::log::consistency(backend, 1, size)));
    see("inclusion", outcome(revshare_app::log::inclusion(backend, 2, None)));
    see("witness keys", outcome(revshare_app::log::witness_keys(backend)));
    seen
}

/// What became of one edit.
enum Verdict {
    /// `audit verify` named it (its first failure).
    Named(String),
    /// The next write was refused as an integrity failure.
    Refused(String),
    /// Nothing a party sees changed.
    Unchanged,
    /// The database itself refused the edit (a key or type constraint).
    Impossible(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Named(first) => write!(f, "named: {first}"),
            Verdict::Refused(why) => write!(f, "refused: {why}"),
            Verdict::Unchanged => f.write_str("changes nothing a party sees"),
            Verdict::Impossible(why) => write!(f, "the database refuses the edit: {why}"),
        }
    }
}

/// The untouched store's writes and observations.
struct Expected {
    writes: Vec<String>,
    seen: BTreeMap<String, String>,
}

fn expected(base: &TestStore) -> Expected {
    let copy = base.copy();
    let mut backend = copy.open();
    let keys = copy.keys();
    let writes = next_writes(&copy, backend.as_mut(), &keys);
    assert!(writes.iter().all(|w| !w.starts_with("error")), "{writes:?}");
    Expected {
        writes,
        seen: observe(backend.as_mut()),
    }
}

/// Judges an edited copy: `Err` with why when the edit slipped through.
fn judge(copy: &TestStore, expected: &Expected) -> Result<Verdict, String> {
    let mut backend = match revshare_store::open(&copy.location) {
        Ok(backend) => backend,
        Err(error) => return Ok(Verdict::Refused(format!("the store does not open: {error}"))),
    };
    if let Err(error) = revshare_app::check_scheme(backend.as_mut()) {
        return Ok(Verdict::Refused(format!("the store is refused: {error}")));
    }
    let keys = match Keys::open(&copy.keys_path, backend.as_mut()) {
        Ok(keys) => keys,
        Err(error) => return Ok(Verdict::Refused(format!("its key file is refused: {error}"))),
    };
    let report = verify_with_keys(backend.as_mut(), &Actor::cli(), &keys, None)
        .map_err(|e| format!("audit verify aborted instead of naming what failed: {e}"))?;
    if let Some(first) = report.failures.first() {
        return Ok(Verdict::Named(format!(
            "check {} {}: {}",
            first.check, first.object, first.message
        )));
    }
    let writes = next_writes(copy, backend.as_mut(), &keys);
    if let Some(refusal) = writes.iter().find(|w| refused(w)) {
        return Ok(Verdict::Refused(refusal.clone()));
    }
    if writes != expected.writes {
        return Err(format!(
            "the next writes differ: {writes:?}\nuntouched: {:?}",
            expected.writes
        ));
    }
    let seen = observe(backend.as_mut());
    let differing: Vec<String> = expected
        .seen
        .iter()
        .filter(|(what, value)| seen.get(*what) != Some(value))
        .map(|(what, value)| {
            format!(
                "{what}:\n  untouched: {value:.300}\n  edited:    {:.300}",
                seen.get(what).map_or("", |v| v.as_str())
            )
        })
        .collect();
    match differing.is_empty() {
        true => Ok(Verdict::Unchanged),
        false => Err(format!("what parties see changed:\n{}", differing.join("\n"))),
    }
}

/// A column, with the type its schema declares.
#[derive(Clone, Debug)]
struct Column {
    table: String,
    name: String,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Bytes,
}

/// Every column of every table, as the store's own schema lists them.
fn schema(t: &TestStore) -> Vec<Column> {
    let kind = |declared: &str| match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "smallint" => Kind::Integer,
        "blob" | "bytea" => Kind::Bytes,
        _ => Kind::Text,
    };
    match &t.location {
        Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let mut tables = connection
                .prepare(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .unwrap();
            let tables: Vec<String> = tables
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let mut columns = Vec::new();
            for table in tables {
                let mut info = connection.prepare(&format!("PRAGMA table_info({table})")).unwrap();
                let found: Vec<(String, String)> = info
                    .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                columns.extend(found.into_iter().map(|(name, declared)| Column {
                    table: table.clone(),
                    name,
                    kind: kind(&declared),
                }));
            }
            columns
        }
        Location::Postgres(url) => {
            let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
            client
                .query(
                    "SELECT c.table_name::text, c.column_name::text, c.data_type::text
                     FROM information_schema.columns c JOIN information_schema.tables t
                       ON t.table_name = c.table_name AND t.table_schema = c.table_schema
                     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                     ORDER BY c.table_name, c.ordinal_position",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| Column {
                    table: r.get(0),
                    name: r.get(1),
                    kind: kind(r.get(2)),
                })
                .collect()
        }
    }
}

/// Which rows an edit takes.
#[derive(Clone, Copy, Debug)]
enum Scope {
    /// The last row, in the table's storage order.
    OneRow,
    WholeColumn,
}

/// A stored value, edited.
#[derive(Clone, Debug)]
enum Value {
    Integer(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Value {
    /// A small change: one more, the last character or bit flipped; a value where
    /// there was none. `plain` false: a change that avoids a key's neighbour.
    fn edited(&self, plain: bool) -> Value {
        match self {
            Value::Integer(n) => Value::Integer(Some(n.map_or(1, |n| n + if plain { 1 } else { 1_000_003 }))),
            Value::Text(None) => Value::Text(Some("x".into())),
            Value::Text(Some(text)) if !plain => Value::Text(Some(format!("{text}x"))),
            Value::Text(Some(text)) => {
                let mut chars: Vec<char> = text.chars().collect();
                match chars.last_mut() {
                    Some(last) => *last = if *last == '0' { '1' } else { '0' },
                    None => chars.push('0'),
                }
                Value::Text(Some(chars.into_iter().collect()))
            }
            Value::Bytes(None) => Value::Bytes(Some(vec![0])),
            Value::Bytes(Some(bytes)) if !plain => Value::Bytes(Some([bytes.as_slice(), &[0]].concat())),
            Value::Bytes(Some(bytes)) => {
                let mut bytes = bytes.clone();
                match bytes.last_mut() {
                    Some(last) => *last ^= 1,
                    None => bytes.push(0),
                }
                Value::Bytes(Some(bytes))
            }
        }
    }
}

/// Edits a column of a copy; `Err` with the database's refusal.
fn edit(t: &TestStore, column: &Column, scope: Scope, plain: bool) -> Result<(), String> {
    match &t.location {
        Location::Sqlite(path) => edit_sqlite(path, column, scope, plain),
        Location::Postgres(url) => edit_postgres(url, column, scope, plain),
    }
}

fn edit_sqlite(path: &std::path::Path, column: &Column, scope: Scope, plain: bool) -> Result<(), String> {
    let mut connection = rusqlite::Connection::open(path).unwrap();
    let transaction = connection.transaction().unwrap();
    // `event_keys` has no rowid: its rows are found by their key.
    let key = match column.table.as_str() {
        "event_keys" => "source || char(0) || id",
        _ => "CAST(rowid AS TEXT)",
    };
    let limit = match scope {
        Scope::OneRow => " LIMIT 1",
        Scope::WholeColumn => "",
    };
    let select = format!(
        "SELECT {key}, {name} FROM {table} ORDER BY {key} DESC{limit}",
        name = column.name,
        table = column.table
    );
    let rows: Vec<(String, Value)> = {
        let mut statement = transaction.prepare(&select).unwrap();
        let rows = statement
            .query_map([], |r| {
                let value = match column.kind {
                    Kind::Integer => Value::Integer(r.get(1)?),
                    Kind::Text => Value::Text(r.get(1)?),
                    Kind::Bytes => Value::Bytes(r.get(1)?),
                };
                Ok((r.get(0)?, value))
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    let sorted = descending(rows);
    let update = format!("UPDATE {} SET {} = ?1 WHERE {key} = ?2", column.table, column.name);
    for (row, value) in sorted {
        let edited = value.edited(plain);
        let changed = match edited {
            Value::Integer(n) => transaction.execute(&update, rusqlite::params![n, row]),
            Value::Text(text) => transaction.execute(&update, rusqlite::params![text, row]),
            Value::Bytes(bytes) => transaction.execute(&update, rusqlite::params![bytes, row]),
        };
        changed.map_err(|e| e.to_string())?;
    }
    transaction.commit().map_err(|e| e.to_string())
}

fn edit_postgres(url: &str, column: &Column, scope: Scope, plain: bool) -> Result<(), String> {
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).unwrap();
    let mut transaction = client.transaction().unwrap();
    let limit = match scope {
        Scope::OneRow => " LIMIT 1",
        Scope::WholeColumn => "",
    };
    let select = format!(
        "SELECT ctid::text, {name} FROM {table} ORDER BY ctid DESC{limit}",
        name = column.name,
        table = column.table
    );
    let rows: Vec<(String, Value)> = transaction
        .query(&select, &[])
        .unwrap()
        .iter()
        .map(|r| {
            let value = match column.kind {
                Kind::Integer => Value::Integer(
                    r.try_get::<_, Option<i64>>(1)
                        .unwrap_or_else(|_| r.get::<_, Option<i32>>(1).map(i64::from)),
                ),
                Kind::Text => Value::Text(r.get(1)),
                Kind::Bytes => Value::Bytes(r.get(1)),
            };
            (r.get(0), value)
        })
        .collect();
    let four_bytes = transaction
        .query_one(
            "SELECT data_type = 'integer' FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
            &[&column.table, &column.name],
        )
        .unwrap()
        .get::<_, bool>(0);
    let update = format!(
        "UPDATE {} SET {} = $1 WHERE ctid = $2::text::tid",
        column.table, column.name
    );
    for (row, value) in descending(rows) {
        let value: Box<dyn ::postgres::types::ToSql + Sync> = match value.edited(plain) {
            Value::Integer(n) if four_bytes => Box::new(n.map(|n| i32::try_from(n).unwrap_or(i32::MAX))),
            Value::Integer(n) => Box::new(n),
            Value::Text(text) => Box::new(text),
            Value::Bytes(bytes) => Box::new(bytes),
        };
        let changed = transaction.execute(&update, &[value.as_ref(), &row]);
        changed.map_err(|e| e.to_string())?;
    }
    transaction.commit().map_err(|e| e.to_string())
}

/// Rows by descending integer value, so that adding one never meets a row not yet
/// edited (keys stay unique); other values keep their order.
fn descending(mut rows: Vec<(String, Value)>) -> Vec<(String, Value)> {
    rows.sort_by_key(|(_, value)| match value {
        Value::Integer(n) => std::cmp::Reverse(n.unwrap_or(i64::MIN)),
        _ => std::cmp::Reverse(0),
    });
    rows
}

/// Edits `column` of a copy of `base` over `scope` and judges it.
fn try_edit(base: &TestStore, expected: &Expected, column: &Column, scope: Scope) -> Result<Verdict, String> {
    let copy = base.copy();
    let edited = edit(&copy, column, scope, true).or_else(|first| {
        // A key's neighbour took the plain change: a change no row holds yet.
        edit(&copy, column, scope, false).map_err(|second| format!("{first}; then {second}"))
    });
    match edited {
        Ok(()) => judge(&copy, expected),
        Err(refusal) => Ok(Verdict::Impossible(refusal)),
    }
}

fn every_column_is_covered_or_recomputed(t: &TestStore) {
    rich(t);
    let expected = expected(t);
    let columns = schema(t);
    // Each edit works on a copy of its own: two at a time.
    let judge_half = |half: &[Column]| {
        let mut judged: Vec<String> = Vec::new();
        let mut slipped: Vec<String> = Vec::new();
        for column in half {
            if let Some((_, why)) = OPERATIONAL.iter().find(|(table, _)| *table == column.table) {
                judged.push(format!("{}.{}: operational ({why})", column.table, column.name));
                continue;
            }
            for scope in [Scope::OneRow, Scope::WholeColumn] {
                match try_edit(t, &expected, column, scope) {
                    Ok(verdict) => judged.push(format!("{}.{} {scope:?}: {verdict}", column.table, column.name)),
                    Err(why) => slipped.push(format!("{}.{} {scope:?}: {why}", column.table, column.name)),
                }
            }
        }
        (judged, slipped)
    };
    let (first, second) = columns.split_at(columns.len() / 2);
    let ((mut judged, mut slipped), (judged_2, slipped_2)) = std::thread::scope(|scope| {
        let other = scope.spawn(|| judge_half(second));
        (judge_half(first), other.join().unwrap())
    });
    judged.extend(judged_2);
    slipped.extend(slipped_2);
    let tables: std::collections::BTreeSet<&str> = columns.iter().map(|c| c.table.as_str()).collect();
    for table in &tables {
        assert!(
            t.scalar(&format!("SELECT count(*) FROM {table}")) > 0,
            "{table} holds no row: its columns were not edited"
        );
    }
    eprintln!(
        "{} columns of {} tables judged:\n{}",
        columns.len(),
        tables.len(),
        judged.join("\n")
    );
    assert!(
        slipped.is_empty(),
        "edits that slipped through:\n{}",
        slipped.join("\n\n")
    );
}

both_backends!(every_column_is_covered_or_recomputed);
