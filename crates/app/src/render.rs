//! Statements as CSV, for spreadsheets: one row per line, subtotal, adjustment,
//! adjustment payout, exception, total and payout, every value exactly as in the
//! statement's JSON (no grouping, no rounding).
//!
//! Columns (also in docs/spec-readings.md, "`revshare rate` output"):
//!
//! - `contract`, `period`: the statement's.
//! - `currency`: the currency of the row's money. Lines, subtotal, adjustments,
//!   adjustment payouts, total and payouts are in the contract currency; an
//!   exception row is in the exception's own currency (its events' currency), with
//!   its revenue in that currency. Summing `amount` or `revenue` per `currency` never
//!   mixes currencies.
//! - `row`: `line`, `subtotal`, `adjustment`, `adjustment_payout`, `exception`,
//!   `total` or `payout`.
//! - `name`: the model (line), the adjustment kind (adjustment, adjustment_payout) or
//!   the exception kind (exception).
//! - `use_case`: the line's use case.
//! - `settles`: the period a `prior_period` adjustment settles, or the dispute id of a
//!   `dispute` adjustment (on its adjustment and adjustment_payout rows).
//! - `reasons`: a prior-period adjustment's reasons, separated by `;`.
//! - `beneficiary`: who a payout or adjustment payout goes to.
//! - `events`: the line's or exception's events; on an adjustment, the size of its
//!   `prior_period:<P>` tree (the late events it settles); on the total, the
//!   statement's `events.count`.
//! - `requests`, `input_tokens`, `output_tokens`, `revenue`, `base`: the line's
//!   (`revenue` also on an exception row).
//! - `amount`: the line's, subtotal's, adjustment's, total's or payout's amount.
//! - `merkle_root`: the root of the adjustment's `prior_period:<P>` tree, or on the
//!   total the statement's `events.merkle_root`.
//! - `voided_events`, `voided_merkle_root`: the size and root of a prior-period
//!   adjustment's `voided:<P>` tree, when it has one.
//! - `rerated`, `settled_before`: how a prior-period adjustment's amount arises (its
//!   `rerated.total` and `settled_before.total` on the adjustment row, the
//!   beneficiary's entries of their `payouts` on an adjustment_payout row), so that
//!   `amount = rerated − settled_before` on each; empty on a statement closed before
//!   adjustments showed them.
//! - `statement_id`, `contract_version`, `closed_at`, `due_date`, `unique_customers`:
//!   the statement's, on every row, so that rows copied into one sheet keep which
//!   statement they come from (the first, third and fourth are empty on an unsigned
//!   statement: `revshare rate`, a dry-run close).
//! - `licensor`, `licensor_name`, `host`, `host_name`: the statement's parties and
//!   their names as the store holds them when the CSV is written (`revshare party
//!   update`); the signed JSON carries the ids only. Offline (`revshare rate`) a
//!   name is the id.
//! - `beneficiary_name`: the name of a payout's or adjustment payout's beneficiary.

use std::collections::BTreeMap;
use std::io::{self, Write};

use revshare_core::statement::{Adjustment, Statement};
use serde::Serialize;

pub const HEADER: [&str; 31] = [
    "contract",
    "period",
    "currency",
    "row",
    "name",
    "use_case",
    "settles",
    "reasons",
    "beneficiary",
    "events",
    "requests",
    "input_tokens",
    "output_tokens",
    "revenue",
    "base",
    "amount",
    "merkle_root",
    "voided_events",
    "voided_merkle_root",
    "rerated",
    "settled_before",
    "statement_id",
    "contract_version",
    "closed_at",
    "due_date",
    "unique_customers",
    "licensor",
    "licensor_name",
    "host",
    "host_name",
    "beneficiary_name",
];

/// The parties' names by id, for the forms people read (tables, CSV); a party
/// without one (offline, or not stored) is named by its id.
#[derive(Clone, Debug, Default)]
pub struct Names(BTreeMap<String, String>);

impl Names {
    /// Every stored party's name (any role may read them: they are printed on the
    /// documents each party receives).
    pub fn of(backend: &mut dyn crate::Backend) -> crate::Result<Names> {
        Ok(Names(crate::parties::names(backend)?))
    }

    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.0.get(id).map_or(id, String::as_str)
    }

    /// Whether any name differs from its id (else there is nothing to show).
    pub fn any_for<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> bool {
        ids.into_iter().any(|id| self.name(id) != id)
    }
}

/// One CSV row; its fields in [`HEADER`]'s order.
#[derive(Serialize, Default)]
struct Record {
    contract: String,
    period: String,
    currency: String,
    row: &'static str,
    name: String,
    use_case: String,
    settles: String,
    reasons: String,
    beneficiary: String,
    events: String,
    requests: String,
    input_tokens: String,
    output_tokens: String,
    revenue: String,
    base: String,
    amount: String,
    merkle_root: String,
    voided_events: String,
    voided_merkle_root: String,
    rerated: String,
    settled_before: String,
    statement_id: String,
    contract_version: String,
    closed_at: String,
    due_date: String,
    unique_customers: String,
    licensor: String,
    licensor_name: String,
    host: String,
    host_name: String,
    beneficiary_name: String,
}

/// A row of statement `s` in its contract currency.
fn record(s: &Statement, row: &'static str) -> Record {
    Record {
        contract: s.contract.clone(),
        period: s.period.clone(),
        currency: s.currency.clone(),
        row,
        statement_id: s.statement_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        contract_version: s.contract_version.to_string(),
        closed_at: s.closed_at.clone().unwrap_or_default(),
        due_date: s.due_date.clone().unwrap_or_default(),
        unique_customers: s.unique_customers.to_string(),
        ..Record::default()
    }
}

fn lines(s: &Statement) -> impl Iterator<Item = Record> + '_ {
    s.lines.iter().map(|line| Record {
        name: line.model.clone(),
        use_case: line.use_case.clone(),
        events: line.events.to_string(),
        requests: line.requests.to_string(),
        input_tokens: line.input_tokens.to_string(),
        output_tokens: line.output_tokens.to_string(),
        revenue: line.revenue.clone(),
        base: line.base.clone(),
        amount: line.amount.clone(),
        ..record(s, "line")
    })
}

/// An adjustment's row, then one row per beneficiary of its payouts.
fn adjustment(s: &Statement, adjustment: &Adjustment) -> Vec<Record> {
    let settles = adjustment
        .period
        .clone()
        .or_else(|| adjustment.dispute_id.clone())
        .unwrap_or_default();
    let reasons: Vec<&str> = adjustment.reasons.iter().flatten().map(|r| r.as_str()).collect();
    let mut records = vec![Record {
        name: adjustment.kind.as_str().to_string(),
        settles: settles.clone(),
        reasons: reasons.join(";"),
        events: adjustment
            .events
            .as_ref()
            .map(|e| e.count.to_string())
            .unwrap_or_default(),
        amount: adjustment.amount.clone(),
        merkle_root: adjustment
            .events
            .as_ref()
            .map(|e| e.merkle_root.clone())
            .unwrap_or_default(),
        voided_events: adjustment
            .voided
            .as_ref()
            .map(|v| v.count.to_string())
            .unwrap_or_default(),
        voided_merkle_root: adjustment
            .voided
            .as_ref()
            .map(|v| v.merkle_root.clone())
            .unwrap_or_default(),
        rerated: adjustment.rerated.as_ref().map(|r| r.total.clone()).unwrap_or_default(),
        settled_before: adjustment
            .settled_before
            .as_ref()
            .map(|b| b.total.clone())
            .unwrap_or_default(),
        ..record(s, "adjustment")
    }];
    for (beneficiary, amount) in adjustment.payouts.iter().flatten() {
        records.push(Record {
            name: adjustment.kind.as_str().to_string(),
            settles: settles.clone(),
            beneficiary: beneficiary.clone(),
            amount: amount.clone(),
            rerated: adjustment
                .rerated
                .as_ref()
                .and_then(|r| r.payouts.get(beneficiary).cloned())
                .unwrap_or_default(),
            settled_before: adjustment
                .settled_before
                .as_ref()
                .and_then(|b| b.payouts.get(beneficiary).cloned())
                .unwrap_or_default(),
            ..record(s, "adjustment_payout")
        });
    }
    records
}

fn statement_records(s: &Statement) -> Vec<Record> {
    let mut records: Vec<Record> = lines(s).collect();
    records.push(Record {
        amount: s.subtotal.clone(),
        ..record(s, "subtotal")
    });
    for a in &s.adjustments {
        records.extend(adjustment(s, a));
    }
    records.extend(s.exceptions.iter().map(|e| Record {
        currency: e.currency.clone(),
        name: e.kind.as_str().to_string(),
        events: e.events.to_string(),
        revenue: e.revenue.clone(),
        ..record(s, "exception")
    }));
    records.push(Record {
        events: s.events.count.to_string(),
        amount: s.total.clone(),
        merkle_root: s.events.merkle_root.clone(),
        ..record(s, "total")
    });
    records.extend(s.payouts.iter().map(|(beneficiary, amount)| Record {
        beneficiary: beneficiary.clone(),
        amount: amount.clone(),
        ..record(s, "payout")
    }));
    records
}

/// The statements as CSV: what `--format csv` prints and `Accept: text/csv` answers.
pub fn statement_csv(statements: &[Statement], names: &Names) -> crate::Result<String> {
    let mut bytes = Vec::new();
    write(&mut bytes, statements, names).map_err(|e| crate::AppError::Invalid(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| crate::AppError::Invalid(format!("writing CSV: {e}")))
}

pub fn write(out: &mut dyn Write, statements: &[Statement], names: &Names) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    writer.write_record(HEADER)?;
    for s in statements {
        for mut record in statement_records(s) {
            record.licensor = s.licensor.clone();
            record.licensor_name = names.name(&s.licensor).to_string();
            record.host = s.host.clone();
            record.host_name = names.name(&s.host).to_string();
            if !record.beneficiary.is_empty() {
                record.beneficiary_name = names.name(&record.beneficiary).to_string();
            }
            writer.serialize(record)?;
        }
    }
    writer.flush()
}

/// The header of a payout notice's CSV form.
pub const NOTICE_HEADER: [&str; 12] = [
    "statement_id",
    "contract",
    "period",
    "currency",
    "closed_at",
    "due_date",
    "beneficiary",
    "beneficiary_name",
    "payout",
    "statement_sha256",
    "audit_seq",
    "key_id",
];

/// A payout notice as CSV: one row, with the beneficiary's name (the signed JSON
/// carries its id only).
pub fn write_notice(
    out: &mut dyn Write,
    notice: &revshare_core::statement::PayoutNotice,
    names: &Names,
) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    writer.write_record(NOTICE_HEADER)?;
    writer.write_record([
        notice.statement_id.to_string(),
        notice.contract.clone(),
        notice.period.clone(),
        notice.currency.clone(),
        notice.closed_at.clone(),
        notice.due_date.clone(),
        notice.beneficiary.clone(),
        names.name(&notice.beneficiary).to_string(),
        notice.payout.clone(),
        notice.statement_sha256.clone(),
        notice.audit_head.seq.to_string(),
        notice.signature.as_ref().map(|s| s.key_id.clone()).unwrap_or_default(),
    ])?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_record_fields_in_order() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(Record::default()).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), HEADER.join(","));
    }
}
