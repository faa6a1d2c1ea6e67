//! The ledger and payments on both backends, with amounts worked out by hand: a
//! contract that shares 10% of revenue (scale 2) half to its licensor `lic`, half to
//! `b`, hosted by `h`, 30 days' payment terms. September (100.00 of revenue) closes
//! on 2026-10-02 into payouts of 5.00 each, due 2026-11-01; October (40.00) closes on
//! 2026-11-02 into 2.00 each, due 2026-12-02.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::ledger::{balances, Balance, Filter};
use revshare_app::payments::{record, step, NewPayment, Step};
use revshare_app::verify_store::verify;
use revshare_app::{Actor, AppError, Backend, ErrorKind};
use revshare_core::money::Decimal;
use revshare_core::period::{Day, Period};
use revshare_core::records::Role;
use revshare_core::records::{PaymentRow, PaymentStatus};
use revshare_core::statement::Statement;

use common::hand;
use common::{ctx, TestStore};

const CONTRACT: &str = r#"
id = "hand"
version = 1
licensor = "lic"
host = "h"
currency = "USD"
effective_from = "2026-01-01"
effective_to = "2027-01-01"
period = "month"
payment_terms_days = 30
dispute_window_days = 60
models = ["m"]

[rounding]
scale = 2
mode = "half_even"

[[rates]]
use_case = "*"
revenue_share = "0.10"

[[splits]]
models = ["*"]
shares = { lic = "0.5", b = "0.5" }
"#;

const SEPTEMBER_CLOSED: &str = "2026-10-02T00:00:00Z";
const OCTOBER_CLOSED: &str = "2026-11-02T00:00:00Z";
const LATER: &str = "2026-11-20T00:00:00Z";

fn event(id: &str, day: &str, revenue: &str) -> String {
    hand::event(id, day, revenue, "USD")
}

/// The store with September and October closed.
fn two_closes(t: &TestStore) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, SEPTEMBER_CLOSED),
        "hand.toml",
        CONTRACT.as_bytes(),
    )
    .unwrap();
    hand::import_all(
        t,
        backend.as_mut(),
        SEPTEMBER_CLOSED,
        &[event("e1", "2026-09-10", "100.00")],
    );
    let september = hand::close_one(t, backend.as_mut(), "2026-09", SEPTEMBER_CLOSED);
    assert_eq!(september.payouts["b"], "5.00");
    assert_eq!(september.due_date.as_deref(), Some("2026-11-01"));
    hand::import_all(
        t,
        backend.as_mut(),
        OCTOBER_CLOSED,
        &[event("e2", "2026-10-05", "40.00")],
    );
    let october = hand::close_one(t, backend.as_mut(), "2026-10", OCTOBER_CLOSED);
    assert_eq!(october.payouts["b"], "2.00");
    assert_eq!(october.due_date.as_deref(), Some("2026-12-02"));
    backend
}

fn day(text: &str) -> Day {
    Day::parse(text).unwrap()
}

fn payment(contract: &str, payer: Option<&str>, payee: &str, amount: &str, date: &str) -> NewPayment {
    NewPayment {
        contract: contract.into(),
        payer: payer.map(str::to_string),
        payee: payee.into(),
        amount: amount.into(),
        date: day(date),
        reference: "wire 42".into(),
    }
}

fn pay(t: &TestStore, backend: &mut dyn Backend, actor: &Actor, new: &NewPayment) -> Result<PaymentRow, AppError> {
    record(backend, &t.keys(), ctx(actor, LATER), new)
}

fn take(t: &TestStore, backend: &mut dyn Backend, actor: &Actor, id: &str, s: Step) -> Result<PaymentRow, AppError> {
    step(backend, &t.keys(), ctx(actor, LATER), id, &s)
}

fn balance_of(backend: &mut dyn Backend, beneficiary: &str, as_of: &str) -> Balance {
    let filter = Filter {
        as_of: Some(day(as_of)),
        ..Filter::default()
    };
    balances(backend, ctx(&Actor::cli(), LATER), &filter)
        .unwrap()
        .into_iter()
        .find(|b| b.beneficiary == beneficiary)
        .unwrap()
}

fn kind(result: Result<PaymentRow, AppError>) -> ErrorKind {
    result.expect_err("the step is refused").kind()
}

fn ageing_by_hand(t: &TestStore) {
    let mut backend = two_closes(t);
    let h = Actor::cli_as("h");
    let b = Actor::cli_as("b");
    // h pays b 6.00 on 2026-11-10, and b confirms it.
    let paid = pay(t, backend.as_mut(), &h, &payment("hand", None, "b", "6", "2026-11-10")).unwrap();
    assert_eq!(paid.amount, "6.00");
    assert!(paid.payment_id.starts_with("P-") && paid.payment_id.len() == 14);
    // Unconfirmed, it posts nothing: b is owed 5.00 + 2.00.
    assert_eq!(balance_of(backend.as_mut(), "b", "2026-12-10").outstanding, "7.00");
    take(t, backend.as_mut(), &b, &paid.payment_id, Step::Confirm).unwrap();

    // As of 2026-11-05 the payment (dated 11-10) does not count yet: September's 5.00
    // is 4 days past its due 11-01, October's 2.00 not due until 12-02.
    let early = balance_of(backend.as_mut(), "b", "2026-11-05");
    assert_eq!(early.outstanding, "7.00");
    assert_eq!((early.current.as_str(), early.days_1_30.as_str()), ("2.00", "5.00"));
    // As of 2026-12-10 the 6.00 paid September's 5.00 first and 1.00 of October's,
    // whose other 1.00 is 8 days past due.
    let later = balance_of(backend.as_mut(), "b", "2026-12-10");
    assert_eq!(later.outstanding, "1.00");
    assert_eq!((later.current.as_str(), later.days_1_30.as_str()), ("0.00", "1.00"));
    assert_eq!(later.unapplied, "0.00");
    // lic is paid nothing: on 2027-02-01 September's 5.00 is 92 days past due and
    // October's 2.00 61 days.
    let lic = balance_of(backend.as_mut(), "lic", "2027-02-01");
    assert_eq!(lic.outstanding, "7.00");
    assert_eq!((lic.days_91_plus.as_str(), lic.days_61_90.as_str()), ("5.00", "2.00"));
    assert_eq!(
        (lic.current.as_str(), lic.days_1_30.as_str(), lic.days_31_60.as_str()),
        ("0.00", "0.00", "0.00")
    );
    // Overpaid: b refunds nothing yet, a further 3.00 leaves 2.00 unapplied.
    let more = pay(
        t,
        backend.as_mut(),
        &h,
        &payment("hand", None, "b", "3.00", "2026-11-12"),
    )
    .unwrap();
    take(t, backend.as_mut(), &Actor::cli(), &more.payment_id, Step::Confirm).unwrap();
    let over = balance_of(backend.as_mut(), "b", "2026-12-10");
    assert_eq!((over.outstanding.as_str(), over.unapplied.as_str()), ("-2.00", "-2.00"));
    assert!(verify(backend.as_mut(), &Actor::cli(), None).unwrap().holds());
}

fn payment_steps_by_role(t: &TestStore) {
    let mut backend = two_closes(t);
    let backend = backend.as_mut();
    let operator = Actor::cli();
    let host = Actor::token("t-host", Role::Host, "h", None);
    let b = Actor::token("t-b", Role::Beneficiary, "b", None);
    let lic = Actor::token("t-lic", Role::Licensor, "lic", None);
    let auditor = Actor::token("t-aud", Role::Auditor, "aud", Some(vec!["hand".into()]));
    let stranger = Actor::token("t-x", Role::Host, "other-host", None);

    // Record: the payer, as itself; an auditor only reads; a stranger finds nothing.
    assert_eq!(
        kind(pay(
            t,
            backend,
            &auditor,
            &payment("hand", None, "b", "1", "2026-11-10")
        )),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(pay(
            t,
            backend,
            &stranger,
            &payment("hand", None, "b", "1", "2026-11-10")
        )),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(pay(t, backend, &b, &payment("hand", Some("h"), "b", "1", "2026-11-10"))),
        ErrorKind::Forbidden
    );
    assert_eq!(
        kind(pay(t, backend, &lic, &payment("hand", None, "b", "1", "2026-11-10"))),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(pay(t, backend, &host, &payment("hand", None, "b", "0", "2026-11-10"))),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(pay(
            t,
            backend,
            &host,
            &payment("hand", None, "b", "1.001", "2026-11-10")
        )),
        ErrorKind::Invalid
    );
    assert_eq!(
        kind(pay(
            t,
            backend,
            &operator,
            &payment("hand", None, "b", "1", "2026-11-10")
        )),
        ErrorKind::Invalid
    );
    let first = pay(t, backend, &host, &payment("hand", None, "b", "1", "2026-11-10")).unwrap();
    let id = first.payment_id.as_str();

    // Confirm: the payee, once.
    assert_eq!(kind(take(t, backend, &host, id, Step::Confirm)), ErrorKind::Forbidden);
    assert_eq!(
        kind(take(t, backend, &lic, id, Step::Confirm)),
        ErrorKind::NotFound,
        "not lic's account"
    );
    assert_eq!(
        kind(take(t, backend, &auditor, id, Step::Confirm)),
        ErrorKind::Forbidden
    );
    let confirmed = take(t, backend, &b, id, Step::Confirm).unwrap();
    assert_eq!(confirmed.status, PaymentStatus::Confirmed);
    assert_eq!(confirmed.confirmed_by.as_deref(), Some("t-b"));
    assert_eq!(kind(take(t, backend, &b, id, Step::Confirm)), ErrorKind::Conflict);
    // Withdraw: only while unconfirmed.
    assert_eq!(kind(take(t, backend, &host, id, Step::Withdraw)), ErrorKind::Conflict);
    // Reverse: the operator's own step, of a confirmed payment, with a reason.
    let reason = || Step::Reverse {
        reason: "the wire bounced".into(),
    };
    assert_eq!(kind(take(t, backend, &host, id, reason())), ErrorKind::Forbidden);
    assert_eq!(
        kind(take(t, backend, &Actor::cli_as("h"), id, reason())),
        ErrorKind::Forbidden
    );
    let blank = Step::Reverse { reason: " ".into() };
    assert_eq!(kind(take(t, backend, &operator, id, blank)), ErrorKind::Invalid);
    let reversed = take(t, backend, &operator, id, reason()).unwrap();
    assert_eq!(reversed.status, PaymentStatus::Reversed);
    assert_eq!(kind(take(t, backend, &operator, id, reason())), ErrorKind::Conflict);

    // A refund from b to h: withdrawn by its payer, not by its payee.
    let refund = pay(t, backend, &b, &payment("hand", None, "h", "0.50", "2026-11-11")).unwrap();
    let id = refund.payment_id.as_str();
    assert_eq!(
        kind(take(t, backend, &operator, id, reason())),
        ErrorKind::Conflict,
        "not confirmed"
    );
    assert_eq!(kind(take(t, backend, &host, id, Step::Withdraw)), ErrorKind::Forbidden);
    assert_eq!(
        take(t, backend, &b, id, Step::Withdraw).unwrap().status,
        PaymentStatus::Withdrawn
    );
    assert_eq!(kind(take(t, backend, &host, id, Step::Confirm)), ErrorKind::Conflict);

    // Who sees what: b and h both payments, lic and a stranger none, the auditor both.
    let seen = |actor: &Actor, backend: &mut dyn Backend| revshare_app::payments::list(backend, actor).unwrap().len();
    assert_eq!(
        [&operator, &host, &b, &lic, &auditor, &stranger].map(|a| seen(a, backend)),
        [2, 2, 2, 0, 2, 0]
    );
    // The reversal undid the payment: b is owed 5.00 + 2.00 again.
    assert_eq!(balance_of(backend, "b", "2026-12-31").outstanding, "7.00");
    assert!(verify(backend, &Actor::cli(), None).unwrap().holds());
}

/// The ledger's sums, checked on a whole store.
fn check_sums(backend: &mut dyn Backend) {
    let legs = backend.legs().unwrap();
    let amount = |text: &str| Decimal::parse(text, 2).unwrap();
    let mut sums: BTreeMap<&str, Decimal> = BTreeMap::new();
    for leg in &legs {
        let sum = sums.entry(&leg.txn).or_default();
        *sum = sum.add(&amount(&leg.amount));
    }
    assert!(
        sums.values().all(Decimal::is_zero),
        "every transaction sums to zero: {sums:?}"
    );
    let receivable = |host: &str, b: &str, txn: Option<&str>| {
        legs.iter()
            .filter(|l| l.side == "receivable" && l.host == host && l.beneficiary == b)
            .filter(|l| txn.is_none_or(|t| t == l.txn))
            .fold(Decimal::zero(), |s, l| s.add(&amount(&l.amount)))
    };
    let all = balances(backend, ctx(&Actor::cli(), "2030-01-01T00:00:00Z"), &Filter::default()).unwrap();
    let mut outstanding = Decimal::zero();
    for balance in &all {
        let legs_sum = receivable(&balance.host, &balance.beneficiary, None);
        assert_eq!(
            amount(&balance.outstanding),
            legs_sum,
            "a balance is the sum of its legs"
        );
        outstanding = outstanding.add(&legs_sum);
    }
    let mut payouts = Decimal::zero();
    for row in backend.statements().unwrap() {
        let statement: Statement = serde_json::from_str(&row.json).unwrap();
        for (b, p) in statement.payouts.iter().filter(|(b, _)| **b != statement.host) {
            let posted = receivable(&statement.host, b, Some(&format!("statement:{}", row.statement_id)));
            assert_eq!(posted, amount(p), "a statement's postings are its payouts");
            payouts = payouts.add(&amount(p));
        }
    }
    let (mut paid, mut refunded) = (Decimal::zero(), Decimal::zero());
    for p in backend
        .payments()
        .unwrap()
        .iter()
        .filter(|p| p.status == PaymentStatus::Confirmed)
    {
        match p.payer == "h" {
            true => paid = paid.add(&amount(&p.amount)),
            false => refunded = refunded.add(&amount(&p.amount)),
        }
    }
    assert_eq!(outstanding, payouts.sub(&paid).add(&refunded), "Σ outstanding");
}

/// A step the property test takes on the store.
#[derive(Clone, Debug)]
enum Op {
    Pay {
        to_b: bool,
        refund: bool,
        cents: i64,
        day: i32,
    },
    Confirm(usize),
    Withdraw(usize),
    Reverse(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        (any::<bool>(), any::<bool>(), 1i64..1_000, 0i32..90).prop_map(|(to_b, refund, cents, day)| Op::Pay {
            to_b,
            refund,
            cents,
            day
        }),
        (0usize..8).prop_map(Op::Confirm),
        (0usize..8).prop_map(Op::Withdraw),
        (0usize..8).prop_map(Op::Reverse),
    ];
    proptest::collection::vec(op, 1..8)
}

fn apply(t: &TestStore, backend: &mut dyn Backend, op: &Op) {
    let operator = Actor::cli();
    let ids: Vec<String> = backend.payments().unwrap().into_iter().map(|p| p.payment_id).collect();
    let nth = |n: usize| ids.get(n % ids.len().max(1)).cloned();
    // Refused steps (a second confirmation, a withdrawal after it) leave no trace.
    let _ = match op {
        Op::Pay {
            to_b,
            refund,
            cents,
            day,
        } => {
            let b = if *to_b { "b" } else { "lic" };
            let (payer, payee) = if *refund { (b, "h") } else { ("h", b) };
            let amount = Decimal::from_units(*cents, 2).to_string();
            let date = Day(Day::parse("2026-10-01").unwrap().0 + day).to_string();
            pay(
                t,
                backend,
                &operator,
                &payment("hand", Some(payer), payee, &amount, &date),
            )
            .map(|_| ())
        }
        Op::Confirm(n) => nth(*n).map_or(Ok(()), |id| take(t, backend, &operator, &id, Step::Confirm).map(|_| ())),
        Op::Withdraw(n) => nth(*n).map_or(Ok(()), |id| {
            take(t, backend, &operator, &id, Step::Withdraw).map(|_| ())
        }),
        Op::Reverse(n) => nth(*n).map_or(Ok(()), |id| {
            take(t, backend, &operator, &id, Step::Reverse { reason: "test".into() }).map(|_| ())
        }),
    };
}

fn the_ledger_adds_up_whatever_the_steps(t: &TestStore) {
    let mut backend = two_closes(t);
    check_sums(backend.as_mut());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    // The steps accumulate across cases on one store: the sums hold after each.
    let backend = std::cell::RefCell::new(backend);
    runner
        .run(&ops(), |ops| {
            let mut backend = backend.borrow_mut();
            for op in &ops {
                apply(t, backend.as_mut(), op);
            }
            check_sums(backend.as_mut());
            Ok(())
        })
        .unwrap();
    let report = verify(backend.borrow_mut().as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

fn a_prior_period_adjustment_posts_with_its_statement(t: &TestStore) {
    let mut backend = two_closes(t);
    // A late September event of 30.00 (3.00: 1.50 each) settles in November, a
    // period of no events of its own: its statement holds only the adjustment.
    hand::import_all(t, backend.as_mut(), LATER, &[event("late", "2026-09-20", "30.00")]);
    let operator = Actor::cli();
    let request = CloseRequest {
        period: Period::parse("2026-11").unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: true,
        settlement_start: false,
    };
    let outcome = close(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, "2026-12-02T00:00:00Z"),
        &request,
    )
    .unwrap();
    let november = &outcome.statements[0].statement;
    assert_eq!(november.subtotal, "0.00");
    assert_eq!(november.payouts["b"], "1.50");
    let legs: Vec<_> = backend
        .legs()
        .unwrap()
        .into_iter()
        .filter(|l| l.txn == "statement:hand/2026-11" && l.beneficiary == "b")
        .map(|l| {
            (
                l.side,
                l.amount,
                Day(l.day).to_string(),
                l.due.map(|d| Day(d).to_string()),
            )
        })
        .collect();
    let due = Some("2027-01-01".to_string());
    assert_eq!(
        legs,
        [
            ("payable".into(), "-1.50".into(), "2026-12-02".into(), due.clone()),
            ("receivable".into(), "1.50".into(), "2026-12-02".into(), due),
        ]
    );
    assert_eq!(balance_of(backend.as_mut(), "b", "2027-01-01").outstanding, "8.50");
    check_sums(backend.as_mut());
    assert!(verify(backend.as_mut(), &operator, None).unwrap().holds());
}

fn names(backend: &mut dyn Backend, object: &str) {
    let report = verify(backend, &Actor::cli(), None).unwrap();
    assert!(
        report.failures.iter().any(|f| f.check == 4 && f.object == object),
        "check 4 should name {object}: {:#?}",
        report.failures
    );
}

fn an_edited_leg_fails_check_4(t: &TestStore) {
    let mut backend = two_closes(t);
    let paid = pay(
        t,
        backend.as_mut(),
        &Actor::cli_as("h"),
        &payment("hand", None, "b", "3", "2026-11-10"),
    )
    .unwrap();
    take(
        t,
        backend.as_mut(),
        &Actor::cli_as("b"),
        &paid.payment_id,
        Step::Confirm,
    )
    .unwrap();
    assert!(verify(backend.as_mut(), &Actor::cli(), None).unwrap().holds());

    t.tamper("UPDATE ledger_legs SET amount = '4.00' WHERE txn = 'statement:hand/2026-09' AND beneficiary = 'b' AND side = 'receivable'");
    names(backend.as_mut(), "statement:hand/2026-09");
    t.tamper("UPDATE ledger_legs SET amount = '5.00' WHERE txn = 'statement:hand/2026-09' AND beneficiary = 'b' AND side = 'receivable'");
    assert!(verify(backend.as_mut(), &Actor::cli(), None).unwrap().holds());

    let payment_txn = format!("payment:{}", paid.payment_id);
    t.tamper(&format!(
        "DELETE FROM ledger_legs WHERE txn = '{payment_txn}' AND side = 'payable'"
    ));
    names(backend.as_mut(), &payment_txn);
}

both_backends!(
    ageing_by_hand,
    payment_steps_by_role,
    the_ledger_adds_up_whatever_the_steps,
    an_edited_leg_fails_check_4,
    a_prior_period_adjustment_posts_with_its_statement,
);
