//! Disputes on both backends (statements.md, Disputes), with amounts worked out by
//! hand. Contract `dsp` (licensor `lic`, host `h`, scale 2, 60 days' dispute
//! window, term September–October 2026) shares 10% of revenue; model `m`'s line is
//! split half to `lic`, half to `b`, every other model's 70% to `lic`, 30% to `c`.
//! September (e1: model m, 100.00; e2: model n, 50.00) closes on 2026-10-02 into the
//! lines (m, chat) 10.00 and (n, chat) 5.00; its window ends 2026-12-01T00:00:00Z
//! (exclusive). October (e3: model m, 40.00) has the line (m, chat) 4.00.

mod common;

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::disputes::{self, DisputeView, NewDispute, Step};
use revshare_app::verify_store::verify;
use revshare_app::{Actor, AppError, Backend, ErrorKind};
use revshare_core::dispute::{DisputeStatus, DisputeStep, Evidence};
use revshare_core::period::Period;
use revshare_core::records::Role;
use revshare_core::statement::{AdjustmentKind, Statement};

use common::hand;
use common::{ctx, TestStore};

const CONTRACT: &str = r#"
id = "dsp"
version = 1
licensor = "lic"
host = "h"
currency = "USD"
effective_from = "2026-09-01"
effective_to = "2026-11-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["m", "n"]

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "*"
revenue_share = "0.10"

[[splits]]
models = ["m"]
shares = { lic = "0.5", b = "0.5" }

[[splits]]
models = ["*"]
shares = { lic = "0.7", c = "0.3" }
"#;

const SEPTEMBER_CLOSED: &str = "2026-10-02T00:00:00Z";
const OCTOBER_CLOSED: &str = "2026-11-02T00:00:00Z";
const NOVEMBER_CLOSED: &str = "2026-12-02T00:00:00Z";
const DURING: &str = "2026-10-10T00:00:00Z";
const SEPTEMBER: &str = "dsp/2026-09";

fn event(id: &str, day: &str, model: &str, revenue: &str) -> String {
    hand::event(id, day, revenue, "USD").replace("\"model\":\"m\"", &format!("\"model\":\"{model}\""))
}

/// The store with September closed.
fn september(t: &TestStore) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, SEPTEMBER_CLOSED),
        "dsp.toml",
        CONTRACT.as_bytes(),
    )
    .unwrap();
    hand::import_all(
        t,
        backend.as_mut(),
        SEPTEMBER_CLOSED,
        &[
            event("e1", "2026-09-10", "m", "100.00"),
            event("e2", "2026-09-11", "n", "50.00"),
        ],
    );
    let statement = hand::close_one(t, backend.as_mut(), "2026-09", SEPTEMBER_CLOSED);
    assert_eq!(statement.subtotal, "15.00");
    assert_eq!(statement.payouts["lic"], "8.50");
    assert_eq!(statement.payouts["b"], "5.00");
    assert_eq!(statement.payouts["c"], "1.50");
    backend
}

fn import_october(t: &TestStore, backend: &mut dyn Backend) {
    hand::import_all(t, backend, OCTOBER_CLOSED, &[event("e3", "2026-10-05", "m", "40.00")]);
}

fn new(line: Option<(&str, &str)>, amount: &str, evidence: &[&str]) -> NewDispute {
    NewDispute {
        statement_id: SEPTEMBER.into(),
        line: line.map(|(m, u)| (m.to_string(), u.to_string())),
        amount: amount.into(),
        reason: "the rate applied to these events is wrong".into(),
        evidence: evidence
            .iter()
            .map(|id| Evidence {
                source: "h/eu".into(),
                id: id.to_string(),
            })
            .collect(),
    }
}

fn open_at(
    t: &TestStore,
    backend: &mut dyn Backend,
    actor: &Actor,
    time: &str,
    dispute: &NewDispute,
) -> Result<DisputeView, AppError> {
    disputes::open(backend, &t.keys(), ctx(actor, time), dispute)
}

fn take_at(
    t: &TestStore,
    backend: &mut dyn Backend,
    actor: &Actor,
    time: &str,
    id: &str,
    step: Step,
) -> Result<DisputeView, AppError> {
    disputes::step(backend, &t.keys(), ctx(actor, time), id, &step)
}

fn kind<T: std::fmt::Debug>(result: Result<T, AppError>) -> ErrorKind {
    result.expect_err("refused").kind()
}

fn lic() -> Actor {
    Actor::cli_as("lic")
}

fn host() -> Actor {
    Actor::cli_as("h")
}

fn close_at(t: &TestStore, backend: &mut dyn Backend, period: &str, time: &str) -> Vec<Statement> {
    let request = CloseRequest {
        period: Period::parse(period).unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: false,
        settlement_start: false,
    };
    close(backend, &t.keys(), ctx(&Actor::cli(), time), &request)
        .unwrap()
        .statements
        .into_iter()
        .map(|c| c.into_document().statement)
        .collect()
}

/// A `dispute` adjustment: its id, amount, and payouts by beneficiary.
type Carried = (String, String, Vec<(String, String)>);

fn dispute_adjustments(statement: &Statement) -> Vec<Carried> {
    statement
        .adjustments
        .iter()
        .filter(|a| a.kind == AdjustmentKind::Dispute)
        .map(|a| {
            (
                a.dispute_id.clone().unwrap(),
                a.amount.clone(),
                a.payouts
                    .clone()
                    .unwrap()
                    .into_iter()
                    .collect::<Vec<(String, String)>>(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Total = subtotal + every adjustment, and the payouts add up to it, in cents.
fn assert_adds_up(statement: &Statement) {
    let cents = |text: &str| -> i64 {
        let negative = text.starts_with('-');
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let value: i64 = digits.parse().unwrap();
        if negative {
            -value
        } else {
            value
        }
    };
    let adjustments: i64 = statement.adjustments.iter().map(|a| cents(&a.amount)).sum();
    assert_eq!(cents(&statement.total), cents(&statement.subtotal) + adjustments);
    let payouts: i64 = statement.payouts.values().map(|p| cents(p)).sum();
    assert_eq!(payouts, cents(&statement.total));
}

/// Two disputes of September resolved before October closes: the licensor's of
/// line (m, chat) for 1.01, which the host grants whole, split by model m's rule
/// (b 0.505 and lic 0.505 rounded down to 0.50 each, the cent left over to the tie's
/// first id, b: b 0.51, lic 0.50); the host's of the whole statement for -0.05, of
/// which the licensor offers -0.02 and the host accepts, split by the `*` rule
/// (|-0.02| × 0.7 = 0.014 → 0.01 rem 0.004 for lic, × 0.3 = 0.006 → 0.00 rem 0.006
/// for c, the cent left over to c: lic -0.01, c -0.01). October: subtotal 4.00
/// (lic 2.00, b 2.00), total 4.00 + 1.01 - 0.02 = 4.99, payouts lic 2.00 + 0.50 -
/// 0.01 = 2.49, b 2.00 + 0.51 = 2.51, c -0.01. A third, resolved after October
/// closed (the licensor's 3.00 of line (n, chat), granted whole: lic 2.10, c 0.90),
/// is an adjustment-only statement for November, after the term; December has
/// nothing left to settle.
fn the_adjustment_on_the_next_statement_by_hand(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    let line = open_at(t, b, &lic(), DURING, &new(Some(("m", "chat")), "1.01", &["e1"])).unwrap();
    assert!(line.dispute_id.starts_with("D-") && line.dispute_id.len() == 14);
    assert_eq!(line.status, DisputeStatus::Open);
    assert_eq!(line.claim, "1.01");
    assert_eq!(line.window_ends, "2026-12-01T00:00:00Z");
    let resolved = take_at(
        t,
        b,
        &host(),
        DURING,
        &line.dispute_id,
        Step::Resolve { amount: "1.01".into() },
    )
    .unwrap();
    assert_eq!(resolved.status, DisputeStatus::Resolved);
    let whole = open_at(t, b, &host(), DURING, &new(None, "-0.05", &["e1", "e2"])).unwrap();
    let offered = take_at(
        t,
        b,
        &lic(),
        DURING,
        &whole.dispute_id,
        Step::Resolve { amount: "-0.02".into() },
    )
    .unwrap();
    assert_eq!(offered.status, DisputeStatus::Offered);
    assert_eq!(offered.amount.as_deref(), Some("-0.02"));
    let accepted = take_at(t, b, &host(), DURING, &whole.dispute_id, Step::Accept).unwrap();
    assert_eq!(accepted.status, DisputeStatus::Resolved);
    assert_eq!(accepted.amount.as_deref(), Some("-0.02"));

    import_october(t, b);
    let october = close_at(t, b, "2026-10", OCTOBER_CLOSED).remove(0);
    assert_eq!(october.subtotal, "4.00");
    let mut expected = vec![
        (
            line.dispute_id.clone(),
            "1.01".to_string(),
            pairs(&[("b", "0.51"), ("lic", "0.50")]),
        ),
        (
            whole.dispute_id.clone(),
            "-0.02".to_string(),
            pairs(&[("c", "-0.01"), ("lic", "-0.01")]),
        ),
    ];
    expected.sort();
    assert_eq!(dispute_adjustments(&october), expected);
    assert_eq!(october.total, "4.99");
    assert_eq!(october.payouts["lic"], "2.49");
    assert_eq!(october.payouts["b"], "2.51");
    assert_eq!(october.payouts["c"], "-0.01");
    assert_adds_up(&october);

    let third = open_at(t, b, &lic(), OCTOBER_CLOSED, &new(Some(("n", "chat")), "3", &["e2"])).unwrap();
    take_at(
        t,
        b,
        &host(),
        OCTOBER_CLOSED,
        &third.dispute_id,
        Step::Resolve { amount: "3.00".into() },
    )
    .unwrap();
    let november = close_at(t, b, "2026-11", NOVEMBER_CLOSED);
    assert_eq!(november.len(), 1, "an adjustment-only statement after the term");
    let november = &november[0];
    assert!(november.lines.is_empty());
    assert_eq!(november.subtotal, "0.00");
    assert_eq!(
        dispute_adjustments(november),
        vec![(
            third.dispute_id.clone(),
            "3.00".to_string(),
            pairs(&[("c", "0.90"), ("lic", "2.10")])
        )]
    );
    assert_eq!(november.total, "3.00");
    assert_adds_up(november);
    // Never carried twice: December has nothing pending.
    assert!(close_at(t, b, "2026-12", "2027-01-02T00:00:00Z").is_empty());

    // The close posted each dispute's parts with the statement's payouts: what h
    // owes each beneficiary sums September's, October's and November's payouts.
    let balances = revshare_app::ledger::balances(
        b,
        ctx(&Actor::cli(), "2027-01-02T00:00:00Z"),
        &revshare_app::ledger::Filter::default(),
    )
    .unwrap();
    let outstanding = |beneficiary: &str| {
        balances
            .iter()
            .find(|x| x.beneficiary == beneficiary)
            .map(|x| x.outstanding.clone())
            .unwrap()
    };
    // lic 8.50 + 2.49 + 2.10, b 5.00 + 2.51, c 1.50 - 0.01 + 0.90.
    assert_eq!(outstanding("lic"), "13.09");
    assert_eq!(outstanding("b"), "7.51");
    assert_eq!(outstanding("c"), "2.39");

    // Every step is in the audit log, with its actor.
    let entries = revshare_app::audit::all_entries(b, revshare_core::audit::Seq::ZERO).unwrap();
    let about = |id: &str| -> Vec<(String, String)> {
        entries
            .iter()
            .filter(|e| e.object == format!("dispute:{id}"))
            .map(|e| (e.action.as_str().to_string(), e.actor.clone()))
            .collect()
    };
    assert_eq!(
        about(&whole.dispute_id),
        pairs(&[
            ("dispute_opened", "cli as h"),
            ("dispute_resolved", "cli as lic"),
            ("dispute_accepted", "cli as h")
        ])
    );
    let report = verify(b, &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

/// The window ends `closed_at` + 60 days, exclusive: a dispute opens one second
/// before, not at the end; a dispute still open then reads as expired and takes no
/// party's step.
fn the_window_is_exclusive_and_an_open_dispute_expires(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    let ends = "2026-12-01T00:00:00Z";
    let refused = open_at(t, b, &lic(), ends, &new(None, "1", &[]));
    assert_eq!(kind(refused), ErrorKind::Conflict);
    let opened = open_at(t, b, &lic(), "2026-11-30T23:59:59Z", &new(None, "1", &[])).unwrap();
    let id = opened.dispute_id;
    let shown = disputes::show(b, ctx(&Actor::cli(), ends), &id).unwrap();
    assert_eq!(shown.status, DisputeStatus::Expired);
    let before = disputes::show(b, ctx(&Actor::cli(), "2026-11-30T23:59:59Z"), &id).unwrap();
    assert_eq!(before.status, DisputeStatus::Open);
    for (actor, step) in [
        (host(), Step::Answer { note: "no".into() }),
        (host(), Step::Resolve { amount: "1".into() }),
        (host(), Step::Reject { note: "no".into() }),
        (lic(), Step::Withdraw),
        (lic(), Step::Escalate),
    ] {
        assert_eq!(
            kind(take_at(t, b, &actor, ends, &id, step.clone())),
            ErrorKind::Conflict,
            "{step:?}"
        );
    }
}

/// Evidence must be counted in the statement: an event of another period, and one
/// never received, are refused by name; the evidence of an accepted dispute is kept
/// in `(source, id)` order.
fn evidence_not_counted_is_refused_by_name(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    import_october(t, b);
    for missing in ["e3", "nope"] {
        let error = open_at(t, b, &lic(), DURING, &new(None, "1", &["e1", missing])).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid);
        assert!(error.to_string().contains(&format!("(h/eu, {missing})")), "{error}");
        assert!(error.to_string().starts_with("evidence:"), "{error}");
    }
    let opened = open_at(t, b, &lic(), DURING, &new(None, "1", &["e2", "e1", "e2"])).unwrap();
    let ids: Vec<&str> = opened.evidence.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2"]);
}

/// What a dispute's claim, line and amounts must be.
fn claims_lines_and_amounts_are_checked(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    let invalid = |result: Result<DisputeView, AppError>, field: &str| {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid, "{error}");
        assert!(error.to_string().starts_with(&format!("{field}:")), "{error}");
    };
    invalid(open_at(t, b, &lic(), DURING, &new(None, "0", &[])), "amount");
    invalid(open_at(t, b, &lic(), DURING, &new(None, "1.001", &[])), "amount");
    invalid(
        open_at(t, b, &lic(), DURING, &new(Some(("m", "search")), "1", &[])),
        "line",
    );
    let mut blank = new(None, "1", &[]);
    blank.reason = String::new();
    invalid(open_at(t, b, &lic(), DURING, &blank), "reason");
    let id = open_at(t, b, &lic(), DURING, &new(None, "-2", &[])).unwrap().dispute_id;
    for amount in ["-2.01", "1", "0.5"] {
        invalid(
            take_at(t, b, &host(), DURING, &id, Step::Resolve { amount: amount.into() }),
            "amount",
        );
    }
    invalid(
        take_at(t, b, &host(), DURING, &id, Step::Answer { note: " ".into() }),
        "note",
    );
    let offered = take_at(t, b, &host(), DURING, &id, Step::Resolve { amount: "0".into() }).unwrap();
    assert_eq!(offered.status, DisputeStatus::Offered);
    take_at(t, b, &lic(), DURING, &id, Step::Escalate).unwrap();
    invalid(
        take_at(t, b, &Actor::cli(), DURING, &id, Step::Decide { amount: "-2.5".into() }),
        "amount",
    );
    let decided = take_at(t, b, &Actor::cli(), DURING, &id, Step::Decide { amount: "0".into() }).unwrap();
    assert_eq!(decided.status, DisputeStatus::Resolved);
    // Resolved at 0, it settles nothing: October carries no dispute adjustment.
    import_october(t, b);
    let october = close_at(t, b, "2026-10", OCTOBER_CLOSED).remove(0);
    assert!(dispute_adjustments(&october).is_empty());
    assert_eq!(october.total, "4.00");
}

/// At most one unfinished dispute per line; one of the whole statement conflicts
/// with every line's.
fn one_unfinished_dispute_per_line(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    let m = open_at(t, b, &lic(), DURING, &new(Some(("m", "chat")), "1", &[])).unwrap();
    assert_eq!(
        kind(open_at(t, b, &host(), DURING, &new(Some(("m", "chat")), "-1", &[]))),
        ErrorKind::Conflict
    );
    let n = open_at(t, b, &host(), DURING, &new(Some(("n", "chat")), "-1", &[])).unwrap();
    let conflict = open_at(t, b, &lic(), DURING, &new(None, "1", &[])).unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::Conflict);
    take_at(t, b, &lic(), DURING, &m.dispute_id, Step::Withdraw).unwrap();
    assert_eq!(
        kind(open_at(t, b, &lic(), DURING, &new(None, "1", &[]))),
        ErrorKind::Conflict
    );
    take_at(t, b, &host(), DURING, &n.dispute_id, Step::Withdraw).unwrap();
    let whole = open_at(t, b, &lic(), DURING, &new(None, "1", &[])).unwrap();
    assert_eq!(
        kind(open_at(t, b, &host(), DURING, &new(Some(("n", "chat")), "-1", &[]))),
        ErrorKind::Conflict
    );
    // Escalated is unfinished too.
    take_at(t, b, &host(), DURING, &whole.dispute_id, Step::Escalate).unwrap();
    assert_eq!(
        kind(open_at(t, b, &host(), DURING, &new(Some(("m", "chat")), "-1", &[]))),
        ErrorKind::Conflict
    );
}

/// A rejected dispute may be escalated by either party within 14 days of its
/// rejection, even after the window; until then it blocks its line, after it does
/// not.
fn a_rejected_dispute_escalates_within_fourteen_days(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    // Rejected on 2026-10-03: within its 14 days it blocks the line; from
    // 2026-10-17 it can be escalated no more and a new dispute opens.
    let second = open_at(
        t,
        b,
        &lic(),
        "2026-10-02T12:00:00Z",
        &new(Some(("m", "chat")), "1", &[]),
    )
    .unwrap();
    take_at(
        t,
        b,
        &host(),
        "2026-10-03T00:00:00Z",
        &second.dispute_id,
        Step::Reject { note: "no".into() },
    )
    .unwrap();
    assert_eq!(
        kind(open_at(
            t,
            b,
            &lic(),
            "2026-10-16T23:59:59Z",
            &new(Some(("m", "chat")), "1", &[])
        )),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(take_at(
            t,
            b,
            &lic(),
            "2026-10-17T00:00:00Z",
            &second.dispute_id,
            Step::Escalate
        )),
        ErrorKind::Conflict
    );
    let third = open_at(
        t,
        b,
        &lic(),
        "2026-10-17T00:00:00Z",
        &new(Some(("m", "chat")), "1", &[]),
    )
    .unwrap();
    take_at(t, b, &lic(), "2026-10-17T00:00:00Z", &third.dispute_id, Step::Withdraw).unwrap();

    // Rejected on 2026-11-25: escalated on 2026-12-08T23:59:59Z (after the window),
    // within the 14 days that end 2026-12-09T00:00:00Z.
    let first = open_at(t, b, &lic(), "2026-11-20T00:00:00Z", &new(None, "1", &[])).unwrap();
    let rejected = take_at(
        t,
        b,
        &host(),
        "2026-11-25T00:00:00Z",
        &first.dispute_id,
        Step::Reject {
            note: "counted right".into(),
        },
    )
    .unwrap();
    assert_eq!(rejected.status, DisputeStatus::Rejected);
    assert_eq!(rejected.escalation_ends.as_deref(), Some("2026-12-09T00:00:00Z"));
    let escalated = take_at(t, b, &host(), "2026-12-08T23:59:59Z", &first.dispute_id, Step::Escalate).unwrap();
    assert_eq!(escalated.status, DisputeStatus::Escalated);
    let steps: Vec<DisputeStep> = escalated.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, [DisputeStep::Open, DisputeStep::Reject, DisputeStep::Escalate]);
    assert_eq!(escalated.steps[1].note.as_deref(), Some("counted right"));
    assert_eq!(escalated.steps[2].party.as_deref(), Some("h"));
}

/// The callers of the step table, in its columns' order.
fn callers() -> Vec<(&'static str, Actor)> {
    vec![
        ("operator token", Actor::token("t-op", Role::Operator, "op", None)),
        ("cli", Actor::cli()),
        ("cli as lic", Actor::cli_as("lic")),
        ("cli as h", Actor::cli_as("h")),
        ("cli as b", Actor::cli_as("b")),
        ("licensor token", Actor::token("t-lic", Role::Licensor, "lic", None)),
        ("host token", Actor::token("t-h", Role::Host, "h", None)),
        ("beneficiary token", Actor::token("t-b", Role::Beneficiary, "b", None)),
        (
            "auditor token",
            Actor::token("t-aud", Role::Auditor, "aud", Some(vec!["dsp".into()])),
        ),
        ("another host's token", Actor::token("t-x", Role::Host, "h2", None)),
        (
            "another auditor's token",
            Actor::token("t-y", Role::Auditor, "aud2", Some(vec!["other".into()])),
        ),
    ]
}

/// Every step by every caller, for a dispute opened by the licensor and by the
/// host: `o` taken, `f` forbidden (403), `n` not found (404, as if absent).
/// Columns: operator token, cli, cli as lic, cli as h, cli as b, licensor token,
/// host token, beneficiary token, auditor token, another host's, another auditor's.
const TABLE: [(DisputeStep, &str, &str); 8] = [
    // (step, opened by lic, opened by h); `open`: the caller opens it.
    (DisputeStep::Open, "ffoofooffnf", "ffoofooffnf"),
    (DisputeStep::Answer, "fffoffoffnf", "ffoffofffnf"),
    (DisputeStep::Resolve, "fffoffoffnf", "ffoffofffnf"),
    (DisputeStep::Accept, "ffoffofffnf", "fffoffoffnf"),
    (DisputeStep::Reject, "fffoffoffnf", "ffoffofffnf"),
    (DisputeStep::Withdraw, "ffoffofffnf", "fffoffoffnf"),
    (DisputeStep::Escalate, "ffoofooffnf", "ffoofooffnf"),
    (DisputeStep::Decide, "oofffffffff", "oofffffffff"),
];

/// The step, with an amount within the claim of a dispute `opener` opened.
fn step_of(step: DisputeStep, opener: &str) -> Step {
    let amount = if opener == "lic" { "1" } else { "-1" }.to_string();
    match step {
        DisputeStep::Answer => Step::Answer { note: "looking".into() },
        DisputeStep::Resolve => Step::Resolve { amount },
        DisputeStep::Accept => Step::Accept,
        DisputeStep::Reject => Step::Reject { note: "no".into() },
        DisputeStep::Withdraw => Step::Withdraw,
        DisputeStep::Escalate => Step::Escalate,
        DisputeStep::Decide => Step::Decide { amount },
        DisputeStep::Open => unreachable!("open is not a step on a dispute"),
    }
}

/// A dispute opened by `opener`, brought to where `step` is taken from.
fn prepared(t: &TestStore, b: &mut dyn Backend, opener: &str, step: DisputeStep) -> String {
    let other = if opener == "lic" { "h" } else { "lic" };
    let claim = if opener == "lic" { "2" } else { "-2" };
    let id = open_at(t, b, &Actor::cli_as(opener), DURING, &new(None, claim, &[]))
        .unwrap()
        .dispute_id;
    match step {
        DisputeStep::Accept => {
            let offer = if opener == "lic" { "1" } else { "-1" };
            take_at(
                t,
                b,
                &Actor::cli_as(other),
                DURING,
                &id,
                Step::Resolve { amount: offer.into() },
            )
            .unwrap();
        }
        DisputeStep::Decide => {
            take_at(t, b, &Actor::cli_as(opener), DURING, &id, Step::Escalate).unwrap();
        }
        _ => {}
    }
    id
}

/// Brings an unfinished dispute to an end (so that the next one may open).
fn finish(t: &TestStore, b: &mut dyn Backend, id: &str) {
    let shown = disputes::show(b, ctx(&Actor::cli(), DURING), id).unwrap();
    let opener = Actor::cli_as(&shown.opener);
    match shown.status {
        DisputeStatus::Open | DisputeStatus::Answered | DisputeStatus::Offered => {
            take_at(t, b, &opener, DURING, id, Step::Withdraw).unwrap();
        }
        DisputeStatus::Rejected => {
            take_at(t, b, &opener, DURING, id, Step::Escalate).unwrap();
            finish(t, b, id);
        }
        DisputeStatus::Escalated => {
            take_at(t, b, &Actor::cli(), DURING, id, Step::Decide { amount: "0".into() }).unwrap();
        }
        DisputeStatus::Resolved | DisputeStatus::Withdrawn | DisputeStatus::Expired => {}
    }
}

fn every_step_by_every_caller_and_party(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    let callers = callers();
    let outcome = |result: Result<DisputeView, AppError>| match result {
        Ok(_) => 'o',
        Err(e) if e.kind() == ErrorKind::Forbidden => 'f',
        Err(e) if e.kind() == ErrorKind::NotFound => 'n',
        Err(e) => panic!("neither taken nor refused by access: {e}"),
    };
    for (step, by_lic, by_host) in TABLE {
        for (opener, row) in [("lic", by_lic), ("h", by_host)] {
            let expected: Vec<char> = row.chars().collect();
            assert_eq!(expected.len(), callers.len());
            let claim = if opener == "lic" { "2" } else { "-2" };
            // Refusals first, on one dispute where the step can be taken.
            let id = (step != DisputeStep::Open).then(|| prepared(t, b, opener, step));
            for ((name, actor), want) in callers.iter().zip(&expected) {
                if *want == 'o' {
                    continue;
                }
                let got = match &id {
                    Some(id) => outcome(take_at(t, b, actor, DURING, id, step_of(step, opener))),
                    None => outcome(open_at(t, b, actor, DURING, &new(None, claim, &[]))),
                };
                assert_eq!(got, *want, "{} by {name} ({opener} opened)", step.as_str());
            }
            if let Some(id) = &id {
                finish(t, b, id);
            }
            // Then each caller that may, on a dispute of its own.
            for ((name, actor), want) in callers.iter().zip(&expected) {
                if *want != 'o' {
                    continue;
                }
                let taken = match step {
                    DisputeStep::Open => open_at(t, b, actor, DURING, &new(None, claim, &[])),
                    _ => {
                        let id = prepared(t, b, opener, step);
                        take_at(t, b, actor, DURING, &id, step_of(step, opener))
                    }
                };
                let taken = taken.unwrap_or_else(|e| panic!("{} by {name} ({opener} opened): {e}", step.as_str()));
                finish(t, b, &taken.dispute_id);
            }
        }
    }
    // Reads: a beneficiary reads none (403); another host's token sees none.
    let all = disputes::list(b, ctx(&Actor::cli(), DURING)).unwrap();
    assert!(!all.is_empty());
    let id = all[0].dispute_id.clone();
    for (name, actor) in &callers {
        let listed = disputes::list(b, ctx(actor, DURING));
        let shown = disputes::show(b, ctx(actor, DURING), &id);
        match *name {
            "beneficiary token" => {
                assert_eq!(kind(listed), ErrorKind::Forbidden);
                assert_eq!(kind(shown), ErrorKind::Forbidden);
            }
            "another host's token" | "another auditor's token" => {
                assert!(listed.unwrap().is_empty(), "{name}");
                assert_eq!(kind(shown), ErrorKind::NotFound, "{name}");
            }
            _ => {
                assert_eq!(listed.unwrap().len(), all.len(), "{name}");
                assert_eq!(shown.unwrap().dispute_id, id, "{name}");
            }
        }
    }
    let report = verify(b, &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

/// Two closes of October racing, each on its own connection, after a dispute was
/// resolved: the dispute is carried once, by the one statement October gets, and
/// never again.
fn two_closes_racing_carry_a_dispute_once(t: &TestStore) {
    let mut backend = september(t);
    let b = backend.as_mut();
    let id = open_at(t, b, &lic(), DURING, &new(None, "1", &[])).unwrap().dispute_id;
    take_at(t, b, &host(), DURING, &id, Step::Resolve { amount: "1".into() }).unwrap();
    import_october(t, b);
    let keys = t.keys();
    let results: Vec<Vec<revshare_app::close::Closed>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let keys = &keys;
                scope.spawn(move || {
                    let mut backend = t.open();
                    let request = CloseRequest {
                        period: Period::parse("2026-10").unwrap(),
                        contract: None,
                        grace: Grace::default(),
                        dry_run: false,
                        allow_empty: false,
                        settlement_start: false,
                    };
                    close(backend.as_mut(), keys, ctx(&Actor::cli(), OCTOBER_CLOSED), &request)
                        .unwrap()
                        .statements
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let new: Vec<bool> = results.iter().map(|r| r[0].signed_now()).collect();
    assert_eq!(
        new.iter().filter(|n| **n).count(),
        1,
        "one close signs October: {new:?}"
    );
    assert_eq!(results[0][0].json, results[1][0].json);
    let october = &results[0][0].statement;
    assert_eq!(
        dispute_adjustments(october),
        vec![(id.clone(), "1.00".to_string(), pairs(&[("c", "0.30"), ("lic", "0.70")]))]
    );
    assert_eq!(october.total, "5.00");
    assert!(close_at(t, b, "2026-11", NOVEMBER_CLOSED).is_empty());
    let statements = revshare_app::statements::list(b, &Actor::cli()).unwrap();
    let carried = statements
        .iter()
        .flat_map(|s| dispute_adjustments(s.statement()))
        .filter(|(carried, ..)| *carried == id)
        .count();
    assert_eq!(carried, 1);
    let report = verify(b, &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

both_backends!(
    the_adjustment_on_the_next_statement_by_hand,
    the_window_is_exclusive_and_an_open_dispute_expires,
    evidence_not_counted_is_refused_by_name,
    claims_lines_and_amounts_are_checked,
    one_unfinished_dispute_per_line,
    a_rejected_dispute_escalates_within_fourteen_days,
    every_step_by_every_caller_and_party,
    two_closes_racing_carry_a_dispute_once,
);
