//! The commands that work on a store: init, contracts, tables, import, contributions,
//! close, statements, proofs, keys.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use revshare_core::contract::{Contract, ContractSet, ContributionKind, Party};
use revshare_core::event::Timestamp;
use revshare_core::period::{Day, Period};
use revshare_core::statement::Statement;
use revshare_core::tables::{FxTable, ModelRegistry};
use revshare_ingest::offline::UsageInput;
use revshare_store::backend::{ContractRow, ContributionRow, FxRow};
use revshare_store::import::{ImportSummary, Progress, Rejected};
use revshare_store::keys::Keys;
use revshare_store::{now_rfc3339, rating_inputs, Location, Store};

use crate::{format, inputs, Failure, Format, StoreArgs};

pub const DEFAULT_DB: &str = "revshare.db";

/// An open, initialized store with its keys.
pub struct Opened {
    pub store: Store,
    pub key_file: PathBuf,
}

fn describe(location: &Location) -> String {
    match location {
        Location::Sqlite(path) => path.display().to_string(),
        Location::Postgres(_) => "the PostgreSQL database".to_string(),
    }
}

/// Opens an existing store (it must have been initialized).
pub fn open(args: &StoreArgs) -> Result<Opened, Failure> {
    let location = args.location(DEFAULT_DB);
    if let Location::Sqlite(path) = &location {
        if !path.exists() {
            return Err(Failure::input(format!(
                "no store at {}; run `revshare init` first (or pass --db / --database-url)",
                path.display()
            )));
        }
    }
    let mut store = Store::open(&location)?;
    if store.backend().meta("public_key")?.is_none() {
        return Err(Failure::input(format!(
            "{} is not initialized; run `revshare init` first",
            describe(&location)
        )));
    }
    let key_file = args.key_file(&location);
    Ok(Opened { store, key_file })
}

pub fn init(args: &StoreArgs) -> Result<(), Failure> {
    let location = args.location(DEFAULT_DB);
    if let Location::Sqlite(path) = &location {
        revshare_store::check_parent(path)?;
    }
    let mut store = Store::open(&location)?;
    let key_file = args.key_file(&location);
    let backend = store.backend();
    if let Some(public) = backend.meta("public_key")? {
        let keys = Keys::load(&key_file)?;
        let stored: revshare_core::verify::PublicKey = serde_json::from_str(&public)
            .map_err(|e| Failure::other(format!("the stored public key is unreadable: {e}")))?;
        if stored != keys.public() {
            return Err(Failure::input(format!(
                "{} was initialized with key {}, but {} holds key {}",
                describe(&location),
                stored.key_id,
                key_file.display(),
                keys.public().key_id
            )));
        }
        println!(
            "{} is already initialized (key {}, in {})",
            describe(&location),
            stored.key_id,
            key_file.display()
        );
        return Ok(());
    }
    let keys = if key_file.exists() {
        Keys::load(&key_file)?
    } else {
        Keys::create(&key_file)?
    };
    let public = keys.public();
    backend.set_meta("public_key", &serde_json::to_string(&public).expect("keys serialize"))?;
    backend.set_meta("created_at", &now_rfc3339())?;
    println!(
        "initialized {} ({}); signing key {} in {} (keep it secret; `revshare key export-public` prints the public key)",
        describe(&location),
        backend.name(),
        public.key_id,
        key_file.display()
    );
    Ok(())
}

#[derive(Subcommand)]
pub enum ContractCommand {
    /// Validate a contract file and store it as a new version.
    Add { file: PathBuf },
    /// List stored contracts and versions.
    List,
    /// Print a stored contract (the latest version unless --version).
    Show {
        id: String,
        #[arg(long)]
        version: Option<i64>,
    },
}

pub fn contract(args: &StoreArgs, command: ContractCommand) -> Result<(), Failure> {
    let mut opened = open(args)?;
    let backend = opened.store.backend();
    match command {
        ContractCommand::Add { file } => {
            let bytes = inputs::read(&file)?;
            let name = file
                .file_name()
                .map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
            let contract =
                Contract::from_toml(&file.display().to_string(), &bytes).map_err(|e| Failure::input(e.to_string()))?;
            let stored = backend.contracts()?;
            if let Some(same) = stored
                .iter()
                .find(|r| r.id == contract.id && r.version == i64::from(contract.version))
            {
                if same.sha256 == contract.sha256 {
                    println!(
                        "{} version {} is already stored (sha256 {})",
                        contract.id, contract.version, contract.sha256
                    );
                    return Ok(());
                }
                return Err(Failure::input(format!(
                    "{}: version: {} version {} is already stored with other content; an amendment is a new version",
                    file.display(),
                    contract.id,
                    contract.version
                )));
            }
            // The new version must fit the stored ones (parties, currency, dates).
            let mut all: Vec<(String, Contract)> = stored
                .iter()
                .map(|r| Contract::from_toml(&r.file_name, &r.toml).map(|c| (r.file_name.clone(), c)))
                .collect::<Result<_, _>>()
                .map_err(|e| Failure::other(format!("a stored contract no longer loads: {e}")))?;
            all.push((file.display().to_string(), contract.clone()));
            ContractSet::new(all).map_err(|e| Failure::input(e.to_string()))?;
            backend.add_contract(&ContractRow::of(&contract, &name, &bytes, &now_rfc3339()))?;
            println!(
                "stored {} version {} (sha256 {})",
                contract.id, contract.version, contract.sha256
            );
        }
        ContractCommand::List => {
            let rows = backend.contracts()?;
            if rows.is_empty() {
                println!("no contracts; add one with `revshare contract add FILE`");
            }
            for row in rows {
                println!(
                    "{}\tv{}\t{} → {}\t{}\tadded {}",
                    row.id, row.version, row.host, row.licensor, row.sha256, row.added_at
                );
            }
        }
        ContractCommand::Show { id, version } => {
            let rows = backend.contracts()?;
            let row = rows
                .iter()
                .filter(|r| r.id == id && version.is_none_or(|v| r.version == v))
                .max_by_key(|r| r.version)
                .ok_or_else(|| {
                    Failure::input(format!(
                        "no contract `{id}`{} is stored",
                        version.map(|v| format!(" version {v}")).unwrap_or_default()
                    ))
                })?;
            print!("{}", String::from_utf8_lossy(&row.toml));
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum TableCommand {
    /// Add rows from a CSV file.
    Add { file: PathBuf },
    /// Print the stored rows as CSV.
    List,
}

pub fn fx(args: &StoreArgs, command: TableCommand) -> Result<(), Failure> {
    let mut opened = open(args)?;
    let backend = opened.store.backend();
    match command {
        TableCommand::Add { file } => {
            let table = FxTable::from_csv(&file.display().to_string(), &inputs::read(&file)?)
                .map_err(|e| Failure::input(e.to_string()))?;
            let mut merged = rating_inputs(backend)?.fx;
            for (date, from, to, rate) in table.rows() {
                merged
                    .insert(date, from, to, rate.clone())
                    .map_err(|e| Failure::input(format!("{}: {e} (already stored)", file.display())))?;
            }
            let rows = FxRow::all(&table);
            backend.add_fx(&rows)?;
            println!("stored {} FX rates", rows.len());
        }
        TableCommand::List => {
            println!("date,from,to,rate");
            for row in backend.fx()? {
                println!("{},{},{},{}", Day(row.date), row.from, row.to, row.rate);
            }
        }
    }
    Ok(())
}

pub fn models(args: &StoreArgs, command: TableCommand) -> Result<(), Failure> {
    let mut opened = open(args)?;
    let backend = opened.store.backend();
    match command {
        TableCommand::Add { file } => {
            let registry = ModelRegistry::from_csv(&file.display().to_string(), &inputs::read(&file)?)
                .map_err(|e| Failure::input(e.to_string()))?;
            let rows: Vec<(String, String)> = registry
                .rows
                .iter()
                .map(|(g, l)| (g.as_str().to_string(), l.clone()))
                .collect();
            backend.set_models(&rows)?;
            println!(
                "stored the model registry: {} rows (it replaces the previous one)",
                rows.len()
            );
        }
        TableCommand::List => {
            println!("pattern,licensor");
            for (pattern, licensor) in backend.models()? {
                println!("{pattern},{licensor}");
            }
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct ImportArgs {
    /// Usage files: NDJSON or JSON arrays. `-` reads stdin.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write every rejected event (JSON lines) to this file.
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

pub fn now() -> Timestamp {
    let now = time::OffsetDateTime::now_utc();
    Timestamp {
        seconds: now.unix_timestamp(),
        nanos: now.nanosecond(),
    }
}

/// Imports with a progress bar on a terminal; prints the summary.
pub fn import_files(opened: &mut Opened, files: &[PathBuf], report: Option<&Path>) -> Result<ImportSummary, Failure> {
    let keys = Keys::load(&opened.key_file)?;
    let inputs = usage_inputs(files)?;
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
    let inputs: Vec<UsageInput> = match total_bytes {
        Some(_) => inputs
            .into_iter()
            .map(|input| UsageInput {
                name: input.name,
                reader: Box::new(bar.wrap_read(input.reader)),
            })
            .collect(),
        None => inputs,
    };
    let mut report_file = match report {
        Some(path) => {
            Some(std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| {
                Failure::input(format!("{}: cannot write: {e}", path.display()))
            })?))
        }
        None => None,
    };
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
    let summary = revshare_store::import::import(
        opened.store.backend(),
        &keys,
        inputs,
        now(),
        &mut on_progress,
        &mut on_rejected,
    )?;
    bar.finish_and_clear();
    if let Some(mut file) = report_file {
        file.flush()
            .map_err(|e| Failure::other(format!("cannot write the report: {e}")))?;
    }
    let hidden = (summary.rejected + summary.conflicts) as usize;
    if hidden > REJECTED_SHOWN_MAX {
        eprintln!(
            "... and {} more rejected events{}",
            hidden - REJECTED_SHOWN_MAX,
            if report.is_some() {
                " (all are in the report)"
            } else {
                " (use --report FILE to list them all)"
            }
        );
    }
    println!(
        "imported: {} read, {} accepted, {} duplicates, {} conflicts, {} rejected ({} late, settled at the next close)",
        summary.read, summary.accepted, summary.duplicates, summary.conflicts, summary.rejected, summary.late
    );
    Ok(summary)
}

pub fn import(args: &StoreArgs, import: &ImportArgs) -> Result<(), Failure> {
    let mut opened = open(args)?;
    import_files(&mut opened, &import.files, import.report.as_deref())?;
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PartyArg {
    Host,
    Licensor,
}

#[derive(Subcommand)]
pub enum ContributionCommand {
    /// Propose a contribution (by one party, to be accepted by the other).
    Propose {
        #[arg(long)]
        contract: String,
        #[arg(long, value_enum)]
        by: PartyArg,
        /// maintenance, update or improvement.
        #[arg(long)]
        kind: String,
        /// The contribution's date (YYYY-MM-DD): it counts in the period holding it.
        #[arg(long)]
        date: String,
        #[arg(long, default_value = "")]
        reference: String,
    },
    /// Accept a proposed contribution.
    Accept { number: i64 },
    /// Reject a proposed contribution.
    Reject { number: i64 },
    /// List contributions.
    List,
}

pub fn contribution(args: &StoreArgs, command: ContributionCommand) -> Result<(), Failure> {
    let mut opened = open(args)?;
    let backend = opened.store.backend();
    match command {
        ContributionCommand::Propose {
            contract,
            by,
            kind,
            date,
            reference,
        } => {
            if !backend.contracts()?.iter().any(|c| c.id == contract) {
                return Err(Failure::input(format!(
                    "--contract: no contract `{contract}` is stored"
                )));
            }
            let kind = ContributionKind::parse(&kind).ok_or_else(|| {
                Failure::input(format!("--kind: \"{kind}\" must be maintenance, update or improvement"))
            })?;
            let day =
                Day::parse(&date).ok_or_else(|| Failure::input(format!("--date: \"{date}\" must be YYYY-MM-DD")))?;
            let by = match by {
                PartyArg::Host => Party::Host,
                PartyArg::Licensor => Party::Licensor,
            };
            let number = backend.add_contribution(&ContributionRow {
                number: 0,
                contract,
                by: by.as_str().to_string(),
                kind: kind.as_str().to_string(),
                date: day.0,
                status: "proposed".into(),
                reference,
                proposed_at: now_rfc3339(),
                decided_at: None,
            })?;
            println!("proposed contribution {number}; the other party accepts it with `revshare contribution accept {number}`");
        }
        ContributionCommand::Accept { number } | ContributionCommand::Reject { number } => {
            let status = if matches!(command, ContributionCommand::Accept { .. }) {
                "accepted"
            } else {
                "rejected"
            };
            if !backend.decide_contribution(number, status, &now_rfc3339())? {
                return Err(Failure::input(format!(
                    "contribution {number} does not exist or is not proposed"
                )));
            }
            println!("contribution {number} {status}");
        }
        ContributionCommand::List => {
            println!("number,contract,by,kind,date,status,reference");
            for c in backend.contributions()? {
                println!(
                    "{},{},{},{},{},{},{:?}",
                    c.number,
                    c.contract,
                    c.by,
                    c.kind,
                    Day(c.date),
                    c.status,
                    c.reference
                );
            }
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct CloseArgs {
    /// The period: 2026-10 (monthly contracts) or 2026-Q4 (quarterly).
    pub period: String,
    /// Only this contract.
    #[arg(long)]
    pub contract: Option<String>,
    /// Seconds after the period's end before it may be closed (stragglers).
    #[arg(long, default_value_t = 0)]
    pub grace_seconds: i64,
}

pub fn close_period(
    opened: &mut Opened,
    period: &str,
    contract: Option<&str>,
    grace: i64,
) -> Result<Vec<Statement>, Failure> {
    let period = Period::parse(period)
        .ok_or_else(|| Failure::input(format!("\"{period}\" is not a period such as 2026-10 or 2026-Q4")))?;
    let keys = Keys::load(&opened.key_file)?;
    let closed = revshare_store::close::close(
        opened.store.backend(),
        &keys,
        period,
        contract,
        now().seconds,
        grace,
        &now_rfc3339(),
    )?;
    if closed.is_empty() {
        println!("no contract's term covers {period} (monthly contracts close months, quarterly ones quarters)");
    }
    let mut statements = Vec::new();
    for c in closed {
        let statement: Statement = serde_json::from_str(&c.row.json)
            .map_err(|e| Failure::other(format!("a stored statement is unreadable: {e}")))?;
        println!(
            "{} {}: total {} {}, {} events{}",
            if c.new { "closed" } else { "already closed" },
            c.row.statement_id,
            statement.total,
            statement.currency,
            statement.events.count,
            statement
                .adjustments
                .iter()
                .filter(|a| a.kind == "prior_period")
                .map(|a| format!(
                    ", prior-period adjustment {} for {} ({} late events)",
                    a.amount,
                    a.period.as_deref().unwrap_or("?"),
                    a.events.unwrap_or(0)
                ))
                .collect::<String>()
        );
        statements.push(statement);
    }
    Ok(statements)
}

pub fn close(args: &StoreArgs, close: &CloseArgs) -> Result<(), Failure> {
    let mut opened = open(args)?;
    close_period(
        &mut opened,
        &close.period,
        close.contract.as_deref(),
        close.grace_seconds,
    )?;
    Ok(())
}

#[derive(Subcommand)]
pub enum StatementCommand {
    /// List closed statements.
    List,
    /// Print a statement exactly as signed (json), or as a table or CSV.
    Show {
        id: String,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
}

pub fn statement(args: &StoreArgs, command: StatementCommand) -> Result<(), Failure> {
    let mut opened = open(args)?;
    let backend = opened.store.backend();
    match command {
        StatementCommand::List => {
            let rows = backend.statements()?;
            if rows.is_empty() {
                println!("no statements; close a period with `revshare close PERIOD`");
            }
            for row in rows {
                let s: Statement = serde_json::from_str(&row.json).map_err(|e| Failure::other(e.to_string()))?;
                println!(
                    "{}\t{} {}\t{} events\tclosed {}",
                    row.statement_id, s.total, s.currency, s.events.count, row.closed_at
                );
            }
        }
        StatementCommand::Show { id, format: output } => {
            let row = backend.statement(&id)?.ok_or_else(|| {
                Failure::input(format!("no statement `{id}` is closed (see `revshare statement list`)"))
            })?;
            match output {
                // The stored bytes, exactly as signed.
                Format::Json => println!("{}", row.json),
                other => {
                    let s: Statement = serde_json::from_str(&row.json).map_err(|e| Failure::other(e.to_string()))?;
                    let mut out = std::io::stdout().lock();
                    format::write_statements(&mut out, &[s], other).map_err(|e| Failure::other(e.to_string()))?;
                }
            }
        }
    }
    Ok(())
}

pub fn prove(args: &StoreArgs, statement_id: &str, source: &str, id: &str) -> Result<(), Failure> {
    let mut opened = open(args)?;
    let proof = revshare_store::prove::prove(opened.store.backend(), statement_id, source, id)?;
    println!("{}", serde_json::to_string_pretty(&proof).expect("proofs serialize"));
    Ok(())
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Print the public key (JSON) that verifies this store's statements.
    ExportPublic,
}

pub fn key(args: &StoreArgs, command: KeyCommand) -> Result<(), Failure> {
    let mut opened = open(args)?;
    match command {
        KeyCommand::ExportPublic => {
            let public = opened.store.backend().meta("public_key")?.expect("open() checked it");
            let public: revshare_core::verify::PublicKey =
                serde_json::from_str(&public).map_err(|e| Failure::other(e.to_string()))?;
            println!("{}", serde_json::to_string_pretty(&public).expect("keys serialize"));
        }
    }
    Ok(())
}
