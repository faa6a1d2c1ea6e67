//! The `ledger` endpoints: balances with ageing, and the legs posted
//! (statements.md, Ledger).

use axum::extract::State as AxumState;
use revshare_app::ledger::{Balance, Entry, Filter};
use revshare_app::{AppError, Ctx};
use revshare_core::period::Day;
use serde::Deserialize;

use super::Result;
use crate::api::{read, Answer, Bearer, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::*;

/// `?party=&contract=&currency=&as_of=` and a page.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Only the accounts of this party (as host or beneficiary).
    pub party: Option<String>,
    /// Only the accounts of this contract.
    pub contract: Option<String>,
    /// Only the accounts in this currency (ISO 4217, such as `USD`).
    pub currency: Option<String>,
    /// `YYYY-MM-DD`: legs dated on or before it (balances: default today, UTC).
    pub as_of: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl LedgerQuery {
    /// The filter, read after the token is (an unauthenticated request is 401
    /// whatever its query).
    fn filter(&self) -> std::result::Result<Filter, AppError> {
        let as_of = match self.as_of.as_deref() {
            Some(text) => Some(
                Day::parse(text)
                    .ok_or_else(|| AppError::Invalid(format!("as_of: `{text}` must be a date YYYY-MM-DD")))?,
            ),
            None => None,
        };
        Ok(Filter {
            party: self.party.clone(),
            contract: self.contract.clone(),
            currency: self.currency.clone(),
            as_of,
        })
    }
}

/// Read ledger balances, aged
///
/// Per account (contract, host, beneficiary, currency): what is outstanding as of `?as_of=` (default today, UTC), aged
/// current, 1-30, 31-60, 61-90 and 91+ days past due, and what was paid unapplied. A beneficiary, a host and a licensor
/// see their own accounts.
#[utoipa::path(get, path = "/v1/ledger/balances", tag = "ledger", security(("bearer" = [])), params(LedgerQuery),
    responses((status = 200, body = Page<Balance>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn balances(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<LedgerQuery>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let filter = query.filter()?;
        let page = revshare_app::ledger::balances_page(
            backend,
            Ctx::now(actor),
            &filter,
            query.limit,
            query.cursor.as_deref(),
        )?;
        Ok(Page::of(page, |b| b))
    })
    .await
}

/// Read the ledger's legs
///
/// The legs posted (statements, payments, reversals), dated on or before `?as_of=`, filtered by party, contract and
/// currency.
#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", security(("bearer" = [])), params(LedgerQuery),
    responses((status = 200, body = Page<Entry>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn ledger_entries(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    Q(query): Q<LedgerQuery>,
) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let filter = query.filter()?;
        let page = revshare_app::ledger::entries_page(backend, actor, &filter, query.limit, query.cursor.as_deref())?;
        Ok(Page::of(page, |e| e))
    })
    .await
}
