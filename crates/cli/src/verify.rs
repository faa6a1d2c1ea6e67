//! `revshare verify`: offline checks with only the public key.

use std::path::{Path, PathBuf};

use clap::Args;
use revshare_core::statement::Statement;
use revshare_core::verify::{verify_inclusion, verify_statement, InclusionProof, PublicKey};

use crate::{inputs, Failure};

#[derive(Args)]
pub struct VerifyArgs {
    /// The statement (JSON, as `revshare statement show ID` prints it).
    #[arg(long)]
    pub statement: PathBuf,
    /// The public key (JSON, as `revshare key export-public` prints it).
    #[arg(long)]
    pub public_key: PathBuf,
    /// The host's own copy of one event (JSON, exactly as sent).
    #[arg(long, requires = "proof")]
    pub event: Option<PathBuf>,
    /// The event's inclusion proof (JSON, as `revshare prove` prints it).
    #[arg(long, requires = "event")]
    pub proof: Option<PathBuf>,
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, Failure> {
    serde_json::from_slice(&inputs::read(path)?)
        .map_err(|e| Failure::input(format!("{}: not a {what}: {e}", path.display())))
}

pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let statement: Statement = parse(&args.statement, "statement")?;
    let key: PublicKey = parse(&args.public_key, "public key")?;
    let id = statement.statement_id.clone().unwrap_or_else(|| "(no id)".into());
    verify_statement(&statement, &key).map_err(|e| Failure::input(format!("statement {id}: NOT VERIFIED: {e}")))?;
    println!("statement {id}: signature valid (key {})", key.key_id);
    if let (Some(event), Some(proof)) = (&args.event, &args.proof) {
        let proof: InclusionProof = parse(proof, "proof")?;
        let bytes = inputs::read(event)?;
        let trimmed = String::from_utf8_lossy(&bytes).trim().to_string();
        verify_inclusion(&statement, trimmed.as_bytes(), &proof)
            .map_err(|e| Failure::input(format!("event in {}: NOT VERIFIED: {e}", proof.tree)))?;
        println!(
            "event counted: leaf {} is #{} of {} in tree `{}` (root {})",
            proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.tree, proof.root
        );
    }
    Ok(())
}
