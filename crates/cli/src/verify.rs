//! `revshare verify`: offline checks with only the public key (README, spec):
//!
//! - a statement's (or payout notice's) signature over its bytes as received, an
//!   event's inclusion proof, the audit chain's links (from entry 1) and the
//!   statement's anchor in it;
//! - a signed checkpoint, its cosignatures by given witness keys, and a consistency
//!   proof that the statement's anchored log is a prefix of it;
//! - two statements of one id, or two checkpoints of one size, that differ: proof
//!   that the service signed two inconsistent things (exit 3).

use std::path::{Path, PathBuf};

use clap::Args;
use revshare_core::audit::{check_anchor, check_links_from_start, Link};
use revshare_core::checkpoint::{open_with, Checkpoint, Opened, WitnessKey};
use revshare_core::log_tree::{self, ConsistencyProof};
use revshare_core::statement::AuditHead;
use revshare_core::verify::{verify_bytes, verify_inclusion, InclusionProof, PublicKey, Verified};

use crate::{inputs, Failure};

#[derive(Args)]
pub struct VerifyArgs {
    /// The statement or payout notice (JSON, exactly as received); twice, to check
    /// two of one id for equivocation.
    #[arg(long, num_args = 1, action = clap::ArgAction::Append)]
    pub statement: Vec<PathBuf>,
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
    /// The audit chain from entry 1 (JSON, as `revshare audit chain --format json`
    /// prints it): its links, and that it holds the statement's `audit_head`.
    #[arg(long)]
    pub audit_chain: Option<PathBuf>,
    /// A signed checkpoint of the log (as `revshare audit checkpoint` prints it);
    /// twice, to check two checkpoints against each other.
    #[arg(long, num_args = 1, action = clap::ArgAction::Append)]
    pub checkpoint: Vec<PathBuf>,
    /// A consistency proof (JSON, as `revshare audit consistency` prints it): from the
    /// statement's anchored log to the checkpoint, or between two checkpoints.
    #[arg(long)]
    pub consistency: Option<PathBuf>,
    /// A witness's public key (its C2SP verifier key, as `revshare witness` writes it
    /// to witness.pub), exchanged out of band; repeatable.
    #[arg(long, num_args = 1, action = clap::ArgAction::Append)]
    pub witness_key: Vec<PathBuf>,
    /// How many of the given witness keys must have cosigned the checkpoint
    /// (default: all of them).
    #[arg(long)]
    pub witnesses: Option<usize>,
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T, Failure> {
    serde_json::from_slice(&inputs::read(path)?)
        .map_err(|e| Failure::input(format!("{}: not a {what}: {e}", path.display())))
}

pub fn public_keys(path: &Path) -> Result<Vec<PublicKey>, Failure> {
    let bytes = inputs::read(path)?;
    if let Ok(key) = serde_json::from_slice::<PublicKey>(&bytes) {
        return Ok(vec![key]);
    }
    serde_json::from_slice::<Vec<PublicKey>>(&bytes)
        .map_err(|e| Failure::input(format!("{}: not a public key or a list of them: {e}", path.display())))
}

fn not_verified(path: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::other(format!("{}: NOT VERIFIED: {error}", path.display()))
}

pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let keys = public_keys(&args.public_key)?;
    match (args.statement.as_slice(), args.checkpoint.as_slice()) {
        ([statement], checkpoints) if checkpoints.len() <= 1 => one_statement(args, &keys, statement),
        ([a, b], []) => two_statements(&keys, a, b),
        ([], [a, b]) => two_checkpoints(args, &keys, a, b),
        _ => Err(Failure::input(
            "give --statement (with --event and --proof, --audit-chain, or --checkpoint and --consistency), two \
             --statement of one id, or two --checkpoint",
        )),
    }
}

/// One statement, and what else is given with it.
fn one_statement(args: &VerifyArgs, keys: &[PublicKey], path: &Path) -> Result<(), Failure> {
    let bytes = inputs::read(path)?;
    let verified = verify_bytes(&bytes, keys).map_err(|e| not_verified(path, e))?;
    let anchor = describe(&verified);
    if let (Some(event), Some(proof)) = (&args.event, &args.proof) {
        let Verified::Statement(statement) = &verified else {
            return Err(Failure::input(
                "an inclusion proof is checked against a statement, not a payout notice",
            ));
        };
        check_event(statement, event, proof)?;
    }
    if let Some(chain) = &args.audit_chain {
        check_chain(path, anchor.as_ref(), chain)?;
    }
    if let [checkpoint] = args.checkpoint.as_slice() {
        check_checkpoint(args, keys, path, anchor.as_ref(), checkpoint)?;
    }
    Ok(())
}

/// Prints what was verified; the anchor it signs.
fn describe(verified: &Verified) -> Option<AuditHead> {
    let key_of =
        |s: &Option<revshare_core::statement::Signature>| s.as_ref().map_or_else(String::new, |s| s.key_id.clone());
    match verified {
        Verified::Statement(s) => {
            println!(
                "statement {}: signature valid (key {})",
                s.id(),
                key_of(&s.statement().signature)
            );
            s.statement().audit_head.clone()
        }
        Verified::PayoutNotice(n) => {
            let notice = n.notice();
            println!(
                "payout notice of {} for {}: signature valid (key {}): {} {}",
                notice.statement_id,
                notice.beneficiary,
                key_of(&notice.signature),
                notice.payout,
                notice.currency
            );
            Some(notice.audit_head.clone())
        }
    }
}

/// The host's own copy of an event, read as the valid event it must be (never
/// lossily), against its proof.
fn check_event(
    statement: &revshare_core::verify::VerifiedStatement,
    event: &Path,
    proof: &Path,
) -> Result<(), Failure> {
    let proof: InclusionProof = parse(proof, "proof")?;
    let bytes = inputs::read(event)?;
    let trimmed = bytes.trim_ascii();
    let tree = verify_inclusion(statement, trimmed, &proof).map_err(|e| not_verified(event, e))?;
    println!(
        "event {}: leaf {} is #{} of {} in tree `{}` (root {})",
        if tree.removes() { "removed" } else { "counted" },
        proof.leaf_hash,
        proof.leaf_index,
        proof.tree_size,
        proof.tree,
        proof.root
    );
    Ok(())
}

/// The chain from entry 1: its links, and the statement's anchor in it.
fn check_chain(statement: &Path, anchor: Option<&AuditHead>, path: &Path) -> Result<(), Failure> {
    // Without a signed anchor the chain's links prove nothing about this statement:
    // say so rather than report a check that did not happen.
    let anchor = anchor.ok_or_else(|| {
        Failure::input(format!(
            "{}: NOT VERIFIED against {}: the statement carries no audit_head to check the chain against",
            statement.display(),
            path.display()
        ))
    })?;
    let chain: Vec<Link> = parse(path, "audit chain")?;
    check_links_from_start(&chain).map_err(|e| not_verified(path, e))?;
    check_anchor(&chain, anchor).map_err(|e| not_verified(path, e))?;
    println!(
        "audit chain: {} entries linked from entry 1; it holds the signed audit_head (entry {})",
        chain.len(),
        anchor.seq
    );
    Ok(())
}

/// A checkpoint signed by the service, opened under the origin it names.
fn open_checkpoint(keys: &[PublicKey], path: &Path) -> Result<Opened, Failure> {
    let note = inputs::read(path)?;
    open_with(&note, keys).map_err(|e| not_verified(path, e))
}

/// The statement's anchored log is a prefix of the checkpoint's, which enough of
/// the given witnesses cosigned.
fn check_checkpoint(
    args: &VerifyArgs,
    keys: &[PublicKey],
    statement: &Path,
    anchor: Option<&AuditHead>,
    path: &Path,
) -> Result<(), Failure> {
    let opened = open_checkpoint(keys, path)?;
    let checkpoint = opened.signed.checkpoint();
    let anchor = anchor.ok_or_else(|| not_verified(statement, "it carries no audit_head"))?;
    let (Some(size), Some(root)) = (anchor.tree_size, anchor.root.as_deref()) else {
        return Err(not_verified(
            statement,
            "it was closed before the log was a tree (its audit_head names no root): check it with --audit-chain",
        ));
    };
    let root = log_tree::from_hex(&[root.to_string()])
        .and_then(|r| r.first().copied())
        .ok_or_else(|| not_verified(statement, "its audit_head's root is not 64 hex digits"))?;
    let proof = match &args.consistency {
        Some(proof) => consistency(proof, size, checkpoint.size())?,
        None if size == checkpoint.size() => Vec::new(),
        None => {
            return Err(Failure::input(
                "--consistency: give the proof from the statement's log to the checkpoint's",
            ))
        }
    };
    if !log_tree::check_consistency(&proof, size, &root, checkpoint.size(), checkpoint.root()) {
        return Err(not_verified(
            path,
            format!(
                "the consistency proof does not show the statement's log of {size} entries is a prefix of the \
                 checkpoint's {}",
                checkpoint.size()
            ),
        ));
    }
    println!(
        "checkpoint of {}: signed by the service; the statement's log of {size} entries is a prefix of its {}",
        checkpoint.origin(),
        checkpoint.size()
    );
    check_cosignatures(args, &opened, path)
}

/// A consistency proof from `from` to `to` entries.
fn consistency(path: &Path, from: u64, to: u64) -> Result<Vec<log_tree::Hash>, Failure> {
    let proof: ConsistencyProof = parse(path, "consistency proof")?;
    if (proof.from, proof.to) != (from, to) {
        return Err(not_verified(
            path,
            format!(
                "it goes from {} to {} entries, not {from} to {to}",
                proof.from, proof.to
            ),
        ));
    }
    log_tree::from_hex(&proof.proof).ok_or_else(|| not_verified(path, "a hash is not 64 lowercase hex digits"))
}

/// At least `--witnesses` of the given witness keys cosigned the checkpoint.
fn check_cosignatures(args: &VerifyArgs, opened: &Opened, path: &Path) -> Result<(), Failure> {
    if args.witness_key.is_empty() {
        return Ok(());
    }
    let mut cosigned = Vec::new();
    for key_path in &args.witness_key {
        let text = String::from_utf8(inputs::read(key_path)?)
            .map_err(|_| Failure::input(format!("{}: not UTF-8", key_path.display())))?;
        let key = WitnessKey::parse(&text).map_err(|e| Failure::input(format!("{}: {e}", key_path.display())))?;
        let line = opened.others.iter().find(|l| key.signed(l));
        if line.is_some_and(|l| key.check_cosignature(opened.signed.checkpoint(), l).is_ok()) {
            cosigned.push(key.name().to_string());
        }
    }
    let needed = args.witnesses.unwrap_or(args.witness_key.len());
    if cosigned.len() < needed {
        return Err(not_verified(
            path,
            format!(
                "{} of the given witnesses cosigned it ({}), {needed} needed",
                cosigned.len(),
                cosigned.join(", ")
            ),
        ));
    }
    println!(
        "cosigned by {} of the given witnesses: {}",
        cosigned.len(),
        cosigned.join(", ")
    );
    Ok(())
}

/// Two statements (or payout notices) of one id with different bytes: the service
/// signed two versions of one period.
fn two_statements(keys: &[PublicKey], a: &Path, b: &Path) -> Result<(), Failure> {
    let (bytes_a, bytes_b) = (inputs::read(a)?, inputs::read(b)?);
    let first = verify_bytes(&bytes_a, keys).map_err(|e| not_verified(a, e))?;
    let second = verify_bytes(&bytes_b, keys).map_err(|e| not_verified(b, e))?;
    describe(&first);
    describe(&second);
    let identity = |v: &Verified| match v {
        Verified::Statement(s) => ("statement", s.id().to_string(), String::new(), s.sha256().to_string()),
        Verified::PayoutNotice(n) => {
            let notice = n.notice();
            let full = revshare_core::json::canonical_sha256(notice);
            (
                "payout_notice",
                notice.statement_id.to_string(),
                notice.beneficiary.clone(),
                hex::encode(full),
            )
        }
    };
    let (ia, ib) = (identity(&first), identity(&second));
    if (ia.0, &ia.1, &ia.2) != (ib.0, &ib.1, &ib.2) {
        println!("two different documents ({} and {}): nothing to compare", ia.1, ib.1);
        return Ok(());
    }
    if ia.3 == ib.3 {
        println!("the same signed {} twice", ia.1);
        return Ok(());
    }
    Err(Failure::equivocation(format!(
        "EQUIVOCATION: the service signed two different versions of {} {}{}: {} and {} are both valid",
        ia.0.replace('_', " "),
        ia.1,
        if ia.2.is_empty() {
            String::new()
        } else {
            format!(" for {}", ia.2)
        },
        a.display(),
        b.display()
    )))
}

/// Two checkpoints of one log: of one size, they must be equal; of two sizes, the
/// consistency proof (if given) must show the smaller a prefix of the larger.
fn two_checkpoints(args: &VerifyArgs, keys: &[PublicKey], a: &Path, b: &Path) -> Result<(), Failure> {
    let first = open_checkpoint(keys, a)?;
    let second = open_checkpoint(keys, b)?;
    let (ca, cb): (&Checkpoint, &Checkpoint) = (first.signed.checkpoint(), second.signed.checkpoint());
    if ca.origin() != cb.origin() {
        return Err(Failure::input(format!(
            "the checkpoints are of two logs, {} and {}",
            ca.origin(),
            cb.origin()
        )));
    }
    let (small, large, small_path) = if ca.size() <= cb.size() {
        (ca, cb, a)
    } else {
        (cb, ca, b)
    };
    if small.size() == large.size() {
        if small.root() != large.root() {
            return Err(Failure::equivocation(format!(
                "EQUIVOCATION: the service signed two checkpoints of {} with {} entries and different roots: {} and \
                 {} are both valid",
                ca.origin(),
                ca.size(),
                a.display(),
                b.display()
            )));
        }
        println!(
            "two signed checkpoints of {} with {} entries: the same root",
            ca.origin(),
            ca.size()
        );
        return Ok(());
    }
    let Some(proof) = &args.consistency else {
        println!(
            "two signed checkpoints of {} ({} and {} entries); give --consistency to check the smaller is a prefix \
             of the larger",
            ca.origin(),
            small.size(),
            large.size()
        );
        return Ok(());
    };
    let hashes = consistency(proof, small.size(), large.size())?;
    if !log_tree::check_consistency(&hashes, small.size(), small.root(), large.size(), large.root()) {
        return Err(not_verified(
            small_path,
            format!(
                "the consistency proof does not show the log of {} entries is a prefix of that of {}",
                small.size(),
                large.size()
            ),
        ));
    }
    println!(
        "the log of {} entries is a prefix of that of {}: the two checkpoints are consistent",
        small.size(),
        large.size()
    );
    Ok(())
}
