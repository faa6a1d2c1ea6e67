//! The `service` endpoints: probes, metrics, the public keys, the caller (the OpenAPI
//! document serves itself, `openapi.rs`).

use axum::extract::State as AxumState;
use axum::http::StatusCode;

use super::{Document, Result};
use crate::api::{read, Answer, Bearer};
use crate::error::ErrorBody;
use crate::state::{blocking, State};
use crate::views::*;

/// Whether the process is up
///
/// Answers `{"status": "ok"}` while the process runs; it reads nothing. No token, never rate limited.
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = Status)))]
pub async fn healthz() -> Result<Answer> {
    Answer::json(StatusCode::OK, &Status { status: "ok".into() })
}

/// Whether the store is reachable and migrated
///
/// Answers `{"status": "ready"}` once a store connection works and its schema is current; `503 unavailable` otherwise.
/// No token, never rate limited.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses((status = 200, body = Status), (status = 503, body = ErrorBody)))]
pub async fn readyz(AxumState(state): AxumState<State>) -> Result<Answer> {
    blocking(&state, |backend, _| {
        revshare_app::ready(backend)?;
        Answer::json(StatusCode::OK, &Status { status: "ready".into() })
    })
    .await
}

/// The service's metrics, in the Prometheus text format
///
/// Requests by route and status, latency histograms, events accepted / duplicate / rejected, statements closed; no
/// party data. No token, never rate limited.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(AxumState(state): AxumState<State>) -> Answer {
    Answer::raw("text/plain; version=0.0.4", state.metrics.render().into_bytes())
}

/// The public signing keys
///
/// Every key that signs statements, payout notices and checkpoints, retired ones included, as `[{alg, key_id,
/// public_key}]`: what `revshare verify` checks a statement against, offline. No token, never rate limited.
#[utoipa::path(get, path = "/v1/keys", tag = "service",
    responses((status = 200, description = "The public signing keys, retired ones included", body = Vec<Document>)))]
pub async fn keys(AxumState(state): AxumState<State>) -> Result<Answer> {
    blocking(&state, |backend, _| {
        let keys = revshare_app::keys::public_keys(backend)?;
        Answer::json(StatusCode::OK, &keys)
    })
    .await
}

/// The caller: its party, role, token id and contracts
///
/// What the bearer token stands for: `contracts` is present when the token is narrowed to some contracts (an auditor's
/// always is).
#[utoipa::path(get, path = "/v1/me", tag = "parties", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(AxumState(state): AxumState<State>, bearer: Bearer) -> Result<Answer> {
    read(&state, bearer, |_, _, actor| {
        Ok(Me {
            party: actor.party().map(str::to_string),
            role: actor.role().as_str().to_string(),
            token_id: actor.id().to_string(),
            contracts: actor.contracts().map(<[String]>::to_vec),
        })
    })
    .await
}
