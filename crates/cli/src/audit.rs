//! `revshare audit`: the log's entries, its chain, and the verification of
//! everything stored.

use clap::Subcommand;

use crate::stateful::open;
use crate::{Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// The full entries.
    Log {
        /// Only entries after this seq.
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The chain `{seq, digest, prev_hash, hash}` (what `verify --audit-chain` reads).
    Chain {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Check the chain, every statement, every closed period re-rated, and every
    /// stored row against the log; exit 0 only if all holds.
    Verify {
        /// Skip re-rating statements closed at or before this entry (the other
        /// checks run in full).
        #[arg(long)]
        since_seq: Option<i64>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub fn run(args: &StoreArgs, command: AuditCommand) -> Result<(), Failure> {
    let mut backend = open(args)?;
    match command {
        AuditCommand::Log { after, format } => {
            let entries = revshare_app::audit::all_entries(backend.as_mut(), after)?;
            crate::format::audit_entries(&entries, format)
        }
        AuditCommand::Chain { after, format } => {
            let chain = revshare_app::audit::chain(backend.as_mut(), after)?;
            crate::format::audit_chain(&chain, format)
        }
        AuditCommand::Verify { since_seq, format } => {
            let report = revshare_app::verify_store::verify(backend.as_mut(), &crate::stateful::operator(), since_seq)?;
            crate::format::verify_report(&report, format)?;
            if report.holds() {
                Ok(())
            } else {
                Err(Failure::other(format!(
                    "audit verify: {} problems found (each named above)",
                    report.failures.len()
                )))
            }
        }
    }
}
