//! Errors as the API answers them (api.md): `{"error": {"code", "message",
//! "details"}}` with a stable code. User input never causes a 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use revshare_app::{AppError, ErrorKind};
use serde::Serialize;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
    /// What the refusal is about, for a client to act on (`{}` unless the code
    /// says otherwise).
    pub details: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code: `unauthenticated`, `forbidden`, `not_found`, `invalid_request`,
    /// `unsupported_media_type`, `payload_too_large`, `conflict`,
    /// `idempotency_conflict`, `too_early`, `settlement_start_required`,
    /// `rate_limited`, `unavailable`, `integrity`.
    pub code: String,
    pub message: String,
    /// `{}`, except for `settlement_start_required`: `{"period", "contracts":
    /// [{"contract", "earliest", "events", "events_from", "minimum_guarantee_from"}]}`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            details: serde_json::json!({}),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn unsupported(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The answer's body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }

    /// A refusal of the request (the connection that served it is fine).
    pub fn is_client_error(&self) -> bool {
        self.status.is_client_error()
    }
}

/// The HTTP status of an application error's kind: the API's and the dashboard's.
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict
        | ErrorKind::IdempotencyConflict
        | ErrorKind::TooEarly
        | ErrorKind::SettlementStartRequired => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Integrity => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        let status = status_of(error.kind());
        if let AppError::Unsettled(unsettled) = &error {
            let mut answer = ApiError::new(status, error.code(), unsettled.message("?settlement_start=true"));
            answer.details = unsettled_details(unsettled);
            return answer;
        }
        // A field is named as the app names it: its name in the API's bodies and queries.
        ApiError::new(status, error.code(), error.to_string())
    }
}

/// The details of `settlement_start_required`: the period asked for, and per
/// contract the earliest period its first close would leave unsettled and why.
fn unsettled_details(unsettled: &revshare_app::close::Unsettled) -> serde_json::Value {
    let contracts: Vec<serde_json::Value> = unsettled
        .contracts
        .iter()
        .map(|c| {
            serde_json::json!({
                "contract": c.contract,
                "earliest": c.earliest.to_string(),
                "events": c.events,
                "events_from": c.events_from.map(|p| p.to_string()),
                "minimum_guarantee_from": c.minimum_guarantee_from.map(|p| p.to_string()),
            })
        })
        .collect();
    serde_json::json!({"period": unsettled.period.to_string(), "contracts": contracts})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
