//! The scenario many tests start from: the small example's contracts, FX rates and
//! contributions, its usage imported, September closed, one September event voided,
//! October closed (so October carries a prior-period adjustment with a `voided:`
//! tree), and `audit verify` holding.

use revshare_app::close::{close, CloseRequest, Grace};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::import::{import, Observers};
use revshare_app::verify_store::verify;
use revshare_app::{Actor, Backend};
use revshare_core::period::Period;
use revshare_core::tables::{ContributionStatus, Contributions};
use revshare_ingest::offline::UsageInput;

use super::{ctx, TestStore};

pub fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/spec-examples")
            .join(relative),
    )
    .unwrap()
}

pub const NOW: &str = "2026-11-29T00:00:00Z";

/// The small example's contracts and FX rates, added at `now`.
pub fn terms(t: &TestStore, backend: &mut dyn Backend, now: revshare_app::Ctx<'_>) {
    for file in [
        "contracts/acme-llama.toml",
        "contracts/nimbus-llama.toml",
        "contracts/orbit-llama.toml",
    ] {
        revshare_app::contracts::add_version(backend, &t.keys(), now, file, &fixture(file)).unwrap();
    }
    revshare_app::tables::add_fx(backend, &t.keys(), now, "fx.csv", &fixture("fx.csv")).unwrap();
}

/// A store with the small example imported, September and October closed, one
/// event voided after September closed (so October carries a `voided:` tree).
pub fn prepared(t: &TestStore) -> Box<dyn Backend> {
    let mut backend = t.open();
    let operator = Actor::cli();
    let now = ctx(&operator, NOW);
    terms(t, backend.as_mut(), now);
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
        let row = revshare_app::contributions::propose(backend.as_mut(), &t.keys(), now, &proposal).unwrap();
        if c.status == ContributionStatus::Accepted {
            revshare_app::contributions::decide(backend.as_mut(), &t.keys(), now, row.number, Decision::Accept)
                .unwrap();
        }
    }
    import(
        backend.as_mut(),
        &t.keys(),
        now,
        vec![UsageInput {
            name: "usage-small.ndjson".into(),
            reader: Box::new(std::io::Cursor::new(fixture("usage-small.ndjson"))),
        }],
        Observers {
            progress: &mut |_| {},
            rejected: &mut |_| {},
        },
    )
    .unwrap();
    close_period(t, backend.as_mut(), "2026-09");
    let (source, id) = first_event(&fixture("usage-small.ndjson"), "acme-cloud", "2026-09");
    revshare_app::void::void(backend.as_mut(), &t.keys(), now, &source, &id, "sent twice").unwrap();
    close_period(t, backend.as_mut(), "2026-10");
    let report = verify(backend.as_mut(), &Actor::cli(), None).unwrap();
    assert!(report.holds(), "before any edit: {:#?}", report.failures);
    backend
}

pub fn close_period(t: &TestStore, backend: &mut dyn Backend, period: &str) {
    let operator = Actor::cli();
    let request = CloseRequest {
        period: Period::parse(period).unwrap(),
        contract: None,
        grace: Grace::default(),
        dry_run: false,
        allow_empty: false,
        // The examples' contracts start before their usage (nimbus-llama owes a
        // minimum guarantee from July): settlement starts mid-term, confirmed.
        settlement_start: true,
    };
    close(backend, &t.keys(), ctx(&operator, NOW), &request).unwrap();
}

pub fn first_event(usage: &[u8], host: &str, month: &str) -> (String, String) {
    let text = String::from_utf8(usage.to_vec()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(&format!("\"host\":\"{host}\"")) && l.contains(&format!("\"time\":\"{month}")))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    (
        event["source"].as_str().unwrap().to_string(),
        event["id"].as_str().unwrap().to_string(),
    )
}
