//! Keyed reads give what whole-table reads gave, on both backends: a close of one
//! contract reads only its statements, disputes and the voids of the days it rates,
//! and rates as a close of every contract does (and as `audit verify`, which reads
//! everything, re-rates); an idempotency key names the batch that holds its event,
//! and `locate` and a conflict at import read that one segment with the same
//! answers as the host-day scan that keys stored before it keep.

mod common;

use revshare_app::close::{close, CloseOutcome, CloseRequest, Grace};
use revshare_app::import::{import, Observers, Rejected};
use revshare_app::verify_store::verify;
use revshare_app::{Actor, Backend};
use revshare_core::period::Period;
use revshare_ingest::offline::UsageInput;

use common::scenario::{first_event, fixture, prepared, NOW};
use common::{ctx, TestStore};

/// When November may close.
const DECEMBER: &str = "2026-12-02T00:00:00Z";

/// Usage of acme-cloud (late for October, and November's), tagged `tag`: `revenue`
/// per event.
fn usage(tag: &str, revenue: &str) -> String {
    [("late", "2026-10-21"), ("nov", "2026-11-12")]
        .iter()
        .flat_map(|(when, day)| {
            (0..3).map(move |i| {
                format!(
                    r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us","id":"{tag}-{when}-{i}","time":"{day}T08:00:0{i}Z","data":{{"host":"acme-cloud","model":"llama-3.1-8b-instruct","use_case":"chat","customer":"c-{i}","requests":1,"input_tokens":100,"output_tokens":50,"revenue":"{revenue}","currency":"USD"}}}}"#
                ) + "\n"
            })
        })
        .collect()
}

/// Imports `text`, returning what was refused.
fn import_text(t: &TestStore, backend: &mut dyn Backend, text: String) -> Vec<Rejected> {
    let operator = Actor::cli();
    let mut refused = Vec::new();
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
            rejected: &mut |r| refused.push(r.clone()),
        },
    )
    .unwrap();
    refused
}

fn november(t: &TestStore, backend: &mut dyn Backend, contract: Option<&str>, dry_run: bool) -> CloseOutcome {
    let operator = Actor::cli();
    let request = CloseRequest {
        period: Period::parse("2026-11").unwrap(),
        contract: contract.map(str::to_string),
        grace: Grace::default(),
        dry_run,
        allow_empty: true,
        settlement_start: true,
    };
    close(backend, &t.keys(), ctx(&operator, DECEMBER), &request).unwrap()
}

/// Each statement of an outcome, by id, as JSON.
fn by_id(outcome: &CloseOutcome) -> Vec<(String, String)> {
    let mut statements: Vec<(String, String)> = outcome
        .statements
        .iter()
        .map(|s| (s.statement_id.to_string(), s.json.clone()))
        .collect();
    statements.sort();
    statements
}

/// A store whose November close has late October events and a void made after
/// October closed to settle (prior-period adjustments with `voided:` trees).
fn with_pending(t: &TestStore) -> Box<dyn Backend> {
    let mut backend = prepared(t);
    let refused = import_text(t, backend.as_mut(), usage("a", "2.500000"));
    assert!(refused.is_empty(), "{refused:?}");
    let (source, id) = first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-10");
    let operator = Actor::cli();
    revshare_app::void::void(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, NOW),
        &source,
        &id,
        "sent twice",
    )
    .unwrap();
    backend
}

fn a_close_of_one_contract_rates_as_a_close_of_all(t: &TestStore) {
    let mut backend = with_pending(t);
    let all = november(t, backend.as_mut(), None, true);
    let contracts: Vec<String> = all.contracts.iter().map(|c| c.contract.clone()).collect();
    assert!(contracts.len() > 1, "{contracts:?}");
    let all = by_id(&all);
    assert!(
        all.iter()
            .any(|(_, json)| json.contains("\"prior_period\"") && json.contains("\"voided\": {")),
        "November settles October's late events and void: {all:?}"
    );
    let mut alone = Vec::new();
    for contract in &contracts {
        alone.extend(by_id(&november(t, backend.as_mut(), Some(contract), true)));
    }
    alone.sort();
    assert_eq!(alone, all, "each contract's dry run alone rates as the dry run of all");

    // Signed one contract at a time: `audit verify` re-rates each with every row
    // of the store and finds the same statements.
    for contract in &contracts {
        november(t, backend.as_mut(), Some(contract), false);
    }
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
    assert!(report.rerated >= contracts.len() as u64 + 2);
}

/// The events `locate` is asked about: counted, voided, late, and of each host.
fn events_asked_about() -> Vec<(String, String)> {
    let usage = fixture("usage-small.ndjson");
    let mut events = vec![
        first_event(&usage, "acme-cloud", "2026-09"),
        first_event(&usage, "acme-cloud", "2026-10"),
        first_event(&usage, "nimbus-ai", "2026-10"),
        ("acme-cloud/us".to_string(), "a-late-1".to_string()),
        ("acme-cloud/us".to_string(), "a-nov-2".to_string()),
        ("acme-cloud/us".to_string(), "never-sent".to_string()),
    ];
    events.dedup();
    events
}

fn locate_all(backend: &mut dyn Backend) -> Vec<revshare_app::locate::Located> {
    events_asked_about()
        .iter()
        .map(|(source, id)| revshare_app::locate::locate(backend, &Actor::cli(), source, id).unwrap())
        .collect()
}

fn keys_name_their_batch_and_answer_as_the_host_day_scan(t: &TestStore) {
    let mut backend = with_pending(t);
    november(t, backend.as_mut(), None, false);
    assert_eq!(t.scalar("SELECT count(*) FROM event_keys WHERE batch IS NULL"), 0);
    assert!(t.scalar("SELECT count(*) FROM event_keys") > 0);
    let located = locate_all(backend.as_mut());
    assert!(located.iter().any(|l| !l.places.is_empty()));
    // The same events again, with other content: conflicts naming what differs.
    let conflicts = import_text(t, backend.as_mut(), usage("a", "3.000000"));
    assert_eq!(conflicts.len(), 6, "{conflicts:?}");
    assert!(
        conflicts.iter().all(|r| r.reason.contains("data.revenue differ")),
        "{conflicts:?}"
    );

    // Keys stored before keys named their batch read their host's day.
    t.tamper("UPDATE event_keys SET batch = NULL");
    assert_eq!(locate_all(backend.as_mut()), located);
    let scanned = import_text(t, backend.as_mut(), usage("a", "3.000000"));
    let reasons = |r: &[Rejected]| r.iter().map(|r| r.reason.clone()).collect::<Vec<_>>();
    assert_eq!(reasons(&scanned), reasons(&conflicts));
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "keys without a batch hold: {:#?}", report.failures);
}

both_backends!(
    a_close_of_one_contract_rates_as_a_close_of_all,
    keys_name_their_batch_and_answer_as_the_host_day_scan,
);
