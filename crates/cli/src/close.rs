//! `revshare close`: signed statements for a period, or (`--dry-run`) what they
//! would be, with nothing stored.
//!
//! Output: a summary of what the close found and one line per statement; with
//! `--format table`, then each statement as `statement show --format table` prints
//! it; with `--format json` (or `csv`), the statements alone on stdout (the
//! spec's array, or the statement CSV) and the summary on stderr.

use std::io::{IsTerminal, Write};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use revshare_app::close::{CloseOutcome, CloseRequest, Closed, ContractSummary, Grace, Step};
use revshare_app::Ctx;
use revshare_core::period::Period;
use revshare_core::statement::{AdjustmentKind, Statement};

use crate::stateful::{keys, open, operator};
use crate::{format, Failure, Format, StoreArgs};

#[derive(Args)]
pub struct CloseArgs {
    /// The period: 2026-10 (monthly contracts) or 2026-Q4 (quarterly).
    #[arg(value_parser = parse_period)]
    pub period: Period,
    /// Only this contract.
    #[arg(long)]
    pub contract: Option<String>,
    /// Seconds after the period's end before it may be closed (stragglers), 0 to a year.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub grace_seconds: i64,
    /// Print the unsigned statements a close would sign now; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Close a contract's period that has no events although its previous period had
    /// some (refused otherwise: usually the period's usage is not imported yet).
    #[arg(long)]
    pub allow_empty: bool,
    /// Settlement starts at this period for every contract this close closes for the
    /// first time (a contract taken over mid-term, its earlier periods settled
    /// elsewhere). Without it, such a first close that would leave an earlier period
    /// of the contract's term unsettled (events dated in it, or a minimum guarantee
    /// owed) is refused, naming that period.
    #[arg(long)]
    pub settlement_start: bool,
    /// After the summary, the statements: `table` (as `statement show` prints
    /// them); `json` or `csv` alone on stdout, the summary then on stderr. Without
    /// it, the summary only.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Where the summary goes: stdout, stdout fitted to a width (above tables), or
/// stderr when stdout carries only the statements.
#[derive(Clone, Copy)]
pub enum Summary {
    Stdout,
    Fitted(usize),
    Stderr,
}

impl Summary {
    fn say(self, line: &str) {
        match self {
            Summary::Stdout => println!("{line}"),
            Summary::Fitted(width) => {
                let indent = line.len() - line.trim_start().len();
                let lines = format::words(line, width.saturating_sub(indent + 2).max(20));
                for (index, part) in lines.iter().enumerate() {
                    let pad = if index == 0 { indent } else { indent + 2 };
                    println!("{:pad$}{part}", "");
                }
            }
            Summary::Stderr => eprintln!("{line}"),
        }
    }
}

pub fn parse_period(text: &str) -> Result<Period, String> {
    Period::parse(text).ok_or_else(|| format!("\"{text}\" is not a period such as 2026-10 or 2026-Q4"))
}

/// Closes (or previews): prints the summary, then one line per statement.
pub fn close_period(args: &StoreArgs, request: &CloseRequest, summary: Summary) -> Result<Vec<Closed>, Failure> {
    let mut backend = open(args)?;
    let keys = keys(args, backend.as_mut())?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    let bar = Bar::on_terminal();
    let outcome = revshare_app::close::close_watched(backend.as_mut(), &keys, ctx, request, &bar);
    bar.0.finish_and_clear();
    let outcome = outcome?;
    print_summary(&outcome, request, summary);
    let closed = outcome.statements;
    if closed.is_empty() {
        summary.say(&format!(
            "nothing to close for {}: no contract's term covers it (monthly contracts close months, quarterly ones \
             quarters) and no ended contract has anything pending",
            request.period
        ));
    }
    for c in &closed {
        summary.say(&describe(c));
    }
    Ok(closed)
}

/// A close's steps as a spinner on stderr, when stderr is a terminal (never in a
/// pipe, a file or a test's output).
struct Bar(ProgressBar);

impl Bar {
    fn on_terminal() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} closing: {msg}, {elapsed}").expect("a valid template"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Bar(bar)
    }
}

impl revshare_app::close::Progress for Bar {
    fn step(&self, step: Step) {
        self.0.set_message(match step {
            Step::Reading => "proving the log and reading the store".to_string(),
            Step::Rating { done, total } if done < total => {
                format!("rating, hashing and signing contract {} of {total}", done + 1)
            }
            Step::Rating { total, .. } => format!("{total} contracts rated; counting unselected events"),
            Step::Committing => "sealing the log and committing".to_string(),
        });
    }
}

/// What the close found, per contract and per host, before its statements.
fn print_summary(outcome: &CloseOutcome, request: &CloseRequest, summary: Summary) {
    let now = crate::stateful::now().seconds;
    if request.dry_run && now < request.period.end().unix_seconds() {
        summary.say(&format!(
            "note: {} has not ended yet; a close now would be refused (this preview shows its usage so far)",
            request.period
        ));
    }
    for contract in &outcome.contracts {
        for line in summary_lines(contract) {
            summary.say(&line);
        }
    }
    for f in &outcome.mau_flags {
        summary.say(&format!(
            "  MAU: host {} had {} unique customers in {}, reaching contract {}'s mau_threshold of {}: flagged in the \
             audit log (`revshare mau --host {} --month {}`)",
            f.host, f.customers, f.month, f.contract, f.threshold, f.host, f.month
        ));
    }
    for (host, count) in &outcome.unselected {
        summary.say(&format!(
            "  {count} events of host {host} in {} are selected by no contract (check the host, the model \
             registry and the contracts' terms; `revshare locate SOURCE ID` tells why for one event)",
            request.period
        ));
    }
}

fn summary_lines(c: &ContractSummary) -> Vec<String> {
    let mut lines = vec![format!(
        "{}/{}: {} events ({} rated, {} exceptions)",
        c.contract,
        c.period,
        c.events,
        c.rated,
        c.events - c.rated
    )];
    for e in &c.exceptions {
        lines.push(format!(
            "  {} {} ({} events): {}",
            e.kind.as_str(),
            e.currency,
            e.events,
            e.fix
        ));
    }
    if c.outside_settlement > 0 {
        lines.push(format!(
            "  {} events of its host are dated before {} (this first close): outside settlement, no statement counts them",
            c.outside_settlement, c.period
        ));
    }
    if c.suspiciously_empty() {
        lines.push(format!(
            "  warning: no events, while its previous period counted {} (import the period's usage first, or \
             close it with --allow-empty)",
            c.previous_events.unwrap_or(0)
        ));
    }
    lines
}

fn describe(c: &Closed) -> String {
    let s: &Statement = &c.statement;
    let verb = match c {
        Closed::Rated(_) => "would close",
        Closed::Signed { new: true, .. } => "closed",
        Closed::Signed { new: false, .. } => "already closed",
    };
    let adjustments: String = s
        .adjustments
        .iter()
        .filter(|a| a.kind == AdjustmentKind::PriorPeriod)
        .map(|a| {
            format!(
                ", prior-period adjustment {} for {} ({} late events{})",
                a.amount,
                a.period.as_deref().unwrap_or("?"),
                a.events.as_ref().map_or(0, |e| e.count),
                a.voided
                    .as_ref()
                    .map(|v| format!(", {} voided", v.count))
                    .unwrap_or_default()
            )
        })
        .chain(
            s.adjustments
                .iter()
                .filter(|a| a.kind == AdjustmentKind::Dispute)
                .map(|a| {
                    format!(
                        ", dispute adjustment {} for {}",
                        a.amount,
                        a.dispute_id.as_deref().unwrap_or("?")
                    )
                }),
        )
        .collect();
    format!(
        "{verb} {}: total {} {}, {} events{adjustments}",
        c.statement_id, s.total, s.currency, s.events.count
    )
}

fn write_failure(error: std::io::Error) -> Failure {
    Failure::other(format!("cannot write the output: {error}"))
}

pub fn run(args: &StoreArgs, close: &CloseArgs) -> Result<(), Failure> {
    let request = CloseRequest {
        period: close.period,
        contract: close.contract.clone(),
        grace: Grace::new(close.grace_seconds)?,
        dry_run: close.dry_run,
        allow_empty: close.allow_empty,
        settlement_start: close.settlement_start,
    };
    let summary = match close.format {
        Some(Format::Json | Format::Csv) => Summary::Stderr,
        Some(Format::Table) => Summary::Fitted(format::width()),
        None => Summary::Stdout,
    };
    let closed = close_period(args, &request, summary)?;
    let Some(output) = close.format else {
        return Ok(());
    };
    let statements: Vec<Statement> = closed.into_iter().map(|c| c.into_document().statement).collect();
    // The parties' names, as `statement show` prints them.
    let names = match output {
        Format::Json => revshare_app::render::Names::default(),
        _ => revshare_app::render::Names::of(crate::stateful::open(args)?.as_mut())?,
    };
    let mut out = std::io::stdout().lock();
    if output == Format::Table && !statements.is_empty() {
        writeln!(out).map_err(write_failure)?;
    }
    format::write_statements(&mut out, &statements, output, &names)
        .and_then(|()| out.flush())
        .map_err(write_failure)
}
