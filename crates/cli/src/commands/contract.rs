//! `revshare contract`: add, list and show contract versions.

use std::path::PathBuf;

use clap::Subcommand;
use revshare_app::Ctx;

use crate::stateful::{file_name, keys, open, operator};
use crate::{format, inputs, Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum ContractCommand {
    /// Validate a contract file and store it as a new version.
    Add { file: PathBuf },
    /// List stored contracts and versions.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Print a stored contract (the latest version unless --version): the file as
    /// stored; with --format, the resource as the API gives it (json, the file in
    /// `toml`), its row of `contract list` (csv), or that row and the file (table).
    Show {
        id: String,
        #[arg(long)]
        version: Option<i64>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn contract(args: &StoreArgs, command: ContractCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        ContractCommand::Add { file } => {
            let bytes = inputs::read(&file)?;
            let keys = keys(args, backend.as_mut())?;
            match revshare_app::contracts::add_version(backend.as_mut(), &keys, ctx, &file_name(&file), &bytes)? {
                revshare_app::contracts::Added::Stored { id, version, sha256 } => {
                    println!("stored {id} version {version} (sha256 {sha256})")
                }
                revshare_app::contracts::Added::AlreadyStored { id, version, sha256 } => {
                    println!("{id} version {version} is already stored (sha256 {sha256})")
                }
            }
        }
        ContractCommand::List { format: output } => {
            let rows = revshare_app::contracts::list(backend.as_mut(), &operator())?;
            format::contracts(&rows, output)?;
        }
        ContractCommand::Show {
            id,
            version,
            format: output,
        } => {
            let row = revshare_app::contracts::show(backend.as_mut(), &operator(), &id, version)?;
            match output {
                None => print!("{}", row.toml),
                Some(output) => format::contract(&row, output)?,
            }
        }
    }
    Ok(())
}
