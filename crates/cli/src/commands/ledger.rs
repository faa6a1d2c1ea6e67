//! `revshare ledger`: balances with ageing, and the legs posted.

use clap::Subcommand;
use revshare_app::ledger::Filter;
use revshare_app::Ctx;
use revshare_core::period::Day;

use super::tables::parse_day;
use crate::stateful::{open, operator};
use crate::{format, Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// What each host owes each beneficiary, per contract and currency, aged by
    /// days past due.
    Balances {
        /// Only the accounts of this party (as host or beneficiary).
        #[arg(long)]
        party: Option<String>,
        #[arg(long)]
        contract: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        /// The day the balances are as of (YYYY-MM-DD; default today, UTC).
        #[arg(long, value_parser = parse_day)]
        as_of: Option<Day>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The ledger's legs, in the order posted.
    Entries {
        #[arg(long)]
        party: Option<String>,
        #[arg(long)]
        contract: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        /// Only legs dated on or before this day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_day)]
        as_of: Option<Day>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn ledger(args: &StoreArgs, command: LedgerCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    match command {
        LedgerCommand::Balances {
            party,
            contract,
            currency,
            as_of,
            format: output,
        } => {
            let filter = Filter {
                party,
                contract,
                currency,
                as_of,
            };
            let rows = revshare_app::ledger::balances(backend.as_mut(), Ctx::now(&actor), &filter)?;
            format::balances(&rows, output)
        }
        LedgerCommand::Entries {
            party,
            contract,
            currency,
            as_of,
            format: output,
        } => {
            let filter = Filter {
                party,
                contract,
                currency,
                as_of,
            };
            let rows = revshare_app::ledger::entries(backend.as_mut(), &actor, &filter)?;
            format::ledger_entries(&rows, output)
        }
    }
}
