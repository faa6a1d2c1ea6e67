//! `revshare rate`: offline and stateless.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use revshare_app::rate::{rate_usage_without, voids_from_csv, ProblemKind, RateOutput, UsageInput, Voids};
use revshare_core::period::Period;
use revshare_core::rating::RatingInputs;

use crate::{format, inputs, Failure, Format};

#[derive(Args)]
pub struct RateArgs {
    /// A contract file (TOML); repeat for several contracts or versions.
    #[arg(long = "contract", required = true, value_name = "C.toml")]
    pub contracts: Vec<PathBuf>,
    /// A usage file (NDJSON or a JSON array); repeat for several. `-` reads stdin.
    #[arg(long = "usage", required = true, value_name = "U.ndjson")]
    pub usage: Vec<PathBuf>,
    /// FX rates (CSV `date,from,to,rate`).
    #[arg(long)]
    pub fx: Option<PathBuf>,
    /// Contributions (CSV `contract,by,kind,date,status,reference`).
    #[arg(long)]
    pub contributions: Option<PathBuf>,
    /// The model registry (CSV `pattern,licensor`).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Voided events (CSV `source,id`, as `statement inputs` writes): no statement
    /// counts them.
    #[arg(long)]
    pub voids: Option<PathBuf>,
    /// Only this period (`2026-10` or `2026-Q4`), for every contract whose term covers it.
    #[arg(long, value_parser = parse_period)]
    pub period: Option<Period>,
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
}

fn parse_period(text: &str) -> Result<Period, String> {
    Period::parse(text).ok_or_else(|| format!("\"{text}\" is not a period such as 2026-10 or 2026-Q4"))
}

pub fn run(args: &RateArgs) -> Result<(), Failure> {
    let inputs = inputs::load(
        &args.contracts,
        args.fx.as_deref(),
        args.contributions.as_deref(),
        args.models.as_deref(),
    )?;
    let voids = match &args.voids {
        Some(path) => voids_from_csv(&path.display().to_string(), &inputs::read(path)?)?,
        None => Voids::default(),
    };
    let usage = crate::import::usage_inputs(&args.usage)?;
    let output = rate_with_report(&inputs, usage, args.period, &voids)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    format::write_statements(
        &mut out,
        &output.statements,
        args.format,
        &revshare_app::render::Names::default(),
    )
    .and_then(|()| out.flush())
    .map_err(|e| Failure::other(format!("cannot write the output: {e}")))?;
    Ok(())
}

/// Rates and reports problems and a summary on stderr.
pub fn rate_with_report(
    inputs: &RatingInputs,
    usage: Vec<UsageInput>,
    period: Option<Period>,
    voids: &Voids,
) -> Result<RateOutput, Failure> {
    let mut err = BufWriter::new(std::io::stderr());
    let mut report = |problem: &revshare_app::rate::Problem| {
        let label = match problem.kind {
            ProblemKind::Invalid => "invalid event",
            ProblemKind::Conflict => "conflicting event",
        };
        // A failed write to stderr has nowhere better to be reported.
        let _ = writeln!(err, "{}:{}: {label}: {}", problem.file, problem.line, problem.message);
    };
    let output =
        rate_usage_without(inputs, usage, period, voids, &mut report).map_err(|e| Failure::input(e.to_string()))?;
    let s = &output.summary;
    // The voided count only when voids were given: the summary line stays as it was.
    let voided = if voids.is_empty() {
        String::new()
    } else {
        format!(", {} voided", s.voided)
    };
    let _ = writeln!(
        err,
        "revshare rate: {} events read, {} rated, {} exceptions, {} invalid, {} duplicates, {} conflicts, {} selected by no contract{voided}; {} statements",
        s.read,
        s.rated,
        s.exceptions,
        s.invalid,
        s.duplicates,
        s.conflicts,
        s.unselected,
        output.statements.len()
    );
    if std::env::var_os("REVSHARE_PROFILE").is_some() {
        for (phase, at) in &output.phases {
            let _ = writeln!(err, "profile: {phase} done at {} ms", at.as_millis());
        }
    }
    let _ = err.flush();
    Ok(output)
}
