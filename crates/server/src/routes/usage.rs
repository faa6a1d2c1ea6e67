//! The `usage` endpoints: usage batches, voids, and where an event is counted.

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::Ctx;
use serde::Deserialize;

use super::{Document, Result};
use crate::api::{content_type, json_body, read, write, Answer, Bearer, Body, Scope, Q};
use crate::error::ErrorBody;
use crate::state::{blocking, State};
use crate::views::*;

/// Post a batch of usage events (host)
///
/// A batch as NDJSON (`application/x-ndjson`, one event a line) or as a JSON array (`application/json`), at most 10,000
/// events and 16 MiB. Usage is idempotent by `(source, id)`: an event already stored counts as a duplicate. Events
/// whose `data.host` is not the token's party or whose `source` is neither the party nor `<party>/…` are rejected one
/// by one (`host_mismatch`, `source_mismatch`) and not stored. The answer comes once the batch is committed: an
/// acknowledged batch is stored. No `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/events", tag = "usage", security(("bearer" = [])),
    request_body(description = "Usage events (usage-events.md): NDJSON, one event a line, or a JSON array of events",
        content((String = "application/x-ndjson"), (Vec<Document> = "application/json"))),
    responses((status = 200, body = revshare_app::submit::BatchOutcome), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn post_events(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer> {
    let framing = match content_type(&headers, &["application/x-ndjson", "application/json"])?.as_str() {
        "application/json" => revshare_app::submit::Framing::Json,
        _ => revshare_app::submit::Framing::Ndjson,
    };
    let submission = blocking(&state, move |backend, shared| {
        let actor = bearer.actor(backend)?;
        Ok(revshare_app::submit::prepare(
            &shared.keys,
            &actor,
            &body,
            framing,
            revshare_app::now(),
        )?)
    })
    .await?;
    let outcome = state.ingest.store(submission).await?;
    let events = &state.metrics.events;
    events.with_label_values(&["accepted"]).inc_by(outcome.accepted);
    events.with_label_values(&["duplicate"]).inc_by(outcome.duplicates);
    events
        .with_label_values(&["rejected"])
        .inc_by(outcome.rejected.len() as u64);
    Answer::json(StatusCode::OK, &outcome)
}

/// Void an event
///
/// Marks a stored event void with a reason (statements.md, Voided events): the operator any event, a host its own while
/// the dispute windows of the periods counting it are open. Voiding an event already void answers it unchanged (`new:
/// false`).
#[utoipa::path(post, path = "/v1/events/void", tag = "usage", security(("bearer" = [])),
    request_body = Void,
    responses((status = 200, body = Voided), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn void(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let request: Void = json_body(&headers, &body)?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        move |backend, shared, actor, _| {
            let voided = revshare_app::void::void(
                backend,
                &shared.keys,
                Ctx::now(actor),
                &request.source,
                &request.id,
                &request.reason,
            )?;
            let (row, new) = match voided {
                revshare_app::void::Voided::Now(row) => (row, true),
                revshare_app::void::Voided::Already(row) => (row, false),
            };
            Ok(Voided {
                source: row.source,
                id: row.id,
                new,
                voided_at: row.voided_at,
                by: row.actor,
                reason: row.reason,
            })
        },
    )
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventKey {
    /// The event's `source`, as posted.
    pub source: String,
    /// The event's `id` within its source, as posted.
    pub id: String,
}

/// Where an event is counted, or why not
///
/// For the event `(source, id)`: the places where it is counted, or why it is not. The operator sees every event, a
/// host its own, a licensor or an auditor those its contracts select (with voids, their reasons and actors); a
/// beneficiary may not locate events (`403`).
#[utoipa::path(get, path = "/v1/events/locate", tag = "usage", security(("bearer" = [])), params(EventKey),
    responses((status = 200, body = Document, description = "Where the event is counted, and where not and why"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn locate(AxumState(state): AxumState<State>, bearer: Bearer, Q(key): Q<EventKey>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::locate::locate(backend, actor, &key.source, &key.id)
    })
    .await
}
