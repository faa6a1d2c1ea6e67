//! Around every request: a request id, the per-token rate limit, the 30 s timeout,
//! one structured log line (time, request id, token id, route, status, latency;
//! never a secret, a token or a customer reference), and the metrics.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::State;

/// Requests end after this long (long work, such as audit verification, is a job).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The token id a request names (its public part), for the logs.
/// A dashboard request names the token id its session cookie carries (its public
/// part too: the cookie holds no secret of the token).
fn token_id(request: &Request) -> Option<String> {
    let Some(value) = request.headers().get(axum::http::header::AUTHORIZATION) else {
        let cookie = crate::dashboard::session_cookie(request.headers())?;
        let token_id = cookie.strip_prefix("v1.")?.split('.').next()?;
        let public = token_id.len() == 12 && token_id.bytes().all(|c| c.is_ascii_hexdigit());
        return public.then(|| token_id.to_string());
    };
    revshare_app::tokens::token_id(crate::api::credential(value)?).map(str::to_string)
}

/// The rate limiter's key: a digest of the whole credential (a bearer token, or a
/// dashboard session's cookie), so that nobody who knows only a token's id can spend
/// its budget.
fn limit_key(request: &Request) -> [u8; 16] {
    let headers = request.headers();
    let credential = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .or_else(|| crate::dashboard::session_cookie(headers).map(str::as_bytes))
        .unwrap_or(b"");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(credential);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn request_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

/// Routes no token reaches (probes), never rate limited.
pub(crate) fn unlimited(route: &str) -> bool {
    matches!(
        route,
        "/healthz"
            | "/readyz"
            | "/metrics"
            | "/v1/openapi.json"
            | "/v1/keys"
            | "/assets/style.css"
            | "/assets/dashboard.js"
    )
}

pub async fn around(AxumState(state): AxumState<State>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = request.method().to_string();
    let token = token_id(&request);
    let id = request_id();
    let limited = match unlimited(&route) {
        true => None,
        false => state.limiter.check_key(&limit_key(&request)).err(),
    };
    let mut response = match limited {
        Some(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this token",
            );
            error.retry_after = Some(wait.as_secs().max(1));
            error.into_response()
        }
        None => match tokio::time::timeout(TIMEOUT, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the request took longer than 30 s",
            )
            .into_response(),
        },
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let latency = started.elapsed();
    state.metrics.request(&route, status, latency);
    log(&id, token.as_deref(), &method, &route, status, latency);
    response
}

fn log(id: &str, token: Option<&str>, method: &str, route: &str, status: u16, latency: Duration) {
    let line = serde_json::json!({
        "time": revshare_core::period::rfc3339(revshare_app::now().seconds),
        "request_id": id,
        "token_id": token,
        "method": method,
        "route": route,
        "status": status,
        "latency_ms": (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
    });
    // One write per line: stderr is unbuffered, and printing a JSON value
    // piecewise would cost a write per token of it.
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), &bytes);
}
