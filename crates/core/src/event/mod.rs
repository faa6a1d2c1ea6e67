//! Usage events (spec: usage-events.md): strict parsing, validation, the RFC 8785
//! canonical form and the RFC 9162 leaf hash.
//!
//! Two parsers read events. [`fast`] handles the common shape in one pass without
//! allocating, which is most of the cost of rating a million events; it gives up on
//! anything unusual, and [`strict`] (serde_json with strict visitors) then reads the
//! event and explains any refusal. Both yield the same raw fields, judged by one set
//! of rules in [`validate`].

mod canonical;
mod fast;
mod strict;
pub mod table;
mod validate;

use std::borrow::Cow;

use crate::merkle::Hash;
pub use canonical::write_json_string;
use canonical::Strings;
pub use fast::Shape;
pub use validate::{is_currency_code, parse_revenue, parse_time};

/// The largest integer JSON carries exactly (2^53 − 1).
pub const INTEGER_MAX: u64 = (1 << 53) - 1;
/// Revenue is carried in units of 10^-12 of its currency.
pub const REVENUE_SCALE: u32 = 12;
/// How far ahead of the receiving clock an event's time may be, on ingestion.
pub const FUTURE_SKEW_SECONDS_MAX: i64 = 5 * 60;

/// Why an event was refused. The message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("an event must be a JSON object")]
    NotAnObject,
    #[error("{field}: content fields are not allowed in usage events (data holds only host, model, use_case, region, customer, requests, input_tokens, output_tokens, revenue, currency)")]
    ContentField { field: String },
    #[error("{field}: duplicate key")]
    DuplicateKey { field: String },
    #[error("{field}: missing")]
    Missing { field: String },
    #[error("{field}: {rule}")]
    Invalid { field: String, rule: String },
    #[error("time: {time} is more than 5 minutes ahead of the receiving clock")]
    InTheFuture { time: String },
}

impl EventError {
    /// A stable machine-readable code for APIs and reports.
    pub fn code(&self) -> RejectionCode {
        match self {
            EventError::Json(_) | EventError::NotAnObject => RejectionCode::InvalidJson,
            EventError::ContentField { .. } => RejectionCode::ContentField,
            EventError::DuplicateKey { .. } => RejectionCode::DuplicateKey,
            EventError::Missing { .. } => RejectionCode::MissingField,
            EventError::Invalid { .. } => RejectionCode::InvalidField,
            EventError::InTheFuture { .. } => RejectionCode::TimeInFuture,
        }
    }
}

/// Why an event was not stored, as the stable code reports and the API give: the
/// codes of validation ([`EventError::code`]), then those of ingestion around it (a
/// host's batch holding another party's event, a key stored with other content).
/// Serialized as its [`RejectionCode::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    InvalidJson,
    ContentField,
    DuplicateKey,
    MissingField,
    InvalidField,
    TimeInFuture,
    /// A batch posted by a host holds an event of another host.
    HostMismatch,
    /// A batch posted by a host holds an event whose source is not the host's.
    SourceMismatch,
    /// The event's key is stored with other content; the first stands.
    Conflict,
}

impl RejectionCode {
    pub const ALL: [RejectionCode; 9] = [
        RejectionCode::InvalidJson,
        RejectionCode::ContentField,
        RejectionCode::DuplicateKey,
        RejectionCode::MissingField,
        RejectionCode::InvalidField,
        RejectionCode::TimeInFuture,
        RejectionCode::HostMismatch,
        RejectionCode::SourceMismatch,
        RejectionCode::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::InvalidJson => "invalid_json",
            RejectionCode::ContentField => "content_field",
            RejectionCode::DuplicateKey => "duplicate_key",
            RejectionCode::MissingField => "missing_field",
            RejectionCode::InvalidField => "invalid_field",
            RejectionCode::TimeInFuture => "time_in_future",
            RejectionCode::HostMismatch => "host_mismatch",
            RejectionCode::SourceMismatch => "source_mismatch",
            RejectionCode::Conflict => "conflict",
        }
    }
}

impl std::fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instant in UTC, to the nanosecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp { seconds, nanos: 0 }
    }

    /// Days since 1970-01-01 of the UTC date.
    pub fn utc_day(self) -> i32 {
        self.seconds.div_euclid(86_400) as i32
    }
}

/// The `data` of a usage event, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageData<'a> {
    pub host: Cow<'a, str>,
    pub model: Cow<'a, str>,
    pub use_case: Cow<'a, str>,
    pub region: Option<Cow<'a, str>>,
    pub customer: Option<Cow<'a, str>>,
    /// As sent; rating defaults a missing value to 1.
    pub requests: Option<u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The revenue string exactly as sent (it is hashed as sent).
    pub revenue: Cow<'a, str>,
    /// The same revenue in units of 10^-12.
    pub revenue_units: i128,
    pub currency: Cow<'a, str>,
}

impl UsageData<'_> {
    pub fn requests_rated(&self) -> u64 {
        self.requests.unwrap_or(1)
    }
}

/// A validated usage event.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageEvent<'a> {
    pub source: Cow<'a, str>,
    pub id: Cow<'a, str>,
    /// The original `time` string, kept for the hash.
    pub time: Cow<'a, str>,
    pub time_utc: Timestamp,
    pub data: UsageData<'a>,
    /// CloudEvents extension attributes: kept and hashed, otherwise ignored.
    pub extensions: Vec<(Cow<'a, str>, serde_json::Value)>,
}

impl<'a> UsageEvent<'a> {
    /// Parses and validates one event. Offline: no clock check (see [`too_far_ahead`]).
    pub fn parse(bytes: &'a [u8]) -> Result<UsageEvent<'a>, EventError> {
        Self::parse_shaped(bytes, &mut Shape::default())
    }

    /// [`UsageEvent::parse`], faster on a run of events written alike: `shape`
    /// remembers the order of keys from one event to the next.
    pub fn parse_shaped(bytes: &'a [u8], shape: &mut Shape) -> Result<UsageEvent<'a>, EventError> {
        Self::read(bytes, shape).map(|(event, _)| event)
    }

    /// [`UsageEvent::parse_shaped`] and the event's [leaf hash](UsageEvent::leaf_hash),
    /// in one step, reusing `scratch`. An event the fast parser read has only strings
    /// that were free of escapes in the input, and JSON allows no `"`, `\\` or
    /// control character unescaped, so its canonical form copies them without the
    /// escape scan. That knowledge holds only here, between reading and hashing,
    /// which is why the two are one step.
    pub fn parse_and_hash(
        bytes: &'a [u8],
        shape: &mut Shape,
        scratch: &mut Vec<u8>,
    ) -> Result<(UsageEvent<'a>, Hash), EventError> {
        let (event, strings) = Self::read(bytes, shape)?;
        let leaf = event.leaf_hash_as(scratch, strings);
        Ok((event, leaf))
    }

    /// The event, by the fast parser or else the strict one, and what that says of
    /// its strings.
    fn read(bytes: &'a [u8], shape: &mut Shape) -> Result<(UsageEvent<'a>, Strings), EventError> {
        match fast::parse(bytes, shape) {
            Some(raw) => Ok((validate::validate(raw)?, Strings::Plain)),
            None => Ok((strict::parse(bytes)?, Strings::MayNeedEscapes)),
        }
    }

    /// Parses with the strict parser only (for tests that compare the two).
    #[doc(hidden)]
    pub fn parse_strict(bytes: &'a [u8]) -> Result<UsageEvent<'a>, EventError> {
        strict::parse(bytes)
    }
}

/// `true` when `time` is more than 5 minutes ahead of `now`.
pub fn too_far_ahead(time: Timestamp, now: Timestamp) -> bool {
    let limit = Timestamp {
        seconds: now.seconds + FUTURE_SKEW_SECONDS_MAX,
        nanos: now.nanos,
    };
    time > limit
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us-east-1","id":"01JD6Q3M2V","time":"2026-10-03T12:00:00.125Z","data":{"host":"acme-cloud","model":"llama-3.1-70b-instruct","use_case":"customer_service","region":"us","customer":"c-18233","requests":1,"input_tokens":1200,"output_tokens":350,"revenue":"0.004275","currency":"USD"}}"#;

    fn with_data(field: &str, value: &str) -> String {
        GOOD.replace(
            r#""currency":"USD"}"#,
            &format!(r#""currency":"USD",{field}:{value}}}"#),
        )
    }

    #[test]
    fn the_spec_example_parses() {
        let event = UsageEvent::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(event.data.revenue_units, 4_275_000_000);
        assert_eq!(event.data.requests_rated(), 1);
        assert!(matches!(event.data.model, Cow::Borrowed(_)));
    }

    #[test]
    fn canonical_form_sorts_keys_and_keeps_values_as_sent() {
        let event = UsageEvent::parse(GOOD.as_bytes()).unwrap();
        let canonical = String::from_utf8(event.canonical()).unwrap();
        let expected = serde_json_canonicalizer::pipe(GOOD).unwrap();
        assert_eq!(canonical, expected);
    }

    #[test]
    fn canonical_form_with_extensions_and_escapes_matches_the_reference() {
        let text = GOOD
            .replace(
                r#""id":"01JD6Q3M2V""#,
                r#""id":"a\"b\\c\u0001\u00e9\u2028","zext":{"b":[1.5,2e3,-0.0],"a":null},"Aext":"x","€":1"#,
            )
            .replace("2026-10-03T12:00:00.125Z", "2026-10-03T14:00:00+02:00");
        let event = UsageEvent::parse(text.as_bytes()).unwrap();
        let canonical = String::from_utf8(event.canonical()).unwrap();
        assert_eq!(canonical, serde_json_canonicalizer::pipe(&text).unwrap());
        assert_eq!(event.time_utc, parse_time("2026-10-03T12:00:00Z").unwrap());
    }

    /// Data-driven: each bad input and the field its error must name.
    #[test]
    fn bad_events_are_refused_with_the_field_named() {
        let cases: Vec<(String, &str)> = vec![
            (
                with_data(r#""prompt""#, r#""hello""#),
                "data.prompt: content fields are not allowed",
            ),
            (with_data(r#""messages""#, "[]"), "data.messages: content fields"),
            (
                GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":0.004275"#),
                "data.revenue: must be a decimal string",
            ),
            (
                GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"1e-3""#),
                "data.revenue: must be a decimal string matching",
            ),
            (
                GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"01.5""#),
                "data.revenue",
            ),
            (
                GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"-1""#),
                "data.revenue",
            ),
            (
                GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"0.1234567890123""#),
                "data.revenue",
            ),
            (
                GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"1234567890123456""#),
                "data.revenue",
            ),
            (
                GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":-1"#),
                "data.input_tokens: must be an integer",
            ),
            (
                GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":1200.0"#),
                "data.input_tokens",
            ),
            (
                GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":1e3"#),
                "data.input_tokens",
            ),
            (
                GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":9007199254740992"#),
                "data.input_tokens",
            ),
            (GOOD.replace(r#""requests":1"#, r#""requests":"1""#), "data.requests"),
            (GOOD.replace(r#""host":"acme-cloud","#, ""), "data.host: missing"),
            (
                GOOD.replace(r#""use_case":"customer_service""#, r#""use_case":"Customer""#),
                "data.use_case: must match",
            ),
            (GOOD.replace(r#""region":"us""#, r#""region":"US_east""#), "data.region"),
            (
                GOOD.replace(r#""currency":"USD""#, r#""currency":"usd""#),
                "data.currency",
            ),
            (
                GOOD.replace(r#""model":"llama-3.1-70b-instruct","#, r#""model":"a","model":"b","#),
                "data.model: duplicate key",
            ),
            (
                GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"x","id":"y""#),
                "id: duplicate key",
            ),
            (
                GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"01JD6Q3M2V","ext":{"a":1,"a":2}"#),
                "ext.a: duplicate key",
            ),
            (
                GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"""#),
                "id: must be 1 to 128",
            ),
            (
                GOOD.replace(r#""id":"01JD6Q3M2V""#, &format!(r#""id":"{}""#, "x".repeat(129))),
                "id: must be 1 to 128",
            ),
            (
                GOOD.replace(r#""specversion":"1.0""#, r#""specversion":"0.3""#),
                "specversion: must be \"1.0\"",
            ),
            (
                GOOD.replace(r#""type":"ai.usage.v1""#, r#""type":"other""#),
                "type: must be",
            ),
            (
                GOOD.replace("2026-10-03T12:00:00.125Z", "2026-10-03 12:00:00"),
                "time: must be an RFC 3339",
            ),
            (
                GOOD.replace("2026-10-03T12:00:00.125Z", "2026-10-03T12:00:00"),
                "time: must be an RFC 3339",
            ),
            (
                GOOD.replace(r#","source":"acme-cloud/us-east-1""#, ""),
                "source: missing",
            ),
            (GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"\ud800""#), "invalid JSON"),
            ("[1]".to_string(), "an event must be a JSON object"),
            ("{".to_string(), "invalid JSON"),
            (format!("{GOOD} x"), "invalid JSON"),
        ];
        for (input, expected) in cases {
            let error = UsageEvent::parse(input.as_bytes()).expect_err(&input).to_string();
            assert!(
                error.contains(expected),
                "input {input}\n got: {error}\nwant: {expected}"
            );
        }
        let invalid_utf8 = GOOD.replace("c-18233", "c-\u{1}").into_bytes();
        let mut broken = invalid_utf8.clone();
        let position = broken.iter().position(|b| *b == 1).unwrap();
        broken[position] = 0xff;
        assert!(matches!(UsageEvent::parse(&broken), Err(EventError::Json(_))));
    }

    #[test]
    fn the_clock_bound_is_five_minutes() {
        let event = UsageEvent::parse(GOOD.as_bytes()).unwrap();
        let at = |s: &str| parse_time(s).unwrap();
        assert!(!too_far_ahead(event.time_utc, at("2026-10-03T11:55:00.125Z")));
        assert!(too_far_ahead(event.time_utc, at("2026-10-03T11:55:00.124Z")));
    }

    #[test]
    fn a_rejection_code_serializes_as_the_text_it_shows() {
        let texts: Vec<&str> = RejectionCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            texts,
            [
                "invalid_json",
                "content_field",
                "duplicate_key",
                "missing_field",
                "invalid_field",
                "time_in_future",
                "host_mismatch",
                "source_mismatch",
                "conflict"
            ]
        );
        for code in RejectionCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert_eq!(code.to_string(), code.as_str());
        }
    }
}
