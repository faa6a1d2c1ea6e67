//! The audit log's format (spec: statements.md, Audit log): entries, their digests and
//! the hash chain that links them, and the offline checks of a chain and its anchors.
//!
//! `digest = SHA-256(JCS({seq, time, actor, action, object, payload_sha256}))` and
//! `hash = SHA-256(prev_hash ‖ digest)` over the raw 32-byte values; the first
//! entry's `prev_hash` is 64 zeros. Everything here is pure: the store assigns the
//! next `seq` under its write lock and calls [`NewEntry::chain`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::statement::{AuditHead, StatementId};

pub type Hash = [u8; 32];

/// The `prev_hash` of the first entry.
pub const GENESIS: Hash = [0; 32];

/// An audit entry's number: the first entry is 1, and 0 is the empty log's head (and
/// "before every entry" as a bound). Every row the log covers carries the seq of the
/// entry that added it, so this one type numbers entries, heads and rows alike.
///
/// It serializes as the plain number. The stores keep it in signed 64-bit columns,
/// converted by `TryFrom` both ways with one policy, refusal: a negative value is no
/// seq, and a seq past [`Seq::MAX`] cannot be stored (a log would need 2^63 entries
/// to reach it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(u64);

impl Seq {
    /// The empty log's head; as a bound, before the first entry.
    pub const ZERO: Seq = Seq(0);

    /// The largest seq a store holds; as a bound, through every entry.
    pub const MAX: Seq = Seq(i64::MAX.unsigned_abs());

    pub const fn new(seq: u64) -> Seq {
        Seq(seq)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The seq of the entry after this one.
    pub const fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Seq {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Seq, Self::Err> {
        text.parse().map(Seq)
    }
}

/// A seq given as a signed number (a store's column, a request's field): negative is
/// no seq.
impl TryFrom<i64> for Seq {
    type Error = std::num::TryFromIntError;

    fn try_from(value: i64) -> Result<Seq, Self::Error> {
        u64::try_from(value).map(Seq)
    }
}

/// A seq as a signed number (a store's column): one past [`Seq::MAX`] is refused,
/// never saturated, as no store can hold it.
impl TryFrom<Seq> for i64 {
    type Error = std::num::TryFromIntError;

    fn try_from(seq: Seq) -> Result<i64, Self::Error> {
        i64::try_from(seq.0)
    }
}

impl From<Seq> for u64 {
    fn from(seq: Seq) -> u64 {
        seq.0
    }
}

/// Lets a seq be compared with a count of entries (a log's size is its head's seq).
impl PartialEq<u64> for Seq {
    fn eq(&self, other: &u64) -> bool {
        self.0 == *other
    }
}

/// What an entry records. The payload of each is documented in `docs/audit.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    KeyAdded,
    PartyAdded,
    TokenCreated,
    TokenRevoked,
    ContractVersionAdded,
    FxRatesAdded,
    RegistryVersionAdded,
    EventsAccepted,
    EventVoided,
    StatementClosed,
    PeriodClosedAfterTerm,
    ContributionProposed,
    ContributionAccepted,
    ContributionRejected,
    PaymentRecorded,
    PaymentConfirmed,
    PaymentWithdrawn,
    PaymentReversed,
    DisputeOpened,
    DisputeAnswered,
    DisputeResolved,
    DisputeAccepted,
    DisputeRejected,
    DisputeWithdrawn,
    DisputeEscalated,
    DisputeDecided,
    MauThresholdReached,
    WitnessKeyAdded,
    RollbackAccepted,
    PartyUpdated,
    StoreCopied,
}

impl Action {
    pub const ALL: [Action; 31] = [
        Action::KeyAdded,
        Action::PartyAdded,
        Action::TokenCreated,
        Action::TokenRevoked,
        Action::ContractVersionAdded,
        Action::FxRatesAdded,
        Action::RegistryVersionAdded,
        Action::EventsAccepted,
        Action::EventVoided,
        Action::StatementClosed,
        Action::PeriodClosedAfterTerm,
        Action::ContributionProposed,
        Action::ContributionAccepted,
        Action::ContributionRejected,
        Action::PaymentRecorded,
        Action::PaymentConfirmed,
        Action::PaymentWithdrawn,
        Action::PaymentReversed,
        Action::DisputeOpened,
        Action::DisputeAnswered,
        Action::DisputeResolved,
        Action::DisputeAccepted,
        Action::DisputeRejected,
        Action::DisputeWithdrawn,
        Action::DisputeEscalated,
        Action::DisputeDecided,
        Action::MauThresholdReached,
        Action::WitnessKeyAdded,
        Action::RollbackAccepted,
        Action::PartyUpdated,
        Action::StoreCopied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::KeyAdded => "key_added",
            Action::PartyAdded => "party_added",
            Action::TokenCreated => "token_created",
            Action::TokenRevoked => "token_revoked",
            Action::ContractVersionAdded => "contract_version_added",
            Action::FxRatesAdded => "fx_rates_added",
            Action::RegistryVersionAdded => "registry_version_added",
            Action::EventsAccepted => "events_accepted",
            Action::EventVoided => "event_voided",
            Action::StatementClosed => "statement_closed",
            Action::PeriodClosedAfterTerm => "period_closed_after_term",
            Action::ContributionProposed => "contribution_proposed",
            Action::ContributionAccepted => "contribution_accepted",
            Action::ContributionRejected => "contribution_rejected",
            Action::PaymentRecorded => "payment_recorded",
            Action::PaymentConfirmed => "payment_confirmed",
            Action::PaymentWithdrawn => "payment_withdrawn",
            Action::PaymentReversed => "payment_reversed",
            Action::DisputeOpened => "dispute_opened",
            Action::DisputeAnswered => "dispute_answered",
            Action::DisputeResolved => "dispute_resolved",
            Action::DisputeAccepted => "dispute_accepted",
            Action::DisputeRejected => "dispute_rejected",
            Action::DisputeWithdrawn => "dispute_withdrawn",
            Action::DisputeEscalated => "dispute_escalated",
            Action::DisputeDecided => "dispute_decided",
            Action::MauThresholdReached => "mau_threshold_reached",
            Action::WitnessKeyAdded => "witness_key_added",
            Action::RollbackAccepted => "rollback_accepted",
            Action::PartyUpdated => "party_updated",
            Action::StoreCopied => "store_copied",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// An entry before it is chained: what changed, and the hash of the state after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub time: String,
    pub actor: String,
    pub action: Action,
    pub object: String,
    pub payload_sha256: Hash,
}

/// A stored entry, as `revshare audit log --format json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: Seq,
    pub time: String,
    pub actor: String,
    pub action: Action,
    pub object: String,
    pub payload_sha256: String,
    pub digest: String,
    pub prev_hash: String,
    pub hash: String,
}

/// One link of the chain: what every party may read (no content, no time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub seq: Seq,
    pub digest: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The end of a log: the last entry's `seq` and `hash` (seq 0 and zeros when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: Seq,
    pub hash: Hash,
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: Seq::ZERO,
        hash: GENESIS,
    };

    /// How many entries the log this head ends holds (a log's tree has one leaf per
    /// entry, so its size is the head's seq).
    pub const fn size(self) -> u64 {
        self.seq.0
    }

    /// As a signed statement names it, with the root of the log's tree of `seq`
    /// entries.
    pub fn anchor(self, root: &Hash) -> AuditHead {
        AuditHead {
            seq: self.seq.get(),
            hash: hex::encode(self.hash),
            tree_size: Some(self.seq.get()),
            root: Some(hex::encode(root)),
        }
    }

    /// As statements closed before the log was a tree named it.
    pub fn chain_anchor(self) -> AuditHead {
        AuditHead {
            seq: self.seq.get(),
            hash: hex::encode(self.hash),
            tree_size: None,
            root: None,
        }
    }
}

/// `SHA-256(JCS(entry without digest, prev_hash, hash))`.
pub fn digest(seq: Seq, entry: &NewEntry) -> Hash {
    #[derive(Serialize)]
    struct Digested<'a> {
        seq: Seq,
        time: &'a str,
        actor: &'a str,
        action: Action,
        object: &'a str,
        payload_sha256: String,
    }
    crate::json::canonical_sha256(&Digested {
        seq,
        time: &entry.time,
        actor: &entry.actor,
        action: entry.action,
        object: &entry.object,
        payload_sha256: hex::encode(entry.payload_sha256),
    })
}

/// `SHA-256(prev_hash ‖ digest)`.
pub fn link_hash(prev: &Hash, digest: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(digest);
    hasher.finalize().into()
}

impl NewEntry {
    /// The entry that follows `head`, and the head it makes.
    pub fn chain(&self, head: Head) -> (Entry, Head) {
        let seq = head.seq.next();
        let digest = digest(seq, self);
        let hash = link_hash(&head.hash, &digest);
        let entry = Entry {
            seq,
            time: self.time.clone(),
            actor: self.actor.clone(),
            action: self.action,
            object: self.object.clone(),
            payload_sha256: hex::encode(self.payload_sha256),
            digest: hex::encode(digest),
            prev_hash: hex::encode(head.hash),
            hash: hex::encode(hash),
        };
        (entry, Head { seq, hash })
    }
}

/// Chains entries one after another from `head`; returns them and the new head.
pub fn chain_all(head: Head, entries: &[NewEntry]) -> (Vec<Entry>, Head) {
    let mut head = head;
    let mut chained = Vec::with_capacity(entries.len());
    for entry in entries {
        let (next, next_head) = entry.chain(head);
        head = next_head;
        chained.push(next);
    }
    (chained, head)
}

/// What does not hold in a chain. Each names the first entry where it broke.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("audit entry {seq}: its digest does not match its content (it was edited)")]
    Digest { seq: Seq },
    #[error("audit entry {seq}: its prev_hash is not the hash of entry {previous}")]
    Link { seq: Seq, previous: Seq },
    #[error("audit entry {seq}: its hash is not SHA-256(prev_hash ‖ digest)")]
    Hash { seq: Seq },
    #[error("audit entry {seq}: expected seq {expected} (entries missing or out of order)")]
    Sequence { seq: Seq, expected: Seq },
    #[error("audit entry {seq}: {field} is not 64 lowercase hex digits")]
    Encoding { seq: Seq, field: &'static str },
    #[error("the chain starts at entry {first}, not 1: the entries before it are not checked")]
    NotFromStart { first: Seq },
    #[error("the statement's audit_head names entry {seq}, which the chain does not hold")]
    AnchorMissing { seq: Seq },
    #[error("the statement's audit_head names entry {seq} with hash {signed}, but the chain has {chained}: the log's history was rewritten")]
    AnchorMismatch { seq: Seq, signed: String, chained: String },
}

fn decode(seq: Seq, field: &'static str, text: &str) -> Result<Hash, ChainError> {
    let lowercase = text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let bytes = hex::decode(text).ok().filter(|_| lowercase);
    bytes
        .and_then(|b| b.try_into().ok())
        .ok_or(ChainError::Encoding { seq, field })
}

/// Checks a chain's links from the entries' own fields: consecutive `seq`s, each
/// `hash = SHA-256(prev_hash ‖ digest)`, each `prev_hash` the previous `hash` (the
/// first entry of the log links to zeros; a chain read `--after N` starts anywhere).
pub fn check_links(links: &[Link]) -> Result<(), ChainError> {
    let mut previous: Option<(Seq, Hash)> = None;
    for link in links {
        let prev = decode(link.seq, "prev_hash", &link.prev_hash)?;
        let digest = decode(link.seq, "digest", &link.digest)?;
        let hash = decode(link.seq, "hash", &link.hash)?;
        match previous {
            Some((seq, _)) if link.seq != seq.next() => {
                return Err(ChainError::Sequence {
                    seq: link.seq,
                    expected: seq.next(),
                })
            }
            Some((seq, expected)) if prev != expected => {
                return Err(ChainError::Link {
                    seq: link.seq,
                    previous: seq,
                })
            }
            None if link.seq == 1 && prev != GENESIS => {
                return Err(ChainError::Link {
                    seq: link.seq,
                    previous: Seq::ZERO,
                })
            }
            _ => {}
        }
        if link_hash(&prev, &digest) != hash {
            return Err(ChainError::Hash { seq: link.seq });
        }
        previous = Some((link.seq, hash));
    }
    Ok(())
}

/// [`check_links`] for a whole chain, which must start at entry 1 (what a party
/// checks against its anchors: a chain read from the anchor on proves nothing of the
/// entries before it).
pub fn check_links_from_start(links: &[Link]) -> Result<(), ChainError> {
    if let Some(first) = links.first().filter(|l| l.seq != 1) {
        return Err(ChainError::NotFromStart { first: first.seq });
    }
    check_links(links)
}

/// Checks full entries: each digest recomputed from its content, then the links.
pub fn check_entries(entries: &[Entry]) -> Result<(), ChainError> {
    for entry in entries {
        let new = NewEntry {
            time: entry.time.clone(),
            actor: entry.actor.clone(),
            action: entry.action,
            object: entry.object.clone(),
            payload_sha256: decode(entry.seq, "payload_sha256", &entry.payload_sha256)?,
        };
        if hex::encode(digest(entry.seq, &new)) != entry.digest {
            return Err(ChainError::Digest { seq: entry.seq });
        }
    }
    let links: Vec<Link> = entries.iter().map(Entry::link).collect();
    check_links(&links)
}

impl Entry {
    pub fn link(&self) -> Link {
        Link {
            seq: self.seq,
            digest: self.digest.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }

    /// The head this entry makes (its hash decoded), for chaining what follows.
    pub fn head(&self) -> Result<Head, ChainError> {
        Ok(Head {
            seq: self.seq,
            hash: decode(self.seq, "hash", &self.hash)?,
        })
    }
}

/// Checks that a signed anchor (a statement's `audit_head`) names an entry of the
/// chain with the same hash. Seq 0 anchors the empty log and always holds.
pub fn check_anchor(links: &[Link], anchor: &AuditHead) -> Result<(), ChainError> {
    let seq = Seq::new(anchor.seq);
    if seq == Seq::ZERO {
        return Ok(());
    }
    let link = links
        .iter()
        .find(|l| l.seq == seq)
        .ok_or(ChainError::AnchorMissing { seq })?;
    if link.hash != anchor.hash {
        return Err(ChainError::AnchorMismatch {
            seq,
            signed: anchor.hash.clone(),
            chained: link.hash.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seq_and_a_stored_integer_convert_both_ways_or_are_refused() {
        assert_eq!(i64::try_from(Seq::MAX), Ok(i64::MAX));
        assert_eq!(Seq::try_from(i64::MAX), Ok(Seq::MAX));
        assert_eq!(i64::try_from(Seq::new(7)), Ok(7));
        assert_eq!(Seq::try_from(0i64), Ok(Seq::ZERO));
        assert!(i64::try_from(Seq::MAX.next()).is_err(), "past the stores' integers");
        assert!(i64::try_from(Seq::new(u64::MAX)).is_err());
        assert!(Seq::try_from(-1i64).is_err(), "no seq is negative");
    }

    fn entry(n: u8) -> NewEntry {
        NewEntry {
            time: "2026-11-30T00:00:00Z".into(),
            actor: "cli".into(),
            action: Action::FxRatesAdded,
            object: "fx".into(),
            payload_sha256: [n; 32],
        }
    }

    #[test]
    fn a_chain_links_and_any_edit_is_named() {
        let (entries, head) = chain_all(Head::EMPTY, &[entry(1), entry(2), entry(3)]);
        assert_eq!(head.seq, 3);
        assert_eq!(entries[0].prev_hash, "0".repeat(64));
        assert_eq!(hex::encode(head.hash), entries[2].hash);
        check_entries(&entries).unwrap();
        let mut edited = entries.clone();
        edited[1].actor = "someone".into();
        assert_eq!(check_entries(&edited), Err(ChainError::Digest { seq: Seq(2) }));
        let mut dropped = entries.clone();
        dropped.remove(1);
        assert_eq!(
            check_entries(&dropped),
            Err(ChainError::Sequence {
                seq: Seq(3),
                expected: Seq(2)
            })
        );
        // A rewrite that recomputes every hash still breaks the anchor.
        let anchor = Head {
            seq: Seq(2),
            hash: entries[1].head().unwrap().hash,
        }
        .chain_anchor();
        let (rewritten, _) = chain_all(Head::EMPTY, &[entry(1), entry(9), entry(3)]);
        check_entries(&rewritten).unwrap();
        let links: Vec<Link> = rewritten.iter().map(Entry::link).collect();
        assert!(matches!(
            check_anchor(&links, &anchor),
            Err(ChainError::AnchorMismatch { seq: Seq(2), .. })
        ));
        let original: Vec<Link> = entries.iter().map(Entry::link).collect();
        check_anchor(&original, &anchor).unwrap();
    }

    #[test]
    fn the_digest_is_sha256_of_the_jcs_of_the_entry() {
        let (e, _) = entry(7).chain(Head::EMPTY);
        let jcs = format!(
            r#"{{"action":"fx_rates_added","actor":"cli","object":"fx","payload_sha256":"{}","seq":1,"time":"2026-11-30T00:00:00Z"}}"#,
            hex::encode([7u8; 32])
        );
        assert_eq!(e.digest, hex::encode(Sha256::digest(jcs.as_bytes())));
        let mut joined = vec![0u8; 32];
        joined.extend(hex::decode(&e.digest).unwrap());
        assert_eq!(e.hash, hex::encode(Sha256::digest(&joined)));
    }
}

/// What an audit entry is about, as its `object` field names it (docs/audit.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// `key:<key_id>`: a signing key of the service.
    Key(String),
    /// `party:<id>`.
    Party(String),
    /// `token:<token_id>`.
    Token(String),
    /// `contract:<id>:v<version>`.
    Contract { id: String, version: i64 },
    /// `fx`: the FX rates an entry added.
    Fx,
    /// `registry:v<version>`.
    Registry(i64),
    /// `events:<host>`: a batch of a host's events.
    Events(String),
    /// `void:<host>:<number>`.
    Void { host: String, number: i64 },
    /// `statement:<statement_id>`.
    Statement(StatementId),
    /// `closed:<statement_id>`: a period closed after its contract's term without a
    /// statement (nothing to carry), recorded so that it counts as closed.
    ClosedAfterTerm(StatementId),
    /// `contribution:<contract>:<number>`.
    Contribution { contract: String, number: i64 },
    /// `payment:<payment_id>`.
    Payment(String),
    /// `dispute:<dispute_id>`.
    Dispute(String),
    /// `witness_key:<party>:<number>`.
    WitnessKey { party: String, number: i64 },
    /// `mau:<contract>:<month>`: a contract's `mau_threshold` reached by its host in
    /// a calendar month (`2026-10`), flagged once.
    Mau { contract: String, month: String },
    /// `log`: the log itself (a rollback the operator accepted, the store copied
    /// into another and retired).
    Log,
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Key(key_id) => write!(f, "key:{key_id}"),
            Object::Party(id) => write!(f, "party:{id}"),
            Object::Token(token_id) => write!(f, "token:{token_id}"),
            Object::Contract { id, version } => write!(f, "contract:{id}:v{version}"),
            Object::Fx => f.write_str("fx"),
            Object::Registry(version) => write!(f, "registry:v{version}"),
            Object::Events(host) => write!(f, "events:{host}"),
            Object::Void { host, number } => write!(f, "void:{host}:{number}"),
            Object::Statement(statement_id) => write!(f, "statement:{statement_id}"),
            Object::ClosedAfterTerm(statement_id) => write!(f, "closed:{statement_id}"),
            Object::Contribution { contract, number } => write!(f, "contribution:{contract}:{number}"),
            Object::Payment(payment_id) => write!(f, "payment:{payment_id}"),
            Object::Dispute(dispute_id) => write!(f, "dispute:{dispute_id}"),
            Object::WitnessKey { party, number } => write!(f, "witness_key:{party}:{number}"),
            Object::Mau { contract, month } => write!(f, "mau:{contract}:{month}"),
            Object::Log => f.write_str("log"),
        }
    }
}

/// An `object` field that names no kind of object this build writes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` names no audited object")]
pub struct UnknownObject(String);

impl std::str::FromStr for Object {
    type Err = UnknownObject;

    fn from_str(text: &str) -> Result<Object, UnknownObject> {
        let unknown = || UnknownObject(text.to_string());
        // `<name>:<number>`, split at the last colon: a host's name may hold colons
        // (an event's `data.host` is any identifier), a number never does.
        let numbered = |rest: &str| -> Result<(String, i64), UnknownObject> {
            let (name, number) = rest.rsplit_once(':').ok_or_else(unknown)?;
            Ok((name.to_string(), number.parse().map_err(|_| unknown())?))
        };
        let version = |text: &str| text.strip_prefix('v').and_then(|v| v.parse().ok()).ok_or_else(unknown);
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        let object = match (kind, rest) {
            ("fx", "") => Object::Fx,
            ("log", "") => Object::Log,
            (_, "") => return Err(unknown()),
            ("key", key_id) => Object::Key(key_id.to_string()),
            ("party", id) => Object::Party(id.to_string()),
            ("token", token_id) => Object::Token(token_id.to_string()),
            ("contract", rest) => {
                let (id, v) = rest.rsplit_once(':').ok_or_else(unknown)?;
                Object::Contract {
                    id: id.to_string(),
                    version: version(v)?,
                }
            }
            ("registry", v) => Object::Registry(version(v)?),
            ("events", host) => Object::Events(host.to_string()),
            ("void", rest) => numbered(rest).map(|(host, number)| Object::Void { host, number })?,
            ("statement", statement_id) => Object::Statement(statement_id.parse().map_err(|_| unknown())?),
            ("closed", statement_id) => Object::ClosedAfterTerm(statement_id.parse().map_err(|_| unknown())?),
            ("contribution", rest) => {
                numbered(rest).map(|(contract, number)| Object::Contribution { contract, number })?
            }
            ("payment", payment_id) => Object::Payment(payment_id.to_string()),
            ("dispute", dispute_id) => Object::Dispute(dispute_id.to_string()),
            ("witness_key", rest) => numbered(rest).map(|(party, number)| Object::WitnessKey { party, number })?,
            ("mau", rest) => {
                let (contract, month) = rest.rsplit_once(':').ok_or_else(unknown)?;
                let is_month = crate::period::Period::parse(month)
                    .is_some_and(|p| p.cadence == crate::period::Cadence::Month && p.to_string() == month);
                if contract.is_empty() || !is_month {
                    return Err(unknown());
                }
                Object::Mau {
                    contract: contract.to_string(),
                    month: month.to_string(),
                }
            }
            _ => return Err(unknown()),
        };
        Ok(object)
    }
}

#[cfg(test)]
mod object_tests {
    use super::Object;

    #[test]
    fn every_object_reads_back_from_its_text() {
        let objects = [
            Object::Key("k1".into()),
            Object::Party("acme-cloud".into()),
            Object::Token("t0123".into()),
            Object::Contract {
                id: "acme-llama".into(),
                version: 2,
            },
            Object::Fx,
            Object::Registry(3),
            Object::Events("acme-cloud".into()),
            Object::Events("acme-cloud:eu".into()),
            Object::Void {
                host: "acme-cloud:eu".into(),
                number: 3,
            },
            Object::Void {
                host: "acme-cloud".into(),
                number: 7,
            },
            Object::Statement("acme-llama/2026-10".parse().unwrap()),
            Object::ClosedAfterTerm("acme-llama/2026-11".parse().unwrap()),
            Object::Contribution {
                contract: "acme-llama".into(),
                number: 4,
            },
            Object::WitnessKey {
                party: "meta".into(),
                number: 1,
            },
            Object::Payment("P-0123456789ab".into()),
            Object::Mau {
                contract: "acme-llama".into(),
                month: "2026-10".into(),
            },
            Object::Dispute("D-0123456789ab".into()),
            Object::Log,
        ];
        for object in objects {
            let text = object.to_string();
            assert_eq!(text.parse::<Object>(), Ok(object), "{text}");
        }
    }

    #[test]
    fn text_that_names_no_object_is_refused() {
        for text in [
            "",
            "fx:1",
            "log:x",
            "contract:acme",
            "contract:acme:2",
            "registry:x",
            "void:acme",
            "void:acme:x",
            "nothing:1",
            "party:",
            "mau:acme-llama",
            "mau:acme-llama:2026-Q4",
            "mau::2026-10",
            "statement:acme-llama",
            "statement:acme-llama/2026-13",
            "closed:Acme/2026-10",
        ] {
            assert!(text.parse::<Object>().is_err(), "{text}");
        }
    }
}
