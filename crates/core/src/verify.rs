//! Signed statements and inclusion proofs: what a host or auditor checks offline with
//! only the service's public key (spec: statements.md).
//!
//! A statement is signed with Ed25519 over `JCS(statement without "signature")`. An
//! inclusion proof is an RFC 9162 audit path from one event's leaf hash to the root of
//! one of the statement's trees: `events`, or a `prior_period:<period>` adjustment.

use base64::Engine as _;
use ed25519_dalek::{Signature as Ed25519Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::UsageEvent;
use crate::merkle::{self, Hash};
use crate::statement::{Signature, Statement};

pub const ALGORITHM: &str = "ed25519";

/// Why a check failed. Each names what did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the statement is not signed")]
    Unsigned,
    #[error("the statement is signed with {0}, not ed25519")]
    Algorithm(String),
    #[error("the statement is signed by key {found}, not by the given key {expected}")]
    KeyId { found: String, expected: String },
    #[error("the signature is not valid base64 Ed25519 signature bytes")]
    SignatureEncoding,
    #[error("the signature does not match the statement: it was altered or signed by another key")]
    BadSignature,
    #[error("the proof is for statement {proof}, not {statement}")]
    OtherStatement { proof: String, statement: String },
    #[error("the proof's tree `{0}` is not a tree of this statement")]
    UnknownTree(String),
    #[error("the proof's root {proof} is not the statement's {tree} root {statement}")]
    OtherRoot {
        tree: String,
        proof: String,
        statement: String,
    },
    #[error("the proof's tree size {proof} is not the statement's {tree} count {statement}")]
    OtherSize { tree: String, proof: u64, statement: u64 },
    #[error("the event hashes to {event}, not to the proof's leaf {proof}: the event differs from the one counted")]
    OtherLeaf { event: String, proof: String },
    #[error("the audit path does not lead from the leaf to the root")]
    BadPath,
    #[error("the event is invalid: {0}")]
    Event(String),
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

/// The public half of a signing key, as `revshare key export-public` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub alg: String,
    pub key_id: String,
    /// Base64 of the 32 public key bytes.
    pub public_key: String,
}

impl PublicKey {
    pub fn of(signing: &SigningKey) -> PublicKey {
        let bytes = signing.verifying_key().to_bytes();
        PublicKey {
            alg: ALGORITHM.to_string(),
            key_id: key_id(&bytes),
            public_key: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    fn verifying_key(&self) -> Result<VerifyingKey, VerifyError> {
        let malformed = |reason: String| VerifyError::Malformed {
            what: "public key",
            reason,
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.public_key)
            .map_err(|e| malformed(e.to_string()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed("not 32 bytes".to_string()))?;
        VerifyingKey::from_bytes(&bytes).map_err(|e| malformed(e.to_string()))
    }
}

/// A key's id: the first 16 hex digits of SHA-256 of its public bytes.
pub fn key_id(public: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// The bytes a signature covers: JCS of the statement without `signature`.
pub fn signing_payload(statement: &Statement) -> Vec<u8> {
    let mut unsigned = statement.clone();
    unsigned.signature = None;
    serde_json_canonicalizer::to_vec(&unsigned).expect("statements always serialize")
}

/// Signs a statement in place.
pub fn sign(statement: &mut Statement, key: &SigningKey) {
    let payload = signing_payload(statement);
    let signature = key.sign(&payload);
    statement.signature = Some(Signature {
        alg: ALGORITHM.to_string(),
        key_id: PublicKey::of(key).key_id,
        value: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    });
}

/// Checks a statement's signature with a public key.
pub fn verify_statement(statement: &Statement, key: &PublicKey) -> Result<(), VerifyError> {
    let signature = statement.signature.as_ref().ok_or(VerifyError::Unsigned)?;
    if signature.alg != ALGORITHM {
        return Err(VerifyError::Algorithm(signature.alg.clone()));
    }
    if signature.key_id != key.key_id {
        return Err(VerifyError::KeyId {
            found: signature.key_id.clone(),
            expected: key.key_id.clone(),
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&signature.value)
        .map_err(|_| VerifyError::SignatureEncoding)?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| VerifyError::SignatureEncoding)?;
    key.verifying_key()?
        .verify(&signing_payload(statement), &Ed25519Signature::from_bytes(&bytes))
        .map_err(|_| VerifyError::BadSignature)
}

/// An RFC 9162 inclusion proof for one event in one of a statement's trees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub statement_id: String,
    /// `events`, or `prior_period:<period>` for a prior-period adjustment's tree.
    pub tree: String,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub audit_path: Vec<String>,
    pub root: String,
}

fn unhex(what: &'static str, text: &str) -> Result<Hash, VerifyError> {
    let bytes = hex::decode(text).map_err(|e| VerifyError::Malformed {
        what,
        reason: e.to_string(),
    })?;
    bytes.try_into().map_err(|_| VerifyError::Malformed {
        what,
        reason: "not 32 bytes".to_string(),
    })
}

/// Checks that `event` (the host's own copy, as sent) is counted in `statement`.
pub fn verify_inclusion(statement: &Statement, event: &[u8], proof: &InclusionProof) -> Result<(), VerifyError> {
    let statement_id = statement.statement_id.clone().unwrap_or_default();
    if proof.statement_id != statement_id {
        return Err(VerifyError::OtherStatement {
            proof: proof.statement_id.clone(),
            statement: statement_id,
        });
    }
    let (count, root) = if proof.tree == "events" {
        (statement.events.count, statement.events.merkle_root.clone())
    } else {
        let period = proof
            .tree
            .strip_prefix("prior_period:")
            .ok_or_else(|| VerifyError::UnknownTree(proof.tree.clone()))?;
        let adjustment = statement
            .adjustments
            .iter()
            .find(|a| a.kind == "prior_period" && a.period.as_deref() == Some(period))
            .ok_or_else(|| VerifyError::UnknownTree(proof.tree.clone()))?;
        (
            adjustment.events.unwrap_or(0),
            adjustment.merkle_root.clone().unwrap_or_default(),
        )
    };
    if proof.root != root {
        return Err(VerifyError::OtherRoot {
            tree: proof.tree.clone(),
            proof: proof.root.clone(),
            statement: root,
        });
    }
    if proof.tree_size != count {
        return Err(VerifyError::OtherSize {
            tree: proof.tree.clone(),
            proof: proof.tree_size,
            statement: count,
        });
    }
    let parsed = UsageEvent::parse(event).map_err(|e| VerifyError::Event(e.to_string()))?;
    let leaf = parsed.leaf_hash();
    if hex::encode(leaf) != proof.leaf_hash {
        return Err(VerifyError::OtherLeaf {
            event: hex::encode(leaf),
            proof: proof.leaf_hash.clone(),
        });
    }
    let path = proof
        .audit_path
        .iter()
        .map(|h| unhex("audit path", h))
        .collect::<Result<Vec<_>, _>>()?;
    let root = unhex("root", &proof.root)?;
    if !merkle::verify_inclusion(&leaf, proof.leaf_index, proof.tree_size, &path, &root) {
        return Err(VerifyError::BadPath);
    }
    Ok(())
}

/// Builds the proof for leaf `index` of a tree given in leaf order.
pub fn prove(statement_id: &str, tree: &str, leaves: &[Hash], index: usize) -> InclusionProof {
    InclusionProof {
        statement_id: statement_id.to_string(),
        tree: tree.to_string(),
        leaf_index: index as u64,
        tree_size: leaves.len() as u64,
        leaf_hash: hex::encode(leaves[index]),
        audit_path: merkle::inclusion_path(leaves, index).iter().map(hex::encode).collect(),
        root: hex::encode(merkle::root(leaves)),
    }
}
