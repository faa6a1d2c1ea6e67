//! `revshare void`: an event no longer counted, with its reason.

use clap::Args;
use revshare_app::Ctx;

use crate::stateful::{keys, open, operator};
use crate::{Failure, StoreArgs};

#[derive(Args)]
pub struct VoidArgs {
    pub source: String,
    pub id: String,
    /// Why (kept in the audit log).
    #[arg(long)]
    pub reason: String,
}

pub fn void(args: &StoreArgs, void: &VoidArgs) -> Result<(), Failure> {
    let mut backend = open(args)?;
    let actor = operator();
    let ctx = Ctx::now(&actor);
    let keys = keys(args, backend.as_mut())?;
    match revshare_app::void::void(backend.as_mut(), &keys, ctx, &void.source, &void.id, &void.reason)? {
        revshare_app::void::Voided::Now(row) => println!(
            "voided ({}, {}): it no longer counts; if its period is closed, the next close removes it",
            row.source, row.id
        ),
        revshare_app::void::Voided::Already(row) => println!(
            "({}, {}) was already voided at {} by {}",
            row.source, row.id, row.voided_at, row.actor
        ),
    }
    Ok(())
}
