//! The `disputes` endpoints: disputes of closed statements, opened by a party of the
//! contract and taken through the steps of statements.md (Disputes).

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::disputes::{DisputeView, Step};
use revshare_app::Ctx;
use revshare_core::dispute::Evidence;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Result;
use crate::api::{json_body, read, write, Answer, Bearer, Body, Scope, P, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::{Page, Paging};

/// `POST /v1/disputes`: a dispute of a closed statement, or of one of its lines,
/// by the token's party.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDispute {
    /// `<contract>/<period>`.
    pub statement_id: String,
    /// The disputed line; absent for the whole statement.
    pub line: Option<DisputedLine>,
    /// The claim: signed, at most the contract's scale in decimals; positive means
    /// the host owes more.
    pub amount: String,
    /// 1 to 2000 characters.
    pub reason: String,
    /// Events counted in the statement.
    #[serde(default)]
    pub evidence: Vec<EventRef>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputedLine {
    pub model: String,
    pub use_case: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRef {
    pub source: String,
    pub id: String,
}

/// `…/answer`, `…/reject`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeNote {
    /// 1 to 2000 characters.
    pub note: String,
}

/// `…/resolve`, `…/decide`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeAmount {
    /// Between 0 and the claim, inclusive, with its sign.
    pub amount: String,
}

/// List disputes
///
/// The disputes of the caller's contracts (the operator all), with every step taken.
#[utoipa::path(get, path = "/v1/disputes", tag = "disputes", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<DisputeView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn disputes(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::disputes::list_page(backend, Ctx::now(actor), paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, |d| d))
    })
    .await
}

/// Show a dispute
///
/// The dispute with every step, its actor, party and time.
#[utoipa::path(get, path = "/v1/disputes/{id}", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")),
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn dispute(AxumState(state): AxumState<State>, bearer: Bearer, P(id): P<String>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::disputes::show(backend, Ctx::now(actor), &id)
    })
    .await
}

/// Dispute a statement or one of its lines
///
/// By a party of the statement's contract, within its dispute window: the claim (signed; positive means the host owes
/// more), a reason, and events counted in the statement as evidence. The dispute opens in the state `open`.
#[utoipa::path(post, path = "/v1/disputes", tag = "disputes", security(("bearer" = [])),
    request_body = NewDispute,
    responses((status = 201, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn open_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let new: NewDispute = json_body(&headers, &body)?;
    let dispute = revshare_app::disputes::NewDispute {
        statement_id: new.statement_id,
        line: new.line.map(|l| (l.model, l.use_case)),
        amount: new.amount,
        reason: new.reason,
        evidence: new
            .evidence
            .into_iter()
            .map(|e| Evidence {
                source: e.source,
                id: e.id,
            })
            .collect(),
    };
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, _| {
            Ok(revshare_app::disputes::open(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &dispute,
            )?)
        },
    )
    .await
}

async fn take(
    state: State,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    id: String,
    step: Step,
    body: Vec<u8>,
) -> Result<Answer> {
    write(
        &state,
        bearer,
        &headers,
        scope,
        body,
        StatusCode::OK,
        move |backend, shared, actor, _| {
            Ok(revshare_app::disputes::step(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &id,
                &step,
            )?)
        },
    )
    .await
}

/// Answer an open dispute, with a note
///
/// The counterparty (the party of the contract that did not open it) answers: `open` becomes `answered`.
#[utoipa::path(post, path = "/v1/disputes/{id}/answer", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")), request_body = DisputeNote,
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn answer_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let DisputeNote { note } = json_body(&headers, &body)?;
    take(state, bearer, headers, scope, id, Step::Answer { note }, body.to_vec()).await
}

/// Resolve a dispute, or offer part of the claim
///
/// The counterparty settles an open or answered dispute at an amount between 0 and the claim, with its sign: the whole
/// claim resolves it, less is `offered` to the opener, who accepts it or not.
#[utoipa::path(post, path = "/v1/disputes/{id}/resolve", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")), request_body = DisputeAmount,
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn resolve_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let DisputeAmount { amount } = json_body(&headers, &body)?;
    take(
        state,
        bearer,
        headers,
        scope,
        id,
        Step::Resolve { amount },
        body.to_vec(),
    )
    .await
}

/// Accept the amount offered
///
/// The opener accepts an offer: the dispute is `resolved`, and the next statement closed for the contract carries it
/// once as a `dispute` adjustment, split by the line's rule.
#[utoipa::path(post, path = "/v1/disputes/{id}/accept", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")),
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn accept_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    take(state, bearer, headers, scope, id, Step::Accept, body.to_vec()).await
}

/// Reject a dispute, with a note
///
/// The counterparty rejects an open, answered or offered dispute; either party may escalate it within 14 days.
#[utoipa::path(post, path = "/v1/disputes/{id}/reject", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")), request_body = DisputeNote,
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn reject_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let DisputeNote { note } = json_body(&headers, &body)?;
    take(state, bearer, headers, scope, id, Step::Reject { note }, body.to_vec()).await
}

/// Withdraw a dispute
///
/// The opener withdraws an open, answered or offered dispute: nothing is adjusted.
#[utoipa::path(post, path = "/v1/disputes/{id}/withdraw", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")),
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn withdraw_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    take(state, bearer, headers, scope, id, Step::Withdraw, body.to_vec()).await
}

/// Escalate a dispute to the operator
///
/// Either party, before the dispute window ends (a rejected dispute: within 14 days of the rejection); the operator
/// then decides.
#[utoipa::path(post, path = "/v1/disputes/{id}/escalate", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")),
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn escalate_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    take(state, bearer, headers, scope, id, Step::Escalate, body.to_vec()).await
}

/// Decide an escalated dispute (operator)
///
/// The operator, the deployment's arbiter, resolves an escalated dispute at an amount between 0 and the claim (0
/// settles nothing), carried once by the next statement closed for the contract.
#[utoipa::path(post, path = "/v1/disputes/{id}/decide", tag = "disputes", security(("bearer" = [])),
    params(("id" = String, Path, description = "The dispute's id: `D-` and 12 lowercase hex digits")), request_body = DisputeAmount,
    responses((status = 200, body = DisputeView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn decide_dispute(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let DisputeAmount { amount } = json_body(&headers, &body)?;
    take(
        state,
        bearer,
        headers,
        scope,
        id,
        Step::Decide { amount },
        body.to_vec(),
    )
    .await
}
