//! What every handler needs: the bearer token, query and path parameters read into
//! typed values (a bad one is a 400 naming the field), JSON answers, content-type
//! checks, and idempotency keys for POSTs. Handlers only parse and answer: every
//! rule is the application layer's.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use revshare_app::idempotency::{self, Claim};
use revshare_app::{Actor, AppError, Backend};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::{blocking, blocking_write, Shared, State};

/// The token of an `Authorization: Bearer …` header value.
pub fn credential(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The bearer token of a request, if any (checked against the store per request).
pub struct Bearer(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Bearer, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Bearer(None));
        };
        Ok(Bearer(Some(credential(value).unwrap_or_default().to_string())))
    }
}

impl Bearer {
    /// The actor the token stands for, now.
    pub fn actor(&self, backend: &mut dyn Backend) -> Result<Actor, ApiError> {
        Ok(revshare_app::tokens::authenticate(
            backend,
            self.token()?,
            revshare_app::now(),
        )?)
    }

    /// The token as sent, not yet checked.
    pub fn token(&self) -> Result<&str, ApiError> {
        self.0.as_deref().ok_or_else(|| {
            ApiError::from(AppError::Unauthenticated(
                "a bearer token is required (Authorization: Bearer rs_…)".into(),
            ))
        })
    }
}

/// A request's body, whole, within its route's limit (api.md: a usage batch at most
/// 16 MiB, any other body 1 MiB). Over the limit is `payload_too_large` in the
/// API's JSON, like every other error.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Body, ApiError> {
        let batch = request.uri().path() == "/v1/events";
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() != StatusCode::PAYLOAD_TOO_LARGE {
                    return ApiError::invalid(format!("body: {}", rejection.body_text()));
                }
                ApiError::too_large(if batch {
                    format!(
                        "body: a usage batch is at most {} bytes (16 MiB)",
                        crate::BATCH_BYTES_MAX
                    )
                } else {
                    format!("body: at most {} bytes (1 MiB) here", crate::BODY_BYTES_MAX)
                })
            })
    }
}

/// Query parameters, refused with a 400 that names the field.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Q<T>, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Q(value))
            .map_err(|e| ApiError::invalid(format!("query: {}", e.body_text())))
    }
}

/// Path parameters, refused with a 400 that names the field.
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<P<T>, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| P(value))
            .map_err(|e| ApiError::invalid(format!("path: {}", e.body_text())))
    }
}

/// An answer: status, content type and body bytes.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Answer, ApiError> {
        let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(format!("encoding the answer: {e}")))?;
        Ok(Answer {
            status,
            content_type: "application/json".into(),
            body,
        })
    }

    pub fn raw(content_type: &str, body: Vec<u8>) -> Answer {
        Answer {
            status: StatusCode::OK,
            content_type: content_type.into(),
            body,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        if let Ok(value) = HeaderValue::from_str(&self.content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    }
}

/// A read: authenticates, runs `work` on a store connection, answers JSON.
pub async fn read<T, F>(state: &State, bearer: Bearer, work: F) -> Result<Answer, ApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut dyn Backend, &Shared, &Actor) -> Result<T, AppError> + Send + 'static,
{
    blocking(state, move |backend, shared| {
        let actor = bearer.actor(backend)?;
        let value = work(backend, shared, &actor)?;
        Answer::json(StatusCode::OK, &value)
    })
    .await
}

/// Checks a request's content type against the ones an endpoint takes.
pub fn content_type(headers: &HeaderMap, accepted: &[&str]) -> Result<String, ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if accepted.contains(&given.as_str()) {
        return Ok(given);
    }
    Err(ApiError::unsupported(format!(
        "Content-Type: `{}` is not one this endpoint takes ({})",
        if given.is_empty() { "none" } else { &given },
        accepted.join(", ")
    )))
}

/// A JSON body read into `T`; unknown fields and bad values are 400s naming them.
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    content_type(headers, &["application/json"])?;
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

/// The request a write answers, as an idempotency key is scoped to it: method and
/// path, and the query a repeat must match.
pub struct Scope {
    method: String,
    path: String,
    query: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Scope, ApiError> {
        Ok(Scope {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
        })
    }
}

/// A write: authenticates, honours `Idempotency-Key` (see [`Scope`]), runs `work`
/// and answers JSON with `status`.
pub async fn write<T, F>(
    state: &State,
    bearer: Bearer,
    headers: &HeaderMap,
    scope: Scope,
    body: Vec<u8>,
    status: StatusCode,
    work: F,
) -> Result<Answer, ApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut dyn Backend, &Shared, &Actor, &[u8]) -> Result<T, ApiError> + Send + 'static,
{
    write_with_status(
        state,
        bearer,
        headers,
        scope,
        body,
        move |backend, shared, actor, body| work(backend, shared, actor, body).map(|value| (status, value)),
    )
    .await
}

/// [`write`], where `work` chooses the status too.
pub async fn write_with_status<T, F>(
    state: &State,
    bearer: Bearer,
    headers: &HeaderMap,
    scope: Scope,
    body: Vec<u8>,
    work: F,
) -> Result<Answer, ApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(&mut dyn Backend, &Shared, &Actor, &[u8]) -> Result<(StatusCode, T), ApiError> + Send + 'static,
{
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::invalid("Idempotency-Key: not visible ASCII"))?;
    blocking_write(state, move |backend, shared| {
        let actor = bearer.actor(backend)?;
        let run = |backend: &mut dyn Backend| -> Result<Answer, ApiError> {
            let (status, value) = work(backend, shared, &actor, &body)?;
            Answer::json(status, &value)
        };
        let Some(key) = key else {
            return run(backend);
        };
        let request = idempotency::Request {
            method: &scope.method,
            path: &scope.path,
            query: scope.query.as_deref(),
            body: &body,
        };
        match idempotency::claim(backend, &actor, &request, &key, revshare_app::now())? {
            Claim::Replay {
                status,
                content_type,
                body,
            } => Ok(Answer {
                status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                content_type,
                body,
            }),
            Claim::Fresh(pending) => match run(backend) {
                Ok(answer) => {
                    idempotency::finish(
                        backend,
                        pending,
                        answer.status.as_u16(),
                        &answer.content_type,
                        &answer.body,
                    )?;
                    Ok(answer)
                }
                Err(error) if error.is_client_error() => {
                    let body = serde_json::to_vec(&error.body()).unwrap_or_default();
                    idempotency::finish(backend, pending, error.status.as_u16(), "application/json", &body)?;
                    Err(error)
                }
                Err(error) => {
                    let _ = idempotency::release(backend, pending);
                    Err(error)
                }
            },
        }
    })
    .await
}
