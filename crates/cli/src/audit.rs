//! `revshare audit`: the log's entries, its chain, its checkpoints and proofs, the
//! verification of everything stored, and the acceptance of a restored backup.

use clap::Subcommand;
use revshare_core::audit::Seq;

use crate::stateful::{keys, keys_if_found, open};
use crate::{Failure, Format, StoreArgs};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// The full entries.
    Log {
        /// Only entries after this seq.
        #[arg(long, default_value_t = Seq::ZERO)]
        after: Seq,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The chain `{seq, digest, prev_hash, hash}` (what `verify --audit-chain` reads).
    Chain {
        #[arg(long, default_value_t = Seq::ZERO)]
        after: Seq,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Check the chain, every statement, every closed period re-rated, every stored
    /// row against the log, and the log's tree and checkpoints; exit 0 only if all
    /// holds.
    Verify {
        /// Skip re-rating statements closed at or before this entry (the other
        /// checks run in full).
        #[arg(long)]
        since_seq: Option<i64>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The newest signed checkpoint (or that of `--size`), with its cosignatures (a
    /// C2SP signed note).
    Checkpoint {
        #[arg(long)]
        size: Option<u64>,
    },
    /// The consistency proof from the log of FROM entries to that of TO (JSON).
    Consistency { from: u64, to: u64 },
    /// The inclusion proof of entry SEQ in the log of `--size` entries (default: the
    /// newest checkpoint's), JSON.
    Inclusion {
        seq: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// After restoring a backup: record that the log now has TO entries, fewer than
    /// the checkpoint kept beside the key file (the first entry after the restore).
    AcceptRollback {
        /// The restored log's size, to confirm it.
        #[arg(long)]
        to: u64,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
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
            let since_seq = revshare_app::verify_store::since_seq(since_seq);
            verify(args, backend.as_mut(), since_seq, format)
        }
        AuditCommand::Checkpoint { size } => {
            print!("{}", revshare_app::log::checkpoint(backend.as_mut(), size)?);
            Ok(())
        }
        AuditCommand::Consistency { from, to } => {
            let proof = revshare_app::log::consistency(backend.as_mut(), from, to)?;
            println!("{}", serde_json::to_string_pretty(&proof).expect("proofs serialize"));
            Ok(())
        }
        AuditCommand::Inclusion { seq, size } => {
            let proof = revshare_app::log::inclusion(backend.as_mut(), seq, size)?;
            println!("{}", serde_json::to_string_pretty(&proof).expect("proofs serialize"));
            Ok(())
        }
        AuditCommand::AcceptRollback { to, reason } => {
            let keys = keys(args, backend.as_mut())?;
            let actor = crate::stateful::operator();
            let row = revshare_app::log::accept_rollback(
                backend.as_mut(),
                &keys,
                revshare_app::Ctx::now(&actor),
                to,
                &reason,
            )?;
            println!(
                "accepted the rollback from {} to {} entries (entry {}); the checkpoint kept beside the key file \
                 now follows the restored log, and witnesses will report the rollback",
                row.from_size, row.to_size, row.seq
            );
            Ok(())
        }
    }
}

/// `audit verify`, with the key file where it is found (the log is then also checked
/// against the checkpoint kept beside it).
fn verify(
    args: &StoreArgs,
    backend: &mut dyn revshare_app::Backend,
    since_seq: Option<Seq>,
    format: Option<Format>,
) -> Result<(), Failure> {
    let operator = crate::stateful::operator();
    let report = match keys_if_found(args, backend)? {
        Some(keys) => revshare_app::verify_store::verify_with_keys(backend, &operator, &keys, since_seq)?,
        None => {
            eprintln!(
                "revshare: no key file given: the log is not checked against the checkpoint kept beside it \
                 (give --key-file or set REVSHARE_KEY_FILE)"
            );
            revshare_app::verify_store::verify(backend, &operator, since_seq)?
        }
    };
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
