//! Usage events (spec: usage-events.md): strict parsing, validation, the RFC 8785
//! canonical form and the RFC 9162 leaf hash.
//!
//! Parsing borrows from the input wherever it can, because the rating hot path parses
//! millions of events. The canonical form of the common event (no extension
//! attributes) is written directly in JCS key order; extension values go through
//! `serde_json_canonicalizer`, which handles arbitrary JSON numbers.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::merkle::Hash;

/// The largest integer JSON carries exactly (2^53 − 1).
pub const INTEGER_MAX: u64 = (1 << 53) - 1;
/// Revenue is carried in units of 10^-12 of its currency.
pub const REVENUE_SCALE: u32 = 12;
/// How far ahead of the receiving clock an event's time may be, on ingestion.
pub const FUTURE_SKEW_SECONDS_MAX: i64 = 5 * 60;
const SOURCE_CHARS_MAX: usize = 256;
const ID_CHARS_MAX: usize = 128;
const CUSTOMER_CHARS_MAX: usize = 128;
const USE_CASE_CHARS_MAX: usize = 64;
const REGION_CHARS_MAX: usize = 32;
/// Limits for fields the spec leaves unbounded, so one event cannot be arbitrarily large.
const NAME_CHARS_MAX: usize = 256;
const DEPTH_MAX: usize = 64;

/// Why an event was refused. The message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("an event must be a JSON object")]
    NotAnObject,
    #[error("{field}: content fields are not allowed in usage events")]
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
    pub fn code(&self) -> &'static str {
        match self {
            EventError::Json(_) | EventError::NotAnObject => "invalid_json",
            EventError::ContentField { .. } => "content_field",
            EventError::DuplicateKey { .. } => "duplicate_key",
            EventError::Missing { .. } => "missing_field",
            EventError::Invalid { .. } => "invalid_field",
            EventError::InTheFuture { .. } => "time_in_future",
        }
    }

    fn invalid(field: &str, rule: impl Into<String>) -> EventError {
        EventError::Invalid {
            field: field.to_string(),
            rule: rule.into(),
        }
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
    /// Parses and validates one event. Offline: no clock check (see [`check_clock`]).
    pub fn parse(bytes: &'a [u8]) -> Result<UsageEvent<'a>, EventError> {
        let slot = RefCell::new(None);
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let parsed = EventSeed { error: &slot }.deserialize(&mut deserializer);
        let parsed = parsed.and_then(|event| deserializer.end().map(|()| event));
        match parsed {
            Ok(event) => Ok(event),
            Err(json_error) => Err(slot
                .into_inner()
                .unwrap_or_else(|| EventError::Json(json_error.to_string()))),
        }
    }

    /// Writes the RFC 8785 (JCS) canonical form of the event as parsed.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if self.extensions.is_empty() {
            self.write_member(out, Member::Data);
            for member in [Member::Id, Member::Source, Member::SpecVersion, Member::Time, Member::Type] {
                out.push(b',');
                self.write_member(out, member);
            }
        } else {
            let mut members: Vec<(&str, Member)> = vec![
                ("data", Member::Data),
                ("id", Member::Id),
                ("source", Member::Source),
                ("specversion", Member::SpecVersion),
                ("time", Member::Time),
                ("type", Member::Type),
            ];
            for (index, (name, _)) in self.extensions.iter().enumerate() {
                members.push((name, Member::Extension(index)));
            }
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            for (position, (_, member)) in members.into_iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                self.write_member(out, member);
            }
        }
        out.push(b'}');
    }

    fn write_member(&self, out: &mut Vec<u8>, member: Member) {
        let mut field = |name: &str, value: &str| {
            write_json_string(out, name);
            out.push(b':');
            write_json_string(out, value);
        };
        match member {
            Member::Id => field("id", &self.id),
            Member::Source => field("source", &self.source),
            Member::SpecVersion => field("specversion", "1.0"),
            Member::Time => field("time", &self.time),
            Member::Type => field("type", "ai.usage.v1"),
            Member::Data => {
                write_json_string(out, "data");
                out.push(b':');
                self.data.write_canonical(out);
            }
            Member::Extension(index) => {
                let (name, value) = &self.extensions[index];
                write_json_string(out, name);
                out.push(b':');
                let canonical = serde_json_canonicalizer::to_vec(value)
                    .expect("a parsed JSON value always canonicalizes");
                out.extend_from_slice(&canonical);
            }
        }
    }

    /// The canonical form as a new buffer.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        self.write_canonical(&mut out);
        out
    }

    /// The RFC 9162 leaf hash `SHA-256(0x00 ‖ JCS(event))`, reusing `scratch`.
    pub fn leaf_hash_with(&self, scratch: &mut Vec<u8>) -> Hash {
        scratch.clear();
        self.write_canonical(scratch);
        crate::merkle::leaf_hash(scratch)
    }

    pub fn leaf_hash(&self) -> Hash {
        self.leaf_hash_with(&mut Vec::with_capacity(384))
    }
}

/// The ingestion-time bound: `time` at most 5 minutes ahead of `now`.
pub fn check_clock(event: &UsageEvent<'_>, now: Timestamp) -> Result<(), EventError> {
    if event.time_utc.seconds > now.seconds + FUTURE_SKEW_SECONDS_MAX
        || (event.time_utc.seconds == now.seconds + FUTURE_SKEW_SECONDS_MAX
            && event.time_utc.nanos > now.nanos)
    {
        return Err(EventError::InTheFuture {
            time: event.time.to_string(),
        });
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Member {
    Data,
    Id,
    Source,
    SpecVersion,
    Time,
    Type,
    Extension(usize),
}

impl UsageData<'_> {
    fn write_canonical(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, name: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            write_json_string(out, name);
            out.push(b':');
        };
        key(out, "currency");
        write_json_string(out, &self.currency);
        if let Some(customer) = &self.customer {
            key(out, "customer");
            write_json_string(out, customer);
        }
        key(out, "host");
        write_json_string(out, &self.host);
        key(out, "input_tokens");
        write_integer(out, self.input_tokens);
        key(out, "model");
        write_json_string(out, &self.model);
        key(out, "output_tokens");
        write_integer(out, self.output_tokens);
        if let Some(region) = &self.region {
            key(out, "region");
            write_json_string(out, region);
        }
        if let Some(requests) = self.requests {
            key(out, "requests");
            write_integer(out, requests);
        }
        key(out, "revenue");
        write_json_string(out, &self.revenue);
        key(out, "use_case");
        write_json_string(out, &self.use_case);
        out.push(b'}');
    }
}

fn write_integer(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut position = digits.len();
    loop {
        position -= 1;
        digits[position] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[position..]);
}

/// Writes a string as RFC 8785 (ECMAScript `JSON.stringify`) does.
pub fn write_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

// ---------------------------------------------------------------------------------
// Strict deserialization. Each visitor stores a typed error in the shared slot and
// hands serde an empty message, so callers see the typed error, not serde's text.

type Slot<'s> = &'s RefCell<Option<EventError>>;

fn fail<E: de::Error>(slot: Slot<'_>, error: EventError) -> E {
    let mut current = slot.borrow_mut();
    if current.is_none() {
        *current = Some(error);
    }
    E::custom("see the typed error")
}

/// A string that borrows from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowVisitor;
        impl<'de> Visitor<'de> for CowVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(CowVisitor)
    }
}

/// What a field's value may be, for the error message when it is something else.
#[derive(Clone, Copy)]
enum Expect {
    String,
    Integer,
}

/// Accepts only the expected JSON kind, recording a typed error otherwise.
struct FieldSeed<'s> {
    slot: Slot<'s>,
    field: &'s str,
    expect: Expect,
}

enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(u64),
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = FieldValue<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl FieldSeed<'_> {
    fn wrong<E: de::Error>(&self, found: &str) -> E {
        let rule = match (self.expect, self.field) {
            (Expect::String, "data.revenue") => format!(
                "must be a decimal string such as \"0.004275\", found {found}; JSON numbers are refused (no binary floats near money)"
            ),
            (Expect::String, _) => format!("must be a string, found {found}"),
            (Expect::Integer, _) => format!(
                "must be an integer from 0 to 2^53-1 written without fraction or exponent, found {found}"
            ),
        };
        fail(self.slot, EventError::invalid(self.field, rule))
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = FieldValue<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        match self.expect {
            Expect::String => Ok(FieldValue::Str(Cow::Borrowed(v))),
            Expect::Integer => Err(self.wrong("a string")),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match self.expect {
            Expect::String => Ok(FieldValue::Str(Cow::Owned(v.to_string()))),
            Expect::Integer => Err(self.wrong("a string")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Integer if v <= INTEGER_MAX => Ok(FieldValue::Int(v)),
            Expect::Integer => Err(self.wrong(&format!("{v}, above 2^53-1"))),
            Expect::String => Err(self.wrong("a number")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if v >= 0 {
            return self.visit_u64(v as u64);
        }
        Err(self.wrong(&format!("{v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(self.wrong(&format!("the number {v}")))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.wrong("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Err(self.wrong("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(self.wrong("an object"))
    }
}

fn take_str<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: Slot<'_>,
    field: &str,
) -> Result<Cow<'de, str>, A::Error> {
    match map.next_value_seed(FieldSeed {
        slot,
        field,
        expect: Expect::String,
    })? {
        FieldValue::Str(s) => Ok(s),
        FieldValue::Int(_) => unreachable!("a string seed yields strings"),
    }
}

fn take_int<'de, A: MapAccess<'de>>(map: &mut A, slot: Slot<'_>, field: &str) -> Result<u64, A::Error> {
    match map.next_value_seed(FieldSeed {
        slot,
        field,
        expect: Expect::Integer,
    })? {
        FieldValue::Int(v) => Ok(v),
        FieldValue::Str(_) => unreachable!("an integer seed yields integers"),
    }
}

struct EventSeed<'s> {
    error: Slot<'s>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = UsageEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

const TOP_FIELDS: [&str; 6] = ["specversion", "type", "source", "id", "time", "data"];

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = UsageEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a usage event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let slot = self.error;
        let mut seen = [false; TOP_FIELDS.len()];
        let mut source = None;
        let mut id = None;
        let mut time = None;
        let mut data = None;
        let mut extensions: Vec<(Cow<'de, str>, serde_json::Value)> = Vec::new();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let known = TOP_FIELDS.iter().position(|f| *f == key);
            if let Some(index) = known {
                if seen[index] {
                    return Err(fail(slot, EventError::DuplicateKey { field: key.to_string() }));
                }
                seen[index] = true;
            }
            match key.as_ref() {
                "specversion" => {
                    let v = take_str(&mut map, slot, "specversion")?;
                    if v != "1.0" {
                        return Err(fail(slot, EventError::invalid("specversion", format!("must be \"1.0\", found \"{v}\""))));
                    }
                }
                "type" => {
                    let v = take_str(&mut map, slot, "type")?;
                    if v != "ai.usage.v1" {
                        return Err(fail(slot, EventError::invalid("type", format!("must be \"ai.usage.v1\", found \"{v}\""))));
                    }
                }
                "source" => source = Some(take_str(&mut map, slot, "source")?),
                "id" => id = Some(take_str(&mut map, slot, "id")?),
                "time" => time = Some(take_str(&mut map, slot, "time")?),
                "data" => data = Some(map.next_value_seed(DataSeed { error: slot })?),
                _ => {
                    if extensions.iter().any(|(name, _)| *name == key) {
                        return Err(fail(slot, EventError::DuplicateKey { field: key.to_string() }));
                    }
                    let value = map.next_value_seed(StrictValue {
                        slot,
                        path: key.as_ref(),
                        depth: 0,
                    })?;
                    extensions.push((key, value));
                }
            }
        }
        let missing = |field: &str| fail::<A::Error>(slot, EventError::Missing { field: field.to_string() });
        for (index, field) in TOP_FIELDS.iter().enumerate().take(2) {
            if !seen[index] {
                return Err(missing(field));
            }
        }
        let source = source.ok_or_else(|| missing("source"))?;
        let id = id.ok_or_else(|| missing("id"))?;
        let time = time.ok_or_else(|| missing("time"))?;
        let data = data.ok_or_else(|| missing("data"))?;
        check_chars(slot, "source", &source, 1, SOURCE_CHARS_MAX)?;
        check_chars(slot, "id", &id, 1, ID_CHARS_MAX)?;
        let time_utc = parse_time(&time).map_err(|rule| fail(slot, EventError::invalid("time", rule)))?;
        Ok(UsageEvent {
            source,
            id,
            time,
            time_utc,
            data,
            extensions,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(fail(self.error, EventError::NotAnObject))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::NotAnObject))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::NotAnObject))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::NotAnObject))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::NotAnObject))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::NotAnObject))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::NotAnObject))
    }
}

fn check_chars<E: de::Error>(slot: Slot<'_>, field: &str, value: &str, min: usize, max: usize) -> Result<(), E> {
    // Byte length bounds the char count from above, so most values skip the count.
    let chars = if value.len() <= max { value.len().min(value.chars().count()) } else { value.chars().count() };
    if value.is_empty() || chars < min || chars > max {
        return Err(fail(slot, EventError::invalid(field, format!("must be {min} to {max} characters, found {chars}"))));
    }
    Ok(())
}

fn check_pattern<E: de::Error>(
    slot: Slot<'_>,
    field: &str,
    value: &str,
    max: usize,
    allowed: fn(u8) -> bool,
    pattern: &str,
) -> Result<(), E> {
    if value.is_empty() || value.len() > max || !value.bytes().all(allowed) {
        return Err(fail(slot, EventError::invalid(field, format!("must match {pattern}, found \"{value}\""))));
    }
    Ok(())
}

/// Parses an RFC 3339 time with offset into UTC.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("must be an RFC 3339 time with offset such as \"2026-10-03T12:00:00Z\", found \"{text}\" ({e})"))?;
    Ok(Timestamp {
        seconds: parsed.unix_timestamp(),
        nanos: parsed.nanosecond(),
    })
}

/// Parses a revenue string per the spec's pattern into units of 10^-12.
pub fn parse_revenue(text: &str) -> Result<i128, String> {
    let rule = || {
        format!("must be a decimal string matching ^(0|[1-9][0-9]{{0,14}})(\\.[0-9]{{1,12}})?$, found \"{text}\"")
    };
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
    let mut units: i128 = 0;
    for b in int_part.bytes() {
        units = units * 10 + (b - b'0') as i128;
    }
    let frac = frac_part.unwrap_or("");
    for b in frac.bytes() {
        units = units * 10 + (b - b'0') as i128;
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

struct DataSeed<'s> {
    error: Slot<'s>,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = UsageData<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

const DATA_FIELDS: [&str; 10] = [
    "host",
    "model",
    "use_case",
    "region",
    "customer",
    "requests",
    "input_tokens",
    "output_tokens",
    "revenue",
    "currency",
];

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = UsageData<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the data object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let slot = self.error;
        let mut seen = [false; DATA_FIELDS.len()];
        let (mut host, mut model, mut use_case, mut region, mut customer) = (None, None, None, None, None);
        let (mut requests, mut input_tokens, mut output_tokens, mut revenue, mut currency) =
            (None, None, None, None, None);
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let Some(index) = DATA_FIELDS.iter().position(|f| *f == key) else {
                return Err(fail(slot, EventError::ContentField { field: format!("data.{key}") }));
            };
            if seen[index] {
                return Err(fail(slot, EventError::DuplicateKey { field: format!("data.{key}") }));
            }
            seen[index] = true;
            match index {
                0 => host = Some(take_str(&mut map, slot, "data.host")?),
                1 => model = Some(take_str(&mut map, slot, "data.model")?),
                2 => use_case = Some(take_str(&mut map, slot, "data.use_case")?),
                3 => region = Some(take_str(&mut map, slot, "data.region")?),
                4 => customer = Some(take_str(&mut map, slot, "data.customer")?),
                5 => requests = Some(take_int(&mut map, slot, "data.requests")?),
                6 => input_tokens = Some(take_int(&mut map, slot, "data.input_tokens")?),
                7 => output_tokens = Some(take_int(&mut map, slot, "data.output_tokens")?),
                8 => revenue = Some(take_str(&mut map, slot, "data.revenue")?),
                _ => currency = Some(take_str(&mut map, slot, "data.currency")?),
            }
        }
        let missing = |field: &str| fail::<A::Error>(slot, EventError::Missing { field: format!("data.{field}") });
        let host = host.ok_or_else(|| missing("host"))?;
        let model = model.ok_or_else(|| missing("model"))?;
        let use_case = use_case.ok_or_else(|| missing("use_case"))?;
        let input_tokens = input_tokens.ok_or_else(|| missing("input_tokens"))?;
        let output_tokens = output_tokens.ok_or_else(|| missing("output_tokens"))?;
        let revenue = revenue.ok_or_else(|| missing("revenue"))?;
        let currency = currency.ok_or_else(|| missing("currency"))?;
        check_chars(slot, "data.host", &host, 1, NAME_CHARS_MAX)?;
        check_chars(slot, "data.model", &model, 1, NAME_CHARS_MAX)?;
        check_pattern(slot, "data.use_case", &use_case, USE_CASE_CHARS_MAX, is_use_case_byte, "[a-z0-9_]{1,64}")?;
        if let Some(region) = &region {
            check_pattern(slot, "data.region", region, REGION_CHARS_MAX, is_region_byte, "[a-z0-9-]{1,32}")?;
        }
        if let Some(customer) = &customer {
            check_chars(slot, "data.customer", customer, 1, CUSTOMER_CHARS_MAX)?;
        }
        let revenue_units = parse_revenue(&revenue).map_err(|rule| fail(slot, EventError::invalid("data.revenue", rule)))?;
        if !is_currency_code(&currency) {
            return Err(fail(
                slot,
                EventError::invalid("data.currency", format!("must be an ISO 4217 code such as \"USD\", found \"{currency}\"")),
            ));
        }
        Ok(UsageData {
            host,
            model,
            use_case,
            region,
            customer,
            requests,
            input_tokens,
            output_tokens,
            revenue,
            revenue_units,
            currency,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(fail(self.error, EventError::invalid("data", "must be an object")))
    }
}

/// Any JSON value, refusing duplicate keys at every level (extension attributes).
struct StrictValue<'s> {
    slot: Slot<'s>,
    path: &'s str,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = serde_json::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.depth >= DEPTH_MAX {
            return Err(fail(self.slot, EventError::invalid(self.path, format!("nests deeper than {DEPTH_MAX} levels"))));
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            slot: self.slot,
            path: self.path,
            depth: self.depth + 1,
        })? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.depth >= DEPTH_MAX {
            return Err(fail(self.slot, EventError::invalid(self.path, format!("nests deeper than {DEPTH_MAX} levels"))));
        }
        let mut object = serde_json::Map::new();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            if object.contains_key(key.as_ref()) {
                return Err(fail(self.slot, EventError::DuplicateKey { field: format!("{}.{key}", self.path) }));
            }
            let value = map.next_value_seed(StrictValue {
                slot: self.slot,
                path: self.path,
                depth: self.depth + 1,
            })?;
            object.insert(key.into_owned(), value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// Splits serde_json's trailing position off an error message, for readable reports.
pub fn strip_position(message: &str) -> &str {
    message.rsplit_once(" at line ").map_or(message, |(head, _)| head)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us-east-1","id":"01JD6Q3M2V","time":"2026-10-03T12:00:00.125Z","data":{"host":"acme-cloud","model":"llama-3.1-70b-instruct","use_case":"customer_service","region":"us","customer":"c-18233","requests":1,"input_tokens":1200,"output_tokens":350,"revenue":"0.004275","currency":"USD"}}"#;

    fn with_data(field: &str, value: &str) -> String {
        GOOD.replace(r#""currency":"USD"}"#, &format!(r#""currency":"USD",{field}:{value}}}"#))
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
            .replace(r#""id":"01JD6Q3M2V""#, r#""id":"a\"b\\c\u0001\u00e9\u2028","zext":{"b":[1.5,2e3,-0.0],"a":null},"Aext":"x","€":1"#)
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
            (with_data(r#""prompt""#, r#""hello""#), "data.prompt: content fields are not allowed"),
            (with_data(r#""messages""#, "[]"), "data.messages: content fields"),
            (GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":0.004275"#), "data.revenue: must be a decimal string"),
            (GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"1e-3""#), "data.revenue: must be a decimal string matching"),
            (GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"01.5""#), "data.revenue"),
            (GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"-1""#), "data.revenue"),
            (GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"0.1234567890123""#), "data.revenue"),
            (GOOD.replace(r#""revenue":"0.004275""#, r#""revenue":"1234567890123456""#), "data.revenue"),
            (GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":-1"#), "data.input_tokens: must be an integer"),
            (GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":1200.0"#), "data.input_tokens"),
            (GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":1e3"#), "data.input_tokens"),
            (GOOD.replace(r#""input_tokens":1200"#, r#""input_tokens":9007199254740992"#), "data.input_tokens"),
            (GOOD.replace(r#""requests":1"#, r#""requests":"1""#), "data.requests"),
            (GOOD.replace(r#""host":"acme-cloud","#, ""), "data.host: missing"),
            (GOOD.replace(r#""use_case":"customer_service""#, r#""use_case":"Customer""#), "data.use_case: must match"),
            (GOOD.replace(r#""region":"us""#, r#""region":"US_east""#), "data.region"),
            (GOOD.replace(r#""currency":"USD""#, r#""currency":"usd""#), "data.currency"),
            (GOOD.replace(r#""model":"llama-3.1-70b-instruct","#, r#""model":"a","model":"b","#), "data.model: duplicate key"),
            (GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"x","id":"y""#), "id: duplicate key"),
            (GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"01JD6Q3M2V","ext":{"a":1,"a":2}"#), "ext.a: duplicate key"),
            (GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"""#), "id: must be 1 to 128"),
            (GOOD.replace(r#""id":"01JD6Q3M2V""#, &format!(r#""id":"{}""#, "x".repeat(129))), "id: must be 1 to 128"),
            (GOOD.replace(r#""specversion":"1.0""#, r#""specversion":"0.3""#), "specversion: must be \"1.0\""),
            (GOOD.replace(r#""type":"ai.usage.v1""#, r#""type":"other""#), "type: must be"),
            (GOOD.replace("2026-10-03T12:00:00.125Z", "2026-10-03 12:00:00"), "time: must be an RFC 3339"),
            (GOOD.replace("2026-10-03T12:00:00.125Z", "2026-10-03T12:00:00"), "time: must be an RFC 3339"),
            (GOOD.replace(r#","source":"acme-cloud/us-east-1""#, ""), "source: missing"),
            (GOOD.replace(r#""id":"01JD6Q3M2V""#, r#""id":"\ud800""#), "invalid JSON"),
            ("[1]".to_string(), "an event must be a JSON object"),
            ("{".to_string(), "invalid JSON"),
            (format!("{GOOD} x"), "invalid JSON"),
        ];
        for (input, expected) in cases {
            let error = UsageEvent::parse(input.as_bytes()).expect_err(&input).to_string();
            assert!(error.contains(expected), "input {input}\n got: {error}\nwant: {expected}");
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
        assert!(check_clock(&event, at("2026-10-03T11:55:00.125Z")).is_ok());
        assert!(check_clock(&event, at("2026-10-03T11:55:00.124Z")).is_err());
    }
}
