//! Check 4: the ledger. Every leg is derived again from what posted it (each
//! statement's payouts, each payment's confirmation and reversal, with the seqs of
//! their entries) and compared with the stored legs; every stored transaction sums
//! to zero. A confirmed payment posts once: a second posting is a leg that nothing
//! derives.

use std::collections::BTreeMap;

use revshare_core::audit::{Action, Entry, Seq};
use revshare_core::contract::ContractSet;
use revshare_core::ledger::Posting;
use revshare_store::backend::{LegRow, StatementRow};

use super::Report;
use crate::ledger::{self, Terms};
use crate::rows::object;
use crate::{AppError, Backend, Result};

/// The object a failure about a transaction names: its statement or payment.
fn object_of(txn: &str) -> String {
    match Posting::parse(txn) {
        Some(Posting::Reversal(id)) => object::payment(&id),
        _ => txn.to_string(),
    }
}

type Key = (String, String, String);

fn key(leg: &LegRow) -> Key {
    (leg.txn.clone(), leg.beneficiary.clone(), leg.side.clone())
}

/// Check 4.
pub(super) fn check(
    backend: &mut dyn Backend,
    entries: &[Entry],
    statements: &[StatementRow],
    report: &mut Report,
) -> Result<()> {
    let Some(stored) = report.tolerate(4, backend.legs().map_err(AppError::from))? else {
        return Ok(());
    };
    // Contracts that no longer load are named by check 5; without them the legs
    // cannot be derived.
    let contracts = match crate::snapshot::contract_set(&backend.contracts()?) {
        Ok(contracts) => contracts,
        Err(error) => {
            report.fail(4, "ledger", format!("the legs cannot be derived: {error}"));
            return Ok(());
        }
    };
    let expected = expected_legs(backend, &contracts, entries, statements, report)?;
    let stored: BTreeMap<Key, LegRow> = stored.into_iter().map(|l| (key(&l), l)).collect();
    for (key, leg) in &expected {
        match stored.get(key) {
            None => report.fail(
                4,
                object_of(&key.0),
                format!("the ledger lacks the {} leg of {} for {}", key.2, key.0, key.1),
            ),
            Some(found) if found != leg => report.fail(
                4,
                object_of(&key.0),
                format!(
                    "the {} leg of {} for {} is not what it posted: it was edited",
                    key.2, key.0, key.1
                ),
            ),
            Some(_) => {}
        }
    }
    for (key, _) in stored.iter().filter(|(k, _)| !expected.contains_key(*k)) {
        report.fail(
            4,
            object_of(&key.0),
            format!(
                "the {} leg of {} for {} was posted by nothing stored (or posted twice)",
                key.2, key.0, key.1
            ),
        );
    }
    check_sums(stored.values(), report);
    Ok(())
}

/// Every stored transaction's legs sum to zero.
fn check_sums<'l>(stored: impl Iterator<Item = &'l LegRow>, report: &mut Report) {
    let mut legs = Vec::new();
    for row in stored {
        match ledger::leg(row) {
            Ok(leg) => legs.push(leg),
            Err(error) => report.fail(4, object_of(&row.txn), error.to_string()),
        }
    }
    for (posting, sum) in revshare_core::ledger::transaction_sums(&legs) {
        if !sum.is_zero() {
            let txn = posting.to_string();
            report.fail(4, object_of(&txn), format!("the legs of {txn} sum to {sum}, not 0"));
        }
    }
}

/// The legs the statements and payments post, by key.
fn expected_legs(
    backend: &mut dyn Backend,
    contracts: &ContractSet,
    entries: &[Entry],
    statements: &[StatementRow],
    report: &mut Report,
) -> Result<BTreeMap<Key, LegRow>> {
    let mut expected = Vec::new();
    for row in statements {
        match ledger::stored_statement_legs(row, contracts) {
            Ok(legs) => expected.extend(legs),
            Err(error) => report.fail(4, object::statement(&row.statement_id), error.to_string()),
        }
    }
    let Some(payments) = report.tolerate(4, backend.payments().map_err(AppError::from))? else {
        return Ok(BTreeMap::new());
    };
    // The seq of the latest entry of each step about each payment.
    let mut steps: BTreeMap<(&str, Action), Seq> = BTreeMap::new();
    for entry in entries {
        steps.insert((entry.object.as_str(), entry.action), entry.seq);
    }
    for payment in payments.iter().filter(|p| ledger::posted(p.status)) {
        let name = object::payment(&payment.payment_id);
        let terms = match Terms::of(contracts, &payment.contract) {
            Ok(terms) => terms,
            Err(error) => {
                report.fail(4, name, error.to_string());
                continue;
            }
        };
        let mut posted = Vec::new();
        match steps.get(&(name.as_str(), Action::PaymentConfirmed)) {
            Some(seq) => posted.push(ledger::payment_legs(payment, &terms, *seq)),
            None => report.fail(4, name.clone(), "a confirmed payment without its confirmation's entry"),
        }
        if payment.status == revshare_core::records::PaymentStatus::Reversed {
            match steps.get(&(name.as_str(), Action::PaymentReversed)) {
                Some(seq) => posted.push(ledger::reversal_legs(payment, &terms, *seq)),
                None => report.fail(4, name.clone(), "a reversed payment without its reversal's entry"),
            }
        }
        for legs in posted {
            match legs {
                Ok(legs) => expected.extend(legs),
                Err(error) => report.fail(4, name.clone(), error.to_string()),
            }
        }
    }
    Ok(expected.into_iter().map(|l| (key(&l), l)).collect())
}
