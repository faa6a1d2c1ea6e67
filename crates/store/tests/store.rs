//! One suite, run against both backends: import, idempotency, close, late usage,
//! concurrency, proofs and offline verification. Fixtures are the spec's examples.

mod common;

use std::path::PathBuf;

use revshare_core::contract::Contract;
use revshare_core::event::{parse_time, Timestamp, UsageEvent};
use revshare_core::merkle;
use revshare_core::money::Decimal;
use revshare_core::period::{Day, Period};
use revshare_core::rating::{rate_events, KeyedFacts};
use revshare_core::statement::Statement;
use revshare_core::tables::{Contributions, FxTable};
use revshare_core::verify::{verify_inclusion, verify_statement};
use revshare_ingest::offline::UsageInput;
use revshare_store::backend::{ContractRow, ContributionRow, FxRow};
use revshare_store::close::{close, Closed};
use revshare_store::import::{import, ImportSummary, Rejected};
use revshare_store::Store;

use common::TestStore;

fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/spec-examples")
            .join(relative),
    )
    .unwrap()
}

const CONTRACTS: [&str; 3] = [
    "contracts/acme-llama.toml",
    "contracts/nimbus-llama.toml",
    "contracts/orbit-llama.toml",
];

/// Stores the small example's contracts, FX rates and contributions.
fn load_terms(store: &mut Store) {
    let backend = store.backend();
    for file in CONTRACTS {
        let bytes = fixture(file);
        let contract = Contract::from_toml(file, &bytes).unwrap();
        backend
            .add_contract(&ContractRow::of(&contract, file, &bytes, "2026-11-01T00:00:00Z"))
            .unwrap();
    }
    let fx = FxTable::from_csv("fx.csv", &fixture("fx.csv")).unwrap();
    backend.add_fx(&FxRow::all(&fx)).unwrap();
    for c in Contributions::from_csv("c.csv", &fixture("contributions.csv"))
        .unwrap()
        .rows
    {
        backend
            .add_contribution(&ContributionRow {
                number: 0,
                contract: c.contract,
                by: c.by.as_str().into(),
                kind: c.kind.as_str().into(),
                date: c.date.0,
                status: c.status.as_str().into(),
                reference: c.reference,
                proposed_at: "2026-11-01T00:00:00Z".into(),
                decided_at: None,
            })
            .unwrap();
    }
}

fn at(text: &str) -> Timestamp {
    parse_time(text).unwrap()
}

fn import_lines(t: &TestStore, store: &mut Store, lines: &[&[u8]], now: Timestamp) -> (ImportSummary, Vec<Rejected>) {
    let keys = t.keys();
    let mut text = Vec::new();
    for line in lines {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    let mut rejected = Vec::new();
    let summary = import(
        store.backend(),
        &keys,
        vec![UsageInput {
            name: "u.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(text)),
        }],
        now,
        &mut |_| {},
        &mut |r| rejected.push(r.clone()),
    )
    .unwrap();
    (summary, rejected)
}

fn close_at(t: &TestStore, store: &mut Store, period: &str, now: &str) -> Vec<Closed> {
    close(
        store.backend(),
        &t.keys(),
        Period::parse(period).unwrap(),
        None,
        at(now).seconds,
        0,
        now,
    )
    .unwrap()
}

fn statement(closed: &Closed) -> Statement {
    serde_json::from_str(&closed.row.json).unwrap()
}

fn contains(line: &[u8], needle: &str) -> bool {
    line.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn small_lines(usage: &[u8]) -> Vec<&[u8]> {
    usage.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect()
}

/// The fields `revshare rate` prints: a closed statement without its closing fields.
fn as_rated(mut s: Statement) -> serde_json::Value {
    s.statement_id = None;
    s.contract_sha256 = None;
    s.closed_at = None;
    s.signature = None;
    serde_json::to_value(s).unwrap()
}

/// Closing October gives acme-llama's statement of expected-small.json.
fn assert_acme_october_is_the_examples(t: &TestStore, store: &mut Store) {
    let closed = close_at(t, store, "2026-10", "2027-02-01T00:00:00Z");
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&fixture("expected-small.json")).unwrap();
    let acme = closed
        .iter()
        .find(|c| c.row.statement_id == "acme-llama/2026-10")
        .unwrap();
    assert_eq!(as_rated(statement(acme)), expected[1]);
}

fn close_matches_rate_on_the_examples(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let usage = fixture("usage-small.ndjson");
    let (summary, rejected) = import_lines(t, &mut store, &small_lines(&usage), at("2026-11-29T00:00:00Z"));
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(summary.read, 3000);
    assert!(summary.duplicates > 0);
    let mut closed = Vec::new();
    for period in ["2026-09", "2026-10", "2026-Q4"] {
        closed.extend(close_at(t, &mut store, period, "2027-02-01T00:00:00Z"));
    }
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&fixture("expected-small.json")).unwrap();
    assert_eq!(closed.len(), expected.len());
    let public = t.keys().public();
    for want in expected {
        let id = format!(
            "{}/{}",
            want["contract"].as_str().unwrap(),
            want["period"].as_str().unwrap()
        );
        let got = closed
            .iter()
            .find(|c| c.row.statement_id == id)
            .unwrap_or_else(|| panic!("{id} not closed"));
        let s = statement(got);
        verify_statement(&s, &public).unwrap();
        let file = CONTRACTS.iter().find(|f| f.contains(s.contract.as_str())).unwrap();
        assert_eq!(
            s.contract_sha256.as_deref(),
            Some(Contract::from_toml(file, &fixture(file)).unwrap().sha256.as_str())
        );
        assert_eq!(as_rated(s), want, "{id}");
    }
}

fn imports_are_idempotent_and_conflicts_never_overwrite(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let usage = fixture("usage-small.ndjson");
    let lines = small_lines(&usage);
    let now = at("2026-11-29T00:00:00Z");
    let (first, _) = import_lines(t, &mut store, &lines, now);
    let (second, _) = import_lines(t, &mut store, &lines, now);
    assert_eq!(second.accepted, 0);
    assert_eq!(second.duplicates, 3000);
    assert_eq!(first.accepted + first.duplicates, 3000);
    let original = String::from_utf8(lines[0].to_vec()).unwrap();
    let changed = original.replacen("\"requests\":", "\"requests\":1", 1);
    let future = original.replacen("\"id\":\"", "\"id\":\"future-", 1).replacen(
        "2026-10-16T16:21:55.483Z",
        "2026-11-29T00:05:01Z",
        1,
    );
    let content = original.replacen("\"id\":\"", "\"id\":\"content-", 1).replacen(
        "\"region\":",
        "\"prompt\":\"hi\",\"region\":",
        1,
    );
    let (third, rejected) = import_lines(
        t,
        &mut store,
        &[changed.as_bytes(), future.as_bytes(), content.as_bytes()],
        now,
    );
    assert_eq!((third.accepted, third.conflicts, third.rejected), (0, 1, 2));
    let codes: Vec<&str> = rejected.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, vec!["conflict", "time_in_future", "content_field"]);
    // The first version stands: closing gives the example's numbers.
    assert_acme_october_is_the_examples(t, &mut store);
}

fn closing_is_refused_before_the_period_ends_and_idempotent_after(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let error = close(
        store.backend(),
        &t.keys(),
        Period::parse("2026-11").unwrap(),
        None,
        at("2026-11-29T12:00:00Z").seconds,
        0,
        "x",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("cannot be closed yet: it ends at 2026-12-01T00:00:00Z"),
        "{error}"
    );
    let first = close_at(t, &mut store, "2026-10", "2026-11-29T00:00:00Z");
    let again = close_at(t, &mut store, "2026-10", "2026-11-30T00:00:00Z");
    assert!(first.iter().all(|c| c.new) && again.iter().all(|c| !c.new));
    assert_eq!(
        first.iter().map(|c| &c.row).collect::<Vec<_>>(),
        again.iter().map(|c| &c.row).collect::<Vec<_>>()
    );
}

fn concurrent_closes_store_one_statement(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let usage = fixture("usage-small.ndjson");
    import_lines(t, &mut store, &small_lines(&usage), at("2026-11-29T00:00:00Z"));
    let results: Vec<Vec<Closed>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                scope.spawn(move || {
                    let mut own = t.open();
                    let now = format!("2026-11-29T00:00:0{i}Z");
                    close_at(t, &mut own, "2026-10", &now)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for closed in &results[1..] {
        assert_eq!(
            closed.iter().map(|c| &c.row).collect::<Vec<_>>(),
            results[0].iter().map(|c| &c.row).collect::<Vec<_>>()
        );
    }
    let created: usize = results.iter().flatten().filter(|c| c.new).count();
    assert_eq!(created, 2, "each of the two statements is created exactly once");
    assert_eq!(store.backend().statements().unwrap().len(), 2);
}

fn late_usage_settles_as_a_prior_period_adjustment(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let usage = fixture("usage-small.ndjson");
    let lines = small_lines(&usage);
    // Hold back every third September event: it arrives after September closes.
    let is_late = |i: usize, line: &[u8]| i.is_multiple_of(3) && contains(line, "\"time\":\"2026-09");
    let on_time: Vec<&[u8]> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| !is_late(*i, l))
        .map(|(_, l)| *l)
        .collect();
    let late: Vec<&[u8]> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| is_late(*i, l))
        .map(|(_, l)| *l)
        .collect();
    assert!(!late.is_empty());
    let now = at("2026-11-29T00:00:00Z");
    import_lines(t, &mut store, &on_time, now);
    let september = close_at(t, &mut store, "2026-09", "2026-11-29T00:00:00Z");
    let (summary, _) = import_lines(t, &mut store, &late, now);
    assert!(summary.late > 0);
    let october = close_at(t, &mut store, "2026-10", "2026-11-29T01:00:00Z");

    // Closed statements never change.
    for closed in &september {
        assert_eq!(
            store
                .backend()
                .statement(&closed.row.statement_id)
                .unwrap()
                .unwrap()
                .json,
            closed.row.json
        );
    }
    // The adjustment is re-rated September minus closed September, per beneficiary.
    let inputs = revshare_store::rating_inputs(store.backend()).unwrap();
    let events: Vec<UsageEvent<'_>> = lines.iter().map(|l| UsageEvent::parse(l).unwrap()).collect();
    let keyed: Vec<KeyedFacts<'_>> = events.iter().map(|e| KeyedFacts::of(e, e.leaf_hash())).collect();
    let rerated = rate_events(&inputs, &keyed, Some(Period::parse("2026-09").unwrap()));
    for closed in &september {
        let old = statement(closed);
        let new = rerated.iter().find(|r| r.statement.contract == old.contract).unwrap();
        let oct = october.iter().find(|c| c.row.contract == old.contract).unwrap();
        let oct = statement(oct);
        verify_statement(&oct, &t.keys().public()).unwrap();
        let adjustment = oct
            .adjustments
            .iter()
            .find(|a| a.kind == "prior_period")
            .expect("a prior-period adjustment");
        assert_eq!(adjustment.period.as_deref(), Some("2026-09"));
        let d = |s: &str| Decimal::parse(s, 12).unwrap();
        assert_eq!(d(&adjustment.amount), new.total.sub(&d(&old.total)), "{}", old.contract);
        for (beneficiary, part) in adjustment.payouts.as_ref().unwrap() {
            let before = old.payouts.get(beneficiary).map_or(Decimal::zero(), |p| d(p));
            assert_eq!(d(part), new.payouts[beneficiary].sub(&before), "{beneficiary}");
        }
        // Its tree covers exactly the late events this contract selects.
        let host = &old.host;
        let mut late_leaves: Vec<(String, String, merkle::Hash)> = late
            .iter()
            .map(|l| UsageEvent::parse(l).unwrap())
            .filter(|e| &*e.data.host == host.as_str() && Day(e.time_utc.utc_day()) < Day::parse("2026-10-01").unwrap())
            .map(|e| (e.source.to_string(), e.id.to_string(), e.leaf_hash()))
            .collect();
        late_leaves.sort();
        late_leaves.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let hashes: Vec<merkle::Hash> = late_leaves.iter().map(|l| l.2).collect();
        assert_eq!(adjustment.events, Some(hashes.len() as u64));
        assert_eq!(
            adjustment.merkle_root.as_deref(),
            Some(hex::encode(merkle::root(&hashes)).as_str())
        );
        // And a late event is provable in the adjustment's own tree.
        let (source, id, _) = &late_leaves[0];
        let proof =
            revshare_store::prove::prove(store.backend(), oct.statement_id.as_deref().unwrap(), source, id).unwrap();
        assert_eq!(proof.tree, "prior_period:2026-09");
        let line = late
            .iter()
            .find(|l| UsageEvent::parse(l).unwrap().id == id.as_str())
            .unwrap();
        verify_inclusion(&oct, line, &proof).unwrap();
    }
}

fn proofs_verify_and_tampering_is_caught(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let usage = fixture("usage-small.ndjson");
    let lines = small_lines(&usage);
    import_lines(t, &mut store, &lines, at("2026-11-29T00:00:00Z"));
    close_at(t, &mut store, "2026-10", "2026-11-29T00:00:00Z");
    let public = t.keys().public();
    let line = lines
        .iter()
        .find(|l| contains(l, "\"host\":\"acme-cloud\"") && contains(l, "\"time\":\"2026-10"))
        .unwrap();
    let event = UsageEvent::parse(line).unwrap();
    let proof = revshare_store::prove::prove(store.backend(), "acme-llama/2026-10", &event.source, &event.id).unwrap();
    let row = store.backend().statement("acme-llama/2026-10").unwrap().unwrap();
    let good: Statement = serde_json::from_str(&row.json).unwrap();
    verify_statement(&good, &public).unwrap();
    verify_inclusion(&good, line, &proof).unwrap();

    let mut tampered = good.clone();
    tampered.total = "0.00".into();
    assert!(verify_statement(&tampered, &public)
        .unwrap_err()
        .to_string()
        .contains("does not match"));
    let altered = String::from_utf8(line.to_vec())
        .unwrap()
        .replacen("\"requests\":", "\"requests\":9", 1);
    assert!(verify_inclusion(&good, altered.as_bytes(), &proof)
        .unwrap_err()
        .to_string()
        .contains("differs from the one counted"));
    let other = store.backend().statement("nimbus-llama/2026-10").unwrap().unwrap();
    let other: Statement = serde_json::from_str(&other.json).unwrap();
    assert!(verify_inclusion(&other, line, &proof)
        .unwrap_err()
        .to_string()
        .contains("is for statement acme-llama/2026-10"));
    let mut moved = proof.clone();
    moved.statement_id = "nimbus-llama/2026-10".into();
    assert!(verify_inclusion(&other, line, &moved).is_err());
    let missing = revshare_store::prove::prove(store.backend(), "acme-llama/2026-10", "nobody", "nothing").unwrap_err();
    assert!(missing.to_string().contains("is not counted"));
}

fn concurrent_imports_count_every_event_once(t: &TestStore) {
    let mut store = t.open();
    load_terms(&mut store);
    let usage = fixture("usage-small.ndjson");
    let lines = small_lines(&usage);
    let now = at("2026-11-29T00:00:00Z");
    // Three importers send overlapping data at once (as retries across API servers
    // would): every key is claimed once, and none deadlocks.
    let summaries: Vec<ImportSummary> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let mut mine: Vec<&[u8]> = lines.clone();
                mine.rotate_left(i * 1000);
                scope.spawn(move || {
                    let mut own = t.open();
                    import_lines(t, &mut own, &mine, now).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted: u64 = summaries.iter().map(|s| s.accepted).sum();
    let events: Vec<UsageEvent<'_>> = lines.iter().map(|l| UsageEvent::parse(l).unwrap()).collect();
    let distinct: std::collections::HashSet<(&str, &str)> = events.iter().map(|e| (&*e.source, &*e.id)).collect();
    assert_eq!(accepted, distinct.len() as u64);
    assert!(summaries
        .iter()
        .all(|s| s.conflicts == 0 && s.accepted + s.duplicates == 3000));
    assert_acme_october_is_the_examples(t, &mut store);
}

both_backends!(
    concurrent_imports_count_every_event_once,
    close_matches_rate_on_the_examples,
    imports_are_idempotent_and_conflicts_never_overwrite,
    closing_is_refused_before_the_period_ends_and_idempotent_after,
    concurrent_closes_store_one_statement,
    late_usage_settles_as_a_prior_period_adjustment,
    proofs_verify_and_tampering_is_caught,
);
