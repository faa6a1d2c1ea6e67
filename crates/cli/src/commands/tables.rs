//! `revshare fx` and `revshare models`: the FX rates and the model registry.

use std::path::PathBuf;

use clap::Subcommand;
use revshare_app::Ctx;
use revshare_core::period::Day;

use crate::stateful::{file_name, keys, open, operator};
use crate::{format, inputs, Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum FxCommand {
    /// Add FX rates from a CSV file (`date,from,to,rate`). Rows already stored with
    /// the same rate are skipped; another rate for a stored (date, from, to) refuses
    /// the file.
    Add { file: PathBuf },
    /// List the stored rates.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn fx(args: &StoreArgs, command: FxCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        FxCommand::Add { file } => {
            let keys = keys(args, backend.as_mut())?;
            let added =
                revshare_app::tables::add_fx(backend.as_mut(), &keys, ctx, &file_name(&file), &inputs::read(&file)?)?;
            println!(
                "stored {} FX rates ({} already stored with the same rate, skipped)",
                added.stored, added.skipped
            );
        }
        FxCommand::List { format: output } => {
            format::fx(&revshare_app::tables::fx(backend.as_mut(), &operator())?, output)?;
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Add a new version of the model registry (CSV `pattern,licensor`), effective
    /// from a month start; earlier periods keep the version they were rated with.
    Add {
        file: PathBuf,
        /// The first day it applies, a month start (default: the month after the
        /// latest closed period, or from the start when none is closed).
        #[arg(long, value_parser = parse_day)]
        from: Option<Day>,
    },
    /// List the registry versions.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn parse_day(text: &str) -> Result<Day, String> {
    Day::parse(text).ok_or_else(|| format!("\"{text}\" must be a date YYYY-MM-DD"))
}

pub fn models(args: &StoreArgs, command: ModelsCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    match command {
        ModelsCommand::Add { file, from } => {
            let keys = keys(args, backend.as_mut())?;
            let added = revshare_app::tables::add_registry(
                backend.as_mut(),
                &keys,
                ctx,
                &file_name(&file),
                &inputs::read(&file)?,
                from,
            )?;
            println!(
                "stored registry version {} ({} rows), effective from {}",
                added.version,
                added.rows,
                if added.effective_from == Day(0) {
                    "the start".to_string()
                } else {
                    added.effective_from.to_string()
                }
            );
        }
        ModelsCommand::List { format: output } => {
            format::registries(
                &revshare_app::tables::registries(backend.as_mut(), &operator())?,
                output,
            )?;
        }
    }
    Ok(())
}
