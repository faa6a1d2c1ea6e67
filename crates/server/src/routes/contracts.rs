//! The `contracts` endpoints: contract versions.

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::Ctx;
use serde::Deserialize;

use super::Result;
use crate::api::{content_type, read, write_with_status, Answer, Bearer, Body, Scope, P, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::*;

/// List the contract versions the caller may see
///
/// Every version of every contract the caller may see (its own contracts; the operator all), ascending by creation, a
/// page at a time.
#[utoipa::path(get, path = "/v1/contracts", tag = "contracts", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<Contract>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn contracts(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::contracts::list_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, |r| Contract::of(r, false)))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version (default: the latest).
    pub version: Option<i64>,
}

/// Show a contract version
///
/// The latest version of the contract, or `?version=`, with its terms. A contract the caller may not see answers `404`,
/// as if it did not exist.
#[utoipa::path(get, path = "/v1/contracts/{id}", tag = "contracts", security(("bearer" = [])),
    params(("id" = String, Path, description = "The contract id"), VersionQuery),
    responses((status = 200, body = Contract), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn contract(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    P(id): P<String>,
    Q(query): Q<VersionQuery>,
) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let row = revshare_app::contracts::show(backend, actor, &id, query.version)?;
        Ok(Contract::of(row, true))
    })
    .await
}

/// Add a contract version (operator)
///
/// The body is a contract file (`application/toml`, as `revshare contract add` reads). A new version answers `201`; the
/// same file again answers `200` with `stored: false`. Parties the contract names are created if new.
#[utoipa::path(post, path = "/v1/contracts", tag = "contracts", security(("bearer" = [])),
    request_body(content = String, description = "A contract file", content_type = "application/toml"),
    responses((status = 201, body = Added), (status = 200, body = Added, description = "Already stored"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_contract(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["application/toml"])?;
    write_with_status(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        |backend, shared, actor, body| {
            Ok(
                match revshare_app::contracts::add_version(
                    backend,
                    &shared.keys,
                    Ctx::now(actor),
                    // An upload has no file name: none is stored.
                    "",
                    body,
                )? {
                    revshare_app::contracts::Added::Stored { id, version, sha256 } => (
                        StatusCode::CREATED,
                        Added {
                            id,
                            version,
                            sha256,
                            stored: true,
                        },
                    ),
                    revshare_app::contracts::Added::AlreadyStored { id, version, sha256 } => (
                        StatusCode::OK,
                        Added {
                            id,
                            version,
                            sha256,
                            stored: false,
                        },
                    ),
                },
            )
        },
    )
    .await
}
