//! The `contributions` endpoints: proposals and their decisions.

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::Ctx;

use super::Result;
use crate::api::{json_body, read, write, Answer, Bearer, Body, Scope, P, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::*;

/// List contributions
///
/// The contributions of the caller's contracts (the operator all), with their state: `proposed`, `accepted` or
/// `rejected`.
#[utoipa::path(get, path = "/v1/contributions", tag = "contributions", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<Contribution>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn contributions(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::contributions::list_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, Contribution::of))
    })
    .await
}

/// Propose a contribution
///
/// A maintenance, update or improvement by the host or the licensor of a contract, dated in the period it counts in.
/// The other side (or the operator) accepts or rejects it.
#[utoipa::path(post, path = "/v1/contributions", tag = "contributions", security(("bearer" = [])),
    request_body = NewContribution,
    responses((status = 201, body = Contribution), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn propose(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let new: NewContribution = json_body(&headers, &body)?;
    let proposal = Proposal::from_text(new.contract, &new.by, &new.kind, &new.date, new.reference)?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, _| {
            Ok(Contribution::of(revshare_app::contributions::propose(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &proposal,
            )?))
        },
    )
    .await
}

async fn decide(
    state: State,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    number: i64,
    decision: Decision,
    body: Bytes,
) -> Result<Answer> {
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        move |backend, shared, actor, _| {
            Ok(Contribution::of(revshare_app::contributions::decide(
                backend,
                &shared.keys,
                Ctx::now(actor),
                number,
                decision,
            )?))
        },
    )
    .await
}

/// Accept a proposed contribution
///
/// Taken by the side that did not propose it, or by the operator: it counts in the statement of the period holding its
/// date. A contribution already decided is a `409 conflict`.
#[utoipa::path(post, path = "/v1/contributions/{number}/accept", tag = "contributions", security(("bearer" = [])),
    params(("number" = i64, Path, description = "The contribution's number, as listed")),
    responses((status = 200, body = Contribution), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn accept(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(number): P<i64>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    decide(state, bearer, headers, scope, number, Decision::Accept, body).await
}

/// Reject a proposed contribution
///
/// Taken by the side that did not propose it, or by the operator. A contribution already decided is a `409 conflict`.
#[utoipa::path(post, path = "/v1/contributions/{number}/reject", tag = "contributions", security(("bearer" = [])),
    params(("number" = i64, Path, description = "The contribution's number, as listed")),
    responses((status = 200, body = Contribution), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(number): P<i64>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    decide(state, bearer, headers, scope, number, Decision::Reject, body).await
}
