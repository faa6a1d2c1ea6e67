//! One suite, run against both backends: import, idempotency, close, late usage,
//! voids, corrections, concurrency, proofs, reproducible closes and offline
//! verification. Fixtures are the spec's examples.

mod common;

use std::path::PathBuf;

use revshare_app::close::{close, CloseRequest, Closed, Grace};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::import::{import, ImportSummary, Observers, Rejected};
use revshare_app::{Actor, AppError, Backend, Field};
use revshare_core::contract::Contract;
use revshare_core::event::UsageEvent;
use revshare_core::merkle;
use revshare_core::money::Decimal;
use revshare_core::period::{Day, Period};
use revshare_core::rating::{rate_events, KeyedFacts, RatingInputs};
use revshare_core::records::Role;
use revshare_core::statement::{AdjustmentKind, Reason, Statement};
use revshare_core::tables::{ContributionStatus, Contributions, FxTable};
use revshare_core::verify::{verify_inclusion, verify_statement_bytes, VerifiedStatement};
use revshare_ingest::offline::UsageInput;

use common::{ctx, TestStore};

pub fn fixture(relative: &str) -> Vec<u8> {
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

const SETUP: &str = "2026-09-01T00:00:00Z";

/// Stores the small example's contracts, FX rates and contributions.
fn load_terms(t: &TestStore, backend: &mut dyn Backend) {
    let operator = Actor::cli();
    let keys = t.keys();
    let ctx = ctx(&operator, SETUP);
    for file in CONTRACTS {
        revshare_app::contracts::add_version(backend, &keys, ctx, file, &fixture(file)).unwrap();
    }
    revshare_app::tables::add_fx(backend, &keys, ctx, "fx.csv", &fixture("fx.csv")).unwrap();
    for c in Contributions::from_csv("c.csv", &fixture("contributions.csv"))
        .unwrap()
        .rows
    {
        let proposal = Proposal {
            contract: c.contract,
            by: c.by,
            kind: c.kind,
            date: c.date,
            reference: c.reference,
        };
        let row = revshare_app::contributions::propose(backend, &keys, ctx, &proposal).unwrap();
        let decision = match c.status {
            ContributionStatus::Accepted => Some(Decision::Accept),
            ContributionStatus::Rejected => Some(Decision::Reject),
            ContributionStatus::Proposed => None,
        };
        if let Some(decision) = decision {
            revshare_app::contributions::decide(backend, &keys, ctx, row.number, decision).unwrap();
        }
    }
}

fn import_lines(
    t: &TestStore,
    backend: &mut dyn Backend,
    lines: &[&[u8]],
    now: &str,
) -> (ImportSummary, Vec<Rejected>) {
    let keys = t.keys();
    let mut text = Vec::new();
    for line in lines {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    let mut rejected = Vec::new();
    let operator = Actor::cli();
    let summary = import(
        backend,
        &keys,
        ctx(&operator, now),
        vec![UsageInput {
            name: "u.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(text)),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |r| rejected.push(r.clone()),
        },
    )
    .unwrap();
    (summary, rejected)
}

/// A close request. The examples' contracts start before the usage does (acme-llama
/// in January, nimbus-llama in July with a minimum guarantee): these tests start
/// settlement mid-term, and confirm it (`settlement_start`).
fn request(period: &str) -> CloseRequest {
    CloseRequest {
        settlement_start: true,
        ..unconfirmed(period)
    }
}

/// A close request that does not confirm where settlement starts.
fn unconfirmed(period: &str) -> CloseRequest {
    CloseRequest {
        period: Period::parse(period).unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: false,
        settlement_start: false,
    }
}

fn close_with(
    t: &TestStore,
    backend: &mut dyn Backend,
    request: &CloseRequest,
    now: &str,
) -> Result<Vec<Closed>, AppError> {
    let operator = Actor::cli();
    close(backend, &t.keys(), ctx(&operator, now), request).map(|outcome| outcome.statements)
}

fn try_close(t: &TestStore, backend: &mut dyn Backend, period: &str, now: &str) -> Result<Vec<Closed>, AppError> {
    let operator = Actor::cli();
    close(backend, &t.keys(), ctx(&operator, now), &request(period)).map(|outcome| outcome.statements)
}

fn close_at(t: &TestStore, backend: &mut dyn Backend, period: &str, now: &str) -> Vec<Closed> {
    try_close(t, backend, period, now).unwrap()
}

fn verified(t: &TestStore, closed: &Closed) -> VerifiedStatement {
    verify_statement_bytes(closed.json.as_bytes(), &[t.keys().public()]).unwrap()
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
    s.due_date = None;
    s.audit_head = None;
    s.signature = None;
    serde_json::to_value(s).unwrap()
}

/// Every closed statement re-rated as of its close reproduces its stored bytes
/// (everything but the signature), and `audit verify` holds.
fn assert_reproducible(backend: &mut dyn Backend) {
    for row in backend.statements().unwrap() {
        let rerated = revshare_app::verify_store::rerated_json(backend, &row.statement_id).unwrap();
        let mut stored: Statement = serde_json::from_str(&row.json).unwrap();
        stored.signature = None;
        assert_eq!(rerated, stored.to_json_pretty(), "{} re-rated", row.statement_id);
    }
    let report = revshare_app::verify_store::verify(backend, &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

fn close_matches_rate_on_the_examples(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let usage = fixture("usage-small.ndjson");
    let (summary, rejected) = import_lines(t, backend.as_mut(), &small_lines(&usage), "2026-11-29T00:00:00Z");
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(summary.read, 3000);
    assert!(summary.duplicates > 0);
    let mut closed = Vec::new();
    for period in ["2026-09", "2026-10", "2026-Q4"] {
        closed.extend(close_at(t, backend.as_mut(), period, "2027-02-01T00:00:00Z"));
    }
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&fixture("expected-small.json")).unwrap();
    assert_eq!(closed.len(), expected.len());
    for want in expected {
        let id = format!(
            "{}/{}",
            want["contract"].as_str().unwrap(),
            want["period"].as_str().unwrap()
        );
        let got = closed
            .iter()
            .find(|c| c.statement_id == id)
            .unwrap_or_else(|| panic!("{id} not closed"));
        let s = verified(t, got).into_statement();
        let file = CONTRACTS.iter().find(|f| f.contains(s.contract.as_str())).unwrap();
        assert_eq!(
            s.contract_sha256.as_deref(),
            Some(Contract::from_toml(file, &fixture(file)).unwrap().sha256.as_str())
        );
        assert_eq!(s.closed_at.as_deref(), Some("2027-02-01T00:00:00Z"));
        assert!(s.audit_head.is_some());
        assert_eq!(as_rated(s), want, "{id}");
    }
    assert_reproducible(backend.as_mut());
}

fn imports_are_idempotent_and_conflicts_never_overwrite(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let usage = fixture("usage-small.ndjson");
    let lines = small_lines(&usage);
    let now = "2026-11-29T00:00:00Z";
    let (first, _) = import_lines(t, backend.as_mut(), &lines, now);
    let (second, _) = import_lines(t, backend.as_mut(), &lines, now);
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
        backend.as_mut(),
        &[changed.as_bytes(), future.as_bytes(), content.as_bytes()],
        now,
    );
    assert_eq!((third.accepted, third.conflicts, third.rejected), (0, 1, 2));
    let codes: Vec<&str> = rejected.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, vec!["conflict", "time_in_future", "content_field"]);
    assert!(
        rejected[0].reason.contains("data.requests differ"),
        "{}",
        rejected[0].reason
    );
    assert!(
        rejected.iter().all(|r| r.id.is_some()),
        "ids are reported whenever readable"
    );
    // The first version stands: closing gives the example's numbers.
    let closed = close_at(t, backend.as_mut(), "2026-10", "2027-02-01T00:00:00Z");
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&fixture("expected-small.json")).unwrap();
    let acme = closed.iter().find(|c| c.statement_id == "acme-llama/2026-10").unwrap();
    assert_eq!(as_rated(acme.statement.clone()), expected[1]);
}

fn closing_is_refused_before_the_period_ends_and_idempotent_after(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let error = try_close(t, backend.as_mut(), "2026-11", "2026-11-29T12:00:00Z")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot be closed yet: it ends at 2026-12-01T00:00:00Z"),
        "{error}"
    );
    let first = close_at(t, backend.as_mut(), "2026-10", "2026-11-29T00:00:00Z");
    let again = close_at(t, backend.as_mut(), "2026-10", "2026-11-30T00:00:00Z");
    assert!(first.iter().all(|c| c.signed_now()) && again.iter().all(|c| !c.signed_now()));
    let bytes = |closed: &[Closed]| closed.iter().map(|c| c.json.clone()).collect::<Vec<_>>();
    assert_eq!(bytes(&first), bytes(&again));
}

fn a_grace_delays_the_close_and_bad_graces_are_refused(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    for bad in [-1, -2_000_000, i64::MAX, Grace::MAX_SECONDS + 1] {
        let error = Grace::new(bad).unwrap_err();
        assert!(
            matches!(&error, AppError::InvalidField(Field::GraceSeconds, message) if message.contains(&bad.to_string())),
            "{error}"
        );
    }
    let operator = Actor::cli();
    let mut early = request("2026-10");
    early.grace = Grace::new(3600).unwrap();
    let error = close(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-01T00:30:00Z"),
        &early,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("plus a grace of 3600 s (2026-11-01T01:00:00Z)"),
        "{error}"
    );
    assert!(backend.statements().unwrap().is_empty(), "nothing stored");
    close(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-01T01:00:00Z"),
        &early,
    )
    .unwrap();
}

fn concurrent_closes_store_one_statement(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let usage = fixture("usage-small.ndjson");
    import_lines(t, backend.as_mut(), &small_lines(&usage), "2026-11-29T00:00:00Z");
    let results: Vec<Vec<Closed>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                scope.spawn(move || {
                    let mut own = t.open();
                    close_at(t, own.as_mut(), "2026-10", &format!("2026-11-29T00:00:0{i}Z"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for closed in &results[1..] {
        let json = |c: &[Closed]| c.iter().map(|c| c.json.clone()).collect::<Vec<_>>();
        assert_eq!(json(closed), json(&results[0]));
    }
    let created: usize = results.iter().flatten().filter(|c| c.signed_now()).count();
    assert_eq!(created, 2, "each of the two statements is created exactly once");
    assert_eq!(backend.statements().unwrap().len(), 2);
}

/// Splits the small example's lines: every third September event held back.
fn split_late(lines: &[&'static [u8]]) -> (Vec<&'static [u8]>, Vec<&'static [u8]>) {
    let is_late = |i: usize, line: &[u8]| i.is_multiple_of(3) && contains(line, "\"time\":\"2026-09");
    let (mut on_time, mut late) = (Vec::new(), Vec::new());
    for (i, line) in lines.iter().enumerate() {
        if is_late(i, line) {
            late.push(*line)
        } else {
            on_time.push(*line)
        }
    }
    (on_time, late)
}

fn leaked_lines() -> Vec<&'static [u8]> {
    let usage: &'static [u8] = Box::leak(fixture("usage-small.ndjson").into_boxed_slice());
    small_lines(usage)
}

fn rated_september(inputs: &RatingInputs, lines: &[&[u8]]) -> Vec<revshare_core::rating::Rated> {
    let events: Vec<UsageEvent<'_>> = lines.iter().map(|l| UsageEvent::parse(l).unwrap()).collect();
    let keyed: Vec<KeyedFacts<'_>> = events.iter().map(|e| KeyedFacts::of(e, e.leaf_hash())).collect();
    rate_events(inputs, &keyed, Some(Period::parse("2026-09").unwrap()))
}

fn example_inputs() -> RatingInputs {
    let mut loaded = Vec::new();
    for file in CONTRACTS {
        loaded.push((file.to_string(), Contract::from_toml(file, &fixture(file)).unwrap()));
    }
    RatingInputs {
        contracts: revshare_core::contract::ContractSet::new(loaded).unwrap(),
        fx: FxTable::from_csv("fx.csv", &fixture("fx.csv")).unwrap(),
        contributions: Contributions::from_csv("c.csv", &fixture("contributions.csv")).unwrap(),
        registry: None,
    }
}

fn late_usage_settles_as_a_prior_period_adjustment(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    let (on_time, late) = split_late(&lines);
    assert!(!late.is_empty());
    import_lines(t, backend.as_mut(), &on_time, "2026-11-29T00:00:00Z");
    let september = close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    let (summary, _) = import_lines(t, backend.as_mut(), &late, "2026-11-29T00:00:00Z");
    assert!(summary.late > 0 && summary.late <= summary.accepted);
    let october = close_at(t, backend.as_mut(), "2026-10", "2026-11-29T01:00:00Z");

    // Closed statements never change.
    for closed in &september {
        assert_eq!(
            backend.statement(&closed.statement_id).unwrap().unwrap().json,
            closed.json
        );
    }
    // The adjustment is re-rated September minus closed September, per beneficiary.
    let rerated = rated_september(&example_inputs(), &lines);
    for closed in &september {
        let old = &closed.statement;
        let new = rerated.iter().find(|r| r.statement.contract == old.contract).unwrap();
        let oct = october.iter().find(|c| c.statement.contract == old.contract).unwrap();
        let oct = verified(t, oct);
        let adjustment = oct
            .statement()
            .adjustments
            .iter()
            .find(|a| a.kind == AdjustmentKind::PriorPeriod)
            .expect("a prior-period adjustment");
        assert_eq!(adjustment.period.as_deref(), Some("2026-09"));
        assert_eq!(adjustment.reasons.as_deref(), Some(&[Reason::LateEvents][..]));
        let d = |s: &str| Decimal::parse(s, 12).unwrap();
        assert_eq!(d(&adjustment.amount), new.total.sub(&d(&old.total)), "{}", old.contract);
        for (beneficiary, part) in adjustment.payouts.as_ref().unwrap() {
            let before = old.payouts.get(beneficiary).map_or(Decimal::zero(), |p| d(p));
            assert_eq!(d(part), new.payouts[beneficiary].sub(&before), "{beneficiary}");
        }
        // Its tree covers exactly the late events this contract selects.
        let mut late_leaves: Vec<(String, String, merkle::Hash)> = late
            .iter()
            .map(|l| UsageEvent::parse(l).unwrap())
            .filter(|e| *e.data.host == *old.host && Day(e.time_utc.utc_day()) < Day::parse("2026-10-01").unwrap())
            .map(|e| (e.source.to_string(), e.id.to_string(), e.leaf_hash()))
            .collect();
        late_leaves.sort();
        late_leaves.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let hashes: Vec<merkle::Hash> = late_leaves.iter().map(|l| l.2).collect();
        let tree = adjustment.events.as_ref().unwrap();
        assert_eq!(tree.count, hashes.len() as u64);
        assert_eq!(tree.merkle_root, hex::encode(merkle::root(&hashes)));
        // And a late event is provable in the adjustment's own tree.
        let (source, id, _) = &late_leaves[0];
        let proof = revshare_app::statements::prove(backend.as_mut(), &Actor::cli(), oct.id(), source, id).unwrap();
        assert_eq!(proof.tree, "prior_period:2026-09");
        let line = late
            .iter()
            .find(|l| UsageEvent::parse(l).unwrap().id == id.as_str())
            .unwrap();
        verify_inclusion(&oct, line, &proof).unwrap();
    }
    assert_reproducible(backend.as_mut());
}

fn proofs_verify_and_tampering_is_caught(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    import_lines(t, backend.as_mut(), &lines, "2026-11-29T00:00:00Z");
    close_at(t, backend.as_mut(), "2026-10", "2026-11-29T00:00:00Z");
    let line = lines
        .iter()
        .find(|l| contains(l, "\"host\":\"acme-cloud\"") && contains(l, "\"time\":\"2026-10"))
        .unwrap();
    let event = UsageEvent::parse(line).unwrap();
    let proof = revshare_app::statements::prove(
        backend.as_mut(),
        &Actor::cli(),
        "acme-llama/2026-10",
        &event.source,
        &event.id,
    )
    .unwrap();
    let shown = revshare_app::statements::show(backend.as_mut(), &Actor::cli(), "acme-llama/2026-10").unwrap();
    let good = verify_statement_bytes(shown.json().as_bytes(), &[t.keys().public()]).unwrap();
    verify_inclusion(&good, line, &proof).unwrap();
    let tampered = shown.json().replacen(&good.statement().total, "0.00", 1);
    assert!(verify_statement_bytes(tampered.as_bytes(), &[t.keys().public()])
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
    let other = revshare_app::statements::show(backend.as_mut(), &Actor::cli(), "nimbus-llama/2026-10").unwrap();
    let other = verify_statement_bytes(other.json().as_bytes(), &[t.keys().public()]).unwrap();
    assert!(verify_inclusion(&other, line, &proof)
        .unwrap_err()
        .to_string()
        .contains("is for statement acme-llama/2026-10"));
    let missing = revshare_app::statements::prove(
        backend.as_mut(),
        &Actor::cli(),
        "acme-llama/2026-10",
        "nobody",
        "nothing",
    )
    .unwrap_err()
    .to_string();
    assert!(missing.contains("was never received"), "{missing}");
}

fn a_registry_version_after_a_close_leaves_every_proof_valid(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    import_lines(t, backend.as_mut(), &lines, "2026-11-29T00:00:00Z");
    close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    let september_events: Vec<UsageEvent<'_>> = lines
        .iter()
        .map(|l| UsageEvent::parse(l).unwrap())
        .filter(|e| &*e.data.host == "acme-cloud" && e.time.starts_with("2026-09"))
        .take(20)
        .collect();
    let proofs: Vec<_> = september_events
        .iter()
        .map(|e| {
            revshare_app::statements::prove(backend.as_mut(), &Actor::cli(), "acme-llama/2026-09", &e.source, &e.id)
                .unwrap()
        })
        .collect();
    let operator = Actor::cli();
    // A registry that gives every model to another licensor, from October on.
    let registry = b"pattern,licensor\n*,someone-else\n";
    let inside = revshare_app::tables::add_registry(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-29T00:00:00Z"),
        "r.csv",
        registry,
        Some(Day::parse("2026-09-01").unwrap()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        inside.contains("inside the closed statement") && inside.contains("2026-09"),
        "{inside}"
    );
    let added = revshare_app::tables::add_registry(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-29T00:00:00Z"),
        "r.csv",
        registry,
        None,
    )
    .unwrap();
    assert_eq!(added.effective_from, Day::parse("2026-10-01").unwrap());
    for (event, before) in september_events.iter().zip(&proofs) {
        let after = revshare_app::statements::prove(
            backend.as_mut(),
            &Actor::cli(),
            "acme-llama/2026-09",
            &event.source,
            &event.id,
        )
        .unwrap();
        assert_eq!(&after, before);
    }
    // October rates under the new registry: acme-llama selects nothing, which a
    // close refuses unless allowed (its September counted events).
    let empty = try_close(t, backend.as_mut(), "2026-10", "2026-11-29T00:00:00Z").unwrap_err();
    assert!(empty.to_string().contains("--allow-empty"), "{empty}");
    let mut allowed = request("2026-10");
    allowed.allow_empty = true;
    let operator = Actor::cli();
    let october = close(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-29T00:00:00Z"),
        &allowed,
    )
    .unwrap()
    .statements;
    let acme = october.iter().find(|c| c.statement.contract == "acme-llama").unwrap();
    assert_eq!(acme.statement.events.count, 0);
    assert_reproducible(backend.as_mut());
}

fn concurrent_imports_count_every_event_once(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    // Three importers send overlapping data at once (as retries across API servers
    // would): every key is claimed once, and none deadlocks.
    let summaries: Vec<ImportSummary> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let mut mine: Vec<&[u8]> = lines.clone();
                mine.rotate_left(i * 1000);
                scope.spawn(move || {
                    let mut own = t.open();
                    import_lines(t, own.as_mut(), &mine, "2026-11-29T00:00:00Z").0
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
    let report = revshare_app::verify_store::verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

fn a_tampered_earlier_statement_stops_the_next_close(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    let (on_time, late) = split_late(&lines);
    import_lines(t, backend.as_mut(), &on_time, "2026-11-29T00:00:00Z");
    let september = close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    import_lines(t, backend.as_mut(), &late, "2026-11-29T00:00:00Z");
    let acme = september
        .iter()
        .find(|c| c.statement_id == "acme-llama/2026-09")
        .unwrap();
    let total = &acme.statement.total;
    let edited = acme
        .json
        .replacen(&format!("\"total\": \"{total}\""), "\"total\": \"1.00\"", 1);
    assert_ne!(edited, acme.json);
    t.tamper(&format!(
        "UPDATE statements SET json = '{}' WHERE statement_id = 'acme-llama/2026-09'",
        edited.replace('\'', "''")
    ));
    let error = try_close(t, backend.as_mut(), "2026-10", "2026-11-29T01:00:00Z").unwrap_err();
    assert!(matches!(error, AppError::Integrity(_)), "{error}");
    assert!(error.to_string().contains("acme-llama/2026-09"), "{error}");
    assert!(
        backend.statement("acme-llama/2026-10").unwrap().is_none(),
        "nothing signed"
    );
    let shown = revshare_app::statements::show(backend.as_mut(), &Actor::cli(), "acme-llama/2026-09").unwrap_err();
    assert!(shown.to_string().contains("fails verification"), "{shown}");
}

fn late_events_of_an_ended_contract_settle_in_an_adjustment_only_statement(t: &TestStore) {
    let mut backend = t.open();
    let operator = Actor::cli();
    let setup = ctx(&operator, SETUP);
    let short = String::from_utf8(fixture("contracts/acme-llama.toml"))
        .unwrap()
        .replace("effective_to = \"2028-01-01\"", "effective_to = \"2026-10-01\"");
    revshare_app::contracts::add_version(backend.as_mut(), &t.keys(), setup, "short.toml", short.as_bytes()).unwrap();
    revshare_app::tables::add_fx(backend.as_mut(), &t.keys(), setup, "fx.csv", &fixture("fx.csv")).unwrap();
    let lines = leaked_lines();
    let (on_time, late) = split_late(&lines);
    import_lines(t, backend.as_mut(), &on_time, "2026-11-29T00:00:00Z");
    close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    // October: after the term, nothing pending: no statement.
    assert!(close_at(t, backend.as_mut(), "2026-10", "2026-11-29T00:00:00Z").is_empty());
    import_lines(t, backend.as_mut(), &late, "2026-11-29T00:00:00Z");
    let november = close_at(t, backend.as_mut(), "2026-11", "2026-12-01T00:00:00Z");
    assert_eq!(november.len(), 1);
    let s = &november[0].statement;
    assert_eq!(s.statement_id.as_deref(), Some("acme-llama/2026-11"));
    assert!(s.lines.is_empty() && s.exceptions.is_empty());
    assert_eq!(s.events.count, 0);
    assert_eq!(s.adjustments.len(), 1);
    let adjustment = &s.adjustments[0];
    assert_eq!(adjustment.kind, AdjustmentKind::PriorPeriod);
    assert!(adjustment.events.as_ref().unwrap().count > 0);
    assert_eq!(s.total, adjustment.amount);
    let payouts: std::collections::BTreeMap<String, String> = adjustment.payouts.clone().unwrap();
    assert_eq!(s.payouts, payouts);
    verified(t, &november[0]);
    assert_reproducible(backend.as_mut());
}

/// The acme-llama contract with its term ending on 2026-10-01 (September its last
/// period), the FX rates, and the small example's on-time usage; September closed.
/// The late September events, held back.
fn ended_after_september(t: &TestStore, backend: &mut dyn Backend) -> Vec<&'static [u8]> {
    let operator = Actor::cli();
    let setup = ctx(&operator, SETUP);
    let short = String::from_utf8(fixture("contracts/acme-llama.toml"))
        .unwrap()
        .replace("effective_to = \"2028-01-01\"", "effective_to = \"2026-10-01\"");
    revshare_app::contracts::add_version(backend, &t.keys(), setup, "short.toml", short.as_bytes()).unwrap();
    revshare_app::tables::add_fx(backend, &t.keys(), setup, "fx.csv", &fixture("fx.csv")).unwrap();
    let (on_time, late) = split_late(&leaked_lines());
    import_lines(t, backend, &on_time, "2026-11-29T00:00:00Z");
    close_at(t, backend, "2026-09", "2026-11-29T00:00:00Z");
    late
}

/// Issue 20, point 9 (b): a post-term period counts as closed whether or not a
/// statement was issued (statements.md), so closing it again after a later period
/// closed, with late events stored since, signs nothing: the late events belong to
/// the next close.
fn a_post_term_period_closed_again_signs_nothing_back_dated(t: &TestStore) {
    let mut backend = t.open();
    let late = ended_after_september(t, backend.as_mut());
    assert!(close_at(t, backend.as_mut(), "2026-10", "2026-12-01T00:00:00Z").is_empty());
    assert!(close_at(t, backend.as_mut(), "2026-11", "2026-12-01T00:00:00Z").is_empty());
    assert_eq!(
        backend.closed_after_term().unwrap().len(),
        2,
        "both closes are recorded"
    );
    import_lines(t, backend.as_mut(), &late, "2026-12-01T00:00:00Z");
    for period in ["2026-10", "2026-11"] {
        assert!(
            close_at(t, backend.as_mut(), period, "2026-12-02T00:00:00Z").is_empty(),
            "{period}"
        );
        let id = format!("acme-llama/{period}");
        assert!(backend.statement(&id).unwrap().is_none(), "{id} was signed back-dated");
    }
    // The next close settles them, once.
    let december = close_at(t, backend.as_mut(), "2026-12", "2027-01-02T00:00:00Z");
    assert_eq!(december.len(), 1);
    let s = &december[0].statement;
    assert_eq!(s.adjustments.len(), 1);
    assert_eq!(s.adjustments[0].period.as_deref(), Some("2026-09"));
    let acme_late = late.iter().filter(|l| contains(l, "\"host\":\"acme-cloud\"")).count();
    assert_eq!(s.adjustments[0].events.as_ref().unwrap().count, acme_late as u64);
    assert_reproducible(backend.as_mut());
}

/// Issue 20, point 9 (a): a close after the term whose re-rating of an earlier
/// period changes nothing issues no statement, but still marks that period settled
/// up to it (statements.md), so a later adjustment does not list the change again.
fn a_post_term_rerating_that_changes_nothing_stays_settled(t: &TestStore) {
    let mut backend = t.open();
    let late = ended_after_september(t, backend.as_mut());
    // A USD rate dated in September for a currency no event uses: September is
    // re-rated at the next close and nothing changes.
    let operator = Actor::cli();
    let unused = b"date,from,to,rate\n2026-09-10,GBP,USD,1.27\n";
    revshare_app::tables::add_fx(backend.as_mut(), &t.keys(), ctx(&operator, SETUP), "gbp.csv", unused).unwrap();
    assert!(close_at(t, backend.as_mut(), "2026-10", "2026-12-01T00:00:00Z").is_empty());
    let recorded = backend.closed_after_term().unwrap();
    assert_eq!(recorded.len(), 1);
    assert!(
        recorded[0].settled.contains("acme-llama/2026-09"),
        "{}",
        recorded[0].settled
    );
    import_lines(t, backend.as_mut(), &late, "2026-12-01T00:00:00Z");
    let november = close_at(t, backend.as_mut(), "2026-11", "2026-12-02T00:00:00Z");
    assert_eq!(november.len(), 1);
    let adjustment = &november[0].statement.adjustments[0];
    assert_eq!(
        adjustment.reasons.as_deref(),
        Some(&[Reason::LateEvents][..]),
        "the FX rate was settled by October's close"
    );
    assert_reproducible(backend.as_mut());
}

fn a_version_changing_the_scale_is_refused_and_settlement_goes_on(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    let (on_time, late) = split_late(&lines);
    import_lines(t, backend.as_mut(), &on_time, "2026-11-29T00:00:00Z");
    close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    let operator = Actor::cli();
    let v2 = String::from_utf8(fixture("contracts/acme-llama.toml"))
        .unwrap()
        .replace("version = 1", "version = 2")
        .replace("effective_from = \"2026-01-01\"", "effective_from = \"2026-10-01\"")
        .replace("scale = 2", "scale = 0");
    let error = revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-29T00:00:00Z"),
        "v2.toml",
        v2.as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(error, AppError::Invalid(_)), "{error}");
    assert!(error.to_string().contains("rounding.scale"), "{error}");
    // A version starting inside the closed September is refused, naming it.
    let inside = v2
        .replace("scale = 0", "scale = 2")
        .replace("effective_from = \"2026-10-01\"", "effective_from = \"2026-09-01\"");
    let error = revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-29T00:00:00Z"),
        "v2.toml",
        inside.as_bytes(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("acme-llama/2026-09"), "{error}");
    import_lines(t, backend.as_mut(), &late, "2026-11-29T00:00:00Z");
    close_at(t, backend.as_mut(), "2026-10", "2026-11-29T01:00:00Z");
    assert_reproducible(backend.as_mut());
}

fn closes_run_in_order(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    let skipped = try_close(t, backend.as_mut(), "2026-11", "2026-12-02T00:00:00Z")
        .unwrap_err()
        .to_string();
    assert!(skipped.contains("acme-llama/2026-10 is still open"), "{skipped}");
    let before = try_close(t, backend.as_mut(), "2026-08", "2026-12-02T00:00:00Z")
        .unwrap_err()
        .to_string();
    assert!(
        before.contains("before acme-llama's settlement start 2026-09"),
        "{before}"
    );
    assert_eq!(backend.statements().unwrap().len(), 2, "nothing stored");
}

fn voids_remove_events_before_and_after_a_close(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    import_lines(t, backend.as_mut(), &lines, "2026-11-29T00:00:00Z");
    let operator = Actor::cli();
    let now = ctx(&operator, "2026-11-29T00:00:00Z");
    let acme: Vec<UsageEvent<'_>> = lines
        .iter()
        .map(|l| UsageEvent::parse(l).unwrap())
        .filter(|e| &*e.data.host == "acme-cloud" && e.time.starts_with("2026-09"))
        .collect();
    let (before, after) = (&acme[0], &acme[1]);
    revshare_app::void::void(
        backend.as_mut(),
        &t.keys(),
        now,
        &before.source,
        &before.id,
        "typo in host",
    )
    .unwrap();
    let again =
        revshare_app::void::void(backend.as_mut(), &t.keys(), now, &before.source, &before.id, "again").unwrap();
    assert!(matches!(again, revshare_app::void::Voided::Already(_)));
    losing_side_sees_the_void(backend.as_mut(), &before.source, &before.id);
    let never = revshare_app::void::void(backend.as_mut(), &t.keys(), now, "nobody", "x", "r").unwrap_err();
    assert!(matches!(never, AppError::NotFound(_)));
    let september = close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    let acme_sep = september
        .iter()
        .find(|c| c.statement_id == "acme-llama/2026-09")
        .unwrap();
    let missing = revshare_app::statements::prove(
        backend.as_mut(),
        &Actor::cli(),
        &acme_sep.statement_id,
        &before.source,
        &before.id,
    );
    assert!(missing.is_err(), "a voided event is not in the statement");
    revshare_app::void::void(
        backend.as_mut(),
        &t.keys(),
        now,
        &after.source,
        &after.id,
        "duplicate of another",
    )
    .unwrap();
    let october = close_at(t, backend.as_mut(), "2026-10", "2026-11-29T01:00:00Z");
    let oct = october.iter().find(|c| c.statement_id == "acme-llama/2026-10").unwrap();
    let adjustment = &oct
        .statement
        .adjustments
        .iter()
        .find(|a| a.kind == AdjustmentKind::PriorPeriod)
        .unwrap();
    assert_eq!(adjustment.reasons.as_deref(), Some(&[Reason::Voids][..]));
    assert_eq!(adjustment.voided.as_ref().unwrap().count, 1);
    assert_eq!(adjustment.events.as_ref().unwrap().count, 0);
    let proof = revshare_app::statements::prove(
        backend.as_mut(),
        &Actor::cli(),
        &oct.statement_id,
        &after.source,
        &after.id,
    )
    .unwrap();
    assert_eq!(proof.tree, "voided:2026-09");
    let line = lines
        .iter()
        .find(|l| UsageEvent::parse(l).unwrap().id == after.id)
        .unwrap();
    let tree = verify_inclusion(&verified(t, oct), line, &proof).unwrap();
    assert!(tree.removes());
    assert_reproducible(backend.as_mut());
}

/// The licensor of the contract that selects a voided event, and an auditor of that
/// contract, see the void with its reason and actor, in `locate` and in the audit
/// entries, also before any close (api.md); another licensor sees neither.
fn losing_side_sees_the_void(backend: &mut dyn Backend, source: &str, id: &str) {
    let meta = Actor::token("t-meta", Role::Licensor, "meta", None);
    let auditor = Actor::token(
        "t-audit",
        Role::Auditor,
        "audit-firm",
        Some(vec!["acme-llama".to_string()]),
    );
    for actor in [&meta, &auditor] {
        let located = revshare_app::locate::locate(backend, actor, source, id).unwrap();
        let shown = located
            .not_counted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        assert!(
            shown.contains("voided by cli") && shown.contains("(typo in host)"),
            "{actor:?}: {shown}"
        );
        let entries = revshare_app::audit::entries(backend, actor, revshare_core::audit::Seq::ZERO, 1000).unwrap();
        let voids: Vec<_> = entries
            .iter()
            .filter(|e| e.object.starts_with("void:acme-cloud:"))
            .collect();
        assert_eq!(voids.len(), 1, "{actor:?} reads the void's entry");
    }
    let other = Actor::token("t-other", Role::Licensor, "mistral", None);
    assert!(revshare_app::locate::locate(backend, &other, source, id).is_err());
    let entries = revshare_app::audit::entries(backend, &other, revshare_core::audit::Seq::ZERO, 1000).unwrap();
    assert!(
        entries.iter().all(|e| !e.object.starts_with("void:")),
        "another licensor reads no void"
    );
}

fn a_rotated_key_signs_from_then_on_and_old_statements_keep_verifying(t: &TestStore) {
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let lines = leaked_lines();
    import_lines(t, backend.as_mut(), &lines, "2026-11-29T00:00:00Z");
    let september = close_at(t, backend.as_mut(), "2026-09", "2026-11-29T00:00:00Z");
    let old = t.keys();
    let operator = Actor::cli();
    let new_path = t.keys_path.with_extension("rotated");
    let rotated = old
        .rotate(backend.as_mut(), &new_path, ctx(&operator, "2026-11-29T00:00:00Z"))
        .unwrap();
    assert_ne!(rotated.public().key_id, old.public().key_id);
    let refused = revshare_app::keys::Keys::open(&t.keys_path, backend.as_mut())
        .err()
        .unwrap();
    assert!(refused.to_string().contains(&rotated.public().key_id), "{refused}");
    let october = close(
        backend.as_mut(),
        &rotated,
        ctx(&operator, "2026-11-29T00:00:00Z"),
        &request("2026-10"),
    )
    .unwrap()
    .statements;
    let keys = revshare_app::keys::public_keys(backend.as_mut()).unwrap();
    assert_eq!(keys.len(), 2);
    for closed in september.iter().chain(&october) {
        let signed_by = verify_statement_bytes(closed.json.as_bytes(), &keys)
            .unwrap()
            .statement()
            .signature
            .clone()
            .unwrap()
            .key_id;
        let expected = if closed.statement.period == "2026-09" {
            &old
        } else {
            &rotated
        };
        assert_eq!(signed_by, expected.public().key_id);
    }
    // Pseudonyms did not change: October's unique customers are counted as before.
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&fixture("expected-small.json")).unwrap();
    let acme = october.iter().find(|c| c.statement_id == "acme-llama/2026-10").unwrap();
    assert_eq!(
        acme.statement.unique_customers,
        expected[1]["unique_customers"].as_u64().unwrap()
    );
    let report = revshare_app::verify_store::verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

/// statements.md: a contract's first close that would leave an earlier period of
/// its term unsettled (its events dated there, or its minimum guarantee owed) is
/// refused, naming the earliest such period and the events before it, dry run or
/// not, unless it confirms that settlement starts there; a contract whose first
/// close leaves nothing behind, and every later close, need no confirmation.
fn a_first_close_leaving_earlier_periods_unsettled_is_refused_unless_confirmed(t: &TestStore) {
    use revshare_app::close::{Unsettled, UnsettledContract};
    let mut backend = t.open();
    load_terms(t, backend.as_mut());
    let usage = fixture("usage-small.ndjson");
    import_lines(t, backend.as_mut(), &small_lines(&usage), "2026-11-29T00:00:00Z");
    let now = "2026-12-02T00:00:00Z";
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&fixture("expected-small.json")).unwrap();
    let september_events = |contract: &str| {
        expected
            .iter()
            .find(|s| s["contract"] == contract && s["period"] == "2026-09")
            .unwrap()["events"]["count"]
            .as_u64()
            .unwrap()
    };
    let month = |text: &str| Period::parse(text).unwrap();
    let refusal = |result: Result<Vec<Closed>, AppError>| match result {
        Err(AppError::Unsettled(unsettled)) => unsettled,
        other => panic!("expected a settlement start refusal, got {:?}", other.map(|c| c.len())),
    };

    // October first, for every contract: acme-llama's September events and
    // nimbus-llama's minimum guarantee since July would never be settled.
    let error = close_with(t, backend.as_mut(), &unconfirmed("2026-10"), now).unwrap_err();
    assert_eq!(error.code(), "settlement_start_required");
    assert!(error.is_refusal());
    let message = error.to_string();
    assert!(
        message.contains("acme-llama from 2026-09") && message.contains("nimbus-llama from 2026-07"),
        "{message}"
    );
    assert!(message.contains("settlement_start=true"), "{message}");
    let want = Unsettled {
        period: month("2026-10"),
        contracts: vec![
            UnsettledContract {
                contract: "acme-llama".into(),
                earliest: month("2026-09"),
                events: september_events("acme-llama"),
                events_from: Some(month("2026-09")),
                minimum_guarantee_from: None,
            },
            UnsettledContract {
                contract: "nimbus-llama".into(),
                earliest: month("2026-07"),
                events: september_events("nimbus-llama"),
                events_from: Some(month("2026-09")),
                minimum_guarantee_from: Some(month("2026-07")),
            },
        ],
    };
    let AppError::Unsettled(got) = error else {
        unreachable!()
    };
    assert_eq!(got, want);
    // A dry run is refused alike (it previews the close), and stores nothing either way.
    let dry = CloseRequest {
        dry_run: true,
        ..unconfirmed("2026-10")
    };
    assert_eq!(refusal(close_with(t, backend.as_mut(), &dry, now)), want);
    let only_acme = CloseRequest {
        contract: Some("acme-llama".into()),
        ..unconfirmed("2026-10")
    };
    let acme = refusal(close_with(t, backend.as_mut(), &only_acme, now));
    assert_eq!(acme.contracts, want.contracts[..1]);
    assert!(acme.message("--settlement-start").starts_with(
        "cannot close acme-llama/2026-10: as the first close of acme-llama it would leave 2026-09 unsettled for good"
    ));
    assert!(acme.message("--settlement-start").contains("Close 2026-09 first"));
    assert!(backend.statements().unwrap().is_empty(), "nothing stored");
    // Confirmed as a dry run: the preview, still nothing stored.
    let confirmed_dry = CloseRequest {
        dry_run: true,
        ..request("2026-10")
    };
    let preview = close_with(t, backend.as_mut(), &confirmed_dry, now).unwrap();
    assert_eq!(preview.len(), 2);
    assert!(backend.statements().unwrap().is_empty(), "a dry run stores nothing");

    // acme-llama's first close in September leaves nothing behind (no events before,
    // no minimum guarantee): no confirmation needed. nimbus-llama's would leave July.
    let september_acme = CloseRequest {
        contract: Some("acme-llama".into()),
        ..unconfirmed("2026-09")
    };
    assert_eq!(close_with(t, backend.as_mut(), &september_acme, now).unwrap().len(), 1);
    let nimbus = refusal(close_with(t, backend.as_mut(), &unconfirmed("2026-09"), now));
    assert_eq!(nimbus.contracts.len(), 1, "acme-llama's September is closed already");
    assert_eq!(
        (nimbus.contracts[0].contract.as_str(), nimbus.contracts[0].earliest),
        ("nimbus-llama", month("2026-07"))
    );
    assert_eq!((nimbus.contracts[0].events, nimbus.contracts[0].events_from), (0, None));
    // A close that is not acme-llama's first is unaffected; nimbus-llama confirms
    // that its settlement starts in October (taken over mid-term).
    let october_acme = CloseRequest {
        contract: Some("acme-llama".into()),
        ..unconfirmed("2026-10")
    };
    assert_eq!(close_with(t, backend.as_mut(), &october_acme, now).unwrap().len(), 1);
    let october_nimbus = CloseRequest {
        contract: Some("nimbus-llama".into()),
        ..request("2026-10")
    };
    let closed = close_with(t, backend.as_mut(), &october_nimbus, now).unwrap();
    assert_eq!(closed[0].statement_id, "nimbus-llama/2026-10");
    let november = CloseRequest {
        allow_empty: true,
        ..unconfirmed("2026-11")
    };
    assert_eq!(
        close_with(t, backend.as_mut(), &november, "2027-01-02T00:00:00Z")
            .unwrap()
            .len(),
        2
    );
    // Its earlier periods are outside settlement for good.
    let before = close_with(t, backend.as_mut(), &request("2026-09"), now).unwrap_err();
    assert!(
        before
            .to_string()
            .contains("before nimbus-llama's settlement start 2026-10"),
        "{before}"
    );
    assert_reproducible(backend.as_mut());
}

/// statements.md: `locate` says for each place how the statement accounted for the
/// event: the line it was rated into (model and use case), or its exception kind,
/// as that statement's close rated it; a `voided:` tree removed it (neither).
fn locate_says_the_line_or_the_exception_of_each_place(t: &TestStore) {
    use revshare_app::locate::{ExceptionRef, LineRef, Place};
    use revshare_core::rating::ExceptionKind;
    let mut backend = t.open();
    let operator = Actor::cli();
    let keys = t.keys();
    let setup = ctx(&operator, SETUP);
    let edge = |file: &str| fixture(&format!("edge/{file}"));
    revshare_app::contracts::add_version(backend.as_mut(), &keys, setup, "edge.toml", &edge("edge.toml")).unwrap();
    // edge-fx.toml is the example's version 3: stored here as its first.
    let edge_fx = String::from_utf8(edge("edge-fx.toml"))
        .unwrap()
        .replacen("version = 3", "version = 1", 1);
    revshare_app::contracts::add_version(backend.as_mut(), &keys, setup, "edge-fx.toml", edge_fx.as_bytes()).unwrap();
    revshare_app::tables::add_fx(backend.as_mut(), &keys, setup, "fx.csv", &edge("fx.csv")).unwrap();
    revshare_app::tables::add_registry(backend.as_mut(), &keys, setup, "models.csv", &edge("models.csv"), None)
        .unwrap();
    let usage = edge("usage.ndjson");
    import_lines(t, backend.as_mut(), &small_lines(&usage), "2026-11-29T00:00:00Z");
    // Both terms start in October: their first close needs no confirmation.
    close_with(t, backend.as_mut(), &unconfirmed("2026-10"), "2026-11-29T00:00:00Z").unwrap();

    let places = |backend: &mut dyn Backend, source: &str, id: &str| -> Vec<Place> {
        revshare_app::locate::locate(backend, &operator, source, id)
            .unwrap()
            .places
    };
    let line = |model: &str, use_case: &str| {
        Some(LineRef {
            model: model.into(),
            use_case: use_case.into(),
        })
    };
    let exception = |kind: ExceptionKind, currency: &str| {
        Some(ExceptionRef {
            kind,
            currency: currency.into(),
        })
    };
    let one = |places: Vec<Place>| -> Place {
        assert_eq!(places.len(), 1, "{places:?}");
        places.into_iter().next().unwrap()
    };
    let rated = one(places(backend.as_mut(), "h1/x", "e1"));
    assert_eq!(
        (rated.statement_id.as_str(), rated.tree.as_str(), rated.counted),
        ("edge/2026-10", "events", true)
    );
    assert_eq!((rated.line, rated.exception), (line("m-a", "chat"), None));
    for (source, id, kind, currency) in [
        ("h1/x", "e4", ExceptionKind::ProhibitedUse, "USD"),
        ("h1/x", "e5", ExceptionKind::UnlicensedModel, "USD"),
        ("h1/x", "e6", ExceptionKind::NoRate, "USD"),
        ("h2/y", "b", ExceptionKind::NoFxRate, "EUR"),
    ] {
        let place = one(places(backend.as_mut(), source, id));
        assert!(place.counted && place.tree == "events", "{place:?}");
        assert_eq!((place.line, place.exception), (None, exception(kind, currency)), "{id}");
    }
    // Its JSON names them; an exception's place says it was never paid on.
    let json = serde_json::to_value(one(places(backend.as_mut(), "h1/x", "e4"))).unwrap();
    assert_eq!(
        json["exception"],
        serde_json::json!({"kind": "prohibited_use", "currency": "USD"})
    );
    assert_eq!(json["line"], serde_json::Value::Null);
    assert!(one(places(backend.as_mut(), "h1/x", "e4"))
        .outcome()
        .contains("never rated or paid on"));

    // The missing FX rate arrives, a late event of that day with it, and e2 is
    // voided: November's close settles October again. Each place says what its own
    // statement's close did: b stays an exception of October's statement.
    let later = ctx(&operator, "2026-12-01T00:00:00Z");
    revshare_app::tables::add_fx(
        backend.as_mut(),
        &keys,
        later,
        "fx-late.csv",
        b"date,from,to,rate\n2026-10-13,EUR,USD,1.15\n",
    )
    .unwrap();
    let late = String::from_utf8(usage.clone())
        .unwrap()
        .lines()
        .find(|l| l.contains("\"id\":\"b\""))
        .unwrap()
        .replacen("\"id\":\"b\"", "\"id\":\"b-late\"", 1);
    import_lines(t, backend.as_mut(), &[late.as_bytes()], "2026-12-01T00:00:00Z");
    revshare_app::void::void(backend.as_mut(), &keys, later, "h1/x", "e2", "sent by mistake").unwrap();
    let november = CloseRequest {
        allow_empty: true,
        ..unconfirmed("2026-11")
    };
    close_with(t, backend.as_mut(), &november, "2026-12-02T00:00:00Z").unwrap();
    let b = one(places(backend.as_mut(), "h2/y", "b"));
    assert_eq!(
        b.exception,
        exception(ExceptionKind::NoFxRate, "EUR"),
        "as October's close rated it"
    );
    let b_late = one(places(backend.as_mut(), "h2/y", "b-late"));
    assert_eq!(
        (b_late.statement_id.as_str(), b_late.tree.as_str()),
        ("edge-fx/2026-11", "prior_period:2026-10")
    );
    assert_eq!(
        (b_late.line, b_late.exception),
        (line("m", "chat"), None),
        "rated as of November's close"
    );
    let e2 = places(backend.as_mut(), "h1/x", "e2");
    let removed = e2.iter().find(|p| p.tree == "voided:2026-10").unwrap();
    assert!(!removed.counted);
    assert_eq!((removed.line.clone(), removed.exception.clone()), (None, None));
    assert_eq!(removed.outcome(), "removed (voided)");
    let kept = e2.iter().find(|p| p.tree == "events").unwrap();
    assert_eq!(kept.line, line("m-a", "chat"), "October's own tree still rated it");
}

both_backends!(
    a_first_close_leaving_earlier_periods_unsettled_is_refused_unless_confirmed,
    locate_says_the_line_or_the_exception_of_each_place,
    a_rotated_key_signs_from_then_on_and_old_statements_keep_verifying,
    concurrent_imports_count_every_event_once,
    close_matches_rate_on_the_examples,
    imports_are_idempotent_and_conflicts_never_overwrite,
    closing_is_refused_before_the_period_ends_and_idempotent_after,
    a_grace_delays_the_close_and_bad_graces_are_refused,
    concurrent_closes_store_one_statement,
    late_usage_settles_as_a_prior_period_adjustment,
    proofs_verify_and_tampering_is_caught,
    a_registry_version_after_a_close_leaves_every_proof_valid,
    a_tampered_earlier_statement_stops_the_next_close,
    late_events_of_an_ended_contract_settle_in_an_adjustment_only_statement,
    a_post_term_period_closed_again_signs_nothing_back_dated,
    a_post_term_rerating_that_changes_nothing_stays_settled,
    a_version_changing_the_scale_is_refused_and_settlement_goes_on,
    closes_run_in_order,
    voids_remove_events_before_and_after_a_close,
);
