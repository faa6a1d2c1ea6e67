//! `revshare`: the command line. A thin shell: it parses arguments, reads files,
//! calls the core, the ingest pipeline and the store, and prints. Errors become
//! readable messages and exit codes here (2: bad input or a refused request; 1: other
//! failures such as an unreachable database).

mod demo;
mod format;
mod inputs;
mod rate;
mod stateful;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use revshare_store::{Location, StoreError};

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
    /// The embedded store (SQLite file), used unless a database URL is given.
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
    /// The signing key file (default: `<db>.key` beside the embedded store, or
    /// `./revshare.key` with PostgreSQL).
    #[arg(long, global = true, env = "REVSHARE_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl StoreArgs {
    pub fn location(&self, default_db: &str) -> Location {
        match (&self.database_url, &self.db) {
            (Some(url), None) => Location::Postgres(url.clone()),
            (_, Some(path)) => Location::Sqlite(path.clone()),
            (None, None) => Location::Sqlite(PathBuf::from(default_db)),
        }
    }

    pub fn key_file(&self, location: &Location) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| revshare_store::default_key_file(location))
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
    /// Check a statement's signature, and an event's inclusion proof, offline.
    Verify(verify::VerifyArgs),
    /// Create the store and its signing key.
    Init,
    /// Contracts: add a version, list, show.
    #[command(subcommand)]
    Contract(stateful::ContractCommand),
    /// FX rates.
    #[command(subcommand)]
    Fx(stateful::TableCommand),
    /// The model registry (which licensor owns which models).
    #[command(subcommand)]
    Models(stateful::TableCommand),
    /// Import usage events (NDJSON or JSON arrays), idempotently.
    Import(stateful::ImportArgs),
    /// Contributions: proposed by one party, accepted or rejected by the other.
    #[command(subcommand)]
    Contribution(stateful::ContributionCommand),
    /// Close a period into signed statements (also settles late usage).
    Close(stateful::CloseArgs),
    /// Closed statements.
    #[command(subcommand)]
    Statement(stateful::StatementCommand),
    /// The inclusion proof of one event in a statement.
    Prove {
        statement_id: String,
        source: String,
        id: String,
    },
    /// The signing key.
    #[command(subcommand)]
    Key(stateful::KeyCommand),
    /// The example end to end: a store, contracts, 200k+ events, closes, proofs.
    Demo {
        /// How many events to synthesize.
        #[arg(long, default_value_t = 240_000)]
        events: u32,
    },
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
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        match error {
            StoreError::Refused(message) => Failure::input(message),
            other => Failure::other(other.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let store = cli.store;
    let outcome = match cli.command {
        Command::Rate(args) => rate::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Init => stateful::init(&store),
        Command::Contract(command) => stateful::contract(&store, command),
        Command::Fx(command) => stateful::fx(&store, command),
        Command::Models(command) => stateful::models(&store, command),
        Command::Import(args) => stateful::import(&store, &args),
        Command::Contribution(command) => stateful::contribution(&store, command),
        Command::Close(args) => stateful::close(&store, &args),
        Command::Statement(command) => stateful::statement(&store, command),
        Command::Prove {
            statement_id,
            source,
            id,
        } => stateful::prove(&store, &statement_id, &source, &id),
        Command::Key(command) => stateful::key(&store, command),
        Command::Demo { events } => demo::run(&store, events),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("revshare: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
