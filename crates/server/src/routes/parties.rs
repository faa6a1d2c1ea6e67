//! The `parties` endpoints: parties and tokens.

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::{AppError, Ctx};
use revshare_core::records::Role;

use super::{day, parse, Result};
use crate::api::{json_body, read, write, Answer, Bearer, Body, Scope, P, Q};
use crate::error::{ApiError, ErrorBody};
use crate::state::State;
use crate::views::*;

/// List parties (operator)
///
/// Every party, with its legal name.
#[utoipa::path(get, path = "/v1/parties", tag = "parties", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<crate::views::Party>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn parties(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::parties::list_page(backend, Ctx::now(actor), paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, crate::views::Party::of))
    })
    .await
}

/// Add a party (operator)
///
/// A party with an id (`[a-z0-9][a-z0-9_-]{0,63}`) and a legal name (default: its id). Parties that contracts name
/// exist already.
#[utoipa::path(post, path = "/v1/parties", tag = "parties", security(("bearer" = [])), request_body = NewParty,
    responses((status = 201, body = crate::views::Party), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_party(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let new: NewParty = json_body(&headers, &body)?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, _| {
            let row = revshare_app::parties::add(backend, &shared.keys, Ctx::now(actor), &new.id, new.name.as_deref())?;
            Ok(crate::views::Party::of(row))
        },
    )
    .await
}

/// Set a party's legal name (operator)
///
/// The name statements and payout notices print beside the id (their table and CSV forms; the signed JSON names ids
/// only and never changes), audited as `party_updated`.
#[utoipa::path(patch, path = "/v1/parties/{id}", tag = "parties", security(("bearer" = [])),
    params(("id" = String, Path, description = "The party's id")), request_body = PartyUpdate,
    responses((status = 200, body = crate::views::Party), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn update_party(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    P(id): P<String>,
    Body(body): Body,
) -> Result<Answer> {
    let update: PartyUpdate = json_body(&headers, &body)?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        move |backend, shared, actor, _| {
            let row = revshare_app::parties::update(backend, &shared.keys, Ctx::now(actor), &id, &update.name)?;
            Ok(crate::views::Party::of(row))
        },
    )
    .await
}

/// List tokens (operator)
///
/// Every token: its id, party, role, contracts, expiry and revocation; never a secret.
#[utoipa::path(get, path = "/v1/tokens", tag = "parties", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<Token>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn tokens(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::tokens::list_page(backend, Ctx::now(actor), paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, |r| Token::of(r, None)))
    })
    .await
}

/// Create a token (operator)
///
/// A token `rs_<token_id>_<secret>` for a party and role, shown this once: the store keeps only its SHA-256.
/// `contracts` narrows it (an auditor's must name at least one); `expires`: valid while now is before that day, 00:00
/// UTC. Refuses an `Idempotency-Key`, since repeating its answer would show the secret again.
#[utoipa::path(post, path = "/v1/tokens", tag = "parties", security(("bearer" = [])), request_body = NewToken,
    responses((status = 201, body = Token, description = "The token, shown this once"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_token(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let new: NewToken = json_body(&headers, &body)?;
    let token = revshare_app::tokens::NewToken {
        party: new.party,
        role: parse(Role::parse(&new.role), || {
            format!(
                "role: `{}` must be operator, licensor, host, beneficiary or auditor",
                new.role
            )
        })?,
        contracts: new.contracts,
        expires: new.expires.as_deref().map(|e| day("expires", e)).transpose()?,
    };
    // A replayed answer would repeat the secret: token creation takes no key.
    if headers.contains_key("idempotency-key") {
        return Err(ApiError::from(AppError::Invalid(
            "Idempotency-Key: a token is shown once, so creating one cannot be repeated".into(),
        )));
    }
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, _| {
            let created = revshare_app::tokens::create(backend, &shared.keys, Ctx::now(actor), &token)?;
            Ok(Token::of(created.row, Some(created.token)))
        },
    )
    .await
}

/// Revoke a token (operator)
///
/// Refused from the next request on, in every server process.
#[utoipa::path(delete, path = "/v1/tokens/{token_id}", tag = "parties", security(("bearer" = [])),
    params(("token_id" = String, Path, description = "The token's id: the 12 lowercase hex digits after `rs_`, as `GET /v1/tokens` lists it")),
    responses((status = 200, body = Token), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    P(token_id): P<String>,
) -> Result<Answer> {
    read(&state, bearer, move |backend, shared, actor| {
        Ok(Token::of(
            revshare_app::tokens::revoke(backend, &shared.keys, Ctx::now(actor), &token_id)?,
            None,
        ))
    })
    .await
}
