//! Signed checkpoints of the audit log and the witnesses who cosign them
//! (statements.md, Checkpoints and witnesses), in the formats transparency logs
//! share: a C2SP `tlog-checkpoint` (origin, size, root) inside a C2SP `signed-note`,
//! signed by the service as key name = origin (Ed25519, type 0x01), and cosigned by
//! witnesses with C2SP `tlog-cosignature` v1 lines (type 0x04: a timestamp and an
//! Ed25519 signature over `cosignature/v1\ntime T\n` + the checkpoint).
//!
//! `signed_note` and `tlog_tiles` (Cloudflare's ports of Go's `sumdb/note` and
//! `sumdb/tlog`) parse and write the formats; the keys here are the service's and
//! the witnesses' own, checked with `verify_strict`.

use base64::Engine as _;
use ed25519_dalek::{Signature as Ed25519Signature, Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, Signature as NoteSignature, VerifierList};

use crate::log_tree::Hash;
use crate::verify::PublicKey;

/// Signature type of the service's Ed25519 note key.
const ED25519: u8 = 0x01;
/// Signature type of a `tlog-cosignature` v1 key.
const COSIGNATURE_V1: u8 = 0x04;
/// The prefix of every witness key's name; the party id follows.
pub const WITNESS_NAME_PREFIX: &str = "revshare-witness/";
/// The most signature lines one note may carry (the service's and cosignatures).
pub const NOTE_SIGNATURES_MAX: usize = 100;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// What does not hold of a checkpoint, a cosignature or a key. Each names it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("the checkpoint is for the log `{found}`, not `{expected}`")]
    Origin { found: String, expected: String },
    #[error("the checkpoint is not signed by the service's key {key}")]
    Unsigned { key: String },
    #[error("the service's signature on the checkpoint does not verify: it was altered or signed by another key")]
    BadSignature,
    #[error("the cosignature of {name} does not verify over this checkpoint")]
    BadCosignature { name: String },
}

fn malformed(what: &'static str, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed {
        what,
        reason: reason.into(),
    }
}

/// A store's identity: 16 random lowercase hex digits, made by `init` and kept in the
/// store and in its key file. The log's origin is `revshare/<store id>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreId(String);

impl StoreId {
    pub fn from_bytes(bytes: [u8; 8]) -> StoreId {
        StoreId(hex::encode(bytes))
    }

    pub fn parse(text: &str) -> Option<StoreId> {
        let valid = text.len() == 16 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| StoreId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `revshare/<store id>`: the checkpoints' origin line and the service's key name.
    pub fn origin(&self) -> String {
        format!("revshare/{}", self.0)
    }
}

impl std::fmt::Display for StoreId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tree head: the log's origin, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

impl Checkpoint {
    pub fn new(origin: &str, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The note body: `origin`, size, base64 root, each a line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, b64().encode(self.root))
    }

    /// A body as the service writes it: exactly the three lines (no extensions).
    fn parse_body(text: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let parsed = tlog_tiles::Checkpoint::from_bytes(text)
            .map_err(|e| malformed("checkpoint", format!("{e}: not origin, size and root lines")))?;
        if !parsed.extension().is_empty() {
            return Err(malformed("checkpoint", "the service writes no extension lines"));
        }
        Ok(Checkpoint::new(parsed.origin(), parsed.size(), parsed.hash().0))
    }
}

fn note_key_id(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut material = vec![alg];
    material.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &material)
}

fn vkey(name: &str, id: u32, alg: u8, key: &VerifyingKey) -> String {
    let mut material = vec![alg];
    material.extend_from_slice(key.as_bytes());
    format!("{name}+{id:08x}+{}", b64().encode(material))
}

/// The service's signer of checkpoints: the store's Ed25519 key under the log's
/// origin. A value, handed to whatever stores a checkpoint; it never leaves memory.
pub struct LogSigner {
    name: String,
    key: SigningKey,
    id: u32,
    /// The key this one replaces, signing beside it while a rotation is sealed (so
    /// that the rotation's checkpoint opens with either key).
    previous: Option<(SigningKey, u32)>,
}

impl LogSigner {
    pub fn new(key: SigningKey, store: &StoreId) -> LogSigner {
        let name = store.origin();
        let id = note_key_id(&name, ED25519, &key.verifying_key());
        LogSigner {
            name,
            key,
            id,
            previous: None,
        }
    }

    /// Signs beside `previous`, the key being replaced.
    pub fn with_previous(mut self, previous: SigningKey) -> LogSigner {
        let id = note_key_id(&self.name, ED25519, &previous.verifying_key());
        self.previous = Some((previous, id));
        self
    }

    pub fn origin(&self) -> &str {
        &self.name
    }

    /// Signs a checkpoint of this log.
    pub fn sign(&self, checkpoint: &Checkpoint) -> SignedCheckpoint {
        assert_eq!(checkpoint.origin, self.name, "a checkpoint of this log");
        let body = checkpoint.body();
        let line = |key: &SigningKey, id: u32| {
            let mut material = id.to_be_bytes().to_vec();
            material.extend_from_slice(&key.sign(body.as_bytes()).to_bytes());
            format!("— {} {}\n", self.name, b64().encode(material))
        };
        let mut note = format!("{body}\n{}", line(&self.key, self.id));
        if let Some((previous, id)) = &self.previous {
            note.push_str(&line(previous, *id));
        }
        SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note,
        }
    }

    /// The keys that check what this signs (the previous one too, during a rotation).
    pub fn keys(&self) -> Vec<LogKey> {
        let key = |key: &SigningKey, id: u32| LogKey {
            name: self.name.clone(),
            key: key.verifying_key(),
            id,
        };
        let mut keys = vec![key(&self.key, self.id)];
        keys.extend(self.previous.as_ref().map(|(previous, id)| key(previous, *id)));
        keys
    }

    /// The key that checks what this signs.
    pub fn key(&self) -> LogKey {
        LogKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            id: self.id,
        }
    }
}

/// The service's public key as a note verifier for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogKey {
    name: String,
    key: VerifyingKey,
    id: u32,
}

impl LogKey {
    /// The key `public` (as `revshare key export-public` prints it) under `origin`.
    pub fn new(origin: &str, public: &PublicKey) -> Result<LogKey, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(malformed("origin", format!("`{origin}` is not a note key name")));
        }
        let key = public
            .verifying_key()
            .map_err(|e| malformed("public key", e.to_string()))?;
        Ok(LogKey {
            name: origin.to_string(),
            id: note_key_id(origin, ED25519, &key),
            key,
        })
    }

    pub fn origin(&self) -> &str {
        &self.name
    }

    /// The C2SP verifier key: `name+id+base64(0x01 ‖ key)`.
    pub fn vkey(&self) -> String {
        vkey(&self.name, self.id, ED25519, &self.key)
    }
}

impl signed_note::Verifier for LogKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Ed25519Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// A checkpoint the service signed, as the note it stores and serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note: the body, a blank line, the service's signature line.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The note with cosignature lines appended (each ending in a newline).
    pub fn with_lines(&self, lines: &[String]) -> String {
        let mut note = self.note.clone();
        for line in lines {
            note.push_str(line);
        }
        note
    }
}

/// A checkpoint note whose service signature was checked, and the other signature
/// lines it carries (cosignatures, checked on their own against witness keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub signed: SignedCheckpoint,
    /// Every other signature line, as received (with its newline).
    pub others: Vec<String>,
}

/// Checks a checkpoint note signed by one of `keys` (the service's keys under the
/// log's origin): the body is a checkpoint of that origin and the service's
/// signature verifies. Lines of unknown keys are kept, unchecked, in `others`.
pub fn open(note: &[u8], keys: &[LogKey]) -> Result<Opened, CheckpointError> {
    let parsed = Note::from_bytes(note).map_err(|e| malformed("checkpoint note", e.to_string()))?;
    let checkpoint = Checkpoint::parse_body(parsed.text())?;
    let ours: Vec<&LogKey> = keys.iter().filter(|k| k.name == checkpoint.origin).collect();
    let Some(first) = ours.first() else {
        return Err(CheckpointError::Origin {
            found: checkpoint.origin.clone(),
            expected: keys.first().map(|k| k.name.clone()).unwrap_or_default(),
        });
    };
    let list = VerifierList::new(
        ours.iter()
            .map(|k| Box::new((*k).clone()) as Box<dyn signed_note::Verifier>)
            .collect(),
    );
    let (verified, others) = parsed.verify(&list).map_err(|e| match e {
        signed_note::NoteError::InvalidSignature { .. } => CheckpointError::BadSignature,
        signed_note::NoteError::UnverifiedNote => CheckpointError::Unsigned { key: first.vkey() },
        other => malformed("checkpoint note", other.to_string()),
    })?;
    if verified.is_empty() {
        return Err(CheckpointError::Unsigned { key: first.vkey() });
    }
    if others.len() + verified.len() > NOTE_SIGNATURES_MAX {
        return Err(malformed("checkpoint note", "too many signature lines"));
    }
    let service_lines: String = verified
        .iter()
        .map(|s| String::from_utf8_lossy(&s.to_bytes()).into_owned())
        .collect();
    let body = checkpoint.body();
    Ok(Opened {
        signed: SignedCheckpoint {
            note: format!("{body}\n{service_lines}"),
            checkpoint,
        },
        others: others
            .iter()
            .map(|s| String::from_utf8_lossy(&s.to_bytes()).into_owned())
            .collect(),
    })
}

/// [`open`] with the service's public keys under the origin the note names (what a
/// party holding only the public key checks).
pub fn open_with(note: &[u8], keys: &[PublicKey]) -> Result<Opened, CheckpointError> {
    let text = std::str::from_utf8(note).map_err(|_| malformed("checkpoint note", "not UTF-8"))?;
    let origin = text.split('\n').next().unwrap_or_default();
    let keys: Vec<LogKey> = keys.iter().map(|k| LogKey::new(origin, k)).collect::<Result<_, _>>()?;
    open(note, &keys)
}

/// What a witness makes of a checkpoint it receives, against the one it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It holds none yet: it takes this one.
    First,
    /// The same checkpoint.
    Same,
    /// A larger log: a consistency proof from `from` to `to` must show it extends.
    Extends { from: u64, to: u64 },
    /// A smaller log than it holds: the log was cut (or a backup restored).
    Shrank { held: u64, received: u64 },
    /// Two signed checkpoints of one size with different roots: proof that the
    /// service signed two versions of its log.
    Equivocation { size: u64 },
}

/// The step from the checkpoint a witness holds to one it receives (of the same
/// log, both signed by the service).
pub fn step(held: Option<&Checkpoint>, received: &Checkpoint) -> Step {
    let Some(held) = held else {
        return Step::First;
    };
    match received.size.cmp(&held.size) {
        std::cmp::Ordering::Less => Step::Shrank {
            held: held.size,
            received: received.size,
        },
        std::cmp::Ordering::Equal if received.root == held.root => Step::Same,
        std::cmp::Ordering::Equal => Step::Equivocation { size: held.size },
        std::cmp::Ordering::Greater => Step::Extends {
            from: held.size,
            to: received.size,
        },
    }
}

/// The message a witness signs for a checkpoint at `time` (POSIX seconds).
fn cosignature_message(checkpoint: &Checkpoint, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{}", checkpoint.body()).into_bytes()
}

/// The message a witness key signs to register itself for a party on a log: only the
/// key's holder can register it (proof of possession).
pub fn registration_message(party: &str, origin: &str) -> Vec<u8> {
    format!("revshare-witness-key/v1\nparty {party}\norigin {origin}\n").into_bytes()
}

/// A party's witness key: the name `revshare-witness/<party>`, Ed25519.
pub struct WitnessSigner {
    name: String,
    key: SigningKey,
    id: u32,
}

impl WitnessSigner {
    pub fn new(party: &str, key: SigningKey) -> WitnessSigner {
        let name = format!("{WITNESS_NAME_PREFIX}{party}");
        let id = note_key_id(&name, COSIGNATURE_V1, &key.verifying_key());
        WitnessSigner { name, key, id }
    }

    /// A `tlog-cosignature` v1 signature line for `checkpoint`, made at `time`.
    pub fn cosign(&self, checkpoint: &Checkpoint, time: u64) -> String {
        let signature = self.key.sign(&cosignature_message(checkpoint, time));
        let mut material = self.id.to_be_bytes().to_vec();
        material.extend_from_slice(&time.to_be_bytes());
        material.extend_from_slice(&signature.to_bytes());
        format!("— {} {}\n", self.name, b64().encode(material))
    }

    /// The signature registering this key for `party` on the log `origin`, base64.
    pub fn sign_registration(&self, party: &str, origin: &str) -> String {
        b64().encode(self.key.sign(&registration_message(party, origin)).to_bytes())
    }

    pub fn key(&self) -> WitnessKey {
        WitnessKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            id: self.id,
        }
    }
}

/// A witness's public key, as a C2SP verifier key `name+id+base64(0x04 ‖ key)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessKey {
    name: String,
    key: VerifyingKey,
    id: u32,
}

impl WitnessKey {
    pub fn parse(vkey: &str) -> Result<WitnessKey, CheckpointError> {
        let bad = |reason: &str| malformed("witness key", reason.to_string());
        let vkey = vkey.trim();
        let (name, rest) = vkey.split_once('+').ok_or_else(|| bad("not name+id+key"))?;
        let (id, material) = rest.split_once('+').ok_or_else(|| bad("not name+id+key"))?;
        let party = name
            .strip_prefix(WITNESS_NAME_PREFIX)
            .ok_or_else(|| bad("its name is not revshare-witness/<party>"))?;
        if !crate::contract::is_party_id(party) {
            return Err(bad("its name does not end in a party id"));
        }
        let material = b64().decode(material).map_err(|_| bad("its key is not base64"))?;
        let [alg, key @ ..] = material.as_slice() else {
            return Err(bad("its key is empty"));
        };
        if *alg != COSIGNATURE_V1 {
            return Err(bad("not a cosignature/v1 key (type 0x04)"));
        }
        let key: [u8; 32] = key.try_into().map_err(|_| bad("its key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| bad("its key is not an Ed25519 point"))?;
        let parsed = WitnessKey {
            id: note_key_id(name, COSIGNATURE_V1, &key),
            name: name.to_string(),
            key,
        };
        if id.len() != 8 || format!("{:08x}", parsed.id) != id {
            return Err(bad("its key id is not the id of its key"));
        }
        Ok(parsed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The party the key witnesses for (its name's suffix).
    pub fn party(&self) -> &str {
        self.name.strip_prefix(WITNESS_NAME_PREFIX).unwrap_or(&self.name)
    }

    pub fn vkey(&self) -> String {
        vkey(&self.name, self.id, COSIGNATURE_V1, &self.key)
    }

    /// Whether a signature line is this key's (by name and key id).
    pub fn signed(&self, line: &str) -> bool {
        NoteSignature::from_bytes(line.trim_end_matches('\n').as_bytes())
            .is_ok_and(|s| s.name() == self.name && s.id() == self.id)
    }

    /// Checks this key's cosignature line over `checkpoint`; its time if it holds.
    pub fn check_cosignature(&self, checkpoint: &Checkpoint, line: &str) -> Result<u64, CheckpointError> {
        let bad = || CheckpointError::BadCosignature {
            name: self.name.clone(),
        };
        let parsed = NoteSignature::from_bytes(line.trim_end_matches('\n').as_bytes()).map_err(|_| bad())?;
        if parsed.name() != self.name || parsed.id() != self.id {
            return Err(bad());
        }
        let material: &[u8; 72] = parsed.signature().try_into().map_err(|_| bad())?;
        let time = u64::from_be_bytes(material[..8].try_into().map_err(|_| bad())?);
        let signature: [u8; 64] = material[8..].try_into().map_err(|_| bad())?;
        if time > i64::MAX as u64 {
            return Err(bad());
        }
        self.key
            .verify_strict(
                &cosignature_message(checkpoint, time),
                &Ed25519Signature::from_bytes(&signature),
            )
            .map_err(|_| bad())?;
        Ok(time)
    }

    /// Whether `signature` (base64) registers this key for `party` on `origin`.
    pub fn check_registration(&self, party: &str, origin: &str, signature: &str) -> bool {
        let Some(bytes) = b64().decode(signature).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
            return false;
        };
        self.party() == party
            && self
                .key
                .verify_strict(
                    &registration_message(party, origin),
                    &Ed25519Signature::from_bytes(&bytes),
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LogSigner {
        LogSigner::new(
            SigningKey::from_bytes(&[7; 32]),
            &StoreId::parse("0123456789abcdef").unwrap(),
        )
    }

    fn witness(party: &str, seed: u8) -> WitnessSigner {
        WitnessSigner::new(party, SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn a_signed_checkpoint_is_a_c2sp_note_that_opens_with_the_service_key() {
        let signer = signer();
        let checkpoint = Checkpoint::new(signer.origin(), 42, [9; 32]);
        let signed = signer.sign(&checkpoint);
        let note = signed.note();
        assert!(note.starts_with("revshare/0123456789abcdef\n42\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\n— revshare/0123456789abcdef "));
        let opened = open(note.as_bytes(), &[signer.key()]).unwrap();
        assert_eq!(opened.signed, signed);
        assert!(opened.others.is_empty());
        // The note parses as signed_note's own type, the verifier key as its own.
        let standard = signed_note::StandardVerifier::new(&signer.key().vkey()).unwrap();
        let parsed = Note::from_bytes(note.as_bytes()).unwrap();
        assert!(parsed.verify(&VerifierList::new(vec![Box::new(standard)])).is_ok());
    }

    #[test]
    fn an_altered_or_foreign_checkpoint_is_refused_by_name() {
        let signer = signer();
        let signed = signer.sign(&Checkpoint::new(signer.origin(), 42, [9; 32]));
        let altered = signed.note().replace("\n42\n", "\n43\n");
        assert_eq!(
            open(altered.as_bytes(), &[signer.key()]),
            Err(CheckpointError::BadSignature)
        );
        let other = LogSigner::new(
            SigningKey::from_bytes(&[8; 32]),
            &StoreId::parse("fedcba9876543210").unwrap(),
        );
        assert!(matches!(
            open(signed.note().as_bytes(), &[other.key()]),
            Err(CheckpointError::Origin { .. })
        ));
        let same_origin_other_key = LogSigner::new(
            SigningKey::from_bytes(&[8; 32]),
            &StoreId::parse("0123456789abcdef").unwrap(),
        );
        assert!(matches!(
            open(signed.note().as_bytes(), &[same_origin_other_key.key()]),
            Err(CheckpointError::Unsigned { .. })
        ));
        assert!(matches!(
            open(b"nonsense", &[signer.key()]),
            Err(CheckpointError::Malformed { .. })
        ));
    }

    #[test]
    fn cosignatures_verify_for_their_checkpoint_only() {
        let signer = signer();
        let checkpoint = Checkpoint::new(signer.origin(), 42, [9; 32]);
        let host = witness("acme-cloud", 1);
        let line = host.cosign(&checkpoint, 1_790_000_000);
        let key = WitnessKey::parse(&host.key().vkey()).unwrap();
        assert_eq!(key, host.key());
        assert_eq!(key.party(), "acme-cloud");
        assert!(key.signed(&line));
        assert_eq!(key.check_cosignature(&checkpoint, &line), Ok(1_790_000_000));
        let other = Checkpoint::new(signer.origin(), 42, [8; 32]);
        assert!(key.check_cosignature(&other, &line).is_err());
        assert!(witness("meta", 2).key().check_cosignature(&checkpoint, &line).is_err());
        // The cosigned note keeps the service's signature and carries the line.
        let note = signer.sign(&checkpoint).with_lines(std::slice::from_ref(&line));
        let opened = open(note.as_bytes(), &[signer.key()]).unwrap();
        assert_eq!(opened.others, vec![line]);
    }

    #[test]
    fn a_registration_is_signed_by_the_key_for_its_party_and_log() {
        let host = witness("acme-cloud", 1);
        let signature = host.sign_registration("acme-cloud", "revshare/0123456789abcdef");
        let key = host.key();
        assert!(key.check_registration("acme-cloud", "revshare/0123456789abcdef", &signature));
        assert!(!key.check_registration("meta", "revshare/0123456789abcdef", &signature));
        assert!(!key.check_registration("acme-cloud", "revshare/fedcba9876543210", &signature));
        for bad in ["", "x+00000000+AA==", "revshare-witness/Acme+00000000+BAAA"] {
            assert!(WitnessKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_witness_steps_forward_and_names_what_it_cannot_take() {
        let at = |size, root| Checkpoint::new("revshare/0123456789abcdef", size, [root; 32]);
        assert_eq!(step(None, &at(5, 1)), Step::First);
        assert_eq!(step(Some(&at(5, 1)), &at(5, 1)), Step::Same);
        assert_eq!(step(Some(&at(5, 1)), &at(9, 2)), Step::Extends { from: 5, to: 9 });
        assert_eq!(step(Some(&at(5, 1)), &at(4, 1)), Step::Shrank { held: 5, received: 4 });
        assert_eq!(step(Some(&at(5, 1)), &at(5, 2)), Step::Equivocation { size: 5 });
    }

    #[test]
    fn store_ids_are_sixteen_lowercase_hex_digits() {
        assert!(StoreId::parse("0123456789abcdef").is_some());
        for bad in [
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdefa",
            "0123456789abcdeg",
        ] {
            assert!(StoreId::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(StoreId::from_bytes([0xab; 8]).origin(), "revshare/abababababababab");
    }
}
