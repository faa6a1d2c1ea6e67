//! The audited records: each row the audit log covers, in the form its entry's
//! `payload_sha256` hashes (JCS of the serialized record, `seq` left out). They are
//! values: the store keeps them, the application checks and returns them, and the
//! edges print them (docs/audit.md).

use serde::{Deserialize, Serialize};

use crate::audit::Seq;
use crate::contract::{ContributionKind, Party};
use crate::statement::StatementId;
use crate::tables::ContributionStatus;

/// A public signing key of the service (secrets never reach the database).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SigningKeyRow {
    pub key_id: String,
    pub alg: String,
    pub public_key: String,
    pub created_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A party: an operator, licensor, host, beneficiary or auditor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartyRow {
    pub id: String,
    pub name: String,
    pub created_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// The roles of api.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Operator,
    Licensor,
    Host,
    Beneficiary,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Licensor,
        Role::Host,
        Role::Beneficiary,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Licensor => "licensor",
            Role::Host => "host",
            Role::Beneficiary => "beneficiary",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token: only the SHA-256 of the whole token string is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub token_id: String,
    pub party: String,
    pub role: Role,
    /// The contracts it is narrowed to, or all of its role's.
    pub contracts: Option<Vec<String>>,
    /// `YYYY-MM-DD`: valid while now < that day at 00:00 UTC.
    pub expires: Option<String>,
    pub sha256: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    #[serde(skip)]
    pub seq: Seq,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContractRow {
    pub id: String,
    pub version: i64,
    pub licensor: String,
    pub host: String,
    pub file_name: String,
    pub sha256: String,
    /// The exact file as added (TOML is UTF-8).
    pub toml: String,
    pub added_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FxRow {
    pub date: i32,
    pub from: String,
    pub to: String,
    pub rate: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A version of the model registry, effective from a UTC month start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegistryRow {
    pub version: i64,
    pub effective_from: i32,
    pub file_name: String,
    pub added_at: String,
    /// `(pattern, licensor)` in order: the first match wins.
    pub rows: Vec<(String, String)>,
    #[serde(skip)]
    pub seq: Seq,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContributionRow {
    pub number: i64,
    pub contract: String,
    pub by: Party,
    pub kind: ContributionKind,
    pub date: i32,
    pub status: ContributionStatus,
    pub reference: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub proposed_seq: Seq,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decided_seq: Option<Seq>,
    #[serde(skip)]
    pub seq: Seq,
}

/// A voided event: it stays stored (its key still makes a re-send a duplicate) but
/// is no longer counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VoidRow {
    pub number: i64,
    pub source: String,
    pub id: String,
    pub host: String,
    pub day: i32,
    pub leaf: String,
    pub reason: String,
    pub actor: String,
    pub voided_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A closed statement: its exact JSON bytes (signed, never rewritten) and what later
/// closes need to settle its period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementRow {
    pub statement_id: StatementId,
    pub contract: String,
    pub period: String,
    pub host: String,
    pub start_day: i32,
    pub end_day: i32,
    /// The audit seq the close rated as of (its `audit_head.seq`).
    pub close_seq: Seq,
    /// JSON list of the prior-period windows it settled:
    /// `[{"period", "statement_id", "after", "through"}]`.
    pub settled: String,
    pub json: String,
    pub closed_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A period closed after its contract's term with nothing to carry (audited:
/// `period_closed_after_term`): no statement is issued, but the period counts as
/// closed for the contract (statements.md) and the close's re-ratings of earlier
/// periods that changed nothing are settled up to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClosedAfterTermRow {
    /// The id a statement of the period would have: `<contract>/<period>`.
    pub statement_id: StatementId,
    pub contract: String,
    pub period: String,
    /// The audit seq the close rated as of.
    pub close_seq: Seq,
    /// As a statement's: JSON list of the prior-period windows it settled.
    pub settled: String,
    pub closed_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A party's witness key (audited: `witness_key_added`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WitnessKeyRow {
    pub number: i64,
    pub party: String,
    pub vkey: String,
    pub added_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A rollback the operator accepted after restoring a backup (audited:
/// `rollback_accepted`): the log was `from_size` entries with `from_root` (the
/// checkpoint beside the key file), and the restored store held `to_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RollbackRow {
    pub number: i64,
    pub from_size: i64,
    pub from_root: String,
    pub to_size: i64,
    pub reason: String,
    pub actor: String,
    pub accepted_at: String,
    #[serde(skip)]
    pub seq: Seq,
}

/// A store copied whole into another and retired (audited: `store_copied`, the
/// last entry the source appends, which the target holds too): the log had `size`
/// entries before it, and `to` names the target (a file, or a PostgreSQL database
/// without its password). Kept in `meta` as `copied:<seq>`, in this form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCopyRow {
    pub to: String,
    pub size: i64,
    pub actor: String,
    pub copied_at: String,
}

/// Where a payment stands (statements.md, Ledger): recorded by its payer, then
/// confirmed once by its payee (or the operator) or withdrawn by its payer; a
/// confirmed one may be reversed by the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Recorded,
    Confirmed,
    Withdrawn,
    Reversed,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 4] = [
        PaymentStatus::Recorded,
        PaymentStatus::Confirmed,
        PaymentStatus::Withdrawn,
        PaymentStatus::Reversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Recorded => "recorded",
            PaymentStatus::Confirmed => "confirmed",
            PaymentStatus::Withdrawn => "withdrawn",
            PaymentStatus::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A payment between a contract's host and one of its beneficiaries, either way (a
/// beneficiary refunds a host that is owed). It posts to the ledger only once
/// confirmed, and the opposite legs when reversed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentRow {
    /// `P-` and 12 lowercase hex digits.
    pub payment_id: String,
    pub contract: String,
    /// The contract's currency, which the amount is in.
    pub currency: String,
    pub payer: String,
    pub payee: String,
    /// Positive, at the contract's scale.
    pub amount: String,
    /// The day paid, which the confirmation's legs are dated.
    pub date: i32,
    pub reference: String,
    pub status: PaymentStatus,
    /// The actors and times of each step taken (audit log actors).
    pub recorded_by: String,
    pub recorded_at: String,
    /// The seq of its `payment_recorded` entry: payments are listed in this order.
    pub recorded_seq: Seq,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<String>,
    pub reversed_by: Option<String>,
    /// Its UTC day dates the reversal's legs.
    pub reversed_at: Option<String>,
    /// Why the operator reversed it.
    pub reversal_reason: Option<String>,
    #[serde(skip)]
    pub seq: Seq,
}
