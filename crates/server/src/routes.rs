//! The endpoints of api.md. Each parses its request, calls one use case of the
//! application layer as the token's party, and answers; the OpenAPI document is
//! generated from these functions.

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, StatusCode};
use revshare_app::close::{CloseRequest, Grace};
use revshare_app::contributions::{Decision, Proposal};
use revshare_app::{AppError, Ctx, Role};
use revshare_core::contract::{ContributionKind, Party};
use revshare_core::period::{Day, Period};
use revshare_core::verify::TreeName;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::{content_type, json_body, read, write, write_with_status, Answer, Bearer, Body, Scope, P, Q};
use crate::error::{ApiError, ErrorBody};
use crate::state::{blocking, State};
use crate::views::*;

type Result<T> = std::result::Result<T, ApiError>;

/// A JSON object without a fixed shape here (a signed document, a report).
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct Document(#[allow(dead_code)] serde_json::Value);

fn period(text: &str) -> Result<Period> {
    Period::parse(text)
        .ok_or_else(|| ApiError::invalid(format!("period: `{text}` is not a period such as 2026-10 or 2026-Q4")))
}

fn day(field: &str, text: &str) -> Result<Day> {
    Day::parse(text).ok_or_else(|| ApiError::invalid(format!("{field}: `{text}` must be a date YYYY-MM-DD")))
}

fn statement_id(contract: &str, period_text: &str) -> Result<String> {
    period(period_text)?;
    Ok(format!("{contract}/{period_text}"))
}

fn parse<T>(value: Option<T>, message: impl FnOnce() -> String) -> Result<T> {
    value.ok_or_else(|| ApiError::invalid(message()))
}

// ---- probes and keys ----

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

#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", responses((status = 200, body = Document)))]
pub async fn openapi() -> Result<Answer> {
    Answer::json(StatusCode::OK, &crate::openapi::document())
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

// ---- usage ----

#[utoipa::path(post, path = "/v1/events", tag = "usage", security(("bearer" = [])),
    request_body(content = String, description = "NDJSON (application/x-ndjson) or a JSON array (application/json) of usage events", content_type = "application/x-ndjson"),
    responses((status = 200, body = revshare_app::submit::BatchOutcome), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody)))]
pub async fn post_events(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["application/x-ndjson", "application/json"])?;
    let submission = blocking(&state, move |backend, shared| {
        let actor = bearer.actor(backend)?;
        Ok(revshare_app::submit::prepare(
            &shared.keys,
            &actor,
            &body,
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
    pub source: String,
    pub id: String,
}

#[utoipa::path(get, path = "/v1/events/locate", tag = "usage", security(("bearer" = [])), params(EventKey),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn locate(AxumState(state): AxumState<State>, bearer: Bearer, Q(key): Q<EventKey>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::locate::locate(backend, actor, &key.source, &key.id)
    })
    .await
}

// ---- contracts and tables ----

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
                    "contract.toml",
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

#[utoipa::path(get, path = "/v1/fx", tag = "tables", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<FxRate>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn fx(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::tables::fx_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, FxRate::of))
    })
    .await
}

#[utoipa::path(post, path = "/v1/fx", tag = "tables", security(("bearer" = [])),
    request_body(content = String, description = "CSV `date,from,to,rate`", content_type = "text/csv"),
    responses((status = 200, body = FxAdded), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_fx(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["text/csv"])?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        |backend, shared, actor, body| {
            let added = revshare_app::tables::add_fx(backend, &shared.keys, Ctx::now(actor), "fx.csv", body)?;
            Ok(FxAdded {
                stored: added.stored,
                skipped: added.skipped,
            })
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/models", tag = "tables", security(("bearer" = [])), params(Paging),
    responses((status = 200, body = Page<RegistryVersion>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn models(AxumState(state): AxumState<State>, bearer: Bearer, Q(paging): Q<Paging>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        let page = revshare_app::tables::registries_page(backend, actor, paging.limit, paging.cursor.as_deref())?;
        Ok(Page::of(page, RegistryVersion::of))
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FromQuery {
    /// The month start it takes effect from (default: after the latest closed period).
    pub from: Option<String>,
}

#[utoipa::path(post, path = "/v1/models", tag = "tables", security(("bearer" = [])), params(FromQuery),
    request_body(content = String, description = "CSV `pattern,licensor`", content_type = "text/csv"),
    responses((status = 201, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
pub async fn add_models(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    Q(query): Q<FromQuery>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    content_type(&headers, &["text/csv"])?;
    let from = query.from.as_deref().map(|f| day("from", f)).transpose()?;
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::CREATED,
        move |backend, shared, actor, body| {
            let added =
                revshare_app::tables::add_registry(backend, &shared.keys, Ctx::now(actor), "models.csv", body, from)?;
            Ok(serde_json::json!({
                "version": added.version,
                "effective_from": added.effective_from.to_string(),
                "rows": added.rows,
            }))
        },
    )
    .await
}

// ---- closing ----

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
    /// Seconds after the period's end before it may close (0 to a year).
    pub grace_seconds: Option<i64>,
}

#[utoipa::path(post, path = "/v1/periods/{period}/close", tag = "statements", security(("bearer" = [])),
    params(("period" = String, Path, description = "2026-10 or 2026-Q4"), CloseQuery),
    responses((status = 200, body = CloseAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn close(
    AxumState(state): AxumState<State>,
    bearer: Bearer,
    headers: HeaderMap,
    P(period_text): P<String>,
    Q(query): Q<CloseQuery>,
    scope: Scope,
    Body(body): Body,
) -> Result<Answer> {
    let request = CloseRequest {
        period: period(&period_text)?,
        contract: query.contract,
        grace: Grace::new(query.grace_seconds.unwrap_or(0)).map_err(ApiError::from)?,
        dry_run: query.dry_run.unwrap_or(false),
        allow_empty: query.allow_empty.unwrap_or(false),
    };
    write(
        &state,
        bearer,
        &headers,
        scope,
        body.to_vec(),
        StatusCode::OK,
        move |backend, shared, actor, _| {
            let outcome = revshare_app::close::close(backend, &shared.keys, Ctx::now(actor), &request)?;
            let closed = outcome.statements.iter().filter(|s| s.new && !request.dry_run).count();
            shared.metrics.closes.inc_by(closed as u64);
            // The close wrote these itself: one that does not read back is a broken
            // invariant, answered `integrity`, never a `null` in its place.
            let broken =
                |e: serde_json::Error| AppError::Integrity(format!("a closed statement does not read back: {e}"));
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
            })
        },
    )
    .await
}

// ---- statements ----

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementsQuery {
    pub contract: Option<String>,
    pub period: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

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

#[utoipa::path(get, path = "/v1/statements/{contract}/{period}", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path), ("period" = String, Path)),
    responses((status = 200, description = "The signed statement exactly as stored (for a beneficiary, its signed payout notice); `Accept: text/csv` gives the CSV form", body = Document),
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
            (revshare_app::statements::Document::Statement(shown), true) => Ok(Answer::raw(
                "text/csv",
                revshare_app::render::statement_csv(std::slice::from_ref(&shown.statement))?.into_bytes(),
            )),
            _ => Ok(Answer::raw("application/json", document.json().as_bytes().to_vec())),
        }
    })
    .await
}

#[utoipa::path(get, path = "/v1/statements/{contract}/{period}/proof", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path), ("period" = String, Path), EventKey),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
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
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/statements/{contract}/{period}/leaves", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path), ("period" = String, Path), LeavesQuery),
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

#[utoipa::path(get, path = "/v1/statements/{contract}/{period}/inputs", tag = "statements", security(("bearer" = [])),
    params(("contract" = String, Path), ("period" = String, Path)),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
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

// ---- contributions ----

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
    let proposal = Proposal {
        contract: new.contract,
        by: parse(Party::parse(&new.by), || {
            format!("by: `{}` must be host or licensor", new.by)
        })?,
        kind: parse(ContributionKind::parse(&new.kind), || {
            format!("kind: `{}` must be maintenance, update or improvement", new.kind)
        })?,
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

#[utoipa::path(post, path = "/v1/contributions/{number}/accept", tag = "contributions", security(("bearer" = [])),
    params(("number" = i64, Path)),
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

#[utoipa::path(post, path = "/v1/contributions/{number}/reject", tag = "contributions", security(("bearer" = [])),
    params(("number" = i64, Path)),
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

// ---- the audit log ----

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Only entries after this seq.
    pub after_seq: Option<i64>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit/chain", tag = "audit", security(("bearer" = [])), params(AfterQuery),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn chain(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<AfterQuery>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, _| {
        revshare_app::audit::links_page(backend, query.after_seq, query.limit, query.cursor.as_deref())
    })
    .await
}

#[utoipa::path(get, path = "/v1/audit/entries", tag = "audit", security(("bearer" = [])), params(AfterQuery),
    responses((status = 200, body = Document), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn entries(AxumState(state): AxumState<State>, bearer: Bearer, Q(query): Q<AfterQuery>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::audit::entries_page(backend, actor, query.after_seq, query.limit, query.cursor.as_deref())
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
    let since = query.since_seq;
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
            // Long work runs after the answer, on a connection of its own.
            tokio::task::spawn_blocking(move || {
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

#[utoipa::path(get, path = "/v1/audit/verify/{job}", tag = "audit", security(("bearer" = [])),
    params(("job" = String, Path)),
    responses((status = 200, body = Document), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn verify_job(AxumState(state): AxumState<State>, bearer: Bearer, P(job): P<String>) -> Result<Answer> {
    read(&state, bearer, move |backend, _, actor| {
        revshare_app::jobs::get(backend, actor, &job)
    })
    .await
}

// ---- parties and tokens ----

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

#[utoipa::path(delete, path = "/v1/tokens/{token_id}", tag = "parties", security(("bearer" = [])),
    params(("token_id" = String, Path)),
    responses((status = 200, body = Token), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
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
