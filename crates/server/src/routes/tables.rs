//! The `tables` endpoints: FX rates and the model registry.

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::Ctx;
use serde::Deserialize;

use super::{day, Document, Result};
use crate::api::{content_type, read, write, Answer, Bearer, Body, Scope, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::*;

/// List the FX rates
///
/// The stored rates, a page at a time. Every role but a beneficiary reads them.
#[utoipa::path(get, path = "/v1/fx", tag = "tables", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<FxRate>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn fx(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::tables::fx_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, FxRate::of))
    })
    .await
}

/// Add FX rates (operator)
///
/// A CSV `date,from,to,rate` (`text/csv`, as `revshare fx add` reads). Rates already stored with the same value are
/// skipped; a different rate for a stored day and pair is a `409 conflict`.
#[utoipa::path(post, path = "/v1/fx", tag = "tables", security(("bearer" = [])),
    request_body(content = String, description = "CSV `date,from,to,rate`", content_type = "text/csv"),
    responses((status = 200, body = FxAdded), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_fx(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["text/csv"])?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        |backend, shared, actor, body| {
            let added = revshare_app::tables::add_fx(backend, &shared.keys, Ctx::now(actor), "fx.csv", body)?;
            Ok(FxAdded {
                stored: added.stored,
                skipped: added.skipped,
            })
        },
    )
    .await
}

/// List the model registry versions
///
/// Every version of the registry mapping model patterns to their licensors, with its rows and the day it takes effect.
/// Every role but a beneficiary reads them.
#[utoipa::path(get, path = "/v1/models", tag = "tables", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<RegistryVersion>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn models(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::tables::registries_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, RegistryVersion::of))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FromQuery {
    /// The month start it takes effect from (default: after the latest closed period).
    pub from: Option<String>,
}

/// Add a model registry version (operator)
///
/// A CSV `pattern,licensor` (`text/csv`, as `revshare models add` reads), taking effect at a month start: `?from=`, by
/// default the month after the latest closed period.
#[utoipa::path(post, path = "/v1/models", tag = "tables", security(("bearer" = [])), params(FromQuery),
    request_body(content = String, description = "CSV `pattern,licensor`", content_type = "text/csv"),
    responses((status = 201, body = Document, description = "The version stored: `{version, effective_from, rows}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_models(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    Q(query): Q<FromQuery>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["text/csv"])?;
    let from = query.from.as_deref().map(|f| day("from", f)).transpose()?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, body| {
            let added = revshare_app::tables::add_registry(backend, &shared.keys, Ctx::now(actor), "", body, from)?;
            Ok(serde_json::json!({
                "version": added.version,
                "effective_from": added.effective_from.to_string(),
                "rows": added.rows,
            }))
        },
    )
    .await
}
