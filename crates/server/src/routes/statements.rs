//! The `statements` endpoints: closing a period, statements, proofs, leaves, inputs.

use std::time::{Duration, Instant};

use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use revshare_app::close::{CloseRequest, Grace};
use revshare_app::jobs::{Ending, Held};
use revshare_app::{AppError, Ctx};
use revshare_core::verify::TreeName;
use serde::Deserialize;

use super::{parse, period, statement_id, Document, EventKey, Result};
use crate::api::{read, write, write_with_status, Answer, Bearer, Body, Scope, P, Q};
use crate::error::{ApiError, ErrorBody};
use crate::state::{blocking, Shared, State};
use crate::views::*;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CloseQuery {
    /// Only this contract.
    pub contract: Option<String>,
    /// Rate and answer the unsigned statements; store nothing.
    pub dry_run: Option<bool>,
    /// Close a period without events after one with some.
    pub allow_empty: Option<bool>,
    /// Confirm that settlement starts at this period for every contract it closes
    /// for the first time (a contract taken over mid-term). Without it, such a
    /// first close that would leave an earlier period of the contract's term
    /// unsettled (events dated in it, or a minimum guarantee owed) is refused with
    /// 409 `settlement_start_required`, naming that period.
    pub settlement_start: Option<bool>,
    /// Seconds after the period's end before it may close (0 to a year).
    pub grace_seconds: Option<i64>,
    /// Answer `202` with the close's job at once (`Location: /v1/jobs/{id}`), not
    /// its statements when it ends. Not with `dry_run`.
    #[serde(rename = "async")]
    pub r#async: Option<bool>,
}

/// Close a period (operator)
///
/// Rates the period's events and signs a statement for each contract due (statements.md). `?dry_run=true` answers the
/// unsigned statements and stores nothing; `?contract=` closes that contract only. A period that has not ended (plus
/// `?grace_seconds=`) is `409 too_early`, with when it may close.
///
/// A close runs as a job: `?async=true` answers `202` at once, and a close still running when the request limit nears
/// answers `202` then; either with the job (`Location: /v1/jobs/{id}`), whose `GET` gives its progress, then this
/// answer. A dry run stores nothing, a job included: `?async=true&dry_run=true` is `400`.
#[utoipa::path(post, path = "/v1/periods/{period}/close", tag = "statements", security(("bearer" = [])),
    params(("period" = String, Path, description = "2026-10 or 2026-Q4"), CloseQuery),
    responses((status = 200, body = CloseAnswer),
        (status = 202, body = Document, description = "The job, running: `{id, kind, state, created_at, finished_at, result, progress}`",
            headers(("Location" = String, description = "The job: `/v1/jobs/{id}`"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(period_text): P<String>,
    Q(query): Q<CloseQuery>,
    scope: Scope,
    Body(body): Body,
) -> Result<Response> {
    let began = Instant::now();
    let request = CloseRequest {
        period: period(&period_text)?,
        contract: query.contract,
        grace: Grace::new(query.grace_seconds.unwrap_or(0)).map_err(ApiError::from)?,
        dry_run: query.dry_run.unwrap_or(false),
        allow_empty: query.allow_empty.unwrap_or(false),
        settlement_start: query.settlement_start.unwrap_or(false),
    };
    let wait = match query.r#async.unwrap_or(false) {
        true => Duration::ZERO,
        false => state.close_wait,
    };
    if request.dry_run && wait > Duration::ZERO {
        // A dry run stores nothing, a job included: it answers as a request.
        let answer = write(
            &state,
            bearer,
            &headers,
            scope,
            body.to_vec(),
            StatusCode::OK,
            move |backend, shared, actor, _| {
                let outcome = revshare_app::close::close(backend, &shared.keys, Ctx::now(actor), &request)?;
                close_answer(shared, &request, outcome)
            },
        )
        .await?;
        return Ok(answer.into_response());
    }
    let runner = state.clone();
    let answer = write_with_status(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        move |backend, shared, actor, _| {
            // The close's own connection, taken first: a job that starts always has one.
            let mut closing = shared.pool.get()?;
            let (job, held) = match revshare_app::jobs::start_close(backend, &shared.jobs, Ctx::now(actor), &request) {
                Ok(started) => started,
                Err(refused) => {
                    shared.pool.put(closing);
                    return Err(refused.into());
                }
            };
            let (done, answered) = std::sync::mpsc::channel();
            let actor = actor.clone();
            // A close that panics drops its connection (rolled back, not reused), its
            // job's hold (it then reads `interrupted`) and `done` (its request, if it
            // still waits, answers 500).
            tokio::task::spawn_blocking(move || {
                let answer = run_close(&runner, closing.as_mut(), held, &actor, &request);
                runner.pool.put(closing);
                // The request may have answered 202 and gone.
                let _ = done.send(answer);
            });
            let job_answer = || serde_json::to_value(&job).map_err(|e| ApiError::internal(format!("a job: {e}")));
            match answered.recv_timeout(wait.saturating_sub(began.elapsed())) {
                Ok(Ok(answer)) => Ok((StatusCode::OK, answer)),
                Ok(Err(error)) => Err(error),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok((StatusCode::ACCEPTED, job_answer()?)),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ApiError::internal(format!(
                    "close job {} stopped before it ended",
                    job.id
                ))),
            }
        },
    )
    .await?;
    Ok(with_location(answer))
}

/// Runs the close job `held` to its end, stores the end in the job, and gives the answer
/// (or the error) the request answers if it still waits.
fn run_close(
    state: &State,
    backend: &mut dyn revshare_app::Backend,
    held: Held,
    actor: &revshare_app::Actor,
    request: &CloseRequest,
) -> std::result::Result<serde_json::Value, ApiError> {
    let outcome = revshare_app::close::close_watched(
        backend,
        &state.keys,
        Ctx::now(actor),
        request,
        &state.jobs.watch(held.id()),
    );
    let answer = outcome
        .map_err(ApiError::from)
        .and_then(|outcome| close_answer(state, request, outcome))
        .and_then(|answer| serde_json::to_value(answer).map_err(|e| ApiError::internal(format!("an answer: {e}"))));
    let ending = match &answer {
        Ok(value) => Ending::Done(value.clone()),
        Err(error) => Ending::Error(serde_json::to_value(error.body()).unwrap_or_default()),
    };
    // A job whose end cannot be stored reads `interrupted` after a restart.
    let _ = revshare_app::jobs::finish_close(backend, held, Ctx::now(actor), ending);
    answer
}

/// A close's answer, the same whether the request or its job gives it.
fn close_answer(
    shared: &Shared,
    request: &CloseRequest,
    outcome: revshare_app::close::CloseOutcome,
) -> std::result::Result<CloseAnswer, ApiError> {
    let closed = outcome.statements.iter().filter(|s| s.signed_now()).count();
    shared.metrics.closes.inc_by(closed as u64);
    // The close wrote these itself: one that does not read back is a broken
    // invariant, answered `integrity`, never a `null` in its place.
    let broken = |e: serde_json::Error| AppError::Integrity(format!("a closed statement does not read back: {e}"));
    let contracts = outcome
        .contracts
        .iter()
        .map(serde_json::to_value)
        .collect::<std::result::Result<_, _>>();
    let statements = outcome
        .statements
        .iter()
        .map(|s| serde_json::from_str(&s.json))
        .collect::<std::result::Result<_, _>>();
    Ok(CloseAnswer {
        period: request.period.to_string(),
        dry_run: request.dry_run,
        contracts: contracts.map_err(broken)?,
        unselected: outcome
            .unselected
            .into_iter()
            .map(|(host, events)| Unselected { host, events })
            .collect(),
        statements: statements.map_err(broken)?,
        mau_flags: outcome.mau_flags,
    })
}

/// A `202`'s job as `Location` (also when an idempotent repeat answers it again).
fn with_location(answer: Answer) -> Response {
    let location = (answer.status == StatusCode::ACCEPTED)
        .then(|| serde_json::from_slice::<serde_json::Value>(&answer.body).ok())
        .flatten()
        .and_then(|job| job["id"].as_str().map(|id| format!("/v1/jobs/{id}")))
        .and_then(|path| HeaderValue::from_str(&path).ok());
    let mut response = answer.into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

// ---- statements ----

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementsQuery {
    /// Only this contract's statements.
    pub contract: Option<String>,
    /// Only this period's statements: 2026-10 or 2026-Q4.
    pub period: Option<String>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// List the statements the caller may see
///
/// One entry per statement (or, for a beneficiary, payout notice), filtered by `?contract=` and `?period=`, ascending
/// by creation.
#[utoipa::path(get, path = "/v1/statements", tag = "statements", security(("bearer" = [])), params(StatementsQuery),
    responses((status = 200, body = Page<StatementEntry>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn statements(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    Q(query): Q<StatementsQuery>,
) -> Result<Answer> {
    if let Some(p) = &query.period {
        period(p)?;
    }
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::statements::entries_page(
            backend,
            actor,
            (query.contract.as_deref(), query.period.as_deref()),
            query.limit,
            query.cursor.as_deref(),
        )?;
        Ok(Page::of(page, |e| e))
    })
    .await
}

/// Read a signed statement
///
/// The signed statement, the exact stored bytes (for a beneficiary, its signed payout notice). `Accept: text/csv` gives
/// the CSV form instead, with the parties' legal names, which the signed JSON does not carry.
#[utoipa::path(get, path = "/v1/statements/{contract}/{period}", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path, description = "The contract id"),
        ("period" = String, Path, description = "The statement's period: 2026-10 or 2026-Q4")),
    responses((status = 200, description = "The signed statement exactly as stored (for a beneficiary, its signed payout notice); `Accept: text/csv` gives the CSV form (with the parties' names, which the signed JSON does not carry)",
            content((Document = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn statement(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P((contract, period_text)): P<(String, String)>,
) -> Result<Answer> {
    let id = statement_id(&contract, &period_text)?;
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    blocking(&state, move |backend, _| {
        let document =
            revshare_app::statements::document_for_token(backend, bearer.token()?, &id, revshare_app::now())?;
        match (&document, csv) {
            (revshare_app::statements::Document::Statement(shown), true) => {
                // Only the names of the document's own parties are written.
                let names = revshare_app::render::Names::of(backend)?;
                Ok(Answer::raw(
                    "text/csv",
                    revshare_app::render::statement_csv(std::slice::from_ref(shown.statement()), &names)?.into_bytes(),
                ))
            }
            (revshare_app::statements::Document::Notice(shown), true) => {
                let names = revshare_app::render::Names::of(backend)?;
                let mut bytes = Vec::new();
                revshare_app::render::write_notice(&mut bytes, &shown.notice, &names)
                    .map_err(|e| AppError::Invalid(format!("writing CSV: {e}")))?;
                Ok(Answer::raw("text/csv", bytes))
            }
            _ => Ok(Answer::raw("application/json", document.json().as_bytes().to_vec())),
        }
    })
    .await
}

/// Prove an event is counted in a statement
///
/// The inclusion proof of the event `(source, id)` in the statement's events tree (statements.md): with the statement
/// and the public key, `revshare verify` checks it offline.
#[utoipa::path(get, path = "/v1/statements/{contract}/{period}/proof", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path, description = "The contract id"),
        ("period" = String, Path, description = "The statement's period: 2026-10 or 2026-Q4"), EventKey),
    responses((status = 200, body = Document, description = "The inclusion proof: `{statement_id, tree, leaf_index, tree_size, leaf_hash, audit_path, root}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn proof(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    P((contract, period_text)): P<(String, String)>,
    Q(key): Q<EventKey>,
) -> Result<Answer> {
    let id = statement_id(&contract, &period_text)?;
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::statements::prove(backend, actor, &id, &key.source, &key.id)
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeavesQuery {
    /// `events`, `prior_period:PERIOD` or `voided:PERIOD`.
    pub tree: String,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Read one tree's leaves of a statement
///
/// The leaves of the tree `?tree=` (`events`, `prior_period:PERIOD` or `voided:PERIOD`) as hex, a page at a time;
/// `Accept: application/octet-stream` gives the page as raw 32-byte leaves, concatenated.
#[utoipa::path(get, path = "/v1/statements/{contract}/{period}/leaves", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path, description = "The contract id"),
        ("period" = String, Path, description = "The statement's period: 2026-10 or 2026-Q4"), LeavesQuery),
    responses((status = 200, body = LeavesPage, description = "One page of the tree's leaves; `Accept: application/octet-stream` gives them as raw 32-byte leaves"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn leaves(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P((contract, period_text)): P<(String, String)>,
    Q(query): Q<LeavesQuery>,
) -> Result<Answer> {
    let id = statement_id(&contract, &period_text)?;
    let tree = parse(TreeName::parse(&query.tree), || {
        format!(
            "tree: `{}` is not events, prior_period:PERIOD or voided:PERIOD",
            query.tree
        )
    })?;
    let raw = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    blocking(&state, move |backend, _| {
        let actor = bearer.actor(backend)?;
        let (count, page) =
            revshare_app::statements::leaves_page(backend, &actor, &id, &tree, query.limit, query.cursor.as_deref())?;
        if raw {
            return Ok(Answer::raw("application/octet-stream", page.items.concat()));
        }
        Answer::json(
            StatusCode::OK,
            &LeavesPage {
                statement_id: id,
                tree: tree.to_string(),
                count,
                leaves: page.items.iter().map(hex::encode).collect(),
                next_cursor: page.next_cursor,
            },
        )
    })
    .await
}

/// Read a statement's inputs as of its close
///
/// What the statement was rated with, as of its close (statements.md, Reconciliation): what re-rating it needs.
#[utoipa::path(get, path = "/v1/statements/{contract}/{period}/inputs", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path, description = "The contract id"),
        ("period" = String, Path, description = "The statement's period: 2026-10 or 2026-Q4")),
    responses((status = 200, body = Document, description = "The inputs: `{statement_id, contract, fx, contributions, models, voids}`"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn inputs(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    P((contract, period_text)): P<(String, String)>,
) -> Result<Answer> {
    let id = statement_id(&contract, &period_text)?;
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::statements::inputs(backend, actor, &id)
    })
    .await
}
