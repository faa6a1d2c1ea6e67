//! The resources as the API answers them and the CLI prints them with
//! `--format json`: one definition for both edges. With the `openapi` feature (the
//! server's) each also describes itself for the OpenAPI document.

use revshare_core::audit::Seq;
use revshare_store::backend::{ContractRow, ContributionRow, FxRow, PartyRow, RegistryRow, TokenRow};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contract {
    pub id: String,
    pub version: i64,
    pub licensor: String,
    pub host: String,
    /// The file it was added from; none for one uploaded over the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub sha256: String,
    pub added_at: String,
    /// The contract file exactly as added (in `GET /v1/contracts/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toml: Option<String>,
}

impl Contract {
    pub fn of(row: ContractRow, with_file: bool) -> Contract {
        Contract {
            id: row.id,
            version: row.version,
            licensor: row.licensor,
            host: row.host,
            file_name: (!row.file_name.is_empty()).then_some(row.file_name),
            sha256: row.sha256,
            added_at: row.added_at,
            toml: with_file.then_some(row.toml),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Added {
    pub id: String,
    pub version: i64,
    pub sha256: String,
    /// `false` when these exact bytes were already stored as this version.
    pub stored: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FxRate {
    pub date: String,
    pub from: String,
    pub to: String,
    pub rate: String,
}

impl FxRate {
    pub fn of(row: FxRow) -> FxRate {
        FxRate {
            date: revshare_core::period::Day(row.date).to_string(),
            from: row.from,
            to: row.to,
            rate: row.rate,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FxAdded {
    pub stored: usize,
    pub skipped: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryVersion {
    pub version: i64,
    pub effective_from: String,
    /// The file it was added from; none for one uploaded over the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub added_at: String,
    pub rows: Vec<RegistryEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryEntry {
    pub pattern: String,
    pub licensor: String,
}

impl RegistryVersion {
    pub fn of(row: RegistryRow) -> RegistryVersion {
        RegistryVersion {
            version: row.version,
            effective_from: revshare_core::period::Day(row.effective_from).to_string(),
            file_name: (!row.file_name.is_empty()).then_some(row.file_name),
            added_at: row.added_at,
            rows: row
                .rows
                .into_iter()
                .map(|(pattern, licensor)| RegistryEntry { pattern, licensor })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contribution {
    pub number: i64,
    pub contract: String,
    pub by: String,
    pub kind: String,
    pub date: String,
    pub status: String,
    pub reference: String,
    pub proposed_by: String,
    pub proposed_at: String,
    /// The audit seq of the proposal.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub proposed_seq: Seq,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// The audit seq of the decision.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub decided_seq: Option<Seq>,
}

impl Contribution {
    pub fn of(row: ContributionRow) -> Contribution {
        Contribution {
            number: row.number,
            contract: row.contract,
            by: row.by.as_str().to_string(),
            kind: row.kind.as_str().to_string(),
            date: revshare_core::period::Day(row.date).to_string(),
            status: row.status.as_str().to_string(),
            reference: row.reference,
            proposed_by: row.proposed_by,
            proposed_at: row.proposed_at,
            proposed_seq: row.proposed_seq,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            decided_seq: row.decided_seq,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Party {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl Party {
    pub fn of(row: PartyRow) -> Party {
        Party {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Token {
    pub token_id: String,
    pub party: String,
    pub role: String,
    pub contracts: Option<Vec<String>>,
    pub expires: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// The whole token: in the answer to its creation only, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Token {
    pub fn of(row: TokenRow, token: Option<String>) -> Token {
        Token {
            token_id: row.token_id,
            party: row.party,
            role: row.role.as_str().to_string(),
            contracts: row.contracts,
            expires: row.expires,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            token,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Voided {
    pub source: String,
    pub id: String,
    /// `false` when it was voided before (voiding again changes nothing).
    pub new: bool,
    pub voided_at: String,
    pub by: String,
    pub reason: String,
}

/// One line of `GET /v1/statements`: a statement, or a beneficiary's payout notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatementEntry {
    pub statement_id: String,
    pub contract: String,
    pub period: String,
    pub currency: String,
    pub closed_at: Option<String>,
    pub due_date: Option<String>,
    /// A statement's total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// A statement's event count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// A payout notice's payout to the beneficiary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout: Option<String>,
}

/// A payment (statements.md, Ledger), its date as `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payment {
    /// `P-` and 12 lowercase hex digits.
    pub payment_id: String,
    pub contract: String,
    pub currency: String,
    pub payer: String,
    pub payee: String,
    pub amount: String,
    pub date: String,
    pub reference: String,
    /// `recorded`, `confirmed`, `withdrawn` or `reversed`.
    pub status: String,
    pub recorded_by: String,
    pub recorded_at: String,
    /// The audit seq of its recording.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub recorded_seq: Seq,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    pub withdrawn_by: Option<String>,
    pub withdrawn_at: Option<String>,
    pub reversed_by: Option<String>,
    pub reversed_at: Option<String>,
    pub reversal_reason: Option<String>,
}

impl Payment {
    pub fn of(row: revshare_core::records::PaymentRow) -> Payment {
        Payment {
            payment_id: row.payment_id,
            contract: row.contract,
            currency: row.currency,
            payer: row.payer,
            payee: row.payee,
            amount: row.amount,
            date: revshare_core::period::Day(row.date).to_string(),
            reference: row.reference,
            status: row.status.as_str().to_string(),
            recorded_by: row.recorded_by,
            recorded_at: row.recorded_at,
            recorded_seq: row.recorded_seq,
            confirmed_by: row.confirmed_by,
            confirmed_at: row.confirmed_at,
            withdrawn_by: row.withdrawn_by,
            withdrawn_at: row.withdrawn_at,
            reversed_by: row.reversed_by,
            reversed_at: row.reversed_at,
            reversal_reason: row.reversal_reason,
        }
    }
}
