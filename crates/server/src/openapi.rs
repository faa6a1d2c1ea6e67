//! The OpenAPI 3.1 document, generated from the handlers and views.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use axum::http::StatusCode;
use revshare_app::limits::{BATCH_BYTES_MAX, BATCH_EVENTS_MAX, BODY_BYTES_MAX};
use serde_json::{json, Value};

use crate::api::Answer;
use crate::error::{ErrorBody, ErrorDetail};
use crate::log_routes;
use crate::routes::{self, Document};
use crate::views::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "revshare",
        description = "Revenue-share settlement between model licensors and hosts: usage in, signed statements out. Each party reaches it with its own token and sees only what is its own (api.md).",
        license(name = "Apache-2.0"),
    ),
    paths(
        routes::healthz, routes::readyz, routes::metrics, openapi, routes::keys, routes::me,
        routes::post_events, routes::void, routes::locate,
        routes::contracts, routes::contract, routes::add_contract,
        routes::fx, routes::add_fx, routes::models, routes::add_models,
        routes::close, routes::statements, routes::statement, routes::proof, routes::leaves, routes::inputs,
        routes::contributions, routes::propose, routes::accept, routes::reject,
        routes::disputes, routes::dispute, routes::open_dispute, routes::answer_dispute, routes::resolve_dispute,
        routes::accept_dispute, routes::reject_dispute, routes::withdraw_dispute, routes::escalate_dispute,
        routes::decide_dispute,
        routes::payments, routes::record_payment, routes::confirm_payment, routes::withdraw_payment,
        routes::reverse_payment, routes::balances, routes::ledger_entries, routes::mau,
        routes::chain, routes::entries, routes::start_verify, routes::verify_job, routes::job,
        log_routes::checkpoint, log_routes::consistency, log_routes::inclusion, log_routes::cosign,
        log_routes::witness_keys, log_routes::add_witness_key,
        routes::parties, routes::add_party, routes::update_party, routes::tokens, routes::add_token, routes::revoke_token,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Document, Status, Me, revshare_app::submit::BatchOutcome, revshare_app::submit::RejectedEvent, Void, Voided,
        Contract, Added, FxRate, FxAdded, RegistryVersion, RegistryEntry,
        StatementEntry, LeavesPage, Unselected, CloseAnswer,
        Contribution, NewContribution, Payment, NewPayment, Reversal,
        revshare_app::disputes::DisputeView, revshare_app::disputes::Line, routes::NewDispute, routes::DisputedLine,
        routes::EventRef, routes::DisputeNote, routes::DisputeAmount,
        revshare_app::ledger::Balance, revshare_app::ledger::Entry, revshare_app::mau::HostMonth,
        revshare_app::mau::Flag, revshare_app::mau::Reached, Party, NewParty, Token, NewToken,
        log_routes::ConsistencyProof, log_routes::InclusionProof, log_routes::Cosignature, log_routes::WitnessKey,
        log_routes::NewWitnessKey,
    )),
    modifiers(&Bearer),
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token `rs_<token_id>_<secret>` (`revshare token create`)"))
                    .build(),
            ),
        );
    }
}

/// The address `revshare serve` listens on unless given `--listen`.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The examples of request and response bodies, by operation (`METHOD /path`), then
/// `request` or a status, then content type. Taken from a demo store's answers.
const EXAMPLES: &str = include_str!("openapi_examples.json");

/// The document as served at `/v1/openapi.json` and checked in at `docs/openapi.json`.
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    // The crate's version would make the document drift on every release.
    document["info"]["version"] = Value::from("1");
    document["servers"] = json!([{
        "url": DEFAULT_SERVER,
        "description": "`revshare serve` on its default address (`--listen 127.0.0.1:8080`); a deployment's own otherwise",
    }]);
    let examples = examples();
    if let Some(paths) = document["paths"].as_object_mut() {
        for (path, operations) in paths.iter_mut() {
            let Some(operations) = operations.as_object_mut() else {
                continue;
            };
            for (method, operation) in operations.iter_mut() {
                complete(method, path, operation);
                add_examples(operation, examples.get(&format!("{} {path}", method.to_uppercase())));
            }
        }
    }
    document
}

/// The examples with no body to go on (an operation, a status or a content type
/// renamed or removed, its example left behind), as `METHOD /path place content-type`.
pub fn stale_examples() -> Vec<String> {
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let mut stale = Vec::new();
    for (key, places) in examples() {
        let (method, path) = key.split_once(' ').unwrap_or_default();
        let operation = &document["paths"][path][method.to_lowercase()];
        for (place, by_type) in places.as_object().into_iter().flatten() {
            let body = match place.as_str() {
                "request" => &operation["requestBody"],
                status => &operation["responses"][status],
            };
            for content_type in by_type.as_object().into_iter().flatten().map(|(t, _)| t) {
                if body["content"][content_type].is_null() {
                    stale.push(format!("{key} {place} {content_type}"));
                }
            }
        }
    }
    stale
}

fn examples() -> serde_json::Map<String, Value> {
    serde_json::from_str(EXAMPLES).unwrap_or_default()
}

/// Whether an operation takes an `Idempotency-Key` (api.md): every write but a usage
/// batch (idempotent by its events' keys) and a token's creation (whose answer, the
/// secret, is shown once).
fn idempotent(method: &str, path: &str) -> bool {
    matches!(method, "post" | "patch") && !matches!(path, "/v1/events" | "/v1/tokens")
}

/// Whether an operation reads the store (and so may fail on it: `integrity`).
fn reads_store(path: &str) -> bool {
    !matches!(path, "/healthz" | "/metrics" | "/v1/openapi.json")
}

/// The answers every operation of its kind may give besides its own, from the layers
/// around the handlers and their extractors (error.rs, api.rs, observe.rs): the rate
/// limit, the body limits, the timeout, the store's failures, `Idempotency-Key` (a bad
/// key, a key reused). Every error answer gets its description and an example.
fn complete(method: &str, path: &str, operation: &mut Value) {
    let writes_body = matches!(method, "post" | "patch");
    let responses = &mut operation["responses"];
    let mut add = |status: &str| {
        if responses[status].is_null() {
            responses[status] =
                json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}});
        }
    };
    if idempotent(method, path) {
        add("400");
        add("409");
    }
    if writes_body {
        add("413");
    }
    if !crate::observe::unlimited(path) {
        add("429");
    }
    if reads_store(path) {
        add("500");
    }
    add("503");
    let accepted = operation["requestBody"]["content"]
        .as_object()
        .map(|content| content.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if response["description"].as_str().is_none_or(str::is_empty) && status.starts_with('2') {
            response["description"] = Value::from(success(response));
        }
        let Some((description, example)) = error(status, method, path, &accepted) else {
            continue;
        };
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = Value::from(description);
        }
        if let Some(media) = response.pointer_mut("/content/application~1json") {
            if media["example"].is_null() {
                media["example"] = json!({"error": {"code": example.0, "message": example.1, "details": {}}});
            }
        }
        match status.as_str() {
            "401" => response["headers"] = header("WWW-Authenticate", "`Bearer`", "string"),
            "429" => response["headers"] = header("Retry-After", "Seconds to wait", "integer"),
            _ => {}
        }
    }
}

/// A success's description where its handler gives none: what its body is.
fn success(response: &Value) -> String {
    let schema = response
        .pointer("/content/application~1json/schema/$ref")
        .and_then(Value::as_str);
    match schema.map(|s| s.trim_start_matches("#/components/schemas/")) {
        Some(name) if name.starts_with("Page_") => format!("A page of `{}`", name.trim_start_matches("Page_")),
        Some("Document") | None => "The answer".to_string(),
        Some(name) => format!("The `{name}`"),
    }
}

fn header(name: &str, description: &str, kind: &str) -> Value {
    json!({name: {"description": description, "schema": {"type": kind}}})
}

const CONFLICT: &str = "`conflict`: the request conflicts with what is stored, or a request with the same \
                        `Idempotency-Key` is still running; `idempotency_conflict`: that key was used with another \
                        body or query";

/// An error answer's description, and its example's code and message.
fn error(status: &str, method: &str, path: &str, accepted: &str) -> Option<(String, (&'static str, String))> {
    Some(match status {
        "400" => (
            "`invalid_request`: a malformed body, an unknown field, a bad query, path or header value; the message \
             names the field"
                .into(),
            (
                "invalid_request",
                "query: Failed to deserialize query string: limt: unknown field `limt`, expected `limit` or `cursor`"
                    .into(),
            ),
        ),
        "401" => (
            "`unauthenticated`: no token, or one that is malformed, unknown, expired or revoked".into(),
            (
                "unauthenticated",
                "a bearer token is required (Authorization: Bearer rs_…)".into(),
            ),
        ),
        "403" => (
            "`forbidden`: the caller may see this but not do it".into(),
            (
                "forbidden",
                "a host token cannot close periods (the operator does)".into(),
            ),
        ),
        "404" => (
            "`not_found`: no such object, or one the caller may not see (answered alike)".into(),
            ("not_found", "no contract `nimbus-llama` is stored".into()),
        ),
        "409" if path == "/v1/periods/{period}/close" => (
            format!("`too_early`: the period has not ended (the message gives when it may close); {CONFLICT}"),
            (
                "too_early",
                "period 2026-12 cannot be closed yet: it ends at 2027-01-01T00:00:00Z, and it is now \
                 2026-12-07T16:18:43Z"
                    .into(),
            ),
        ),
        "409" => (
            CONFLICT.into(),
            (
                "idempotency_conflict",
                format!(
                    "Idempotency-Key `k1` was used with another body or query for {} {path}",
                    method.to_uppercase()
                ),
            ),
        ),
        "413" if path == "/v1/events" => (
            format!(
                "`payload_too_large`: a usage batch is at most {BATCH_EVENTS_MAX} events and {BATCH_BYTES_MAX} bytes \
                 (16 MiB)"
            ),
            (
                "payload_too_large",
                format!("body: a usage batch is at most {BATCH_BYTES_MAX} bytes (16 MiB)"),
            ),
        ),
        "413" => (
            format!("`payload_too_large`: a body is at most {BODY_BYTES_MAX} bytes (1 MiB) here"),
            (
                "payload_too_large",
                format!("body: at most {BODY_BYTES_MAX} bytes (1 MiB) here"),
            ),
        ),
        "415" => (
            format!("`unsupported_media_type`: the body's `Content-Type` is not one this operation takes ({accepted})"),
            (
                "unsupported_media_type",
                format!("Content-Type: `none` is not one this endpoint takes ({accepted})"),
            ),
        ),
        "429" => (
            "`rate_limited`: too many requests for this token; `Retry-After` gives the seconds to wait".into(),
            ("rate_limited", "too many requests for this token".into()),
        ),
        "500" => (
            "`integrity`: stored data failed a check (such as a statement whose signature no longer verifies): it \
             was edited behind the service's back, never the caller's fault"
                .into(),
            (
                "integrity",
                "statement acme-llama/2026-10: its signature does not verify".into(),
            ),
        ),
        "503" => (
            "`unavailable`: the store could not be reached or failed, or the request took longer than 30 s".into(),
            ("unavailable", "the request took longer than 30 s".into()),
        ),
        _ => return None,
    })
}

/// Puts an operation's examples (`request`, or a status; then a content type) on its
/// bodies.
fn add_examples(operation: &mut Value, examples: Option<&Value>) {
    let Some(examples) = examples.and_then(Value::as_object) else {
        return;
    };
    for (place, by_type) in examples {
        let body = match place.as_str() {
            "request" => operation.get_mut("requestBody"),
            status => operation.get_mut("responses").and_then(|r| r.get_mut(status)),
        };
        let Some(content) = body.and_then(|b| b.get_mut("content")) else {
            continue;
        };
        for (content_type, example) in by_type.as_object().into_iter().flatten() {
            if let Some(media) = content.get_mut(content_type) {
                media["example"] = example.clone();
            }
        }
    }
}

// Served from here so that the routes need not know the document made from them.
/// This OpenAPI 3.1 document
///
/// The document these operations are generated from, as checked in at `docs/openapi.json`. No token, never rate
/// limited.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "service", responses((status = 200, body = Document, description = "This document")))]
pub async fn openapi() -> routes::Result<Answer> {
    Answer::json(StatusCode::OK, &document())
}
