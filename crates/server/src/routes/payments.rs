//! The `payments` endpoints: payments recorded by their payers, confirmed by their
//! payees, withdrawn, reversed by the operator (statements.md, Ledger).

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::payments::Step;
use revshare_app::Ctx;

use super::{day, Result};
use crate::api::{json_body, read, write, Answer, Bearer, Body, Scope, P, Q};
use crate::error::ErrorBody;
use crate::state::State;
use crate::views::*;

/// List payments
///
/// The payments the caller may see (the operator all), with their state: `recorded`, `confirmed`, `withdrawn` or
/// `reversed`.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<Payment>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn payments(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::payments::list_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, Payment::of))
    })
    .await
}

/// Record a payment
///
/// Recorded by its payer (the token's party; an operator names the `payer`): it posts nothing to the ledger until its
/// payee confirms it.
#[utoipa::path(post, path = "/v1/payments", tag = "payments", security(("bearer" = [])),
    request_body = NewPayment,
    responses((status = 201, body = Payment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn record_payment(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let new: NewPayment = json_body(&headers, &body)?;
    let payment = revshare_app::payments::NewPayment {
        contract: new.contract,
        payer: new.payer,
        payee: new.to,
        amount: new.amount,
        date: day("date", &new.date)?,
        reference: new.reference,
    };
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, _| {
            Ok(Payment::of(revshare_app::payments::record(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &payment,
            )?))
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
            Ok(Payment::of(revshare_app::payments::step(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &id,
                &step,
            )?))
        },
    )
    .await
}

/// Confirm a payment received
///
/// Its payee (or the operator) confirms a recorded payment: the ledger posts it, dated the day paid.
#[utoipa::path(post, path = "/v1/payments/{id}/confirm", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "The payment's id: `P-` and 12 lowercase hex digits")),
    responses((status = 200, body = Payment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn confirm_payment(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    take(state, bearer, headers, scope, id, Step::Confirm, body.to_vec()).await
}

/// Withdraw a recorded payment
///
/// Its payer (or the operator) withdraws a payment not yet confirmed.
#[utoipa::path(post, path = "/v1/payments/{id}/withdraw", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "The payment's id: `P-` and 12 lowercase hex digits")),
    responses((status = 200, body = Payment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn withdraw_payment(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    take(state, bearer, headers, scope, id, Step::Withdraw, body.to_vec()).await
}

/// Reverse a confirmed payment (operator)
///
/// The operator reverses a confirmed payment, with a reason: the ledger posts the opposite legs.
#[utoipa::path(post, path = "/v1/payments/{id}/reverse", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "The payment's id: `P-` and 12 lowercase hex digits")), request_body = Reversal,
    responses((status = 200, body = Payment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn reverse_payment(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(id): P<String>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let reversal: Reversal = json_body(&headers, &body)?;
    let step = Step::Reverse {
        reason: reversal.reason,
    };
    take(state, bearer, headers, scope, id, step, body.to_vec()).await
}
