//! `revshare mau`: unique customers per host and calendar month, and the contracts
//! flagged for reaching their `mau_threshold` (statements.md, MAU monitor).

use clap::Args;
use revshare_app::mau::Filter;
use revshare_app::Ctx;

use crate::stateful::{open, operator};
use crate::{format, Failure, Format, StoreArgs};

#[derive(Args)]
pub struct MauArgs {
    /// Only this host (default: every host with events in the month).
    #[arg(long)]
    host: Option<String>,
    /// The calendar month, YYYY-MM (default: the current one, UTC).
    #[arg(long, value_parser = parse_month)]
    month: Option<String>,
    #[arg(long, value_enum)]
    format: Option<Format>,
}

fn parse_month(text: &str) -> Result<String, String> {
    match revshare_app::mau::parse_month(text) {
        Ok(_) => Ok(text.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

pub fn mau(args: &StoreArgs, command: &MauArgs) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let filter = Filter {
        host: command.host.clone(),
        month: command.month.clone(),
    };
    let rows = revshare_app::mau::mau(backend.as_mut(), Ctx::now(&actor), &filter)?;
    format::mau(&rows, command.format)
}
