//! The overview's accrual (dashboard.md), rated from the rollups stored at import,
//! equals the dry run of the same close, which reads the events, on both backends:
//! the spec's small example imported, one of its October events voided, October
//! open (its first close not yet run); and again after more usage arrives.

mod common;

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::dashboard::{overview, Estimate, Pages};
use revshare_app::import::{import, Observers};
use revshare_app::{Actor, Backend};
use revshare_core::money::Decimal;
use revshare_core::period::{Day, Period};
use revshare_ingest::offline::UsageInput;

use common::scenario::{first_event, fixture};
use common::{ctx, TestStore};

/// While October runs.
const OCTOBER: &str = "2026-10-20T00:00:00Z";

fn import_bytes(t: &TestStore, backend: &mut dyn Backend, name: &str, bytes: Vec<u8>) {
    import(
        backend,
        &t.keys(),
        ctx(&Actor::cli(), OCTOBER),
        vec![UsageInput {
            name: name.into(),
            reader: Box::new(std::io::Cursor::new(bytes)),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    )
    .unwrap();
}

fn store(t: &TestStore) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    let now = ctx(&operator, OCTOBER);
    common::scenario::terms(t, backend.as_mut(), now);
    let usage = fixture("usage-small.ndjson");
    import_bytes(t, backend.as_mut(), "usage-small.ndjson", usage.clone());
    let (source, id) = first_event(&usage, "acme-cloud", "2026-10");
    revshare_app::void::void(backend.as_mut(), &t.keys(), now, &source, &id, "sent twice").unwrap();
    backend
}

/// The figures of the dry run of `contract`'s close of `period`, as the accrual shows
/// them: events, the lines' revenue, the subtotal and the total before carried
/// adjustments.
fn dry_run(t: &TestStore, backend: &mut dyn Backend, contract: &str, period: Period) -> Estimate {
    let request = CloseRequest {
        period,
        contract: Some(contract.to_string()),
        grace: Grace::default(),
        dry_run: true,
        allow_empty: true,
        settlement_start: true,
    };
    let outcome = close(backend, &t.keys(), ctx(&Actor::cli(), OCTOBER), &request).unwrap();
    let statement = outcome
        .statements
        .into_iter()
        .find(|c| c.statement.contract == contract)
        .unwrap()
        .into_document()
        .statement;
    let sum = |amounts: &mut dyn Iterator<Item = &String>| {
        amounts.fold(Decimal::zero(), |sum, a| sum.add(&Decimal::parse(a, 64).unwrap()))
    };
    let carried = sum(&mut statement
        .adjustments
        .iter()
        .filter(|a| a.kind.is_carried())
        .map(|a| &a.amount));
    let total = Decimal::parse(&statement.total, 64).unwrap();
    Estimate::Rated {
        currency: statement.currency.clone(),
        events: statement.events.count,
        revenue: sum(&mut statement.lines.iter().map(|l| &l.revenue)).to_string(),
        share: statement.subtotal.clone(),
        total: total.sub(&carried).to_fixed_string(total.scale()),
    }
}

fn compare(t: &TestStore, backend: &mut dyn Backend) -> u64 {
    let operator = Actor::cli();
    let shown = overview(backend, ctx(&operator, OCTOBER), &Pages::default()).unwrap();
    let accrual = shown.accrual.expect("the operator's overview has the accrual");
    assert_eq!(accrual.items.len(), 3, "one row per contract");
    let mut events = 0;
    for row in &accrual.items {
        // Before its first close, the period (a month, a quarter) holding today.
        let period = Period::parse(&row.period).unwrap();
        let today = Day(ctx(&operator, OCTOBER).now.utc_day());
        assert!(
            period.start() <= today && today < period.end(),
            "{}: {period}",
            row.contract
        );
        assert!(row.running);
        let expected = dry_run(t, backend, &row.contract, period);
        assert_eq!(row.estimate, expected, "{}", row.contract);
        if let Estimate::Rated { events: n, .. } = row.estimate {
            events += n;
        }
    }
    events
}

fn the_accrual_from_rollups_is_the_dry_run_of_the_close(t: &TestStore) {
    let mut backend = store(t);
    let before = compare(t, backend.as_mut());
    assert!(before > 0);
    // More October usage: the rollups written with it move the accrual.
    let more: String = (0..5)
        .map(|i| {
            format!(
                r#"{{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us","id":"more-{i}","time":"2026-10-1{i}T08:00:00Z","data":{{"host":"acme-cloud","model":"llama-3.1-8b-instruct","use_case":"chat","customer":"c-{i}","requests":1,"input_tokens":100,"output_tokens":50,"revenue":"2.500000","currency":"USD"}}}}"#
            ) + "\n"
        })
        .collect();
    import_bytes(t, backend.as_mut(), "more.ndjson", more.into_bytes());
    assert_eq!(compare(t, backend.as_mut()), before + 5);
}

both_backends!(the_accrual_from_rollups_is_the_dry_run_of_the_close);
