//! `revshare dispute`: open disputes of closed statements and take their steps
//! (statements.md, Disputes), list and show them.

use clap::{ArgAction, Subcommand};
use revshare_app::disputes::{DisputeView, NewDispute, Step};
use revshare_app::{Actor, Ctx};
use revshare_core::dispute::Evidence;

use crate::stateful::{keys, open, operator};
use crate::{format, Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum DisputeCommand {
    /// Open a dispute of a closed statement, or of one of its lines, within its
    /// dispute window (prints the dispute id).
    Open {
        /// `<contract>/<period>`.
        statement_id: String,
        /// The party of the contract that opens it (its licensor or host).
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
        /// The claim, signed: positive means the host owes more.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        reason: String,
        /// The disputed line; without it, the whole statement.
        #[arg(long, num_args = 2, value_names = ["MODEL", "USE_CASE"])]
        line: Option<Vec<String>>,
        /// An event counted in the statement, as evidence (repeatable).
        #[arg(long, num_args = 2, value_names = ["SOURCE", "ID"], action = ArgAction::Append)]
        evidence: Vec<String>,
    },
    /// Answer an open dispute (the counterparty).
    Answer {
        dispute_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
        #[arg(long)]
        note: String,
    },
    /// Resolve a dispute for an amount between 0 and the claim (the counterparty):
    /// the whole claim resolves it, less is an offer.
    Resolve {
        dispute_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
    },
    /// Accept the amount offered (the opener).
    Accept {
        dispute_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
    },
    /// Reject a dispute (the counterparty); either party may escalate it within 14 days.
    Reject {
        dispute_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
        #[arg(long)]
        note: String,
    },
    /// Withdraw a dispute (the opener).
    Withdraw {
        dispute_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
    },
    /// Escalate a dispute to the operator (either party).
    Escalate {
        dispute_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: String,
    },
    /// Decide an escalated dispute (the operator): 0 settles nothing.
    Decide {
        dispute_id: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
    },
    /// List disputes, in the order opened, with their status as of now.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Show one dispute with every step taken.
    Show {
        dispute_id: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn said(view: &DisputeView) -> String {
    match &view.amount {
        Some(amount) => format!("dispute {} {} ({amount})", view.dispute_id, view.status.as_str()),
        None => format!("dispute {} {}", view.dispute_id, view.status.as_str()),
    }
}

pub fn dispute(args: &StoreArgs, command: DisputeCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let (dispute_id, actor, step) = match command {
        DisputeCommand::Open {
            statement_id,
            as_party,
            amount,
            reason,
            line,
            evidence,
        } => {
            let actor = Actor::cli_as(&as_party);
            let new = NewDispute {
                statement_id,
                line: line.map(|l| (l[0].clone(), l[1].clone())),
                amount,
                reason,
                evidence: evidence
                    .chunks(2)
                    .map(|pair| Evidence {
                        source: pair[0].clone(),
                        id: pair[1].clone(),
                    })
                    .collect(),
            };
            let keys = keys(args, backend.as_mut())?;
            let view = revshare_app::disputes::open(backend.as_mut(), &keys, Ctx::now(&actor), &new)?;
            println!("{}", view.dispute_id);
            return Ok(());
        }
        DisputeCommand::List { format: output } => {
            let views = revshare_app::disputes::list(backend.as_mut(), Ctx::now(&operator()))?;
            return format::disputes(&views, output);
        }
        DisputeCommand::Show {
            dispute_id,
            format: output,
        } => {
            let view = revshare_app::disputes::show(backend.as_mut(), Ctx::now(&operator()), &dispute_id)?;
            return format::dispute(&view, output);
        }
        DisputeCommand::Answer {
            dispute_id,
            as_party,
            note,
        } => (dispute_id, Actor::cli_as(&as_party), Step::Answer { note }),
        DisputeCommand::Resolve {
            dispute_id,
            as_party,
            amount,
        } => (dispute_id, Actor::cli_as(&as_party), Step::Resolve { amount }),
        DisputeCommand::Accept { dispute_id, as_party } => (dispute_id, Actor::cli_as(&as_party), Step::Accept),
        DisputeCommand::Reject {
            dispute_id,
            as_party,
            note,
        } => (dispute_id, Actor::cli_as(&as_party), Step::Reject { note }),
        DisputeCommand::Withdraw { dispute_id, as_party } => (dispute_id, Actor::cli_as(&as_party), Step::Withdraw),
        DisputeCommand::Escalate { dispute_id, as_party } => (dispute_id, Actor::cli_as(&as_party), Step::Escalate),
        DisputeCommand::Decide { dispute_id, amount } => (dispute_id, operator(), Step::Decide { amount }),
    };
    let keys = keys(args, backend.as_mut())?;
    let view = revshare_app::disputes::step(backend.as_mut(), &keys, Ctx::now(&actor), &dispute_id, &step)?;
    println!("{}", said(&view));
    Ok(())
}
