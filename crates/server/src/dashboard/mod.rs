//! The web dashboard (docs/dashboard.md): server-rendered HTML pages at `/`, signed
//! in with a token into a session cookie (`revshare_app::sessions`). Each page calls
//! the use cases its API endpoint calls, as the session's actor, so it shows exactly
//! what the API shows that token; access is decided in the application layer only.
//! The stylesheet and the script are compiled into the binary (`include_str!`).

mod pages;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use revshare_app::sessions::{Resumed, SESSION_SECONDS};
use revshare_app::{AppError, Backend, ErrorKind};
use serde::Deserialize;

use crate::state::{blocking, blocking_write, Shared, State};

/// The session cookie's name.
pub const COOKIE: &str = "revshare_session";

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("dashboard.js");

/// The dashboard's routes (merged into the API's router).
pub fn routes() -> Router<State> {
    Router::new()
        .route("/", get(overview))
        .route("/sign-in", get(sign_in_form).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/statements", get(statements))
        .route("/statements/{contract}/{period}", get(statement))
        .route("/statements/{contract}/{period}/json", get(statement_json))
        .route("/statements/{contract}/{period}/csv", get(statement_csv))
        .route("/statements/{contract}/{period}/leaves", get(statement_leaves))
        .route("/disputes", get(disputes).post(open_dispute))
        .route("/disputes/{id}/{step}", post(dispute_step))
        .route("/ledger", get(ledger))
        .route("/payments", post(record_payment))
        .route("/payments/{id}/{step}", post(payment_step))
        .route("/contributions", get(contributions).post(propose_contribution))
        .route("/contributions/{number}/{decision}", post(decide_contribution))
        .route("/mau", get(mau))
        .route("/audit", get(audit))
        .route("/parties", get(parties))
        .route("/assets/style.css", get(style))
        .route("/assets/dashboard.js", get(script))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

/// The session cookie of a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Whether the request came over TLS (a proxy in front says so): the cookie is then
/// `Secure`.
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn set_cookie(headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    let secure = if behind_tls(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("revshare_session=; Path=/; Max-Age=0"))
}

fn html(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

fn redirect(to: &'static str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    response
}

/// A refusal or failure as a page: no session (or a bad one) goes to the sign-in
/// page, dropping the cookie; the rest is a page with the API's status.
fn failure(headers: &HeaderMap, error: &AppError) -> Response {
    let status = match error.kind() {
        ErrorKind::Unauthenticated => {
            let mut response = redirect("/sign-in");
            if session_cookie(headers).is_some() {
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, set_cookie(headers, "", 0));
            }
            return response;
        }
        kind => crate::error::status_of(kind),
    };
    html(status, pages::error(status, &error.to_string()))
}

/// What a page's work returns: its title and body, or a use case's refusal.
type PageResult = Result<(String, Markup), AppError>;

/// Reads the session, runs `work` as its actor on a store connection, and lays the
/// page out (or answers the refusal as a page).
async fn page<F>(state: &State, headers: HeaderMap, work: F) -> Response
where
    F: FnOnce(&mut dyn Backend, &Shared, &Resumed) -> PageResult + Send + 'static,
{
    let cookie = session_cookie(&headers).map(str::to_string);
    let outcome = blocking(state, move |backend, shared| {
        Ok(run(backend, shared, cookie.as_deref(), work))
    })
    .await;
    match outcome {
        Ok(Ok((session, title, body))) => html(StatusCode::OK, pages::layout(&title, Some(&session), body)),
        Ok(Err(error)) => failure(&headers, &error),
        Err(error) => html(error.status, pages::error(error.status, &error.message)),
    }
}

fn run<F>(
    backend: &mut dyn Backend,
    shared: &Shared,
    cookie: Option<&str>,
    work: F,
) -> Result<(Resumed, String, Markup), AppError>
where
    F: FnOnce(&mut dyn Backend, &Shared, &Resumed) -> PageResult,
{
    let session = resume(backend, shared, cookie)?;
    let (title, body) = work(backend, shared, &session)?;
    Ok((session, title, body))
}

fn resume(backend: &mut dyn Backend, shared: &Shared, cookie: Option<&str>) -> Result<Resumed, AppError> {
    let cookie = cookie.ok_or_else(|| AppError::Unauthenticated("sign in first".into()))?;
    revshare_app::sessions::resume(backend, &shared.keys, cookie, revshare_app::now())
}

/// A form posted by another site (its `Origin` not this host) is refused before
/// anything else: the sign-in form has no session to carry a CSRF token yet.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && origin == host
}

fn cross_site() -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::error(StatusCode::FORBIDDEN, "this form was posted from another site"),
    )
}

// ---- sign-in, sign-out ----

async fn sign_in_form(AxumState(state): AxumState<State>, headers: HeaderMap) -> Response {
    let cookie = session_cookie(&headers).map(str::to_string);
    let signed_in = blocking(&state, move |backend, shared| {
        Ok(resume(backend, shared, cookie.as_deref()).is_ok())
    })
    .await
    .unwrap_or(false);
    if signed_in {
        return redirect("/");
    }
    html(StatusCode::OK, pages::layout("Sign in", None, pages::sign_in(None)))
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn sign_in(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_site();
    }
    let Ok(Form(form)) = form else {
        return html(
            StatusCode::BAD_REQUEST,
            pages::layout("Sign in", None, pages::sign_in(Some("the form must carry a token"))),
        );
    };
    let token = form.token.trim().to_string();
    let session = blocking(&state, move |backend, shared| {
        Ok(revshare_app::sessions::sign_in(
            backend,
            &shared.keys,
            &token,
            revshare_app::now(),
        ))
    })
    .await;
    match session {
        Ok(Ok(session)) => {
            let mut response = redirect("/");
            response.headers_mut().insert(
                header::SET_COOKIE,
                set_cookie(&headers, &session.cookie, SESSION_SECONDS),
            );
            response
        }
        Ok(Err(error)) if error.kind() == ErrorKind::Unauthenticated || error.kind() == ErrorKind::Invalid => html(
            StatusCode::UNAUTHORIZED,
            pages::layout("Sign in", None, pages::sign_in(Some(&error.to_string()))),
        ),
        Ok(Err(error)) => failure(&headers, &error),
        Err(error) => html(error.status, pages::error(error.status, &error.message)),
    }
}

#[derive(Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: String,
}

/// Checks a posted form's session and CSRF field; the session, or the answer.
async fn posted(
    state: &State,
    headers: &HeaderMap,
    csrf: Result<Form<Csrf>, FormRejection>,
) -> Result<Resumed, Response> {
    checked(state, headers, csrf.map(|Form(c)| c.csrf).unwrap_or_default()).await
}

/// [`posted`] for a form of more fields, its CSRF field given.
async fn checked(state: &State, headers: &HeaderMap, given: String) -> Result<Resumed, Response> {
    if !same_origin(headers) {
        return Err(cross_site());
    }
    let cookie = session_cookie(headers).map(str::to_string);
    let checked = blocking(state, move |backend, shared| {
        Ok(resume(backend, shared, cookie.as_deref())
            .and_then(|session| revshare_app::sessions::check_csrf(&session, &given).map(|()| session)))
    })
    .await;
    match checked {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(error)) => Err(failure(headers, &error)),
        Err(error) => Err(html(error.status, pages::error(error.status, &error.message))),
    }
}

async fn sign_out(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    csrf: Result<Form<Csrf>, FormRejection>,
) -> Response {
    if let Err(response) = posted(&state, &headers, csrf).await {
        return response;
    }
    let mut response = redirect("/sign-in");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&headers, "", 0));
    response
}

// ---- pages ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Paging {
    limit: Option<usize>,
    cursor: Option<String>,
}

type Paged = Result<Query<Paging>, axum::extract::rejection::QueryRejection>;

/// A page's query string, or the refusal naming what in it does not parse.
fn query_of<T>(query: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, AppError> {
    query
        .map(|Query(value)| value)
        .map_err(|e| AppError::Invalid(format!("query: {}", e.body_text())))
}

/// A list's paging, its limit within the dashboard's (a page weighs at most 200 KB).
fn paging(query: Paged) -> Result<Paging, AppError> {
    let paging = query_of(query)?;
    Ok(Paging {
        limit: revshare_app::page::dashboard_limit(paging.limit)?,
        cursor: paging.cursor,
    })
}

/// The overview's tables, a cursor each (the page of one table, the others' first).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OverviewPages {
    accrual: Option<String>,
    model: Option<String>,
    use_case: Option<String>,
    host: Option<String>,
    exceptions: Option<String>,
    statements: Option<String>,
}

async fn overview(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    query: Result<Query<OverviewPages>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&state, headers, move |backend, _shared, session| {
        let query = query_of(query)?;
        let cursors = revshare_app::dashboard::Pages {
            accrual: query.accrual,
            model: query.model,
            use_case: query.use_case,
            host: query.host,
            exceptions: query.exceptions,
            statements: query.statements,
        };
        let overview = revshare_app::dashboard::overview(backend, revshare_app::Ctx::now(&session.actor), &cursors)?;
        let pagers = pages::OverviewPagers::of(&cursors, &overview)?;
        Ok(("Overview".into(), pages::overview(&overview, &pagers)))
    })
    .await
}

async fn statements(AxumState(state): AxumState<State>, headers: HeaderMap, query: Paged) -> Response {
    page(&state, headers, move |backend, _, session| {
        let paging = paging(query)?;
        let page = revshare_app::statements::entries_page(
            backend,
            &session.actor,
            (None, None),
            paging.limit,
            paging.cursor.as_deref(),
        )?;
        let pager = pages::Pager::of(&paging, page.next_cursor.as_deref())?;
        Ok(("Statements".into(), pages::statements(&page, &pager)))
    })
    .await
}

fn statement_id(contract: &str, period: &str) -> Result<String, AppError> {
    revshare_core::period::Period::parse(period)
        .ok_or_else(|| AppError::Invalid(format!("period: `{period}` is not a period such as 2026-10 or 2026-Q4")))?;
    Ok(format!("{contract}/{period}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofQuery {
    source: Option<String>,
    id: Option<String>,
}

async fn statement(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((contract, period)): Path<(String, String)>,
    query: Result<Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&state, headers, move |backend, _, session| {
        let id = statement_id(&contract, &period)?;
        let query = query_of(query)?;
        let document = revshare_app::statements::document(backend, &session.actor, &id)?;
        let names = revshare_app::render::Names::of(backend)?;
        let keys = revshare_app::keys::public_keys(backend)?;
        let (rates, may_dispute) = match &document {
            revshare_app::statements::Document::Statement(shown) => (
                revshare_app::dashboard::line_rates(backend, &session.actor, shown.statement())?,
                revshare_app::disputes::may_open(backend, &session.actor, &shown.statement().contract)?,
            ),
            revshare_app::statements::Document::Notice(_) => (Default::default(), false),
        };
        let dispute_form = may_dispute.then_some(session.csrf.as_str());
        let proof = match (&document, query.source, query.id) {
            (revshare_app::statements::Document::Statement(_), Some(source), Some(event)) => Some((
                source.clone(),
                event.clone(),
                revshare_app::statements::prove(backend, &session.actor, &id, &source, &event)
                    .map_err(|e| e.to_string()),
            )),
            _ => None,
        };
        Ok((
            format!("Statement {id}"),
            pages::statement(&id, &document, &names, &keys, &rates, proof.as_ref(), dispute_form),
        ))
    })
    .await
}

/// A download: the statement's signed JSON or its CSV, as the API answers them.
async fn download(state: State, headers: HeaderMap, contract: String, period: String, csv: bool) -> Response {
    let cookie = session_cookie(&headers).map(str::to_string);
    let outcome = blocking(&state, move |backend, shared| {
        Ok((|| -> Result<(String, Vec<u8>), AppError> {
            let session = resume(backend, shared, cookie.as_deref())?;
            let id = statement_id(&contract, &period)?;
            let document = revshare_app::statements::document(backend, &session.actor, &id)?;
            let file = id.replace('/', "_");
            if !csv {
                return Ok((format!("{file}.json"), document.json().as_bytes().to_vec()));
            }
            let names = revshare_app::render::Names::of(backend)?;
            let bytes = match &document {
                revshare_app::statements::Document::Statement(shown) => {
                    revshare_app::render::statement_csv(std::slice::from_ref(shown.statement()), &names)?.into_bytes()
                }
                revshare_app::statements::Document::Notice(shown) => {
                    let mut bytes = Vec::new();
                    revshare_app::render::write_notice(&mut bytes, &shown.notice, &names)
                        .map_err(|e| AppError::Invalid(format!("writing CSV: {e}")))?;
                    bytes
                }
            };
            Ok((format!("{file}.csv"), bytes))
        })())
    })
    .await;
    match outcome {
        Ok(Ok((name, bytes))) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            let content_type = if csv { "text/csv" } else { "application/json" };
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                h.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Ok(Err(error)) => failure(&headers, &error),
        Err(error) => html(error.status, pages::error(error.status, &error.message)),
    }
}

async fn statement_json(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((contract, period)): Path<(String, String)>,
) -> Response {
    download(state, headers, contract, period, false).await
}

async fn statement_csv(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((contract, period)): Path<(String, String)>,
) -> Response {
    download(state, headers, contract, period, true).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeavesQuery {
    tree: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A page of the leaves of one of a statement's trees, as `GET
/// /v1/statements/{c}/{p}/leaves` answers them.
async fn statement_leaves(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((contract, period)): Path<(String, String)>,
    query: Result<Query<LeavesQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&state, headers, move |backend, _, session| {
        let id = statement_id(&contract, &period)?;
        let query = query_of(query)?;
        let tree_text = query.tree.unwrap_or_else(|| "events".to_string());
        let tree = revshare_core::verify::TreeName::parse(&tree_text).ok_or_else(|| {
            AppError::Invalid(format!(
                "tree: `{tree_text}` is not events, prior_period:PERIOD or voided:PERIOD"
            ))
        })?;
        let paging = Paging {
            limit: revshare_app::page::dashboard_limit(query.limit)?,
            cursor: query.cursor,
        };
        let (count, leaves) = revshare_app::statements::leaves_page(
            backend,
            &session.actor,
            &id,
            &tree,
            paging.limit,
            paging.cursor.as_deref(),
        )?;
        let first = revshare_app::page::position(paging.cursor.as_deref())?;
        let pager = pages::Pager::of(&paging, leaves.next_cursor.as_deref())?;
        Ok((
            format!("Leaves of {id}"),
            pages::leaves(&id, &tree, count, first, &leaves, &pager),
        ))
    })
    .await
}

async fn disputes(AxumState(state): AxumState<State>, headers: HeaderMap, query: Paged) -> Response {
    page(&state, headers, move |backend, _, session| {
        let paging = paging(query)?;
        let page = revshare_app::disputes::list_page(
            backend,
            revshare_app::Ctx::now(&session.actor),
            paging.limit,
            paging.cursor.as_deref(),
        )?;
        let ctx = revshare_app::Ctx::now(&session.actor);
        let mut steps = Vec::new();
        for dispute in &page.items {
            steps.push(revshare_app::disputes::steps_open_to(
                backend,
                ctx,
                &dispute.dispute_id,
            )?);
        }
        let pager = pages::Pager::of(&paging, page.next_cursor.as_deref())?;
        Ok(("Disputes".into(), pages::disputes(&page, &steps, &session.csrf, &pager)))
    })
    .await
}

#[derive(Deserialize)]
struct NewDispute {
    #[serde(default)]
    csrf: String,
    statement_id: String,
    /// `model|use_case`, or empty for the whole statement.
    #[serde(default)]
    line: String,
    amount: String,
    reason: String,
    /// `source id` a line.
    #[serde(default)]
    evidence: String,
}

/// The outcome of a form's write: back to `to`, or the refusal as a page.
fn after_write(
    headers: &HeaderMap,
    outcome: Result<Result<(), AppError>, crate::error::ApiError>,
    to: &'static str,
) -> Response {
    match outcome {
        Ok(Ok(())) => redirect(to),
        // A refused step says why, and leads back to the page it was taken on.
        Ok(Err(error)) if error.kind() != ErrorKind::Unauthenticated => {
            let status = crate::error::status_of(error.kind());
            html(status, pages::refused(status, &error.to_string(), to))
        }
        Ok(Err(error)) => failure(headers, &error),
        Err(error) => html(error.status, pages::error(error.status, &error.message)),
    }
}

async fn open_dispute(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    form: Result<Form<NewDispute>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        // The session and the CSRF field first: an incomplete form says no more.
        return match checked(&state, &headers, String::new()).await {
            Err(response) => response,
            Ok(_) => failure(&headers, &AppError::Invalid("the form is incomplete".into())),
        };
    };
    let session = match checked(&state, &headers, form.csrf.clone()).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let line = form
        .line
        .split_once('|')
        .map(|(model, use_case)| (model.to_string(), use_case.to_string()));
    let evidence = form
        .evidence
        .lines()
        .filter_map(|l| l.trim().split_once(char::is_whitespace))
        .map(|(source, id)| revshare_core::dispute::Evidence {
            source: source.trim().to_string(),
            id: id.trim().to_string(),
        })
        .collect();
    let new = revshare_app::disputes::NewDispute {
        statement_id: form.statement_id,
        line,
        amount: form.amount.trim().to_string(),
        reason: form.reason,
        evidence,
    };
    let outcome = blocking_write(&state, move |backend, shared| {
        Ok(
            revshare_app::disputes::open(backend, &shared.keys, revshare_app::Ctx::now(&session.actor), &new)
                .map(|_| ()),
        )
    })
    .await;
    after_write(&headers, outcome, "/disputes")
}

#[derive(Deserialize, Default)]
struct DisputeStepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    amount: String,
}

async fn dispute_step(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    form: Result<Form<DisputeStepForm>, FormRejection>,
) -> Response {
    use revshare_app::disputes::Step;
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let session = match checked(&state, &headers, form.csrf.clone()).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let step = match step.as_str() {
        "answer" => Step::Answer { note: form.note },
        "resolve" => Step::Resolve {
            amount: form.amount.trim().to_string(),
        },
        "accept" => Step::Accept,
        "reject" => Step::Reject { note: form.note },
        "withdraw" => Step::Withdraw,
        "escalate" => Step::Escalate,
        "decide" => Step::Decide {
            amount: form.amount.trim().to_string(),
        },
        other => return failure(&headers, &AppError::NotFound(format!("no dispute step `{other}`"))),
    };
    let outcome = blocking_write(&state, move |backend, shared| {
        Ok(revshare_app::disputes::step(
            backend,
            &shared.keys,
            revshare_app::Ctx::now(&session.actor),
            &id,
            &step,
        )
        .map(|_| ()))
    })
    .await;
    after_write(&headers, outcome, "/disputes")
}

/// The ledger page's two lists, a cursor each.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    balances: Option<String>,
    payments: Option<String>,
}

async fn ledger(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    query: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&state, headers, move |backend, _, session| {
        let query = query_of(query)?;
        let balances = revshare_app::ledger::balances_page(
            backend,
            revshare_app::Ctx::now(&session.actor),
            &revshare_app::ledger::Filter::default(),
            None,
            query.balances.as_deref(),
        )?;
        let rows = revshare_app::payments::list_page(backend, &session.actor, None, query.payments.as_deref())?;
        let steps = rows
            .items
            .iter()
            .map(|p| revshare_app::payments::steps_open_to(&session.actor, p))
            .collect::<Vec<_>>();
        let payments = revshare_app::page::Page {
            items: rows.items.into_iter().map(revshare_app::views::Payment::of).collect(),
            next_cursor: rows.next_cursor,
        };
        let pagers = (
            pages::Pager::of(
                &Paging {
                    limit: None,
                    cursor: query.balances,
                },
                balances.next_cursor.as_deref(),
            )?,
            pages::Pager::of(
                &Paging {
                    limit: None,
                    cursor: query.payments,
                },
                payments.next_cursor.as_deref(),
            )?,
        );
        Ok((
            "Ledger".into(),
            pages::ledger(
                &balances,
                &payments,
                &steps,
                &session.csrf,
                session.actor.side(),
                &pagers,
            ),
        ))
    })
    .await
}

#[derive(Deserialize, Default)]
struct NewPayment {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contract: String,
    /// Only the operator's form names the payer (empty otherwise).
    #[serde(default)]
    payer: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    reference: String,
}

async fn record_payment(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    form: Result<Form<NewPayment>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let session = match checked(&state, &headers, form.csrf.clone()).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let date = match revshare_app::parse_day("date", form.date.trim()) {
        Ok(date) => date,
        Err(error) => return failure(&headers, &error),
    };
    let new = revshare_app::payments::NewPayment {
        contract: form.contract.trim().to_string(),
        payer: Some(form.payer.trim().to_string()).filter(|p| !p.is_empty()),
        payee: form.to.trim().to_string(),
        amount: form.amount.trim().to_string(),
        date,
        reference: form.reference,
    };
    let outcome = blocking_write(&state, move |backend, shared| {
        Ok(
            revshare_app::payments::record(backend, &shared.keys, revshare_app::Ctx::now(&session.actor), &new)
                .map(|_| ()),
        )
    })
    .await;
    after_write(&headers, outcome, "/ledger")
}

#[derive(Deserialize, Default)]
struct PaymentStepForm {
    #[serde(default)]
    csrf: String,
    /// A reversal's reason.
    #[serde(default)]
    reason: String,
}

/// A step on a payment (confirm, withdraw, reverse), as `POST /v1/payments/{id}/…`
/// takes it; a refused step is a page saying why, with the API's status.
async fn payment_step(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((id, step)): Path<(String, String)>,
    form: Result<Form<PaymentStepForm>, FormRejection>,
) -> Response {
    use revshare_app::payments::{Step, StepName};
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let session = match checked(&state, &headers, form.csrf.clone()).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let step = match StepName::parse(&step) {
        Some(StepName::Confirm) => Step::Confirm,
        Some(StepName::Withdraw) => Step::Withdraw,
        Some(StepName::Reverse) => Step::Reverse { reason: form.reason },
        None => return failure(&headers, &AppError::NotFound(format!("no payment step `{step}`"))),
    };
    let outcome = blocking_write(&state, move |backend, shared| {
        Ok(revshare_app::payments::step(
            backend,
            &shared.keys,
            revshare_app::Ctx::now(&session.actor),
            &id,
            &step,
        )
        .map(|_| ()))
    })
    .await;
    after_write(&headers, outcome, "/ledger")
}

async fn contributions(AxumState(state): AxumState<State>, headers: HeaderMap, query: Paged) -> Response {
    page(&state, headers, move |backend, _, session| {
        let paging = paging(query)?;
        let rows =
            revshare_app::contributions::list_page(backend, &session.actor, paging.limit, paging.cursor.as_deref())?;
        let decisions = revshare_app::contributions::decisions_open_to(backend, &session.actor, &rows.items)?;
        let page = revshare_app::page::Page {
            items: rows
                .items
                .into_iter()
                .map(revshare_app::views::Contribution::of)
                .collect(),
            next_cursor: rows.next_cursor,
        };
        let pager = pages::Pager::of(&paging, page.next_cursor.as_deref())?;
        let propose = revshare_app::contributions::takes_steps(&session.actor);
        Ok((
            "Contributions".into(),
            pages::contributions(&page, &decisions, &session.csrf, propose, &pager),
        ))
    })
    .await
}

#[derive(Deserialize, Default)]
struct NewContribution {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contract: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    reference: String,
}

/// A contribution proposed by the contributions page's form, as `POST
/// /v1/contributions` proposes it.
async fn propose_contribution(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    form: Result<Form<NewContribution>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let session = match checked(&state, &headers, form.csrf.clone()).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let proposal = match revshare_app::contributions::Proposal::from_text(
        form.contract.trim().to_string(),
        form.by.trim(),
        form.kind.trim(),
        form.date.trim(),
        form.reference,
    ) {
        Ok(proposal) => proposal,
        Err(error) => return failure(&headers, &error),
    };
    let outcome = blocking_write(&state, move |backend, shared| {
        Ok(revshare_app::contributions::propose(
            backend,
            &shared.keys,
            revshare_app::Ctx::now(&session.actor),
            &proposal,
        )
        .map(|_| ()))
    })
    .await;
    after_write(&headers, outcome, "/contributions")
}

/// A proposed contribution accepted or rejected by form, as `POST
/// /v1/contributions/{number}/accept` (`reject`) decides it.
async fn decide_contribution(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    Path((number, decision)): Path<(String, String)>,
    csrf: Result<Form<Csrf>, FormRejection>,
) -> Response {
    use revshare_app::contributions::Decision;
    let session = match posted(&state, &headers, csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let Some(decision) = Decision::parse(&decision) else {
        return failure(
            &headers,
            &AppError::NotFound(format!("no contribution step `{decision}`")),
        );
    };
    let Ok(number) = number.parse::<i64>() else {
        return failure(
            &headers,
            &AppError::Invalid(format!("number: `{number}` is not a contribution's number")),
        );
    };
    let outcome = blocking_write(&state, move |backend, shared| {
        Ok(revshare_app::contributions::decide(
            backend,
            &shared.keys,
            revshare_app::Ctx::now(&session.actor),
            number,
            decision,
        )
        .map(|_| ()))
    })
    .await;
    after_write(&headers, outcome, "/contributions")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MauQuery {
    month: Option<String>,
}

async fn mau(
    AxumState(state): AxumState<State>,
    headers: HeaderMap,
    query: Result<Query<MauQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&state, headers, move |backend, _, session| {
        let query = query_of(query)?;
        let filter = revshare_app::mau::Filter {
            host: None,
            month: query.month.clone(),
        };
        let months = revshare_app::mau::mau(backend, revshare_app::Ctx::now(&session.actor), &filter)?;
        Ok(("MAU".into(), pages::mau(query.month.as_deref(), &months)))
    })
    .await
}

async fn audit(AxumState(state): AxumState<State>, headers: HeaderMap, query: Paged) -> Response {
    page(&state, headers, move |backend, _, session| {
        let paging = paging(query)?;
        let log_page = revshare_app::audit::LogPage::new(None, paging.limit, paging.cursor.as_deref())?;
        let entries = revshare_app::audit::entries_page(backend, &session.actor, log_page)?;
        let checkpoint = revshare_app::log::checkpoint(backend, None)?;
        let pager = pages::Pager::forward(&paging, entries.next_cursor.as_deref())?;
        Ok(("Audit log".into(), pages::audit(&entries, &checkpoint, &pager)))
    })
    .await
}

async fn parties(AxumState(state): AxumState<State>, headers: HeaderMap) -> Response {
    page(&state, headers, move |backend, _, session| {
        let ctx = revshare_app::Ctx::now(&session.actor);
        let parties = revshare_app::parties::list(backend, ctx)?;
        let tokens = revshare_app::tokens::list(backend, ctx)?;
        Ok(("Parties and tokens".into(), pages::parties(&parties, &tokens)))
    })
    .await
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
