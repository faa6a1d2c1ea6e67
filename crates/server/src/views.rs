//! The JSON the API answers with, where it is not a signed document given as stored
//! bytes. Each is what the CLI prints with `--format json`.

pub use revshare_app::views::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A page of a list (api.md): ascending by creation.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    pub fn of<U>(page: revshare_app::page::Page<U>, view: impl Fn(U) -> T) -> Page<T> {
        Page {
            items: page.items.into_iter().map(view).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// `?limit=&cursor=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub party: Option<String>,
    pub role: String,
    pub token_id: String,
    pub contracts: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContribution {
    pub contract: String,
    /// `host` or `licensor`: the side that contributed.
    pub by: String,
    /// `maintenance`, `update` or `improvement`.
    pub kind: String,
    /// `YYYY-MM-DD`: it counts in the period holding it.
    pub date: String,
    #[serde(default)]
    pub reference: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewParty {
    pub id: String,
    pub name: Option<String>,
}

/// A party's new name (`PATCH /v1/parties/{id}`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyUpdate {
    /// Its legal name, as statements and payout notices show it (1 to 200 characters).
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub party: String,
    /// `operator`, `licensor`, `host`, `beneficiary` or `auditor`.
    pub role: String,
    #[serde(default)]
    pub contracts: Vec<String>,
    /// `YYYY-MM-DD`: valid while now < that day at 00:00 UTC.
    pub expires: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Void {
    pub source: String,
    pub id: String,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct LeavesPage {
    pub statement_id: String,
    pub tree: String,
    pub count: u64,
    pub leaves: Vec<String>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Unselected {
    pub host: String,
    pub events: u64,
}

#[derive(Serialize, ToSchema)]
pub struct CloseAnswer {
    pub period: String,
    pub dry_run: bool,
    #[schema(value_type = Vec<Object>)]
    pub contracts: Vec<serde_json::Value>,
    pub unselected: Vec<Unselected>,
    /// The statements as stored (a dry run: unsigned).
    #[schema(value_type = Vec<Object>)]
    pub statements: Vec<serde_json::Value>,
    /// The contracts this close flagged for their host's unique customers (MAU
    /// monitor), one audit entry each; none on a dry run.
    pub mau_flags: Vec<revshare_app::mau::Reached>,
}

#[derive(Serialize, ToSchema)]
pub struct Status {
    pub status: String,
}

/// `POST /v1/payments`: a payment its payer (the token's party) made; the operator
/// names the payer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub contract: String,
    /// The payer: only an operator token names it.
    pub payer: Option<String>,
    /// The payee.
    pub to: String,
    /// Positive, in the contract's currency, at most its scale in decimals.
    pub amount: String,
    /// `YYYY-MM-DD`: the day paid, which the ledger's legs are dated.
    pub date: String,
    #[serde(default)]
    pub reference: String,
}

/// `POST /v1/payments/{id}/reverse`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reversal {
    pub reason: String,
}
