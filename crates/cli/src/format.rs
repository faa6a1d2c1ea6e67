//! Printing: statements as JSON (the spec's form), tables (for people) or CSV (for
//! spreadsheets), and the list commands' JSON, CSV and tables. Tables fit the
//! terminal's width (`COLUMNS`, else the terminal's, else 100 columns when stdout is
//! not a terminal) and group the digits of amounts and counts; JSON and CSV carry
//! every value exactly.

mod lists;
mod statement_table;
mod text;

use std::io::{self, Write};

use revshare_app::closed::ClosedStatement;
use revshare_app::render::Names;
use revshare_app::verify_store::Report;
use revshare_app::views;
use revshare_core::audit::{Entry, Link};
use revshare_core::period::Day;
use revshare_core::records::{ContractRow, ContributionRow, FxRow, PartyRow, RegistryRow, TokenRow};
use revshare_core::statement::{statements_json, PayoutNotice, Statement};
use serde::Serialize;

use lists::{column, Column, Kind, List};

use crate::{Failure, Format};

/// Statements in `format`; the table and CSV forms name the parties with `names`
/// (the JSON is the statements' own, ids only).
pub fn write_statements(
    out: &mut dyn Write,
    statements: &[Statement],
    format: Format,
    names: &Names,
) -> io::Result<()> {
    match format {
        Format::Json => out.write_all(statements_json(statements).as_bytes()),
        Format::Table => {
            let width = text::width();
            for (index, statement) in statements.iter().enumerate() {
                if index > 0 {
                    writeln!(out)?;
                }
                statement_table::write(out, statement, width, names)?;
            }
            Ok(())
        }
        Format::Csv => revshare_app::render::write(out, statements, names),
    }
}

/// The width tables fit (see [`text::width`]).
pub fn width() -> usize {
    text::width()
}

/// A sentence broken at spaces into lines of at most `width` columns.
pub fn words(text: &str, width: usize) -> Vec<String> {
    text::words(text, width)
}

/// One statement as a table fitted to the terminal (see [`text::width`]).
pub fn write_table(out: &mut dyn Write, s: &Statement) -> io::Result<()> {
    statement_table::write(out, s, text::width(), &Names::default())
}

/// A payout notice as a table (its fields, one a line, the beneficiary named) or
/// CSV; its JSON is printed as signed by the caller.
pub fn write_notice(out: &mut dyn Write, notice: &PayoutNotice, format: Format, names: &Names) -> io::Result<()> {
    match format {
        Format::Csv => revshare_app::render::write_notice(out, notice, names),
        _ => {
            let beneficiary = match names.name(&notice.beneficiary) {
                name if name == notice.beneficiary => name.to_string(),
                name => format!("{} ({name})", notice.beneficiary),
            };
            let rows = [
                ("payout notice", notice.statement_id.to_string()),
                ("beneficiary", beneficiary),
                (
                    "payout",
                    format!("{} {}", text::grouped(&notice.payout), notice.currency),
                ),
                ("contract", notice.contract.clone()),
                ("period", notice.period.clone()),
                ("closed_at", notice.closed_at.clone()),
                ("due_date", notice.due_date.clone()),
                ("statement_sha256", notice.statement_sha256.clone()),
                ("audit_head", format!("seq {}", notice.audit_head.seq)),
                (
                    "signed with",
                    notice
                        .signature
                        .as_ref()
                        .map_or_else(|| "(unsigned)".to_string(), |s| format!("{} key {}", s.alg, s.key_id)),
                ),
            ];
            for (label, value) in rows {
                for (index, line) in text::words(&value, text::width().saturating_sub(20).max(20))
                    .into_iter()
                    .enumerate()
                {
                    let label = if index == 0 { label } else { "" };
                    writeln!(out, "{label:<18}  {line}")?;
                }
            }
            Ok(())
        }
    }
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

fn write_failure(error: io::Error) -> Failure {
    Failure::other(format!("cannot write the output: {error}"))
}

fn print<T, J: Serialize>(list: &List<'_, T, J>, format: Option<Format>) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    lists::write(&mut out, list, chosen(format), text::width())
        .and_then(|()| out.flush())
        .map_err(write_failure)
}

pub fn parties(rows: &[PartyRow], format: Option<Format>) -> Result<(), Failure> {
    let items: Vec<views::Party> = rows.iter().cloned().map(views::Party::of).collect();
    let cols: [Column<views::Party>; 3] = [
        column("id", Kind::Fixed, |p| p.id.clone()),
        column("name", Kind::Text, |p| p.name.clone()),
        column("created_at", Kind::Fixed, |p| p.created_at.clone()),
    ];
    print(&List::plain(&items, &cols), format)
}

pub fn tokens(rows: &[TokenRow], format: Option<Format>) -> Result<(), Failure> {
    let items: Vec<views::Token> = rows.iter().cloned().map(|r| views::Token::of(r, None)).collect();
    let cols: [Column<views::Token>; 7] = [
        column("token_id", Kind::Fixed, |t| t.token_id.clone()),
        column("party", Kind::Fixed, |t| t.party.clone()),
        column("role", Kind::Fixed, |t| t.role.clone()),
        column("contracts", Kind::Text, |t| {
            t.contracts.as_ref().map(|c| c.join(" ")).unwrap_or_default()
        }),
        column("expires", Kind::Fixed, |t| t.expires.clone().unwrap_or_default()),
        column("created_at", Kind::Fixed, |t| t.created_at.clone()),
        column("revoked_at", Kind::Fixed, |t| t.revoked_at.clone().unwrap_or_default()),
    ];
    print(&List::plain(&items, &cols), format)
}

/// The columns of `contract list` (and of `contract show --format csv|table`).
const CONTRACT_COLUMNS: [Column<ContractRow>; 6] = [
    column("id", Kind::Fixed, |r| r.id.clone()),
    column("version", Kind::Number, |r| r.version.to_string()),
    column("licensor", Kind::Text, |r| r.licensor.clone()),
    column("host", Kind::Text, |r| r.host.clone()),
    column("sha256", Kind::Hash, |r| r.sha256.clone()),
    column("added_at", Kind::Fixed, |r| r.added_at.clone()),
];

pub fn contracts(rows: &[ContractRow], format: Option<Format>) -> Result<(), Failure> {
    let json: Vec<views::Contract> = rows.iter().map(|r| views::Contract::of(r.clone(), false)).collect();
    let list = List {
        items: rows,
        json,
        table: &CONTRACT_COLUMNS,
        csv: &CONTRACT_COLUMNS,
    };
    print(&list, format)
}

/// One contract version: JSON the API's resource with its file, CSV its row of
/// `contract list`, a table that row and then the file as stored.
pub fn contract(row: &ContractRow, format: Format) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &views::Contract::of(row.clone(), true))
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Csv | Format::Table => {
            let list = List {
                items: std::slice::from_ref(row),
                json: (),
                table: &CONTRACT_COLUMNS,
                csv: &CONTRACT_COLUMNS,
            };
            lists::write(&mut out, &list, format, text::width()).and_then(|()| {
                if format == Format::Table {
                    writeln!(out)?;
                    out.write_all(row.toml.as_bytes())?;
                }
                Ok(())
            })
        }
    };
    written.and_then(|()| out.flush()).map_err(write_failure)
}

pub fn fx(rows: &[FxRow], format: Option<Format>) -> Result<(), Failure> {
    let cols: [Column<FxRow>; 4] = [
        column("date", Kind::Fixed, |r| Day(r.date).to_string()),
        column("from", Kind::Text, |r| r.from.clone()),
        column("to", Kind::Text, |r| r.to.clone()),
        column("rate", Kind::Number, |r| r.rate.clone()),
    ];
    let json: Vec<views::FxRate> = rows.iter().cloned().map(views::FxRate::of).collect();
    let list = List {
        items: rows,
        json,
        table: &cols,
        csv: &cols,
    };
    print(&list, format)
}

/// One registry row in a table or CSV: version, effective from, position, pattern,
/// licensor.
type RegistryLine = (i64, String, usize, String, String);

pub fn registries(rows: &[RegistryRow], format: Option<Format>) -> Result<(), Failure> {
    let flat: Vec<RegistryLine> = rows
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
    let cols: [Column<RegistryLine>; 5] = [
        column("version", Kind::Number, |r| r.0.to_string()),
        column("effective_from", Kind::Fixed, |r| r.1.clone()),
        column("position", Kind::Number, |r| r.2.to_string()),
        column("pattern", Kind::Text, |r| r.3.clone()),
        column("licensor", Kind::Text, |r| r.4.clone()),
    ];
    let json: Vec<views::RegistryVersion> = rows.iter().cloned().map(views::RegistryVersion::of).collect();
    let list = List {
        items: &flat,
        json,
        table: &cols,
        csv: &cols,
    };
    print(&list, format)
}

/// The columns of the contributions CSV that `revshare rate --contributions` reads.
const CONTRIBUTION_CSV: [Column<ContributionRow>; 6] = [
    column("contract", Kind::Fixed, |r| r.contract.clone()),
    column("by", Kind::Text, |r| r.by.as_str().to_string()),
    column("kind", Kind::Text, |r| r.kind.as_str().to_string()),
    column("date", Kind::Fixed, |r| Day(r.date).to_string()),
    column("status", Kind::Text, |r| r.status.as_str().to_string()),
    column("reference", Kind::Text, |r| r.reference.clone()),
];

/// `--format csv` is exactly the file `rate --contributions` reads; the table adds
/// the number that `contribution accept|reject` take.
pub fn contributions(rows: &[ContributionRow], format: Option<Format>) -> Result<(), Failure> {
    let mut table = vec![column("number", Kind::Number, |r: &ContributionRow| {
        r.number.to_string()
    })];
    table.extend(CONTRIBUTION_CSV);
    let list = List {
        items: rows,
        json: rows.iter().cloned().map(views::Contribution::of).collect::<Vec<_>>(),
        table: &table,
        csv: &CONTRIBUTION_CSV,
    };
    print(&list, format)
}

/// One closed statement in `statement list`: what tells it apart and its totals,
/// not its lines (`statement show ID` prints those).
#[derive(Serialize)]
struct StatementSummary {
    statement_id: String,
    contract: String,
    contract_version: u32,
    period: String,
    host: String,
    licensor: String,
    currency: String,
    total: String,
    events: u64,
    unique_customers: u64,
    closed_at: Option<String>,
    due_date: Option<String>,
}

impl StatementSummary {
    fn of(s: &Statement) -> StatementSummary {
        StatementSummary {
            statement_id: s.statement_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            contract: s.contract.clone(),
            contract_version: s.contract_version,
            period: s.period.clone(),
            host: s.host.clone(),
            licensor: s.licensor.clone(),
            currency: s.currency.clone(),
            total: s.total.clone(),
            events: s.events.count,
            unique_customers: s.unique_customers,
            closed_at: s.closed_at.clone(),
            due_date: s.due_date.clone(),
        }
    }
}

/// A list in every format: a row (an object in JSON) per statement.
pub fn statement_list(shown: &[ClosedStatement], format: Option<Format>) -> Result<(), Failure> {
    let items: Vec<StatementSummary> = shown.iter().map(|c| StatementSummary::of(c.statement())).collect();
    let table: [Column<StatementSummary>; 6] = [
        column("statement_id", Kind::Text, |s| s.statement_id.clone()),
        column("total", Kind::Grouped, |s| s.total.clone()),
        column("currency", Kind::Text, |s| s.currency.clone()),
        column("events", Kind::Grouped, |s| s.events.to_string()),
        column("closed_at", Kind::Detail, |s| s.closed_at.clone().unwrap_or_default()),
        column("due_date", Kind::Fixed, |s| s.due_date.clone().unwrap_or_default()),
    ];
    let mut csv = table.to_vec();
    csv.extend([
        column("contract", Kind::Text, |s: &StatementSummary| s.contract.clone()),
        column("contract_version", Kind::Number, |s| s.contract_version.to_string()),
        column("period", Kind::Text, |s| s.period.clone()),
        column("host", Kind::Text, |s| s.host.clone()),
        column("licensor", Kind::Text, |s| s.licensor.clone()),
        column("unique_customers", Kind::Number, |s| s.unique_customers.to_string()),
    ]);
    let list = List {
        items: &items,
        json: &items,
        table: &table,
        csv: &csv,
    };
    print(&list, format)
}

pub fn audit_entries(entries: &[Entry], format: Option<Format>) -> Result<(), Failure> {
    let cols: [Column<Entry>; 7] = [
        column("seq", Kind::Number, |e| e.seq.to_string()),
        column("time", Kind::Detail, |e| e.time.clone()),
        column("actor", Kind::Text, |e| e.actor.clone()),
        column("action", Kind::Text, |e| e.action.as_str().to_string()),
        column("object", Kind::Text, |e| e.object.clone()),
        column("payload_sha256", Kind::Hash, |e| e.payload_sha256.clone()),
        column("hash", Kind::Hash, |e| e.hash.clone()),
    ];
    print(&List::plain(entries, &cols), format)
}

pub fn audit_chain(links: &[Link], format: Option<Format>) -> Result<(), Failure> {
    let cols: [Column<Link>; 4] = [
        column("seq", Kind::Number, |l| l.seq.to_string()),
        column("digest", Kind::Hash, |l| l.digest.clone()),
        column("prev_hash", Kind::Hash, |l| l.prev_hash.clone()),
        column("hash", Kind::Hash, |l| l.hash.clone()),
    ];
    print(&List::plain(links, &cols), format)
}

/// The six checks of `audit verify`, by number.
const CHECKS: [&str; 6] = [
    "the chain and its anchors",
    "statement signatures and roots",
    "closed periods re-rated",
    "the ledger: every leg derived again",
    "rows against the log",
    "the log's tree and checkpoints",
];

/// One row of the verification: a check that holds, or one failure of a check.
struct VerifyRow {
    check: u8,
    status: &'static str,
    object: String,
    message: String,
}

fn verify_rows(report: &Report) -> Vec<VerifyRow> {
    let mut rows = Vec::new();
    for check in 1..=CHECKS.len() as u8 {
        let failures: Vec<_> = report.failures.iter().filter(|f| f.check == check).collect();
        if failures.is_empty() {
            rows.push(VerifyRow {
                check,
                status: "ok",
                object: String::new(),
                message: String::new(),
            });
        }
        rows.extend(failures.into_iter().map(|f| VerifyRow {
            check,
            status: "failed",
            object: f.object.clone(),
            message: f.message.clone(),
        }));
    }
    rows
}

/// JSON: the report (in an array); CSV: `check,name,status,object,message`, a row per
/// check that holds and per failure; table: a summary, the checks, then each failure
/// as `object: message`.
pub fn verify_report(report: &Report, format: Option<Format>) -> Result<(), Failure> {
    let rows = verify_rows(report);
    let cols: [Column<VerifyRow>; 5] = [
        column("check", Kind::Number, |r| r.check.to_string()),
        column("name", Kind::Text, |r| CHECKS[usize::from(r.check) - 1].to_string()),
        column("status", Kind::Text, |r| r.status.to_string()),
        column("object", Kind::Text, |r| r.object.clone()),
        column("message", Kind::Text, |r| r.message.clone()),
    ];
    let format = chosen(format);
    if format != Format::Table {
        let list = List {
            items: &rows,
            json: std::slice::from_ref(report),
            table: &cols,
            csv: &cols,
        };
        return print(&list, Some(format));
    }
    let mut out = io::stdout().lock();
    write_verify_table(&mut out, report).map_err(write_failure)
}

fn write_verify_table(out: &mut dyn Write, report: &Report) -> io::Result<()> {
    let width = text::width();
    let checkpoints = match (report.checkpoint, report.kept_checkpoint) {
        (Some(newest), Some(kept)) => format!(
            "; newest checkpoint {}, the one kept beside the key file {}",
            text::count(newest),
            text::count(kept)
        ),
        (Some(newest), None) => format!("; newest checkpoint {}", text::count(newest)),
        _ => String::new(),
    };
    let summary = format!(
        "checked {} audit entries, {} statements ({} re-rated), {} events{checkpoints}",
        text::count(report.entries),
        text::count(report.statements),
        text::count(report.rerated),
        text::count(report.events)
    );
    for line in text::words(&summary, width) {
        writeln!(out, "{line}")?;
    }
    let checks: Vec<(usize, usize)> = (1..=CHECKS.len())
        .map(|check| {
            let failed = report.failures.iter().filter(|f| usize::from(f.check) == check).count();
            (check, failed)
        })
        .collect();
    let cols: [Column<(usize, usize)>; 3] = [
        column("check", Kind::Number, |c| c.0.to_string()),
        column("what", Kind::Text, |c| CHECKS[c.0 - 1].to_string()),
        column("result", Kind::Text, |c| match c.1 {
            0 => "ok".to_string(),
            n => format!("FAILED ({n})"),
        }),
    ];
    for line in lists::table(&checks, &cols, width) {
        writeln!(out, "{line}")?;
    }
    for failure in &report.failures {
        writeln!(out, "check {}: {}: {}", failure.check, failure.object, failure.message)?;
    }
    out.flush()
}

pub fn payments(rows: &[revshare_core::records::PaymentRow], format: Option<Format>) -> Result<(), Failure> {
    let items: Vec<views::Payment> = rows.iter().cloned().map(views::Payment::of).collect();
    let cols: [Column<views::Payment>; 8] = [
        column("payment_id", Kind::Fixed, |p| p.payment_id.clone()),
        column("contract", Kind::Fixed, |p| p.contract.clone()),
        column("payer", Kind::Text, |p| p.payer.clone()),
        column("payee", Kind::Text, |p| p.payee.clone()),
        column("amount", Kind::Grouped, |p| p.amount.clone()),
        column("currency", Kind::Fixed, |p| p.currency.clone()),
        column("date", Kind::Fixed, |p| p.date.clone()),
        column("status", Kind::Text, |p| p.status.clone()),
    ];
    print(&List::plain(&items, &cols), format)
}

/// The columns of `dispute list` (and of `dispute show`'s first table).
const DISPUTE_COLUMNS: [Column<revshare_app::disputes::DisputeView>; 8] = [
    column("dispute_id", Kind::Fixed, |d| d.dispute_id.clone()),
    column("statement_id", Kind::Fixed, |d| d.statement_id.clone()),
    column("line", Kind::Text, |d| {
        d.line
            .as_ref()
            .map_or_else(|| "(whole)".to_string(), |l| format!("{} {}", l.model, l.use_case))
    }),
    column("opener", Kind::Text, |d| d.opener.clone()),
    column("claim", Kind::Grouped, |d| d.claim.clone()),
    column("amount", Kind::Grouped, |d| d.amount.clone().unwrap_or_default()),
    column("status", Kind::Text, |d| d.status.as_str().to_string()),
    column("window_ends", Kind::Fixed, |d| d.window_ends.clone()),
];

pub fn disputes(rows: &[revshare_app::disputes::DisputeView], format: Option<Format>) -> Result<(), Failure> {
    print(&List::plain(rows, &DISPUTE_COLUMNS), format)
}

/// One dispute: JSON its view with every step; a table its row, then its steps;
/// CSV its steps, a row each, named by the dispute's id.
pub fn dispute(view: &revshare_app::disputes::DisputeView, format: Option<Format>) -> Result<(), Failure> {
    use revshare_core::dispute::StepTaken;
    let steps: Vec<(&str, &StepTaken)> = view.steps.iter().map(|s| (view.dispute_id.as_str(), s)).collect();
    let step_columns: [Column<(&str, &StepTaken)>; 7] = [
        column("dispute_id", Kind::Fixed, |(d, _)| d.to_string()),
        column("step", Kind::Text, |(_, s)| s.step.as_str().to_string()),
        column("party", Kind::Text, |(_, s)| s.party.clone().unwrap_or_default()),
        column("at", Kind::Fixed, |(_, s)| s.at.clone()),
        column("seq", Kind::Number, |(_, s)| s.seq.to_string()),
        column("amount", Kind::Grouped, |(_, s)| s.amount.clone().unwrap_or_default()),
        column("note", Kind::Text, |(_, s)| s.note.clone().unwrap_or_default()),
    ];
    let mut out = io::stdout().lock();
    let width = text::width();
    let written = match chosen(format) {
        Format::Json => serde_json::to_string_pretty(view)
            .map_err(io::Error::other)
            .and_then(|json| writeln!(out, "{json}")),
        Format::Csv => lists::write(&mut out, &List::plain(&steps, &step_columns), Format::Csv, width),
        Format::Table => lists::write(
            &mut out,
            &List::plain(std::slice::from_ref(view), &DISPUTE_COLUMNS),
            Format::Table,
            width,
        )
        .and_then(|()| writeln!(out))
        .and_then(|()| lists::write(&mut out, &List::plain(&steps, &step_columns[1..]), Format::Table, width)),
    };
    written.and_then(|()| out.flush()).map_err(write_failure)
}

pub fn balances(rows: &[revshare_app::ledger::Balance], format: Option<Format>) -> Result<(), Failure> {
    use revshare_app::ledger::Balance;
    let cols: [Column<Balance>; 11] = [
        column("host", Kind::Text, |b| b.host.clone()),
        column("beneficiary", Kind::Text, |b| b.beneficiary.clone()),
        column("contract", Kind::Fixed, |b| b.contract.clone()),
        column("currency", Kind::Fixed, |b| b.currency.clone()),
        column("outstanding", Kind::Grouped, |b| b.outstanding.clone()),
        column("current", Kind::Grouped, |b| b.current.clone()),
        column("1-30", Kind::Grouped, |b| b.days_1_30.clone()),
        column("31-60", Kind::Grouped, |b| b.days_31_60.clone()),
        column("61-90", Kind::Grouped, |b| b.days_61_90.clone()),
        column("91+", Kind::Grouped, |b| b.days_91_plus.clone()),
        column("unapplied", Kind::Grouped, |b| b.unapplied.clone()),
    ];
    print(&List::plain(rows, &cols), format)
}

pub fn ledger_entries(rows: &[revshare_app::ledger::Entry], format: Option<Format>) -> Result<(), Failure> {
    use revshare_app::ledger::Entry;
    let cols: [Column<Entry>; 7] = [
        column("date", Kind::Fixed, |e| e.date.clone()),
        column("txn", Kind::Text, |e| e.txn.clone()),
        column("account", Kind::Text, |e| e.account.clone()),
        column("contract", Kind::Fixed, |e| e.contract.clone()),
        column("amount", Kind::Grouped, |e| e.amount.clone()),
        column("currency", Kind::Fixed, |e| e.currency.clone()),
        column("due_date", Kind::Fixed, |e| e.due_date.clone().unwrap_or_default()),
    ];
    print(&List::plain(rows, &cols), format)
}

pub fn mau(rows: &[revshare_app::mau::HostMonth], format: Option<Format>) -> Result<(), Failure> {
    use revshare_app::mau::HostMonth;
    let cols: [Column<HostMonth>; 4] = [
        column("host", Kind::Text, |m| m.host.clone()),
        column("month", Kind::Fixed, |m| m.month.clone()),
        column("customers", Kind::Grouped, |m| m.customers.to_string()),
        column("flagged", Kind::Text, |m| {
            m.flagged
                .iter()
                .map(|f| {
                    format!(
                        "{} (threshold {}, {} customers, entry {})",
                        f.contract, f.threshold, f.customers, f.seq
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        }),
    ];
    print(&List::plain(rows, &cols), format)
}
