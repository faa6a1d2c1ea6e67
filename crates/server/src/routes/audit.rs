//! The `audit` endpoints: the log's entries and chain, and `audit verify` as a job;
//! and jobs of every kind (`GET /v1/jobs/{job}`).

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use revshare_app::audit::LogPage;
use revshare_app::Ctx;
use serde::Deserialize;

use super::{Document, Result};
use crate::api::{read, write, Answer, Bearer, Body, Scope, P, Q};
use crate::error::ErrorBody;
use crate::state::State;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Only entries after this seq.
    pub after_seq: Option<i64>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Read the audit chain
///
/// The audit log's hash chain, a link (`seq`, `digest`, `prev_hash`, `hash`) per entry, after `?after_seq=`. Every role
/// reads it.
#[utoipa::path(get, path = "/v1/audit/chain", tag = "audit", security(("bearer" = [])), params(AfterQuery),
    responses((status = 200, body = Document, description = "A page of links: `{items: [{seq, digest, prev_hash, hash}], next_cursor}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn chain(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<AfterQuery>) -> Result<Answer> {
    let page = LogPage::new(query.after_seq, query.limit, query.cursor.as_deref())?;
    read(&state, bearer, move |backend, _, _| {
        revshare_app::audit::links_page(backend, page)
    })
    .await
}

/// Read the audit entries the caller may see
///
/// The full entries of the audit log about the caller's own objects (the operator all), after `?after_seq=`.
#[utoipa::path(get, path = "/v1/audit/entries", tag = "audit", security(("bearer" = [])), params(AfterQuery),
    responses((status = 200, body = Document, description = "A page of entries: `{items: [{seq, time, actor, action, object, payload_sha256, digest, prev_hash, hash}], next_cursor}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn entries(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<AfterQuery>) -> Result<Answer> {
    let page = LogPage::new(query.after_seq, query.limit, query.cursor.as_deref())?;
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::audit::entries_page(backend, actor, page)
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SinceQuery {
    /// Skip re-rating statements closed at or before this entry.
    pub since_seq: Option<i64>,
}

/// Start verifying the store (as a job)
///
/// Starts a job (`202`) verifying the store as `revshare audit verify` does (an auditor: its contracts); `GET
/// /v1/audit/verify/{job}` gives its progress, then its result. `?since_seq=` skips re-rating statements closed at or
/// before that entry.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])), params(SinceQuery),
    responses((status = 202, body = Document, description = "The job, running"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn start_verify(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    Q(query): Q<SinceQuery>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let since = revshare_app::verify_store::since_seq(query.since_seq);
    let runner = state.clone();
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::ACCEPTED,
        move |backend, _, actor, _| {
            let job = revshare_app::jobs::start_verify(backend, Ctx::now(actor))?;
            let (id, actor) = (job.id.clone(), actor.clone());
            let held = runner.jobs.hold(&id);
            // Long work runs after the answer, on a connection of its own; the job is
            // held until it ends, however it ends.
            tokio::task::spawn_blocking(move || {
                let _held = held;
                if let Ok(mut backend) = runner.pool.get() {
                    let _ =
                        revshare_app::jobs::run_verify(backend.as_mut(), &runner.keys, Ctx::now(&actor), &id, since);
                }
            });
            Ok(job)
        },
    )
    .await
}

/// Read a verification job
///
/// Its `state`: `running`, then `holds` (every check passed), `failed` (a check failed: what it found) or `error` (it
/// could not finish).
#[utoipa::path(get, path = "/v1/audit/verify/{job}", tag = "audit", security(("bearer" = [])),
    params(("job" = String, Path, description = "The job's id, `J-` and 16 lowercase hex digits, as `POST /v1/audit/verify` answered it")),
    responses((status = 200, body = Document, description = "The job: `{id, kind, state, created_at, finished_at, result}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn verify_job(AxumState(state): AxumState<State>, bearer: Bearer, P(job): P<String>) -> Result<Answer> {
    read(&state, bearer, move |backend, shared, actor| {
        revshare_app::jobs::get(backend, &shared.jobs, Ctx::now(actor), &job)
    })
    .await
}

/// Read a job
///
/// A job the caller started (the operator reads every job; to anyone else another's job is `404`, as one that does not
/// exist). Its `kind` (`close`, `audit_verify`) and `state`: `running` (with `progress` once the process that runs it
/// reports it: a close's `{phase: reading}`, `{phase: rating, done, total}` (contracts), `{phase: committing}`), then
/// `done` (`result`: the close's answer, as `POST /v1/periods/{period}/close` answers it), `holds` or `failed` (`result`:
/// the verification's report), `error` (`result`: the error answer it got), or `interrupted`: the server process that
/// ran it stopped, no process having reported it for 20 s (a close stored either nothing or all of its statements;
/// closing again returns them or closes).
#[utoipa::path(get, path = "/v1/jobs/{job}", tag = "jobs", security(("bearer" = [])),
    params(("job" = String, Path, description = "The job's id, `J-` and 16 lowercase hex digits, as the `Location` of a `202` gives it")),
    responses((status = 200, body = Document, description = "The job: `{id, kind, state, created_at, finished_at, result, progress}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn job(AxumState(state): AxumState<State>, bearer: Bearer, P(job): P<String>) -> Result<Answer> {
    read(&state, bearer, move |backend, shared, actor| {
        revshare_app::jobs::get_any(backend, &shared.jobs, Ctx::now(actor), &job)
    })
    .await
}
