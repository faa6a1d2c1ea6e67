//! The rules of usage-events.md applied to an event's raw fields. Both parsers (the
//! fast one and the strict serde one) produce a [`RawEvent`] and call [`validate`],
//! so an event is judged the same way whichever parser read it.

use std::borrow::Cow;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{EventError, Timestamp, UsageData, UsageEvent, REVENUE_SCALE};

const SOURCE_CHARS_MAX: usize = 256;
const ID_CHARS_MAX: usize = 128;
const CUSTOMER_CHARS_MAX: usize = 128;
const USE_CASE_CHARS_MAX: usize = 64;
const REGION_CHARS_MAX: usize = 32;
/// A limit for names the spec leaves unbounded, so one event cannot be arbitrarily large.
const NAME_CHARS_MAX: usize = 256;

/// An event's fields as read, before the rules. Types are already right (a parser
/// refuses a number where a string belongs); everything else is checked here.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RawEvent<'a> {
    pub specversion: Option<Cow<'a, str>>,
    pub kind: Option<Cow<'a, str>>,
    pub source: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    pub time: Option<Cow<'a, str>>,
    pub data: Option<RawData<'a>>,
    pub extensions: Vec<(Cow<'a, str>, serde_json::Value)>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct RawData<'a> {
    pub host: Option<Cow<'a, str>>,
    pub model: Option<Cow<'a, str>>,
    pub use_case: Option<Cow<'a, str>>,
    pub region: Option<Cow<'a, str>>,
    pub customer: Option<Cow<'a, str>>,
    pub requests: Option<u64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub revenue: Option<Cow<'a, str>>,
    pub currency: Option<Cow<'a, str>>,
}

fn invalid(field: &str, rule: String) -> EventError {
    EventError::Invalid {
        field: field.to_string(),
        rule,
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, EventError> {
    value.ok_or_else(|| EventError::Missing {
        field: field.to_string(),
    })
}

pub(crate) fn validate(raw: RawEvent<'_>) -> Result<UsageEvent<'_>, EventError> {
    let specversion = required(raw.specversion, "specversion")?;
    if specversion != "1.0" {
        return Err(invalid(
            "specversion",
            format!("must be \"1.0\", found \"{specversion}\""),
        ));
    }
    let kind = required(raw.kind, "type")?;
    if kind != "ai.usage.v1" {
        return Err(invalid("type", format!("must be \"ai.usage.v1\", found \"{kind}\"")));
    }
    let source = required(raw.source, "source")?;
    let id = required(raw.id, "id")?;
    let time = required(raw.time, "time")?;
    let data = required(raw.data, "data")?;
    check_identifier("source", &source, SOURCE_CHARS_MAX)?;
    check_identifier("id", &id, ID_CHARS_MAX)?;
    let time_utc = parse_time(&time).map_err(|rule| invalid("time", rule))?;
    let data = validate_data(data)?;
    Ok(UsageEvent {
        source,
        id,
        time,
        time_utc,
        data,
        extensions: raw.extensions,
    })
}

fn validate_data(raw: RawData<'_>) -> Result<UsageData<'_>, EventError> {
    let host = required(raw.host, "data.host")?;
    let model = required(raw.model, "data.model")?;
    let use_case = required(raw.use_case, "data.use_case")?;
    let input_tokens = required(raw.input_tokens, "data.input_tokens")?;
    let output_tokens = required(raw.output_tokens, "data.output_tokens")?;
    let revenue = required(raw.revenue, "data.revenue")?;
    let currency = required(raw.currency, "data.currency")?;
    check_identifier("data.host", &host, NAME_CHARS_MAX)?;
    check_identifier("data.model", &model, NAME_CHARS_MAX)?;
    check_pattern(
        "data.use_case",
        &use_case,
        USE_CASE_CHARS_MAX,
        is_use_case_byte,
        "[a-z0-9_]{1,64}",
    )?;
    if let Some(region) = &raw.region {
        check_pattern(
            "data.region",
            region,
            REGION_CHARS_MAX,
            is_region_byte,
            "[a-z0-9-]{1,32}",
        )?;
    }
    if let Some(customer) = &raw.customer {
        check_chars("data.customer", customer, CUSTOMER_CHARS_MAX)?;
    }
    let revenue_units = parse_revenue(&revenue).map_err(|rule| invalid("data.revenue", rule))?;
    if !is_currency_code(&currency) {
        return Err(invalid(
            "data.currency",
            format!("must be an ISO 4217 code such as \"USD\", found \"{currency}\""),
        ));
    }
    Ok(UsageData {
        host,
        model,
        use_case,
        region: raw.region,
        customer: raw.customer,
        requests: raw.requests,
        input_tokens,
        output_tokens,
        revenue,
        revenue_units,
        currency,
    })
}

fn check_chars(field: &str, value: &str, max: usize) -> Result<(), EventError> {
    let chars = if value.is_ascii() {
        value.len()
    } else {
        value.chars().count()
    };
    if chars == 0 || chars > max {
        return Err(invalid(field, format!("must be 1 to {max} characters, found {chars}")));
    }
    Ok(())
}

/// An identifier (the event's key, its host, its model): as [`check_chars`], and
/// without U+0000, which no text column (PostgreSQL's) or comparison should have to
/// carry. A customer reference may hold one: it is only ever kept as a pseudonym.
fn check_identifier(field: &str, value: &str, max: usize) -> Result<(), EventError> {
    check_chars(field, value, max)?;
    if value.contains('\0') {
        return Err(invalid(
            field,
            "must not contain the character U+0000 (NUL)".to_string(),
        ));
    }
    Ok(())
}

fn check_pattern(
    field: &str,
    value: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
    pattern: &str,
) -> Result<(), EventError> {
    if value.is_empty() || value.len() > max || !value.bytes().all(allowed) {
        return Err(invalid(field, format!("must match {pattern}, found \"{value}\"")));
    }
    Ok(())
}

/// Parses an RFC 3339 time with offset into UTC.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        format!("must be an RFC 3339 time with offset such as \"2026-10-03T12:00:00Z\", found \"{text}\" ({e})")
    })?;
    Ok(Timestamp {
        seconds: parsed.unix_timestamp(),
        nanos: parsed.nanosecond(),
    })
}

/// Parses a revenue string per the spec's pattern into units of 10^-12.
pub fn parse_revenue(text: &str) -> Result<i128, String> {
    let rule =
        || format!("must be a decimal string matching ^(0|[1-9][0-9]{{0,14}})(\\.[0-9]{{1,12}})?$, found \"{text}\"");
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let int_ok = int_part == "0"
        || (!int_part.is_empty()
            && int_part.len() <= 15
            && int_part.as_bytes()[0] != b'0'
            && int_part.bytes().all(|b| b.is_ascii_digit()));
    let frac_ok = match frac_part {
        None => true,
        Some(f) => !f.is_empty() && f.len() <= 12 && f.bytes().all(|b| b.is_ascii_digit()),
    };
    if !int_ok || !frac_ok {
        return Err(rule());
    }
    let frac = frac_part.unwrap_or("");
    let mut units: i128 = 0;
    for b in int_part.bytes().chain(frac.bytes()) {
        units = units * 10 + i128::from(b - b'0');
    }
    for _ in frac.len()..REVENUE_SCALE as usize {
        units *= 10;
    }
    Ok(units)
}

fn is_use_case_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
}

fn is_region_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// `true` for an ISO 4217-shaped code: three upper-case ASCII letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}
