//! Printing statements as JSON (the spec's form), tables (for people) or CSV (for
//! spreadsheets: one row per line, adjustment, exception, total and payout).

use std::io::{self, Write};

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{CellAlignment, Table};
use revshare_core::statement::{statements_json, Statement};

use crate::Format;

pub fn write_statements(out: &mut dyn Write, statements: &[Statement], format: Format) -> io::Result<()> {
    match format {
        Format::Json => out.write_all(statements_json(statements).as_bytes()),
        Format::Table => {
            for (index, statement) in statements.iter().enumerate() {
                if index > 0 {
                    writeln!(out)?;
                }
                write_table(out, statement)?;
            }
            Ok(())
        }
        Format::Csv => write_csv(out, statements),
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

pub fn write_table(out: &mut dyn Write, s: &Statement) -> io::Result<()> {
    let id = s
        .statement_id
        .clone()
        .unwrap_or_else(|| format!("{}/{}", s.contract, s.period));
    writeln!(
        out,
        "{id}  (contract {} v{}, {} → {}, {} to {}, {})",
        s.contract, s.contract_version, s.host, s.licensor, s.period_start, s.period_end, s.currency
    )?;
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(vec![
        "model",
        "use case",
        "events",
        "requests",
        "tokens in",
        "tokens out",
        "revenue",
        "base",
        "amount",
    ]);
    for line in &s.lines {
        table.add_row(vec![
            line.model.clone(),
            line.use_case.clone(),
            line.events.to_string(),
            line.requests.to_string(),
            line.input_tokens.to_string(),
            line.output_tokens.to_string(),
            line.revenue.clone(),
            line.base.clone(),
            line.amount.clone(),
        ]);
    }
    let mut summary_row = |label: String, amount: &str| {
        let mut row = vec![label];
        row.extend(std::iter::repeat_n(String::new(), 7));
        row.push(amount.to_string());
        table.add_row(row);
    };
    summary_row("subtotal".to_string(), &s.subtotal);
    for adjustment in &s.adjustments {
        let mut label = adjustment.kind.clone();
        if let Some(period) = &adjustment.period {
            label = format!("{label} {period} ({} events)", adjustment.events.unwrap_or(0));
        }
        if let Some(dispute) = &adjustment.dispute_id {
            label = format!("{label} {dispute}");
        }
        summary_row(label, &adjustment.amount);
    }
    summary_row("total".to_string(), &s.total);
    for column in 2..9 {
        if let Some(column) = table.column_mut(column) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{table}")?;
    let payouts: Vec<String> = s.payouts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(out, "payouts: {}", payouts.join(", "))?;
    writeln!(
        out,
        "volume: {} {} (multiplier {}), contribution delta {}",
        s.volume.metric, s.volume.value, s.volume.multiplier, s.contribution_delta
    )?;
    if !s.exceptions.is_empty() {
        let exceptions: Vec<String> = s
            .exceptions
            .iter()
            .map(|e| format!("{} {} events ({} {})", e.kind, e.events, e.revenue, e.currency))
            .collect();
        writeln!(out, "exceptions (not rated): {}", exceptions.join(", "))?;
    }
    writeln!(
        out,
        "events: {} (merkle root {}…), unique customers: {}",
        s.events.count,
        short(&s.events.merkle_root),
        s.unique_customers
    )?;
    if let Some(signature) = &s.signature {
        writeln!(
            out,
            "signed: {} key {} at {}",
            signature.alg,
            signature.key_id,
            s.closed_at.as_deref().unwrap_or("?")
        )?;
    }
    Ok(())
}

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

fn write_csv(out: &mut dyn Write, statements: &[Statement]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
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
            let mut r = row("adjustment", &adjustment.kind);
            r[6] = adjustment.events.map(|e| e.to_string()).unwrap_or_default();
            r[12] = adjustment.amount.clone();
            r[13] = adjustment
                .period
                .clone()
                .or_else(|| adjustment.dispute_id.clone())
                .unwrap_or_default();
            writer.write_record(&r)?;
        }
        for exception in &s.exceptions {
            let mut r = row("exception", &exception.kind);
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
    writer.flush()
}
