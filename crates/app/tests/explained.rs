//! Prior-period adjustments that explain themselves (statements.md): each shows the
//! closed period's new rating (`rerated`) and what was settled for it before
//! (`settled_before`), in total and per beneficiary, one reason at a time, with every
//! amount worked out by hand.
//!
//! The contract shares 10% of revenue (scale 2, half even), split 70% to `lic` and
//! 30% to `lab`; a minimum guarantee of 10.50 and a cap of 15.00 per period; a
//! licensor update contribution adds 0.01 to the share. Splits of 0.70/0.30 are exact
//! at two places for every amount below, so no largest-remainder unit moves.

mod common;

use std::collections::BTreeMap;

use revshare_app::contributions::{Decision, Proposal};
use revshare_app::{Actor, Backend};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::money::Decimal;
use revshare_core::period::Day;
use revshare_core::statement::{Adjustment, AdjustmentKind, Reason, Statement};

use common::hand::{self, event};
use common::{ctx, TestStore};

const CONTRACT: &str = r#"
id = "split"
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
by = "licensor"
kind = "update"
share_delta = "0.01"
max_abs = "0.05"

[minimum_guarantee]
amount = "10.50"

[cap]
amount = "15.00"

[[splits]]
models = ["*"]
shares = { lic = "0.70", lab = "0.30" }
"#;

const NOW: &str = "2026-12-02T00:00:00Z";

fn store(t: &TestStore, backend: &mut dyn Backend, lines: &[String]) {
    hand::import_all(t, backend, NOW, lines);
}

fn closed(t: &TestStore, backend: &mut dyn Backend, period: &str) -> Statement {
    hand::close_one(t, backend, period, NOW)
}

/// A store with the contract and September holding `september`, closed; October
/// holds one event of 10 USD.
fn september_closed(t: &TestStore, september: &[String]) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    revshare_app::contracts::add_version(
        backend.as_mut(),
        &t.keys(),
        ctx(&operator, NOW),
        "split.toml",
        CONTRACT.as_bytes(),
    )
    .unwrap();
    store(t, backend.as_mut(), september);
    store(t, backend.as_mut(), &[event("oct", "2026-10-05", "10", "USD")]);
    closed(t, backend.as_mut(), "2026-09");
    backend
}

/// The statement's one prior-period adjustment, for September.
fn adjustment(statement: &Statement) -> Adjustment {
    let adjustments: Vec<&Adjustment> = statement
        .adjustments
        .iter()
        .filter(|a| a.kind == AdjustmentKind::PriorPeriod)
        .collect();
    assert_eq!(adjustments.len(), 1, "{:?}", statement.adjustments);
    assert_eq!(adjustments[0].period.as_deref(), Some("2026-09"));
    adjustments[0].clone()
}

/// The figures a prior-period adjustment shows, as the test writes them.
struct Expected<'a> {
    reasons: &'a [Reason],
    /// `rerated`: subtotal, minimum-guarantee top-up, cap reduction, total.
    rerated: [&'a str; 4],
    /// `rerated.payouts`: lic, lab.
    rerated_payouts: [&'a str; 2],
    /// `settled_before`: total, then lic, lab.
    settled_before: [&'a str; 3],
    /// `amount`, then its payouts to lic, lab.
    amount: [&'a str; 3],
}

fn assert_explained(a: &Adjustment, expected: &Expected<'_>) {
    assert_eq!(a.reasons.as_deref(), Some(expected.reasons));
    let rerated = a.rerated.as_ref().expect("rerated");
    let before = a.settled_before.as_ref().expect("settled_before");
    assert_eq!(
        [
            rerated.subtotal.as_str(),
            &rerated.minimum_guarantee_topup,
            &rerated.cap_reduction,
            &rerated.total,
        ],
        expected.rerated,
        "rerated"
    );
    let pair = |payouts: &BTreeMap<String, String>| [payouts["lic"].clone(), payouts["lab"].clone()];
    assert_eq!(pair(&rerated.payouts), expected.rerated_payouts, "rerated payouts");
    assert_eq!(before.total, expected.settled_before[0], "settled_before total");
    assert_eq!(
        pair(&before.payouts),
        expected.settled_before[1..],
        "settled_before payouts"
    );
    let payouts = a.payouts.as_ref().unwrap();
    assert_eq!(a.amount, expected.amount[0], "amount");
    assert_eq!(pair(payouts), expected.amount[1..], "adjustment payouts");
    // amount = rerated.total − settled_before.total, per beneficiary likewise.
    let d = |text: &str| Decimal::parse(text, 40).unwrap();
    let difference = |new: &str, old: &str| d(new).sub(&d(old)).to_fixed_string(2);
    assert_eq!(a.amount, difference(&rerated.total, &before.total));
    for (beneficiary, amount) in payouts {
        assert_eq!(
            *amount,
            difference(&rerated.payouts[beneficiary], &before.payouts[beneficiary]),
            "{beneficiary}"
        );
    }
    assert_eq!(
        rerated.payouts.keys().collect::<Vec<_>>(),
        payouts.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        before.payouts.keys().collect::<Vec<_>>(),
        payouts.keys().collect::<Vec<_>>()
    );
}

fn assert_verifies(backend: &mut dyn Backend) {
    let report = revshare_app::verify_store::verify(backend, &Actor::cli(), None).unwrap();
    assert!(report.holds(), "{:#?}", report.failures);
}

fn late_events(t: &TestStore) {
    let mut backend = september_closed(t, &[event("e1", "2026-09-10", "100.00", "USD")]);
    // September closed: 100 × 0.10 = 10.00, topped up by 0.50 to the guarantee of
    // 10.50. Payouts: the line 7.00 / 3.00, the top-up 0.35 / 0.15 pro rata, so
    // lic 7.35, lab 3.15.
    // A late 20 USD: 120 × 0.10 = 12.00, above the guarantee, below the cap, so
    // 12.00 = lic 8.40, lab 3.60; the adjustment 1.50 = lic 1.05, lab 0.45.
    store(t, backend.as_mut(), &[event("e3", "2026-09-12", "20", "USD")]);
    let october = closed(t, backend.as_mut(), "2026-10");
    assert_explained(
        &adjustment(&october),
        &Expected {
            reasons: &[Reason::LateEvents],
            rerated: ["12.00", "0.00", "0.00", "12.00"],
            rerated_payouts: ["8.40", "3.60"],
            settled_before: ["10.50", "7.35", "3.15"],
            amount: ["1.50", "1.05", "0.45"],
        },
    );
    // Another late 10 USD, settled in November (which has its own 10 USD): what was settled before is now the
    // closed 10.50 plus October's 1.50, 12.00 = lic 8.40, lab 3.60; re-rated at
    // 130 × 0.10 = 13.00 = lic 9.10, lab 3.90; the adjustment 1.00 = 0.70 / 0.30.
    store(
        t,
        backend.as_mut(),
        &[
            event("e4", "2026-09-20", "10", "USD"),
            event("nov", "2026-11-05", "10", "USD"),
        ],
    );
    let november = closed(t, backend.as_mut(), "2026-11");
    assert_explained(
        &adjustment(&november),
        &Expected {
            reasons: &[Reason::LateEvents],
            rerated: ["13.00", "0.00", "0.00", "13.00"],
            rerated_payouts: ["9.10", "3.90"],
            settled_before: ["12.00", "8.40", "3.60"],
            amount: ["1.00", "0.70", "0.30"],
        },
    );
    assert_verifies(backend.as_mut());
}

fn voids(t: &TestStore) {
    let mut backend = september_closed(
        t,
        &[
            event("e1", "2026-09-10", "100.00", "USD"),
            event("e3", "2026-09-12", "20", "USD"),
        ],
    );
    // September closed at 120 × 0.10 = 12.00 = lic 8.40, lab 3.60. Voiding the 20 USD
    // leaves 10.00 (7.00 / 3.00), topped up by 0.50 (0.35 / 0.15) to 10.50 = lic
    // 7.35, lab 3.15; the adjustment -1.50 = lic -1.05, lab -0.45.
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
    assert_explained(
        &adjustment(&october),
        &Expected {
            reasons: &[Reason::Voids],
            rerated: ["10.00", "0.50", "0.00", "10.50"],
            rerated_payouts: ["7.35", "3.15"],
            settled_before: ["12.00", "8.40", "3.60"],
            amount: ["-1.50", "-1.05", "-0.45"],
        },
    );
    assert_verifies(backend.as_mut());
}

fn fx_rates(t: &TestStore) {
    let mut backend = september_closed(
        t,
        &[
            event("e1", "2026-09-10", "100.00", "USD"),
            event("e2", "2026-09-11", "50", "EUR"),
        ],
    );
    // September closed at 10.50 (lic 7.35, lab 3.15), the 50 EUR a `no_fx_rate`
    // exception. A rate of 1.2 that day rates it: one line of 100 + 60 = 160 USD,
    // 16.00 (lic 11.20, lab 4.80), capped at 15.00 by a reduction of -1.00 (lic
    // -0.70, lab -0.30): 15.00 = lic 10.50, lab 4.50. The adjustment 4.50 = lic 3.15,
    // lab 1.35.
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
    assert_explained(
        &adjustment(&october),
        &Expected {
            reasons: &[Reason::FxRates],
            rerated: ["16.00", "0.00", "-1.00", "15.00"],
            rerated_payouts: ["10.50", "4.50"],
            settled_before: ["10.50", "7.35", "3.15"],
            amount: ["4.50", "3.15", "1.35"],
        },
    );
    assert_verifies(backend.as_mut());
}

fn contributions(t: &TestStore) {
    let mut backend = september_closed(t, &[event("e1", "2026-09-10", "100.00", "USD")]);
    // September closed at 10.50 (lic 7.35, lab 3.15). An accepted licensor update
    // dated in September raises the share to 0.11: 100 × 0.11 = 11.00, no top-up,
    // = lic 7.70, lab 3.30; the adjustment 0.50 = lic 0.35, lab 0.15.
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    let proposal = Proposal {
        contract: "split".into(),
        by: Party::Licensor,
        kind: ContributionKind::Update,
        date: Day::parse("2026-09-15").unwrap(),
        reference: "weights v2".into(),
    };
    let row = revshare_app::contributions::propose(backend.as_mut(), &t.keys(), now, &proposal).unwrap();
    revshare_app::contributions::decide(backend.as_mut(), &t.keys(), now, row.number, Decision::Accept).unwrap();
    let october = closed(t, backend.as_mut(), "2026-10");
    assert_explained(
        &adjustment(&october),
        &Expected {
            reasons: &[Reason::Contributions],
            rerated: ["11.00", "0.00", "0.00", "11.00"],
            rerated_payouts: ["7.70", "3.30"],
            settled_before: ["10.50", "7.35", "3.15"],
            amount: ["0.50", "0.35", "0.15"],
        },
    );
    assert_verifies(backend.as_mut());
}

/// The CSV form shows the two sides on the adjustment's rows, so that `amount =
/// rerated − settled_before` on each.
fn csv_rows_show_both_sides(t: &TestStore) {
    let mut backend = september_closed(t, &[event("e1", "2026-09-10", "100.00", "USD")]);
    store(t, backend.as_mut(), &[event("e3", "2026-09-12", "20", "USD")]);
    let october = closed(t, backend.as_mut(), "2026-10");
    let csv = revshare_app::render::statement_csv(&[october], &revshare_app::render::Names::default()).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .filter(|r: &Vec<String>| r[column("name")] == "prior_period")
        .collect();
    let shown: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| {
            [
                r[column("beneficiary")].as_str(),
                &r[column("amount")],
                &r[column("rerated")],
                &r[column("settled_before")],
            ]
        })
        .collect();
    // The figures of `late_events`: 12.00 − 10.50, lab 3.60 − 3.15, lic 8.40 − 7.35.
    assert_eq!(
        shown,
        vec![
            ["", "1.50", "12.00", "10.50"],
            ["lab", "0.45", "3.60", "3.15"],
            ["lic", "1.05", "8.40", "7.35"],
        ]
    );
}

both_backends!(late_events, voids, fx_rates, contributions, csv_rows_show_both_sides);
