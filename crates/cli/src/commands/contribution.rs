//! `revshare contribution`: propose, accept, reject and list contributions.

use clap::{Subcommand, ValueEnum};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::keys::Keys;
use revshare_app::{Actor, Backend, Ctx};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::Day;

use super::tables::parse_day;
use crate::stateful::{keys, open, operator};
use crate::{format, Failure, Format, StoreArgs};

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
        #[arg(long, value_parser = parse_kind)]
        kind: ContributionKind,
        /// The contribution's date (YYYY-MM-DD): it counts in the period holding it.
        #[arg(long, value_parser = parse_day)]
        date: Day,
        #[arg(long, default_value = "")]
        reference: String,
        /// Act for this party (it must be the proposing side).
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// Accept a proposed contribution.
    Accept {
        number: i64,
        /// Act for this party (it must be the other side).
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// Reject a proposed contribution.
    Reject {
        number: i64,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// List contributions (`--format csv` is the file `rate --contributions` reads).
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn parse_kind(text: &str) -> Result<ContributionKind, String> {
    ContributionKind::parse(text).ok_or_else(|| format!("\"{text}\" must be maintenance, update or improvement"))
}

fn actor_for(as_party: &Option<String>) -> Actor {
    match as_party {
        Some(party) => Actor::cli_as(party),
        None => operator(),
    }
}

pub fn contribution(args: &StoreArgs, command: ContributionCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    match command {
        ContributionCommand::Propose {
            contract,
            by,
            kind,
            date,
            reference,
            as_party,
        } => {
            let actor = actor_for(&as_party);
            let ctx = Ctx::now(&actor);
            let by = match by {
                PartyArg::Host => Party::Host,
                PartyArg::Licensor => Party::Licensor,
            };
            let proposal = Proposal {
                contract,
                by,
                kind,
                date,
                reference,
            };
            let keys = keys(args, backend.as_mut())?;
            let row = revshare_app::contributions::propose(backend.as_mut(), &keys, ctx, &proposal)?;
            println!(
                "proposed contribution {}; the other party accepts it with `revshare contribution accept {}`",
                row.number, row.number
            );
        }
        ContributionCommand::Accept { number, as_party } => {
            let keys = keys(args, backend.as_mut())?;
            decide(backend.as_mut(), &keys, number, &as_party, Decision::Accept)?
        }
        ContributionCommand::Reject { number, as_party } => {
            let keys = keys(args, backend.as_mut())?;
            decide(backend.as_mut(), &keys, number, &as_party, Decision::Reject)?
        }
        ContributionCommand::List { format: output } => {
            format::contributions(
                &revshare_app::contributions::list(backend.as_mut(), &operator())?,
                output,
            )?;
        }
    }
    Ok(())
}

fn decide(
    backend: &mut dyn Backend,
    keys: &Keys,
    number: i64,
    as_party: &Option<String>,
    decision: Decision,
) -> Result<(), Failure> {
    let actor = actor_for(as_party);
    let ctx = Ctx::now(&actor);
    let row = revshare_app::contributions::decide(backend, keys, ctx, number, decision)?;
    println!("contribution {number} {}", row.status.as_str());
    Ok(())
}
