//! `revshare import`: files streamed into the store with a progress bar; exit 0 only
//! when every record was accepted or a duplicate.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use revshare_app::import::{ImportSummary, Observers, Progress, Rejected};
use revshare_app::rate::UsageInput;
use revshare_app::Ctx;

use crate::stateful::{keys, open, operator};
use crate::{Failure, StoreArgs};

#[derive(Args)]
pub struct ImportArgs {
    /// Usage files: NDJSON or JSON arrays. `-` reads stdin.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write every rejected event (JSON lines) to this file (never through a
    /// symbolic link).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// How many rejected events are printed on stderr (all go to `--report`).
const REJECTED_SHOWN_MAX: usize = 20;

pub fn usage_inputs(files: &[PathBuf]) -> Result<Vec<UsageInput>, Failure> {
    files
        .iter()
        .map(|path| {
            let reader: Box<dyn std::io::Read + Send> = if path.as_os_str() == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(
                    std::fs::File::open(path)
                        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))?,
                )
            };
            Ok(UsageInput {
                name: path.display().to_string(),
                reader,
            })
        })
        .collect()
}

/// Opens the report for writing without following a symbolic link, so that a link
/// planted at its path cannot make an import overwrite another file.
fn open_report(path: &Path) -> Result<std::fs::File, Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o600);
    }
    options.open(path).map_err(|e| {
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        Failure::input(format!(
            "{}: cannot write the report: {}",
            path.display(),
            if link {
                "it is a symbolic link, which --report never follows".to_string()
            } else {
                e.to_string()
            }
        ))
    })
}

fn progress_bar(files: &[PathBuf]) -> (ProgressBar, Option<u64>) {
    // The bar measures bytes read when every input is a file of known size (standard
    // input is not), and counts events otherwise.
    let total_bytes: Option<u64> = files
        .iter()
        .map(|path| {
            if path.as_os_str() == "-" {
                None
            } else {
                std::fs::metadata(path).ok().map(|m| m.len())
            }
        })
        .sum();
    let bar = match (std::io::stderr().is_terminal(), total_bytes) {
        (false, _) => ProgressBar::hidden(),
        (true, Some(total)) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("importing {wide_bar} {bytes}/{total_bytes}, {msg}, {eta} left")
                .expect("a valid template"),
        ),
        (true, None) => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} importing: {human_pos} events processed, {elapsed}")
                .expect("a valid template"),
        ),
    };
    bar.set_message("0 events processed");
    (bar, total_bytes)
}

/// Imports with a progress bar on a terminal; prints the summary.
pub fn import_files(args: &StoreArgs, files: &[PathBuf], report: Option<&Path>) -> Result<ImportSummary, Failure> {
    let mut backend = open(args)?;
    let keys = keys(args, backend.as_mut())?;
    let mut report_file = report.map(open_report).transpose()?.map(std::io::BufWriter::new);
    let (bar, total_bytes) = progress_bar(files);
    let inputs: Vec<UsageInput> = usage_inputs(files)?
        .into_iter()
        .map(|input| match total_bytes {
            Some(_) => UsageInput {
                name: input.name,
                reader: Box::new(bar.wrap_read(input.reader)),
            },
            None => input,
        })
        .collect();
    let mut shown = 0usize;
    let mut on_progress = |p: Progress| match total_bytes {
        Some(_) => bar.set_message(format!("{} events processed", p.records)),
        None => bar.set_position(p.records),
    };
    let bar_for_messages = bar.clone();
    let mut on_rejected = |r: &Rejected| {
        if let Some(file) = report_file.as_mut() {
            let line = serde_json::json!({"file": r.file, "line": r.line, "index": r.index, "id": r.id, "code": r.code, "error": r.reason});
            // A failed report write is reported once at the end by the flush below.
            let _ = writeln!(file, "{line}");
        }
        if shown < REJECTED_SHOWN_MAX {
            bar_for_messages.suspend(|| eprintln!("{}:{}: rejected: {}", r.file, r.line, r.reason));
        }
        shown += 1;
    };
    let actor = operator();
    let ctx = Ctx::now(&actor);
    let observers = Observers {
        progress: &mut on_progress,
        rejected: &mut on_rejected,
    };
    let summary = revshare_app::import::import(backend.as_mut(), &keys, ctx, inputs, observers)?;
    bar.finish_and_clear();
    if let Some(mut file) = report_file {
        file.flush()
            .map_err(|e| Failure::other(format!("cannot write the report: {e}")))?;
    }
    print_summary(&summary, report.is_some());
    Ok(summary)
}

fn print_summary(summary: &ImportSummary, reported: bool) {
    let hidden = (summary.rejected + summary.conflicts) as usize;
    if hidden > REJECTED_SHOWN_MAX {
        eprintln!(
            "... and {} more rejected events{}",
            hidden - REJECTED_SHOWN_MAX,
            if reported {
                " (all are in the report)"
            } else {
                " (use --report FILE to list them all)"
            }
        );
    }
    println!(
        "imported: {} read, {} accepted, {} duplicates, {} conflicts, {} rejected; {} late (settled at the next close)",
        summary.read, summary.accepted, summary.duplicates, summary.conflicts, summary.rejected, summary.late
    );
    for (host, count) in &summary.unselected {
        eprintln!(
            "warning: {count} accepted events of host {host} are selected by no contract (check the host, the model \
             registry and the contracts' terms); no statement counts them"
        );
    }
}

pub fn run(args: &StoreArgs, import: &ImportArgs) -> Result<(), Failure> {
    let summary = import_files(args, &import.files, import.report.as_deref())?;
    if !summary.all_stored() {
        return Err(Failure::input(format!(
            "{} of {} records were not stored (the valid ones were)",
            summary.rejected + summary.conflicts,
            summary.read
        )));
    }
    Ok(())
}
