//! `revshare verify`: offline checks with only the public key: a statement's (or
//! payout notice's) signature over its bytes as received, an event's inclusion
//! proof, and the audit chain's links and the statement's anchor in it.

use std::path::{Path, PathBuf};

use clap::Args;
use revshare_core::audit::{check_anchor, check_links, Link};
use revshare_core::statement::AuditHead;
use revshare_core::verify::{verify_bytes, verify_inclusion, InclusionProof, PublicKey, Verified};

use crate::{inputs, Failure};

#[derive(Args)]
pub struct VerifyArgs {
    /// The statement or payout notice (JSON, exactly as received).
    #[arg(long)]
    pub statement: PathBuf,
    /// The public key (JSON, as `revshare key export-public` prints it), or a JSON
    /// array of keys (as `GET /v1/keys` answers).
    #[arg(long)]
    pub public_key: PathBuf,
    /// The host's own copy of one event (JSON, exactly as sent).
    #[arg(long, requires = "proof")]
    pub event: Option<PathBuf>,
    /// The event's inclusion proof (JSON, as `revshare prove` prints it).
    #[arg(long, requires = "event")]
    pub proof: Option<PathBuf>,
    /// The audit chain (JSON, as `revshare audit chain --format json` prints it):
    /// its links, and that it holds the statement's `audit_head`.
    #[arg(long)]
    pub audit_chain: Option<PathBuf>,
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, Failure> {
    serde_json::from_slice(&inputs::read(path)?)
        .map_err(|e| Failure::input(format!("{}: not a {what}: {e}", path.display())))
}

fn public_keys(path: &Path) -> Result<Vec<PublicKey>, Failure> {
    let bytes = inputs::read(path)?;
    if let Ok(key) = serde_json::from_slice::<PublicKey>(&bytes) {
        return Ok(vec![key]);
    }
    serde_json::from_slice::<Vec<PublicKey>>(&bytes)
        .map_err(|e| Failure::input(format!("{}: not a public key or a list of them: {e}", path.display())))
}

pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let keys = public_keys(&args.public_key)?;
    let bytes = inputs::read(&args.statement)?;
    let name = args.statement.display().to_string();
    let verified = verify_bytes(&bytes, &keys).map_err(|e| Failure::input(format!("{name}: NOT VERIFIED: {e}")))?;
    let anchor: Option<AuditHead> = match &verified {
        Verified::Statement(s) => {
            println!(
                "statement {}: signature valid (key {})",
                s.id(),
                signing_key(&s.statement().signature)
            );
            s.statement().audit_head.clone()
        }
        Verified::PayoutNotice(n) => {
            let notice = n.notice();
            println!(
                "payout notice of {} for {}: signature valid (key {}): {} {}",
                notice.statement_id,
                notice.beneficiary,
                signing_key(&notice.signature),
                notice.payout,
                notice.currency
            );
            Some(notice.audit_head.clone())
        }
    };
    if let (Some(event), Some(proof)) = (&args.event, &args.proof) {
        let Verified::Statement(statement) = &verified else {
            return Err(Failure::input(
                "an inclusion proof is checked against a statement, not a payout notice",
            ));
        };
        let proof: InclusionProof = parse(proof, "proof")?;
        let event_bytes = inputs::read(event)?;
        let trimmed = String::from_utf8_lossy(&event_bytes).trim().to_string();
        let tree = verify_inclusion(statement, trimmed.as_bytes(), &proof)
            .map_err(|e| Failure::input(format!("event in {}: NOT VERIFIED: {e}", proof.tree)))?;
        println!(
            "event {}: leaf {} is #{} of {} in tree `{}` (root {})",
            if tree.removes() { "removed" } else { "counted" },
            proof.leaf_hash,
            proof.leaf_index,
            proof.tree_size,
            proof.tree,
            proof.root
        );
    }
    if let Some(path) = &args.audit_chain {
        // Without a signed anchor the chain's links prove nothing about this
        // statement: say so rather than report a check that did not happen.
        let anchor = anchor.ok_or_else(|| {
            Failure::input(format!(
                "{name}: NOT VERIFIED against {}: the statement carries no audit_head to check the chain against",
                path.display()
            ))
        })?;
        let chain: Vec<Link> = parse(path, "audit chain")?;
        check_links(&chain).map_err(|e| Failure::input(format!("{}: NOT VERIFIED: {e}", path.display())))?;
        check_anchor(&chain, &anchor).map_err(|e| Failure::input(format!("{}: NOT VERIFIED: {e}", path.display())))?;
        println!(
            "audit chain: {} entries linked; it holds the signed audit_head (entry {})",
            chain.len(),
            anchor.seq
        );
    }
    Ok(())
}

fn signing_key(signature: &Option<revshare_core::statement::Signature>) -> String {
    signature.as_ref().map_or_else(String::new, |s| s.key_id.clone())
}
