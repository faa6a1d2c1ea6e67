//! `revshare`: the command line. A thin shell: it parses arguments, reads files,
//! calls the core and the ingest pipeline, and prints. Errors become readable
//! messages and exit codes here (2: bad input such as an invalid contract; 1: other
//! failures).

mod demo;
mod format;
mod inputs;
mod rate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "revshare",
    version,
    about = "Settles revenue sharing between AI model licensors and hosts."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Run the example end to end on bundled data and print its statements.
    Demo {
        /// How to print the statements.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Where the demo writes its files (defaults to a temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// An error with the exit code it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad input: an invalid contract, table or argument (exit 2).
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Anything else: unreadable files, broken output (exit 1).
    pub fn other(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Rate(args) => rate::run(&args),
        Command::Demo { format, dir } => demo::run(format, dir),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("revshare: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
