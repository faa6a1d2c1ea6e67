//! Corrections to a closed period, one reason at a time, with amounts worked out by
//! hand: a contract that shares 10% of revenue (scale 2), no tiers, no minimum or
//! cap, and a host credit of -0.01 per accepted maintenance contribution.

mod common;

use revshare_app::contributions::{Decision, Proposal};
use revshare_app::{Actor, Backend};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::Day;
use revshare_core::statement::{Adjustment, AdjustmentKind, Reason, Statement};

use common::hand::{self, event};
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

[[contribution_credits]]
by = "host"
kind = "maintenance"
share_delta = "-0.01"
max_abs = "0.05"
"#;

const NOW: &str = "2026-11-29T00:00:00Z";

fn store(t: &TestStore, backend: &mut dyn Backend, lines: &[String]) {
    hand::import_all(t, backend, NOW, lines);
}

fn closed(t: &TestStore, backend: &mut dyn Backend, period: &str) -> Statement {
    hand::close_one(t, backend, period, NOW)
}

/// A store with the contract, September holding `september`, closed; October holds
/// one event of 10 USD (1.00 of its own).
fn september_closed(t: &TestStore, september: &[String]) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, NOW),
        "hand.toml",
        CONTRACT.as_bytes(),
    )
    .unwrap();
    store(t, backend.as_mut(), september);
    store(t, backend.as_mut(), &[event("oct", "2026-10-05", "10", "USD")]);
    let statement = closed(t, backend.as_mut(), "2026-09");
    assert_eq!(statement.period, "2026-09");
    backend
}

/// October's prior-period adjustment for September.
fn adjustment(october: &Statement) -> Adjustment {
    assert_eq!(october.subtotal, "1.00", "October's own 10 USD at 10%");
    let adjustments: Vec<&Adjustment> = october
        .adjustments
        .iter()
        .filter(|a| a.kind == AdjustmentKind::PriorPeriod)
        .collect();
    assert_eq!(adjustments.len(), 1, "{:?}", october.adjustments);
    assert_eq!(adjustments[0].period.as_deref(), Some("2026-09"));
    adjustments[0].clone()
}

fn late_events(t: &TestStore) {
    let mut backend = september_closed(t, &[event("e1", "2026-09-10", "100.00", "USD")]);
    // September closed at 100 × 0.10 = 10.00; a late 20 USD adds 20 × 0.10 = 2.00.
    store(t, backend.as_mut(), &[event("e3", "2026-09-12", "20", "USD")]);
    let october = closed(t, backend.as_mut(), "2026-10");
    let a = adjustment(&october);
    assert_eq!(a.reasons.as_deref(), Some(&[Reason::LateEvents][..]));
    assert_eq!(a.amount, "2.00");
    assert_eq!(a.events.as_ref().unwrap().count, 1);
    assert!(a.voided.is_none());
    assert_eq!(a.payouts.as_ref().unwrap()["lic"], "2.00");
    assert_eq!(october.total, "3.00", "1.00 + 2.00");
    assert_eq!(october.payouts["lic"], "3.00");
}

fn voids(t: &TestStore) {
    let mut backend = september_closed(
        t,
        &[
            event("e1", "2026-09-10", "100.00", "USD"),
            event("e3", "2026-09-12", "20", "USD"),
        ],
    );
    // September closed at (100 + 20) × 0.10 = 12.00; voiding the 20 USD takes 2.00 back.
    let operator = Actor::cli();
    revshare_app::void::void(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, NOW),
        "h/eu",
        "e3",
        "sent with the wrong host",
    )
    .unwrap();
    let october = closed(t, backend.as_mut(), "2026-10");
    let a = adjustment(&october);
    assert_eq!(a.reasons.as_deref(), Some(&[Reason::Voids][..]));
    assert_eq!(a.amount, "-2.00");
    assert_eq!(a.events.as_ref().unwrap().count, 0, "it settles no late event");
    assert_eq!(a.voided.as_ref().unwrap().count, 1);
    assert_eq!(october.total, "-1.00", "1.00 - 2.00");
}

fn fx_rates(t: &TestStore) {
    let mut backend = september_closed(
        t,
        &[
            event("e1", "2026-09-10", "100.00", "USD"),
            event("e2", "2026-09-11", "50", "EUR"),
        ],
    );
    // September closed at 10.00, the 50 EUR a `no_fx_rate` exception. A rate of 1.2
    // dated that day rates it: 50 × 1.2 × 0.10 = 6.00.
    let operator = Actor::cli();
    revshare_app::tables::add_fx(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, NOW),
        "fx.csv",
        b"date,from,to,rate\n2026-09-11,EUR,USD,1.2\n",
    )
    .unwrap();
    let october = closed(t, backend.as_mut(), "2026-10");
    let a = adjustment(&october);
    assert_eq!(a.reasons.as_deref(), Some(&[Reason::FxRates][..]));
    assert_eq!(a.amount, "6.00");
    assert_eq!(a.events.as_ref().unwrap().count, 0);
    assert_eq!(october.total, "7.00");
}

fn contributions(t: &TestStore) {
    let mut backend = september_closed(t, &[event("e1", "2026-09-10", "100.00", "USD")]);
    // An accepted host maintenance contribution dated in September lowers its rate
    // to 0.10 - 0.01 = 0.09: 100 × 0.09 = 9.00 instead of 10.00.
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    let proposal = Proposal {
        contract: "hand".into(),
        by: Party::Host,
        kind: ContributionKind::Maintenance,
        date: Day::parse("2026-09-15").unwrap(),
        reference: "patch".into(),
    };
    let row = revshare_app::contributions::propose(backend.as_mut(), &t.keys(), now, &proposal).unwrap();
    revshare_app::contributions::decide(backend.as_mut(), &t.keys(), now, row.number, Decision::Accept).unwrap();
    let october = closed(t, backend.as_mut(), "2026-10");
    let a = adjustment(&october);
    assert_eq!(a.reasons.as_deref(), Some(&[Reason::Contributions][..]));
    assert_eq!(a.amount, "-1.00");
    assert_eq!(october.total, "0.00");
}

fn a_rerating_that_changes_nothing_is_not_listed(t: &TestStore) {
    let mut backend = september_closed(t, &[event("e1", "2026-09-10", "100.00", "USD")]);
    // A rejected contribution is a decision in September that changes nothing.
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    let proposal = Proposal {
        contract: "hand".into(),
        by: Party::Host,
        kind: ContributionKind::Maintenance,
        date: Day::parse("2026-09-15").unwrap(),
        reference: "eval harness".into(),
    };
    let row = revshare_app::contributions::propose(backend.as_mut(), &t.keys(), now, &proposal).unwrap();
    revshare_app::contributions::decide(backend.as_mut(), &t.keys(), now, row.number, Decision::Reject).unwrap();
    let october = closed(t, backend.as_mut(), "2026-10");
    assert!(october.adjustments.is_empty(), "{:?}", october.adjustments);
    assert_eq!(october.total, "1.00");
    // But September is marked settled up to this close: nothing is re-rated later.
    let row = backend.statement("hand/2026-10").unwrap().unwrap();
    assert!(row.settled.contains("hand/2026-09"), "{}", row.settled);
}

both_backends!(
    late_events,
    voids,
    fx_rates,
    contributions,
    a_rerating_that_changes_nothing_is_not_listed,
);
