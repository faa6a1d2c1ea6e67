//! The `mau` endpoint: unique customers per host and calendar month, and the
//! contracts flagged for reaching their `mau_threshold` (statements.md, MAU monitor).

use axum::extract::State as AxumState;
use revshare_app::mau::{Filter, HostMonth};
use revshare_app::Ctx;
use serde::Deserialize;

use super::Result;
use crate::api::{read, Answer, Bearer, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::*;

/// `?host=&month=` and a page.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MauQuery {
    /// Only this host (default: every host the caller sees with events in the month).
    pub host: Option<String>,
    /// `YYYY-MM`: the calendar month, UTC (default: the current one).
    pub month: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Unique customers per host and month (MAU monitor)
///
/// A host's unique customers in a calendar month (UTC; default the current one), and the contracts a close flagged for
/// reaching their `mau_threshold`.
#[utoipa::path(get, path = "/v1/mau", tag = "mau", security(("bearer" = [])), params(MauQuery),
    responses((status = 200, body = Page<HostMonth>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn mau(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<MauQuery>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let filter = Filter {
            host: query.host.clone(),
            month: query.month.clone(),
        };
        let page =
            revshare_app::mau::mau_page(backend, Ctx::now(actor), &filter, query.limit, query.cursor.as_deref())?;
        Ok(Page::of(page, |m| m))
    })
    .await
}
