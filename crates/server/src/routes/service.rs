//! The `service` endpoints: probes, metrics, the public keys, the caller (the OpenAPI
//! document serves itself, `openapi.rs`).

use axum::extract::State as AxumState;
use axum::http::StatusCode;

use super::{Document, Result};
use crate::api::{read, Answer, Bearer};
use crate::error::ErrorBody;
use crate::state::{blocking, State};
use crate::views::*;

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = Status)))]
pub async fn healthz() -> Result<Answer> {
    Answer::json(StatusCode::OK, &Status { status: "ok".into() })
}

#[utoipa::path(get, path = "/readyz", tag = "service",
    responses((status = 200, body = Status), (status = 503, body = ErrorBody)))]
pub async fn readyz(AxumState(state): AxumState<State>) -> Result<Answer> {
    blocking(&state, |backend, _| {
        revshare_app::ready(backend)?;
        Answer::json(StatusCode::OK, &Status { status: "ready".into() })
    })
    .await
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(AxumState(state): AxumState<State>) -> Answer {
    Answer::raw("text/plain; version=0.0.4", state.metrics.render().into_bytes())
}

#[utoipa::path(get, path = "/v1/keys", tag = "service",
    responses((status = 200, description = "The public signing keys, retired ones included", body = Vec<Document>)))]
pub async fn keys(AxumState(state): AxumState<State>) -> Result<Answer> {
    blocking(&state, |backend, _| {
        let keys = revshare_app::keys::public_keys(backend)?;
        Answer::json(StatusCode::OK, &keys)
    })
    .await
}

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
