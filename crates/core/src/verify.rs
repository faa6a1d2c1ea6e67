//! Signed statements and inclusion proofs: what a host or auditor checks offline with
//! only the service's public key (spec: statements.md).
//!
//! A signature covers `JCS(statement without "signature")` where the statement is the
//! JSON object **as stored or received**: every member, also ones this version does
//! not know. So verification works on bytes ([`verify_bytes`]), never on a struct that
//! would drop or reorder members, and the only way to a [`VerifiedStatement`] is
//! through it. Ed25519 verification is strict (`verify_strict`: no small-order keys,
//! no malleable signatures).

use base64::Engine as _;
use ed25519_dalek::{Signature as Ed25519Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::event::UsageEvent;
use crate::merkle::{self, Hash};
use crate::statement::{AdjustmentKind, PayoutNotice, Signature, Statement};

pub const ALGORITHM: &str = "ed25519";

/// Why a check failed. Each names what did not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a JSON object: {0}")]
    Json(String),
    #[error("the statement is not signed")]
    Unsigned,
    #[error("the signature member is malformed: {0}")]
    SignatureMember(String),
    #[error("the statement is signed with {0}, not ed25519")]
    Algorithm(String),
    #[error("the statement is signed by key {found}, not by the given key {expected}")]
    KeyId { found: String, expected: String },
    #[error("the signature is not valid base64 Ed25519 signature bytes")]
    SignatureEncoding,
    #[error("the signature does not match the statement: it was altered or signed by another key")]
    BadSignature,
    #[error("the signed object is not a statement or payout notice: {0}")]
    NotAStatement(String),
    #[error(
        "the number {0} is not an integer below 2^53: JCS would write it as a double, so other texts would verify too"
    )]
    Number(String),
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
#[serde(deny_unknown_fields)]
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

    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey, VerifyError> {
        let malformed = |reason: String| VerifyError::Malformed {
            what: "public key",
            reason,
        };
        if self.alg != ALGORITHM {
            return Err(malformed(format!("alg is {}, not ed25519", self.alg)));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.public_key)
            .map_err(|e| malformed(e.to_string()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed("not 32 bytes".to_string()))?;
        if key_id(&bytes) != self.key_id {
            return Err(malformed(format!("key_id {} is not this key's id", self.key_id)));
        }
        VerifyingKey::from_bytes(&bytes).map_err(|e| malformed(e.to_string()))
    }
}

/// A key's id: the first 16 hex digits of SHA-256 of its public bytes.
pub fn key_id(public: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// Signs a JSON object that has no `signature` member: Ed25519 over its JCS form.
pub fn sign_object(object: &Map<String, Value>, key: &SigningKey) -> Signature {
    debug_assert!(!object.contains_key("signature"), "signing an already signed object");
    let payload = crate::json::canonical(&Value::Object(object.clone()));
    let signature = key.sign(&payload);
    Signature {
        alg: ALGORITHM.to_string(),
        key_id: PublicKey::of(key).key_id,
        value: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
    }
}

fn object_of<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("statements and notices serialize to JSON objects"),
    }
}

/// Signs a statement in place (its `signature` must be unset).
pub fn sign(statement: &mut Statement, key: &SigningKey) {
    statement.signature = None;
    statement.signature = Some(sign_object(&object_of(statement), key));
}

/// Signs a payout notice in place.
pub fn sign_notice(notice: &mut PayoutNotice, key: &SigningKey) {
    notice.signature = None;
    notice.signature = Some(sign_object(&object_of(notice), key));
}

/// SHA-256 of the JCS of a signed statement, signature included (what a payout
/// notice names).
pub fn statement_sha256(statement: &Statement) -> String {
    hex::encode(crate::json::canonical_sha256(statement))
}

/// A statement whose signature was checked over the bytes it came in.
#[derive(Clone, Debug)]
pub struct VerifiedStatement {
    /// Shared: a checked statement is read far more often than it is checked.
    statement: std::sync::Arc<Statement>,
    sha256: String,
}

impl VerifiedStatement {
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    pub fn into_statement(self) -> Statement {
        std::sync::Arc::unwrap_or_clone(self.statement)
    }

    /// The statement, shared with this check (no copy).
    pub fn shared(&self) -> std::sync::Arc<Statement> {
        self.statement.clone()
    }

    /// SHA-256 of the JCS of the full signed object.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn id(&self) -> &str {
        self.statement.statement_id.as_deref().unwrap_or("")
    }
}

/// A payout notice whose signature was checked over its bytes.
#[derive(Clone, Debug)]
pub struct VerifiedNotice {
    notice: PayoutNotice,
}

impl VerifiedNotice {
    pub fn notice(&self) -> &PayoutNotice {
        &self.notice
    }
}

/// What a signed document turned out to be.
#[derive(Clone, Debug)]
pub enum Verified {
    Statement(Box<VerifiedStatement>),
    PayoutNotice(Box<VerifiedNotice>),
}

/// Checks a signed statement or payout notice exactly as received: duplicate keys
/// refused, `signature` removed from the parsed object, the rest canonicalized (all
/// members), Ed25519 `verify_strict` with the key its `key_id` names among `keys`.
pub fn verify_bytes(bytes: &[u8], keys: &[PublicKey]) -> Result<Verified, VerifyError> {
    let mut object = crate::json::parse_strict_object(bytes).map_err(VerifyError::Json)?;
    for value in object.values() {
        check_numbers(value)?;
    }
    let full_sha256 = hex::encode(Sha256::digest(crate::json::canonical(&Value::Object(object.clone()))));
    let signature = object.remove("signature").ok_or(VerifyError::Unsigned)?;
    let signature: Signature =
        serde_json::from_value(signature).map_err(|e| VerifyError::SignatureMember(e.to_string()))?;
    check_signature(&object, &signature, keys)?;
    object.insert(
        "signature".to_string(),
        serde_json::to_value(&signature).expect("a signature of strings serializes"),
    );
    let value = Value::Object(object);
    if value.get("kind").and_then(Value::as_str) == Some("payout_notice") {
        let notice: PayoutNotice =
            serde_json::from_value(value).map_err(|e| VerifyError::NotAStatement(e.to_string()))?;
        return Ok(Verified::PayoutNotice(Box::new(VerifiedNotice { notice })));
    }
    let statement: Statement = serde_json::from_value(value).map_err(|e| VerifyError::NotAStatement(e.to_string()))?;
    Ok(Verified::Statement(Box::new(VerifiedStatement {
        statement: std::sync::Arc::new(statement),
        sha256: full_sha256,
    })))
}

/// [`verify_bytes`] for a document that must be a statement.
pub fn verify_statement_bytes(bytes: &[u8], keys: &[PublicKey]) -> Result<VerifiedStatement, VerifyError> {
    match verify_bytes(bytes, keys)? {
        Verified::Statement(statement) => Ok(*statement),
        Verified::PayoutNotice(_) => Err(VerifyError::NotAStatement(
            "it is a payout notice, not a statement".to_string(),
        )),
    }
}

/// Every number of a signed document is an integer of magnitude below 2^53, which
/// JCS writes exactly; any other could be swapped for another text with the same
/// double (statements.md: integers in a statement stay below 2^53).
fn check_numbers(value: &Value) -> Result<(), VerifyError> {
    const LIMIT: u64 = (1 << 53) - 1;
    match value {
        Value::Number(n) => {
            let exact = n.as_u64().is_some_and(|v| v <= LIMIT) || n.as_i64().is_some_and(|v| v.unsigned_abs() <= LIMIT);
            if exact {
                Ok(())
            } else {
                Err(VerifyError::Number(n.to_string()))
            }
        }
        Value::Array(items) => items.iter().try_for_each(check_numbers),
        Value::Object(members) => members.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

fn check_signature(
    unsigned: &Map<String, Value>,
    signature: &Signature,
    keys: &[PublicKey],
) -> Result<(), VerifyError> {
    if signature.alg != ALGORITHM {
        return Err(VerifyError::Algorithm(signature.alg.clone()));
    }
    let key = keys
        .iter()
        .find(|k| k.key_id == signature.key_id)
        .ok_or_else(|| VerifyError::KeyId {
            found: signature.key_id.clone(),
            expected: keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>().join(", "),
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&signature.value)
        .map_err(|_| VerifyError::SignatureEncoding)?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| VerifyError::SignatureEncoding)?;
    let payload = crate::json::canonical(&Value::Object(unsigned.clone()));
    key.verifying_key()?
        .verify_strict(&payload, &Ed25519Signature::from_bytes(&bytes))
        .map_err(|_| VerifyError::BadSignature)
}

/// An RFC 9162 inclusion proof for one event in one of a statement's trees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub statement_id: String,
    /// `events`, `prior_period:<period>` or `voided:<period>`.
    pub tree: String,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub audit_path: Vec<String>,
    pub root: String,
}

/// The trees a statement signs: `events`, then each adjustment's.
pub fn tree_names(statement: &Statement) -> Vec<TreeName> {
    let mut names = vec![TreeName::Events];
    for adjustment in &statement.adjustments {
        if let Some(period) = &adjustment.period {
            if adjustment.events.is_some() {
                names.push(TreeName::PriorPeriod(period.clone()));
            }
            if adjustment.voided.is_some() {
                names.push(TreeName::Voided(period.clone()));
            }
        }
    }
    names
}

/// The name of one of a statement's trees.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TreeName {
    Events,
    PriorPeriod(String),
    Voided(String),
}

impl TreeName {
    pub fn parse(text: &str) -> Option<TreeName> {
        if text == "events" {
            return Some(TreeName::Events);
        }
        let valid = |p: &str| crate::period::Period::parse(p).is_some();
        if let Some(period) = text.strip_prefix("prior_period:").filter(|p| valid(p)) {
            return Some(TreeName::PriorPeriod(period.to_string()));
        }
        text.strip_prefix("voided:")
            .filter(|p| valid(p))
            .map(|p| TreeName::Voided(p.to_string()))
    }

    /// `true` for a `voided:` tree: a proof there shows the event was removed.
    pub fn removes(&self) -> bool {
        matches!(self, TreeName::Voided(_))
    }
}

impl std::fmt::Display for TreeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeName::Events => f.write_str("events"),
            TreeName::PriorPeriod(p) => write!(f, "prior_period:{p}"),
            TreeName::Voided(p) => write!(f, "voided:{p}"),
        }
    }
}

/// The `(count, root)` a statement signs for one of its trees.
pub fn signed_tree(statement: &Statement, tree: &TreeName) -> Option<(u64, String)> {
    let (period, voided) = match tree {
        TreeName::Events => return Some((statement.events.count, statement.events.merkle_root.clone())),
        TreeName::PriorPeriod(period) => (period, false),
        TreeName::Voided(period) => (period, true),
    };
    let adjustment = statement
        .adjustments
        .iter()
        .find(|a| a.kind == AdjustmentKind::PriorPeriod && a.period.as_deref() == Some(period.as_str()))?;
    let summary = if voided {
        adjustment.voided.as_ref()
    } else {
        adjustment.events.as_ref()
    }?;
    Some((summary.count, summary.merkle_root.clone()))
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

/// Checks that `event` (the host's own copy, as sent) is in the proof's tree of a
/// verified statement: counted (`events`, `prior_period:`) or removed (`voided:`).
pub fn verify_inclusion(
    statement: &VerifiedStatement,
    event: &[u8],
    proof: &InclusionProof,
) -> Result<TreeName, VerifyError> {
    if proof.statement_id != statement.id() {
        return Err(VerifyError::OtherStatement {
            proof: proof.statement_id.clone(),
            statement: statement.id().to_string(),
        });
    }
    let tree = TreeName::parse(&proof.tree).ok_or_else(|| VerifyError::UnknownTree(proof.tree.clone()))?;
    let (count, root) =
        signed_tree(statement.statement(), &tree).ok_or_else(|| VerifyError::UnknownTree(proof.tree.clone()))?;
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
    Ok(tree)
}

/// Builds the proof for leaf `index` of a tree given in leaf order.
pub fn prove(statement_id: &str, tree: &TreeName, leaves: &[Hash], index: usize) -> InclusionProof {
    assert!(index < leaves.len(), "the leaf is in the tree");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> (Statement, SigningKey) {
        let expected: Vec<Statement> =
            serde_json::from_str(include_str!("../../../fixtures/spec-examples/expected-small.json")).unwrap();
        let mut statement = expected[1].clone();
        let period = crate::period::Period::parse(&statement.period).unwrap();
        statement.statement_id = crate::statement::StatementId::new(&statement.contract, period);
        (statement, SigningKey::from_bytes(&[7; 32]))
    }

    fn keys(key: &SigningKey) -> Vec<PublicKey> {
        vec![PublicKey::of(key)]
    }

    #[test]
    fn a_signed_statement_verifies_from_its_bytes() {
        let (mut statement, key) = example();
        sign(&mut statement, &key);
        let bytes = statement.to_json_pretty();
        let verified = verify_statement_bytes(bytes.as_bytes(), &keys(&key)).unwrap();
        assert_eq!(verified.statement(), &statement);
        assert_eq!(verified.sha256(), statement_sha256(&statement));
        // Whitespace and member order are not signed; content is.
        let compact = serde_json::to_string(&statement).unwrap();
        verify_statement_bytes(compact.as_bytes(), &keys(&key)).unwrap();
    }

    #[test]
    fn an_added_removed_or_changed_member_fails() {
        let (mut statement, key) = example();
        sign(&mut statement, &key);
        let bytes = statement.to_json_pretty();
        let added = bytes.replacen('{', "{\"note\": \"host owes 1000000 extra\",", 1);
        assert_eq!(
            verify_statement_bytes(added.as_bytes(), &keys(&key)).unwrap_err(),
            VerifyError::BadSignature
        );
        let removed = bytes.replacen("\"unique_customers\"", "\"unique_customers_\"", 1);
        assert_eq!(
            verify_statement_bytes(removed.as_bytes(), &keys(&key)).unwrap_err(),
            VerifyError::BadSignature
        );
        let duplicated = bytes.replacen('{', &format!("{{\"total\": \"{}\",", "0.00"), 1);
        assert!(matches!(
            verify_statement_bytes(duplicated.as_bytes(), &keys(&key)).unwrap_err(),
            VerifyError::Json(m) if m.contains("duplicate key `total`")
        ));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            verify_statement_bytes(bytes.as_bytes(), &keys(&other)).unwrap_err(),
            VerifyError::KeyId { .. }
        ));
    }

    #[test]
    fn unknown_members_are_covered_by_the_signature() {
        let (statement, key) = example();
        let mut object = object_of(&statement);
        object.insert("future_member".into(), Value::from("kept"));
        let signature = sign_object(&object, &key);
        object.insert("signature".into(), serde_json::to_value(&signature).unwrap());
        let bytes = serde_json::to_vec(&object).unwrap();
        verify_statement_bytes(&bytes, &keys(&key)).unwrap();
        object.insert("future_member".into(), Value::from("changed"));
        let changed = serde_json::to_vec(&object).unwrap();
        assert_eq!(
            verify_statement_bytes(&changed, &keys(&key)).unwrap_err(),
            VerifyError::BadSignature
        );
    }

    #[test]
    fn numbers_jcs_cannot_write_exactly_are_refused() {
        let (mut statement, key) = example();
        statement.lines[0].requests = (1 << 53) + 1;
        sign(&mut statement, &key);
        let bytes = statement.to_json_pretty();
        let error = verify_statement_bytes(bytes.as_bytes(), &keys(&key)).unwrap_err();
        assert_eq!(error, VerifyError::Number("9007199254740993".to_string()));
        // The same double under another text would otherwise verify too.
        let swapped = bytes.replace("9007199254740993", "9007199254740992");
        assert!(matches!(
            verify_statement_bytes(swapped.as_bytes(), &keys(&key)),
            Err(VerifyError::Number(_))
        ));
        let float =
            statement
                .to_json_pretty()
                .replacen("\"unique_customers\": ", "\"unique_customers\": 1.5, \"x\": ", 1);
        assert!(matches!(
            verify_statement_bytes(float.as_bytes(), &keys(&key)),
            Err(VerifyError::Number(_) | VerifyError::Json(_))
        ));
    }

    #[test]
    fn tree_names_parse_and_print() {
        for name in ["events", "prior_period:2026-09", "voided:2026-Q3"] {
            assert_eq!(TreeName::parse(name).unwrap().to_string(), name);
        }
        for bad in ["", "event", "prior_period:", "voided:2026-13", "prior_period:x"] {
            assert_eq!(TreeName::parse(bad), None, "{bad}");
        }
    }
}
