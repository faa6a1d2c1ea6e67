//! The MAU monitor on both backends, counted by hand (statements.md, MAU monitor).
//! Contract `hand` (licensor `lic`, host `h`) and contract `gee` (licensor `lic2`,
//! host `g`) both set `mau_threshold = 3`, monthly.
//!
//! September: `h` serves customers c-1, c-2 (twice) and c-3: 3 unique customers,
//! which reaches 3; `g` serves c-1 and c-2: 2, below 3 (c-1 at `h` too, counted at
//! each host). October: `h` serves c-1, c-2 and c-3, whose one event is voided
//! before the close: 2. So the September close flags `hand` for 2026-09 once, and
//! nothing else is ever flagged: not `gee`, not October, not a second time when a
//! late September event (c-4) makes `h` 4 and September is closed again.

mod common;

use revshare_app::close::{close, CloseOutcome, CloseRequest, Grace};
use revshare_app::mau::{mau, Filter, HostMonth};
use revshare_app::verify_store::verify;
use revshare_app::{Actor, Backend, ErrorKind};
use revshare_core::audit::{Action, Seq};
use revshare_core::period::Period;
use revshare_core::records::Role;
use sha2::Digest;

use common::{ctx, hand, TestStore};

fn contract(id: &str, licensor: &str, host: &str) -> String {
    format!(
        r#"
id = "{id}"
version = 1
licensor = "{licensor}"
host = "{host}"
currency = "USD"
effective_from = "2026-01-01"
effective_to = "2027-01-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["m"]
mau_threshold = 3

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "*"
revenue_share = "0.10"

[[splits]]
models = ["*"]
shares = {{ {licensor} = "1" }}
"#
    )
}

/// An event of `host` (source `<host>/eu`), model `m`, at noon UTC of `day`, for
/// `customer` (none: the event names no customer).
fn event(id: &str, host: &str, day: &str, customer: Option<&str>) -> String {
    let customer = customer.map_or(String::new(), |c| format!(r#""customer":"{c}","#));
    format!(
        r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"{host}/eu","id":"{id}","time":"{day}T12:00:00Z","data":{{"host":"{host}","model":"m","use_case":"chat",{customer}"input_tokens":0,"output_tokens":0,"revenue":"1.00","currency":"USD"}}}}"#
    )
}

const SETUP: &str = "2026-09-01T00:00:00Z";
const SEPTEMBER_CLOSED: &str = "2026-11-01T08:00:00Z";
const OCTOBER_CLOSED: &str = "2026-11-02T00:00:00Z";

fn close_at(t: &TestStore, backend: &mut dyn Backend, period: &str, time: &str) -> CloseOutcome {
    let request = CloseRequest {
        period: Period::parse(period).unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        // gee's host has no October events.
        allow_empty: true,
        settlement_start: false,
    };
    close(backend, &t.keys(), ctx(&Actor::cli(), time), &request).unwrap()
}

/// The store with both contracts and September's and October's events, October's
/// c-3 voided.
fn world(t: &TestStore) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    for (id, licensor, host) in [("hand", "lic", "h"), ("gee", "lic2", "g")] {
        revshare_app::contracts::add_version(
            backend.as_mut(),
            &t.keys(),
            ctx(&operator, SETUP),
            &format!("{id}.toml"),
            contract(id, licensor, host).as_bytes(),
        )
        .unwrap();
    }
    let events = [
        event("s1", "h", "2026-09-03", Some("c-1")),
        event("s2", "h", "2026-09-04", Some("c-2")),
        event("s3", "h", "2026-09-20", Some("c-2")),
        event("s4", "h", "2026-09-30", Some("c-3")),
        event("s5", "h", "2026-09-30", None),
        event("g1", "g", "2026-09-03", Some("c-1")),
        event("g2", "g", "2026-09-04", Some("c-2")),
        event("g3", "g", "2026-09-05", Some("c-2")),
        event("o1", "h", "2026-10-01", Some("c-1")),
        event("o2", "h", "2026-10-15", Some("c-2")),
        event("o3", "h", "2026-10-31", Some("c-3")),
    ];
    hand::import_all(t, backend.as_mut(), "2026-11-01T06:00:00Z", &events);
    revshare_app::void::void(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-11-01T07:00:00Z"),
        "h/eu",
        "o3",
        "sent by mistake",
    )
    .unwrap();
    backend
}

fn flag_entries(backend: &mut dyn Backend) -> Vec<revshare_core::audit::Entry> {
    revshare_app::audit::all_entries(backend, Seq::ZERO)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == Action::MauThresholdReached)
        .collect()
}

fn monitor(backend: &mut dyn Backend, actor: &Actor, host: Option<&str>, month: &str) -> Vec<HostMonth> {
    let filter = Filter {
        host: host.map(str::to_string),
        month: Some(month.to_string()),
    };
    mau(backend, ctx(actor, OCTOBER_CLOSED), &filter).unwrap()
}

/// `(contract, threshold, customers at the flag)`.
type Shown = (String, u64, u64);

/// `(host, customers, flags)` per row.
fn shown(rows: &[HostMonth]) -> Vec<(String, u64, Vec<Shown>)> {
    rows.iter()
        .map(|r| {
            let flags = r
                .flagged
                .iter()
                .map(|f| (f.contract.clone(), f.threshold, f.customers))
                .collect();
            (r.host.clone(), r.customers, flags)
        })
        .collect()
}

fn row(host: &str, customers: u64, flags: &[(&str, u64, u64)]) -> (String, u64, Vec<Shown>) {
    let flags = flags.iter().map(|(c, t, n)| (c.to_string(), *t, *n)).collect();
    (host.to_string(), customers, flags)
}

fn a_threshold_is_flagged_once_by_the_close_that_reaches_it(t: &TestStore) {
    let mut backend = world(t);
    // Before any close: counted, nothing flagged.
    assert_eq!(
        shown(&monitor(backend.as_mut(), &Actor::cli(), None, "2026-09")),
        [row("g", 2, &[]), row("h", 3, &[])]
    );
    assert_eq!(
        shown(&monitor(backend.as_mut(), &Actor::cli(), None, "2026-10")),
        [row("h", 2, &[])],
        "October's voided c-3 is not counted"
    );

    // A dry run flags nothing.
    let dry = CloseRequest {
        period: Period::parse("2026-09").unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: true,
        allow_empty: true,
        settlement_start: false,
    };
    let previewed = close(backend.as_mut(), &t.keys(), ctx(&Actor::cli(), SEPTEMBER_CLOSED), &dry).unwrap();
    assert!(previewed.mau_flags.is_empty());
    assert!(flag_entries(backend.as_mut()).is_empty());

    let september = close_at(t, backend.as_mut(), "2026-09", SEPTEMBER_CLOSED);
    let reached: Vec<(&str, &str, &str, u64, u64)> = september
        .mau_flags
        .iter()
        .map(|f| {
            (
                f.contract.as_str(),
                f.host.as_str(),
                f.month.as_str(),
                f.customers,
                f.threshold,
            )
        })
        .collect();
    assert_eq!(reached, [("hand", "h", "2026-09", 3, 3)], "gee's host stays below 3");
    let flags = flag_entries(backend.as_mut());
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].object, "mau:hand:2026-09");
    assert_eq!(flags[0].actor, "cli");
    let by_hand = serde_json::json!({
        "contract": "hand", "host": "h", "month": "2026-09", "customers": 3, "threshold": 3,
    });
    let jcs = serde_json_canonicalizer::to_vec(&by_hand).unwrap();
    assert_eq!(flags[0].payload_sha256, hex::encode(sha2::Sha256::digest(&jcs)));
    // The flag is an entry of the close: right after its statements' entries.
    let closed = revshare_app::audit::all_entries(backend.as_mut(), Seq::ZERO)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == Action::StatementClosed)
        .map(|e| e.seq)
        .max()
        .unwrap();
    assert_eq!(flags[0].seq, closed.next());

    // Closing September again flags nothing, nor does a late c-4 that makes h 4.
    let again = close_at(t, backend.as_mut(), "2026-09", SEPTEMBER_CLOSED);
    assert!(again.mau_flags.is_empty());
    hand::import_all(
        t,
        backend.as_mut(),
        "2026-11-01T09:00:00Z",
        &[event("s6", "h", "2026-09-30", Some("c-4"))],
    );
    let late = close_at(t, backend.as_mut(), "2026-09", "2026-11-01T10:00:00Z");
    assert!(late.mau_flags.is_empty());
    let october = close_at(t, backend.as_mut(), "2026-10", OCTOBER_CLOSED);
    assert!(october.mau_flags.is_empty(), "h had 2 customers in October");
    assert_eq!(flag_entries(backend.as_mut()).len(), 1);

    // The monitor: September's count now, and the flag with the count it reached.
    let rows = monitor(backend.as_mut(), &Actor::cli(), None, "2026-09");
    assert_eq!(shown(&rows), [row("g", 2, &[]), row("h", 4, &[("hand", 3, 3)])]);
    assert_eq!(rows[1].flagged[0].seq, flags[0].seq);
    assert_eq!(rows[1].flagged[0].flagged_at, SEPTEMBER_CLOSED);
    assert_eq!(
        shown(&monitor(backend.as_mut(), &Actor::cli(), Some("h"), "2026-10")),
        [row("h", 2, &[])]
    );
    // A host with no events that month counts none.
    assert_eq!(
        shown(&monitor(backend.as_mut(), &Actor::cli(), Some("g"), "2026-10")),
        [row("g", 0, &[])]
    );

    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:?}", report.failures);
}

/// A void after the flag does not unflag it, and `audit verify` derives the flag
/// as of its entry: the void is later.
fn a_flag_is_derived_again_as_of_its_entry(t: &TestStore) {
    let mut backend = world(t);
    close_at(t, backend.as_mut(), "2026-09", SEPTEMBER_CLOSED);
    revshare_app::void::void(
        backend.as_mut(),
        &t.keys(),
        ctx(&Actor::cli(), "2026-11-01T12:00:00Z"),
        "h/eu",
        "s4",
        "sent by mistake",
    )
    .unwrap();
    let rows = monitor(backend.as_mut(), &Actor::cli(), Some("h"), "2026-09");
    assert_eq!(shown(&rows), [row("h", 2, &[("hand", 3, 3)])]);
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:?}", report.failures);

    // An entry that says another count than the events stored before it is named.
    let seq = flag_entries(backend.as_mut())[0].seq;
    drop(backend);
    let wrong = hex::encode(sha2::Sha256::digest(b"not the flag"));
    t.tamper(&format!(
        "UPDATE audit_log SET payload_sha256 = '{wrong}' WHERE seq = {seq}"
    ));
    let mut backend = t.open();
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    let named: Vec<(u8, &str)> = report
        .failures
        .iter()
        .filter(|f| f.check == 5)
        .map(|f| (f.check, f.object.as_str()))
        .collect();
    assert_eq!(named, [(5, "mau:hand:2026-09")], "{:?}", report.failures);
    assert!(report
        .failures
        .iter()
        .any(|f| f.check == 5 && f.message.contains(&format!("entry {seq}'s payload"))));
}

fn what_each_caller_sees(t: &TestStore) {
    let mut backend = world(t);
    close_at(t, backend.as_mut(), "2026-09", SEPTEMBER_CLOSED);
    let hand_only = Some(vec!["hand".to_string()]);
    let callers = [
        (Actor::cli(), vec![row("g", 2, &[]), row("h", 3, &[("hand", 3, 3)])]),
        (
            Actor::token("t-lic", Role::Licensor, "lic", None),
            vec![row("h", 3, &[("hand", 3, 3)])],
        ),
        (
            Actor::token("t-lic2", Role::Licensor, "lic2", None),
            vec![row("g", 2, &[])],
        ),
        (
            Actor::token("t-h", Role::Host, "h", None),
            vec![row("h", 3, &[("hand", 3, 3)])],
        ),
        (Actor::token("t-g", Role::Host, "g", None), vec![row("g", 2, &[])]),
        (
            Actor::token("t-aud", Role::Auditor, "audit-co", hand_only.clone()),
            vec![row("h", 3, &[("hand", 3, 3)])],
        ),
        // A host's token narrowed to a contract of another host's: its own host's
        // count, no flag of a contract outside the token.
        (
            Actor::token("t-h-gee", Role::Host, "h", Some(vec!["gee".to_string()])),
            vec![row("h", 3, &[])],
        ),
        // An operator token narrowed to a contract: that contract's host.
        (
            Actor::token("t-op-gee", Role::Operator, "ops", Some(vec!["gee".to_string()])),
            vec![row("g", 2, &[])],
        ),
    ];
    for (actor, expected) in &callers {
        assert_eq!(
            shown(&monitor(backend.as_mut(), actor, None, "2026-09")),
            *expected,
            "{}",
            actor.id()
        );
    }
    // Another host's count is hidden as if that host did not exist.
    let filter = |host: &str| Filter {
        host: Some(host.to_string()),
        month: Some("2026-09".to_string()),
    };
    for (actor, host) in [
        (Actor::token("t-lic", Role::Licensor, "lic", None), "g"),
        (Actor::token("t-h", Role::Host, "h", None), "g"),
        (Actor::token("t-aud", Role::Auditor, "audit-co", hand_only), "g"),
        (Actor::token("t-h", Role::Host, "h", None), "nobody"),
    ] {
        let error = mau(backend.as_mut(), ctx(&actor, OCTOBER_CLOSED), &filter(host)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{} asking for {host}", actor.id());
        assert_eq!(error.to_string(), format!("no host `{host}` is known"));
    }
    // A beneficiary reads no MAU at all.
    let beneficiary = Actor::token("t-b", Role::Beneficiary, "lic", None);
    for host in [None, Some("h")] {
        let filter = Filter {
            host: host.map(str::to_string),
            month: None,
        };
        let error = mau(backend.as_mut(), ctx(&beneficiary, OCTOBER_CLOSED), &filter).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Forbidden);
    }
    // A quarter is not a month.
    let quarter = Filter {
        host: None,
        month: Some("2026-Q3".to_string()),
    };
    let error = mau(backend.as_mut(), ctx(&Actor::cli(), OCTOBER_CLOSED), &quarter).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    // Without a month, the current one (UTC): October at the October close's time.
    let now = mau(
        backend.as_mut(),
        ctx(&Actor::cli(), "2026-10-31T23:59:59Z"),
        &Filter::default(),
    )
    .unwrap();
    assert_eq!(shown(&now), [row("h", 2, &[])]);
    // The flag's entry is read in full by those who read its contract.
    for (actor, sees) in [
        (Actor::token("t-lic", Role::Licensor, "lic", None), true),
        (Actor::token("t-lic2", Role::Licensor, "lic2", None), false),
        (Actor::token("t-h", Role::Host, "h", None), true),
        (Actor::token("t-g", Role::Host, "g", None), false),
        (Actor::token("t-b", Role::Beneficiary, "lic", None), false),
    ] {
        let entries = revshare_app::audit::entries(backend.as_mut(), &actor, Seq::ZERO, 1000).unwrap();
        let flagged = entries.iter().any(|e| e.action == Action::MauThresholdReached);
        assert_eq!(flagged, sees, "{}", actor.id());
    }
}

/// A quarterly contract is flagged per month of the quarter it closes.
fn a_quarter_flags_each_month_that_reached_it(t: &TestStore) {
    let mut backend = t.open();
    let operator = Actor::cli();
    let quarterly = contract("qtr", "lic", "h")
        .replace(r#"period = "month""#, r#"period = "quarter""#)
        .replace("mau_threshold = 3", "mau_threshold = 2");
    revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, SETUP),
        "qtr.toml",
        quarterly.as_bytes(),
    )
    .unwrap();
    let events = [
        event("j1", "h", "2026-07-01", Some("c-1")),
        event("j2", "h", "2026-07-31", Some("c-2")),
        event("a1", "h", "2026-08-10", Some("c-1")),
        event("s1", "h", "2026-09-10", Some("c-1")),
        event("s2", "h", "2026-09-11", Some("c-3")),
    ];
    hand::import_all(t, backend.as_mut(), "2026-10-01T06:00:00Z", &events);
    let outcome = close_at(t, backend.as_mut(), "2026-Q3", SEPTEMBER_CLOSED);
    let months: Vec<(&str, u64)> = outcome
        .mau_flags
        .iter()
        .map(|f| (f.month.as_str(), f.customers))
        .collect();
    assert_eq!(months, [("2026-07", 2), ("2026-09", 2)], "August had 1");
    let objects: Vec<String> = flag_entries(backend.as_mut()).into_iter().map(|e| e.object).collect();
    assert_eq!(objects, ["mau:qtr:2026-07", "mau:qtr:2026-09"]);
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:?}", report.failures);
}

both_backends!(
    a_threshold_is_flagged_once_by_the_close_that_reaches_it,
    a_flag_is_derived_again_as_of_its_entry,
    what_each_caller_sees,
    a_quarter_flags_each_month_that_reached_it,
);
