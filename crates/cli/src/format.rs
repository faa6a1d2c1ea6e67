//! Printing statements as JSON (the spec's form), tables (for people) or CSV (for
//! spreadsheets: one row per line, adjustment, exception, total and payout).

use std::io::{self, Write};

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{CellAlignment, Table};
use revshare_core::statement::{statements_json, Statement};

use revshare_app::statements::Shown;
use revshare_app::verify_store::Report;
use revshare_app::views;
use revshare_core::audit::{Entry, Link};
use revshare_core::period::Day;
use revshare_store::backend::{ContractRow, ContributionRow, FxRow, PartyRow, RegistryRow, TokenRow};

use crate::{Failure, Format};

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
        Format::Csv => {
            let csv = revshare_app::render::statement_csv(statements).map_err(io::Error::other)?;
            out.write_all(csv.as_bytes())
        }
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
        let mut label = adjustment.kind.as_str().to_string();
        if let Some(period) = &adjustment.period {
            label = format!(
                "{label} {period} ({} events)",
                adjustment.events.as_ref().map_or(0, |e| e.count)
            );
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
            .map(|e| format!("{} {} events ({} {})", e.kind.as_str(), e.events, e.revenue, e.currency))
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

/// The format a list or show command prints: as asked, else a table on a terminal
/// and JSON otherwise.
pub fn chosen(format: Option<Format>) -> Format {
    use std::io::IsTerminal;
    format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    })
}

/// Prints rows: JSON as the API's resources, CSV and tables with a header.
fn print_rows<T: serde::Serialize>(
    items: &[T],
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
    format: Option<Format>,
) -> Result<(), Failure> {
    let out = &mut std::io::stdout().lock();
    let written = match chosen(format) {
        Format::Json => serde_json::to_writer_pretty(&mut *out, items)
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(&mut *out);
            let mut result = writer.write_record(header);
            for item in items {
                result = result.and_then(|()| writer.write_record(cells(item)));
            }
            result.map_err(io::Error::other).and_then(|()| writer.flush())
        }
        Format::Table => {
            let mut table = Table::new();
            table.load_preset(UTF8_BORDERS_ONLY);
            table.set_header(header.to_vec());
            for item in items {
                table.add_row(cells(item));
            }
            writeln!(out, "{table}")
        }
    };
    written.map_err(|e| Failure::other(format!("cannot write the output: {e}")))
}

pub fn parties(rows: &[PartyRow], format: Option<Format>) -> Result<(), Failure> {
    let views: Vec<views::Party> = rows.iter().cloned().map(views::Party::of).collect();
    print_rows(
        &views,
        &["id", "name", "created_at"],
        |p| vec![p.id.clone(), p.name.clone(), p.created_at.clone()],
        format,
    )
}

pub fn tokens(rows: &[TokenRow], format: Option<Format>) -> Result<(), Failure> {
    let views: Vec<views::Token> = rows.iter().cloned().map(|r| views::Token::of(r, None)).collect();
    print_rows(
        &views,
        &[
            "token_id",
            "party",
            "role",
            "contracts",
            "expires",
            "created_at",
            "revoked_at",
        ],
        |t| {
            vec![
                t.token_id.clone(),
                t.party.clone(),
                t.role.clone(),
                t.contracts.as_ref().map(|c| c.join(" ")).unwrap_or_default(),
                t.expires.clone().unwrap_or_default(),
                t.created_at.clone(),
                t.revoked_at.clone().unwrap_or_default(),
            ]
        },
        format,
    )
}

pub fn contracts(rows: &[ContractRow], format: Option<Format>) -> Result<(), Failure> {
    print_rows(
        rows,
        &["id", "version", "licensor", "host", "sha256", "added_at"],
        |r| {
            vec![
                r.id.clone(),
                r.version.to_string(),
                r.licensor.clone(),
                r.host.clone(),
                r.sha256.clone(),
                r.added_at.clone(),
            ]
        },
        format,
    )
}

pub fn fx(rows: &[FxRow], format: Option<Format>) -> Result<(), Failure> {
    print_rows(
        rows,
        &["date", "from", "to", "rate"],
        |r| vec![Day(r.date).to_string(), r.from.clone(), r.to.clone(), r.rate.clone()],
        format,
    )
}

pub fn registries(rows: &[RegistryRow], format: Option<Format>) -> Result<(), Failure> {
    let flat: Vec<(i64, String, usize, String, String)> = rows
        .iter()
        .flat_map(|r| {
            r.rows.iter().enumerate().map(move |(i, (pattern, licensor))| {
                (
                    r.version,
                    Day(r.effective_from).to_string(),
                    i,
                    pattern.clone(),
                    licensor.clone(),
                )
            })
        })
        .collect();
    match chosen(format) {
        Format::Json => print_rows(rows, &[], |_| Vec::new(), Some(Format::Json)),
        other => print_rows(
            &flat,
            &["version", "effective_from", "position", "pattern", "licensor"],
            |(v, from, i, p, l)| vec![v.to_string(), from.clone(), i.to_string(), p.clone(), l.clone()],
            Some(other),
        ),
    }
}

pub fn contributions(rows: &[ContributionRow], format: Option<Format>) -> Result<(), Failure> {
    print_rows(
        rows,
        &["contract", "by", "kind", "date", "status", "reference"],
        |r| {
            vec![
                r.contract.clone(),
                r.by.as_str().to_string(),
                r.kind.as_str().to_string(),
                Day(r.date).to_string(),
                r.status.as_str().to_string(),
                r.reference.clone(),
            ]
        },
        format,
    )
}

pub fn statement_list(shown: &[Shown], format: Option<Format>) -> Result<(), Failure> {
    let statements: Vec<&Statement> = shown.iter().map(|s| &s.statement).collect();
    print_rows(
        &statements,
        &["statement_id", "total", "currency", "events", "closed_at", "due_date"],
        |s| {
            vec![
                s.statement_id.clone().unwrap_or_default(),
                s.total.clone(),
                s.currency.clone(),
                s.events.count.to_string(),
                s.closed_at.clone().unwrap_or_default(),
                s.due_date.clone().unwrap_or_default(),
            ]
        },
        format,
    )
}

pub fn audit_entries(entries: &[Entry], format: Option<Format>) -> Result<(), Failure> {
    print_rows(
        entries,
        &["seq", "time", "actor", "action", "object", "payload_sha256", "hash"],
        |e| {
            vec![
                e.seq.to_string(),
                e.time.clone(),
                e.actor.clone(),
                e.action.as_str().to_string(),
                e.object.clone(),
                e.payload_sha256.clone(),
                e.hash.clone(),
            ]
        },
        format,
    )
}

pub fn audit_chain(links: &[Link], format: Option<Format>) -> Result<(), Failure> {
    print_rows(
        links,
        &["seq", "digest", "prev_hash", "hash"],
        |l| vec![l.seq.to_string(), l.digest.clone(), l.prev_hash.clone(), l.hash.clone()],
        format,
    )
}

pub fn verify_report(report: &Report, format: Option<Format>) -> Result<(), Failure> {
    if chosen(format) == Format::Json {
        return print_rows(std::slice::from_ref(report), &[], |_| Vec::new(), Some(Format::Json));
    }
    println!(
        "checked {} audit entries, {} statements ({} re-rated), {} events",
        report.entries, report.statements, report.rerated, report.events
    );
    let names = [
        "the chain and its anchors",
        "statement signatures and roots",
        "closed periods re-rated",
        "the ledger (none kept yet)",
        "rows against the log",
    ];
    for (index, name) in names.iter().enumerate() {
        let check = index as u8 + 1;
        let failures: Vec<_> = report.failures.iter().filter(|f| f.check == check).collect();
        println!("{check}. {name}: {}", if failures.is_empty() { "ok" } else { "FAILED" });
        for failure in failures {
            println!("   {}: {}", failure.object, failure.message);
        }
    }
    Ok(())
}
