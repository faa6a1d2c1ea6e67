//! `revshare reconcile`: a host checks a statement against its own records, offline
//! (statements.md, Reconciliation). The comparison is the application layer's.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use revshare_app::reconcile::{reconcile, File, Given, InputFiles, Report};

use crate::{inputs, verify, Failure};

#[derive(Args)]
pub struct ReconcileArgs {
    /// The statement, as `revshare statement show ID --format json` prints it.
    #[arg(long, value_name = "S.json")]
    pub statement: PathBuf,
    /// Its `events` leaves, as `revshare statement leaves ID` prints them.
    #[arg(long, value_name = "L.json")]
    pub leaves: PathBuf,
    /// The folder `revshare statement inputs ID --out DIR` wrote.
    #[arg(long, value_name = "DIR")]
    pub inputs: PathBuf,
    /// The host's own usage (NDJSON or a JSON array); repeat for several files.
    #[arg(long = "usage", required = true, value_name = "mine.ndjson")]
    pub usage: Vec<PathBuf>,
    /// Check the statement's signature with this public key (or list of keys).
    #[arg(long, value_name = "K.json")]
    pub public_key: Option<PathBuf>,
    /// `table` (text, the default) or `json` (the report as one object).
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
}

pub fn run(args: &ReconcileArgs) -> Result<(), Failure> {
    let keys = args.public_key.as_deref().map(verify::public_keys).transpose()?;
    let statement = File::read(&args.statement)?;
    let leaves = File::read(&args.leaves)?;
    let input_files = InputFiles::read(&args.inputs)?;
    let usage = args
        .usage
        .iter()
        .map(|path| Ok((path.display().to_string(), Arc::<[u8]>::from(inputs::read(path)?))))
        .collect::<Result<Vec<_>, Failure>>()?;
    let report = reconcile(Given {
        statement: &statement,
        leaves: &leaves,
        inputs: &input_files,
        usage,
        keys: keys.as_deref(),
    })?;
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    match args.format {
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize")),
        ReportFormat::Table => print!("{}", text(&report)),
    }
    if report.agrees {
        Ok(())
    } else {
        Err(Failure::other(format!(
            "statement {} does not reconcile: {} differences, {} of your events not counted, {} counted leaves \
             you lack",
            report.statement_id,
            report.differences.len(),
            report.not_counted.len(),
            report.missing.len()
        )))
    }
}

/// The report as lines a person reads: each difference, event and leaf on its own.
fn text(report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "statement {} ({} {}): signature {}; {} events counted, {} of yours in the period{}",
        report.statement_id,
        report.contract,
        report.period,
        if report.signature_checked {
            "valid"
        } else {
            "not checked (give --public-key)"
        },
        report.statement_events,
        report.host_events,
        if report.voided > 0 {
            format!(" ({} more voided)", report.voided)
        } else {
            String::new()
        }
    );
    for difference in &report.differences {
        let _ = writeln!(out, "differs: {difference}");
    }
    for key in &report.not_counted {
        let _ = writeln!(
            out,
            "not counted: ({}, {}) (`revshare locate {} {}` says where it was settled, if anywhere)",
            key.source, key.id, key.source, key.id
        );
    }
    for leaf in &report.missing {
        let _ = writeln!(out, "not in your copy: leaf {leaf}");
    }
    if report.agrees {
        let _ = writeln!(out, "agrees: lines, totals and the events tree are the same");
    }
    out
}
