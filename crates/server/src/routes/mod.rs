//! The endpoints of api.md, a file per OpenAPI tag. Each parses its request, calls
//! one use case of the application layer as the token's party, and answers; the
//! OpenAPI document is generated from these functions.

mod audit;
mod contracts;
mod contributions;
mod disputes;
mod ledger;
mod mau;
mod parties;
mod payments;
mod service;
mod statements;
mod tables;
mod usage;

pub use audit::*;
pub use contracts::*;
pub use contributions::*;
pub use disputes::*;
pub use ledger::*;
pub use mau::*;
pub use parties::*;
pub use payments::*;
pub use service::*;
pub use statements::*;
pub use tables::*;
pub use usage::*;

use revshare_core::period::{Day, Period};
use utoipa::ToSchema;

use crate::error::ApiError;

pub(crate) type Result<T> = std::result::Result<T, ApiError>;

/// A JSON object without a fixed shape here (a signed document, a report).
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct Document(#[allow(dead_code)] serde_json::Value);

fn period(text: &str) -> Result<Period> {
    Period::parse(text)
        .ok_or_else(|| ApiError::invalid(format!("period: `{text}` is not a period such as 2026-10 or 2026-Q4")))
}

fn day(field: &str, text: &str) -> Result<Day> {
    Ok(revshare_app::parse_day(field, text)?)
}

fn statement_id(contract: &str, period_text: &str) -> Result<String> {
    period(period_text)?;
    Ok(format!("{contract}/{period_text}"))
}

fn parse<T>(value: Option<T>, message: impl FnOnce() -> String) -> Result<T> {
    value.ok_or_else(|| ApiError::invalid(message()))
}
