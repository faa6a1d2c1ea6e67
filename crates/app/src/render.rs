//! Statements in CSV, for spreadsheets: one row per line, subtotal, adjustment,
//! exception, total and payout. The CLI's `--format csv` and the API's
//! `Accept: text/csv` give these same bytes.

use revshare_core::statement::Statement;

use crate::{AppError, Result};

const CSV_HEADER: [&str; 14] = [
    "contract",
    "period",
    "currency",
    "row",
    "name",
    "use_case",
    "events",
    "requests",
    "input_tokens",
    "output_tokens",
    "revenue",
    "base",
    "amount",
    "detail",
];

/// The statements as CSV.
pub fn statement_csv(statements: &[Statement]) -> Result<String> {
    write(statements).map_err(|e| AppError::Invalid(format!("writing CSV: {e}")))
}

fn write(statements: &[Statement]) -> std::result::Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    for s in statements {
        let row = |kind: &str, name: &str| -> Vec<String> {
            let mut row = vec![
                s.contract.clone(),
                s.period.clone(),
                s.currency.clone(),
                kind.to_string(),
                name.to_string(),
            ];
            row.resize(CSV_HEADER.len(), String::new());
            row
        };
        for line in &s.lines {
            let mut r = row("line", &line.model);
            r[5] = line.use_case.clone();
            r[6] = line.events.to_string();
            r[7] = line.requests.to_string();
            r[8] = line.input_tokens.to_string();
            r[9] = line.output_tokens.to_string();
            r[10] = line.revenue.clone();
            r[11] = line.base.clone();
            r[12] = line.amount.clone();
            writer.write_record(&r)?;
        }
        let mut r = row("subtotal", "");
        r[12] = s.subtotal.clone();
        writer.write_record(&r)?;
        for adjustment in &s.adjustments {
            let mut r = row("adjustment", adjustment.kind.as_str());
            r[6] = adjustment
                .events
                .as_ref()
                .map(|e| e.count.to_string())
                .unwrap_or_default();
            r[12] = adjustment.amount.clone();
            r[13] = adjustment
                .period
                .clone()
                .or_else(|| adjustment.dispute_id.clone())
                .unwrap_or_default();
            writer.write_record(&r)?;
        }
        for exception in &s.exceptions {
            let mut r = row("exception", exception.kind.as_str());
            r[6] = exception.events.to_string();
            r[10] = exception.revenue.clone();
            r[13] = exception.currency.clone();
            writer.write_record(&r)?;
        }
        let mut r = row("total", "");
        r[6] = s.events.count.to_string();
        r[12] = s.total.clone();
        r[13] = s.events.merkle_root.clone();
        writer.write_record(&r)?;
        for (beneficiary, amount) in &s.payouts {
            let mut r = row("payout", beneficiary);
            r[12] = amount.clone();
            writer.write_record(&r)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}
