//! The demo's settlement, after October's close: a dispute opened by the host and
//! resolved by the licensor, carried once by the next statement; a payment recorded
//! by the host and confirmed by the licensor; balances with ageing; and `audit
//! verify` over everything stored.

use revshare_app::close::Closed;
use revshare_app::disputes::{NewDispute, Step};
use revshare_app::payments::NewPayment;
use revshare_app::{Actor, Ctx};
use revshare_core::dispute::Evidence;
use revshare_core::period::Day;

use super::{request, step};
use crate::audit::AuditCommand;
use crate::commands::ledger::LedgerCommand;
use crate::{close, format, stateful, Failure, Format, StoreArgs};

const DISPUTED: &str = "acme-llama/2026-10";
/// What acme-cloud claims it was overcharged on the disputed line.
const CLAIM: &str = "-12.50";

pub(super) fn run(
    args: &StoreArgs,
    september: &[Closed],
    october: &[Closed],
    evidence: &(String, String),
) -> Result<(), Failure> {
    dispute(args, october, evidence)?;
    step("close November 2026: its statements carry the resolved dispute, once (no November usage in this demo)");
    let mut november = request("2026-11", Some("acme-llama"));
    november.allow_empty = true;
    let closed = close::close_period(args, &november, close::Summary::Stdout)?;
    let mut out = std::io::stdout().lock();
    for closed in &closed {
        format::write_table(&mut out, &closed.statement).map_err(|e| Failure::other(e.to_string()))?;
    }
    drop(out);
    pay(args, september)?;
    step("balances with ageing: what each host still owes each beneficiary");
    let balances = LedgerCommand::Balances {
        party: None,
        contract: None,
        currency: None,
        as_of: None,
        format: Some(Format::Table),
    };
    crate::commands::ledger::ledger(args, balances)?;
    step("audit verify: every check over everything stored");
    let verify = AuditCommand::Verify {
        since_seq: None,
        format: Some(Format::Table),
    };
    crate::audit::run(args, verify)
}

/// acme-cloud disputes a line of October's statement with an event it counts as
/// evidence; meta, the counterparty, resolves it for the whole claim.
fn dispute(args: &StoreArgs, october: &[Closed], (source, id): &(String, String)) -> Result<(), Failure> {
    let acme = october
        .iter()
        .find(|c| c.statement_id == DISPUTED)
        .ok_or_else(|| Failure::other(format!("October has no {DISPUTED}")))?;
    let line = acme
        .statement
        .lines
        .first()
        .ok_or_else(|| Failure::other(format!("{DISPUTED} has no line")))?;
    step(&format!(
        "acme-cloud disputes the line {} / {} of {DISPUTED} ({CLAIM}), with event ({source}, {id}) as evidence",
        line.model, line.use_case
    ));
    let mut backend = stateful::open(args)?;
    let keys = stateful::keys(args, backend.as_mut())?;
    let new = NewDispute {
        statement_id: DISPUTED.to_string(),
        line: Some((line.model.clone(), line.use_case.clone())),
        amount: CLAIM.to_string(),
        reason: "the exclusivity multiplier was applied to a non-exclusive region".to_string(),
        evidence: vec![Evidence {
            source: source.clone(),
            id: id.clone(),
        }],
    };
    let host = Actor::cli_as("acme-cloud");
    let opened = revshare_app::disputes::open(backend.as_mut(), &keys, Ctx::now(&host), &new)?;
    println!(
        "dispute {} {} (its inclusion proof checked)",
        opened.dispute_id,
        opened.status.as_str()
    );
    let licensor = Actor::cli_as("meta");
    let resolve = Step::Resolve {
        amount: CLAIM.to_string(),
    };
    let resolved = revshare_app::disputes::step(
        backend.as_mut(),
        &keys,
        Ctx::now(&licensor),
        &opened.dispute_id,
        &resolve,
    )?;
    println!(
        "meta resolves it for the whole claim: {} {}",
        resolved.status.as_str(),
        resolved.amount.as_deref().unwrap_or("")
    );
    Ok(())
}

/// acme-cloud pays meta its September share; meta confirms it.
fn pay(args: &StoreArgs, september: &[Closed]) -> Result<(), Failure> {
    let statement = &september
        .iter()
        .find(|c| c.statement.contract == "acme-llama")
        .ok_or_else(|| Failure::other("September has no acme-llama statement"))?
        .statement;
    let amount = statement
        .payouts
        .get("meta")
        .ok_or_else(|| Failure::other("acme-llama's September statement pays meta nothing"))?;
    step(&format!(
        "acme-cloud pays meta its September share ({amount} {}); meta confirms it",
        statement.currency
    ));
    let mut backend = stateful::open(args)?;
    let keys = stateful::keys(args, backend.as_mut())?;
    let now = revshare_app::now();
    let payment = NewPayment {
        contract: "acme-llama".to_string(),
        payer: None,
        payee: "meta".to_string(),
        amount: amount.clone(),
        date: Day(now.utc_day()),
        reference: "wire acme-llama/2026-09".to_string(),
    };
    let host = Actor::cli_as("acme-cloud");
    let recorded = revshare_app::payments::record(backend.as_mut(), &keys, Ctx::now(&host), &payment)?;
    let licensor = Actor::cli_as("meta");
    let confirm = revshare_app::payments::Step::Confirm;
    let confirmed = revshare_app::payments::step(
        backend.as_mut(),
        &keys,
        Ctx::now(&licensor),
        &recorded.payment_id,
        &confirm,
    )?;
    println!("payment {} {}", confirmed.payment_id, confirmed.status.as_str());
    Ok(())
}
