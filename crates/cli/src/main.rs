//! `revshare`: the command line. A thin shell: it parses arguments, reads files,
//! calls the application layer (`revshare-app`) or, for `rate` and `verify`, the
//! core and the ingest pipeline, and prints. Errors become readable messages and
//! exit codes here (2: bad input or a refused request; 1: other failures, such as
//! an unreachable database or stored data that fails a check).

mod audit;
mod close;
mod commands;
mod demo;
mod format;
mod import;
mod inputs;
mod locate;
mod rate;
mod serve;
mod stateful;
mod verify;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use revshare_app::Location;
use revshare_app::{AppError, Field};

#[derive(Parser)]
#[command(
    name = "revshare",
    version,
    about = "Settles revenue sharing between AI model licensors and hosts."
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the state lives; accepted before or after the subcommand.
#[derive(Args, Clone, Debug)]
pub struct StoreArgs {
    /// The embedded store (SQLite file), used unless a database URL is given
    /// [default: revshare.db].
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL store, e.g. postgres://user@host/db.
    #[arg(
        long,
        global = true,
        env = "REVSHARE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The store's key file (default: `<db>.key` beside the embedded store; with
    /// PostgreSQL it must be given).
    #[arg(long, global = true, env = "REVSHARE_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl StoreArgs {
    pub fn location(&self) -> Location {
        match (&self.database_url, &self.db) {
            (Some(url), None) => Location::Postgres(url.clone()),
            (_, Some(path)) => Location::Sqlite(path.clone()),
            (None, None) => Location::Sqlite(PathBuf::from(stateful::DEFAULT_DB)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Rate usage offline: print the statements these inputs produce (unsigned).
    Rate(rate::RateArgs),
    /// Check a statement's signature, an event's inclusion proof, the audit chain, and
    /// checkpoints, offline.
    Verify(verify::VerifyArgs),
    /// Create the store and its signing key.
    Init,
    /// Contracts: add a version, list, show.
    #[command(subcommand)]
    Contract(commands::contract::ContractCommand),
    /// FX rates.
    #[command(subcommand)]
    Fx(commands::tables::FxCommand),
    /// The model registry (which licensor owns which models), in versions.
    #[command(subcommand)]
    Models(commands::tables::ModelsCommand),
    /// Import usage events (NDJSON or JSON arrays), idempotently.
    Import(import::ImportArgs),
    /// Contributions: proposed by one party, accepted or rejected by the other.
    #[command(subcommand)]
    Contribution(commands::contribution::ContributionCommand),
    /// Disputes of closed statements: opened by a party of the contract, answered,
    /// resolved or rejected by the other, escalated to and decided by the operator.
    #[command(subcommand)]
    Dispute(commands::dispute::DisputeCommand),
    /// Payments between a contract's host and its beneficiaries: recorded by the
    /// payer, confirmed by the payee, withdrawn, reversed by the operator.
    #[command(subcommand)]
    Payment(commands::payment::PaymentCommand),
    /// The ledger: balances with ageing, and its entries.
    #[command(subcommand)]
    Ledger(commands::ledger::LedgerCommand),
    /// Unique customers per host and calendar month (UTC), and the contracts flagged
    /// for reaching their `mau_threshold`.
    Mau(commands::mau::MauArgs),
    /// Close a period into signed statements (also settles changes to closed periods).
    Close(close::CloseArgs),
    /// Void an accepted event: it stops counting (a closed period gets an adjustment).
    Void(commands::void::VoidArgs),
    /// Where an event is counted (statement, tree, leaf), or why not.
    Locate(locate::LocateArgs),
    /// Closed statements.
    #[command(subcommand)]
    Statement(commands::statement::StatementCommand),
    /// The inclusion proof of one event in a statement.
    Prove {
        statement_id: String,
        source: String,
        id: String,
    },
    /// The signing key.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// The audit log: entries, the chain, and verification of everything stored.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The store as a whole: copy it into another (SQLite to PostgreSQL or back).
    #[command(subcommand)]
    Store(commands::store::StoreCommand),
    /// The example end to end, in its own store: contracts, 200k+ events, closes, proofs.
    Demo(demo::DemoArgs),
    /// The parties that reach the service.
    #[command(subcommand)]
    Party(serve::PartyCommand),
    /// Tokens: a party's credential for the HTTP API, shown once.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// Check a statement against the host's own usage, offline: lines, the events
    /// tree, and each event or leaf one side lacks (exit 0 only when all agree).
    Reconcile(commands::reconcile::ReconcileArgs),
    /// Serve the HTTP API (api.md) on this store.
    Serve(serve::ServeArgs),
    /// A party's own witness of the service's audit log: checks and cosigns its
    /// checkpoints (statements.md, Checkpoints and witnesses).
    Witness(witness::WitnessArgs),
}

/// An error with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad input or a refused request (exit 2).
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Anything else (exit 1).
    pub fn other(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// Proof that the service signed two inconsistent things (exit 3).
    pub fn equivocation(message: impl Into<String>) -> Failure {
        Failure {
            code: 3,
            message: message.into(),
        }
    }
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Failure {
        let message = match &error {
            AppError::InvalidField(field, message) => format!("{}: {message}", flag(*field)),
            AppError::Unsettled(unsettled) => unsettled.message("--settlement-start"),
            _ => error.to_string(),
        };
        if error.is_refusal() {
            Failure::input(message)
        } else {
            Failure::other(message)
        }
    }
}

/// The flag that gives a field on the command line.
fn flag(field: Field) -> &'static str {
    match field {
        Field::Reason => "--reason",
        Field::Reference => "--reference",
        Field::GraceSeconds => "--grace-seconds",
        Field::DryRun => "--dry-run",
        Field::Contracts => "--contract",
        Field::Expires => "--expires",
        Field::Party => "--party",
        Field::EffectiveFrom => "--from",
        Field::Payer => "--as",
        Field::Payee => "--to",
        Field::Amount => "--amount",
        Field::Line => "--line",
        Field::Evidence => "--evidence",
        Field::Note => "--note",
    }
}

fn main() -> ExitCode {
    // Output piped into a reader that stops early (`revshare audit log | head`) ends
    // the process quietly, as with other Unix tools, instead of a panic in println!.
    // The store stays consistent: every write is a transaction (see tests/crash.rs).
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let store = cli.store;
    let outcome = match cli.command {
        Command::Rate(args) => rate::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Init => stateful::init(&store),
        Command::Contract(command) => commands::contract::contract(&store, command),
        Command::Fx(command) => commands::tables::fx(&store, command),
        Command::Models(command) => commands::tables::models(&store, command),
        Command::Import(args) => import::run(&store, &args),
        Command::Contribution(command) => commands::contribution::contribution(&store, command),
        Command::Dispute(command) => commands::dispute::dispute(&store, command),
        Command::Payment(command) => commands::payment::payment(&store, command),
        Command::Ledger(command) => commands::ledger::ledger(&store, command),
        Command::Mau(args) => commands::mau::mau(&store, &args),
        Command::Close(args) => close::run(&store, &args),
        Command::Void(args) => commands::void::void(&store, &args),
        Command::Locate(args) => locate::run(&store, &args),
        Command::Statement(command) => commands::statement::statement(&store, command),
        Command::Prove {
            statement_id,
            source,
            id,
        } => commands::statement::prove(&store, &statement_id, &source, &id),
        Command::Key(command) => commands::key::key(&store, command),
        Command::Audit(command) => audit::run(&store, command),
        Command::Store(command) => commands::store::store(&store, command),
        Command::Demo(args) => demo::run(&store, &args),
        Command::Party(command) => serve::party(&store, command),
        Command::Token(command) => serve::token(&store, command),
        Command::Reconcile(args) => commands::reconcile::run(&args),
        Command::Serve(args) => serve::serve(&store, &args),
        Command::Witness(args) => witness::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("revshare: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
