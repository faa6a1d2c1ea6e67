//! `revshare payment`: record, confirm, withdraw, reverse and list payments.

use clap::Subcommand;
use revshare_app::payments::{NewPayment, Step};
use revshare_app::{Actor, Ctx};
use revshare_core::period::Day;

use super::tables::parse_day;
use crate::stateful::{keys, open, operator};
use crate::{format, Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum PaymentCommand {
    /// Record a payment made (it posts to the ledger once its payee confirms it).
    Record {
        #[arg(long)]
        contract: String,
        /// The payee: a beneficiary paid by the host, or the host refunded.
        #[arg(long)]
        to: String,
        /// The amount in the contract's currency, at most its scale in decimals.
        #[arg(long)]
        amount: String,
        /// The day paid (YYYY-MM-DD): the ledger's legs are dated it.
        #[arg(long, value_parser = parse_day)]
        date: Day,
        #[arg(long, default_value = "")]
        reference: String,
        /// The payer.
        #[arg(long = "as", value_name = "PAYER")]
        as_party: String,
    },
    /// Confirm a payment received (its payee; once).
    Confirm {
        payment_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// Withdraw a payment recorded but not confirmed (its payer).
    Withdraw {
        payment_id: String,
        #[arg(long = "as", value_name = "PARTY")]
        as_party: Option<String>,
    },
    /// Reverse a confirmed payment (the operator): opposite legs are posted.
    Reverse {
        payment_id: String,
        #[arg(long)]
        reason: String,
    },
    /// List payments, in the order recorded.
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn actor_for(as_party: &Option<String>) -> Actor {
    match as_party {
        Some(party) => Actor::cli_as(party),
        None => operator(),
    }
}

pub fn payment(args: &StoreArgs, command: PaymentCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let (payment_id, as_party, step) = match command {
        PaymentCommand::Record {
            contract,
            to,
            amount,
            date,
            reference,
            as_party,
        } => {
            let actor = Actor::cli_as(&as_party);
            let new = NewPayment {
                contract,
                payer: None,
                payee: to,
                amount,
                date,
                reference,
            };
            let keys = keys(args, backend.as_mut())?;
            let row = revshare_app::payments::record(backend.as_mut(), &keys, Ctx::now(&actor), &new)?;
            println!(
                "recorded payment {} of {} {}; its payee confirms it with `revshare payment confirm {} --as {}`",
                row.payment_id, row.amount, row.currency, row.payment_id, row.payee
            );
            return Ok(());
        }
        PaymentCommand::List { format: output } => {
            let rows = revshare_app::payments::list(backend.as_mut(), &operator())?;
            return format::payments(&rows, output);
        }
        PaymentCommand::Confirm { payment_id, as_party } => (payment_id, as_party, Step::Confirm),
        PaymentCommand::Withdraw { payment_id, as_party } => (payment_id, as_party, Step::Withdraw),
        PaymentCommand::Reverse { payment_id, reason } => (payment_id, None, Step::Reverse { reason }),
    };
    let actor = actor_for(&as_party);
    let keys = keys(args, backend.as_mut())?;
    let row = revshare_app::payments::step(backend.as_mut(), &keys, Ctx::now(&actor), &payment_id, &step)?;
    println!("payment {payment_id} {}", row.status.as_str());
    Ok(())
}
