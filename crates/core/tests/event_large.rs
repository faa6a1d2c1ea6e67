//! Large events are read in time linear in their size: many extension attributes,
//! many keys inside an extension object, many keys in a value of `data`, deep
//! nesting. Duplicate keys among many are still refused, naming the key.
//!
//! The bounds are generous: the test profile builds this crate without optimization
//! (only dependencies get opt-level 2), and the machine may be shared. The point is
//! the order of growth: a quadratic check of 110,000 keys takes seconds even in
//! release, a linear one a small fraction of the bound.

use std::time::{Duration, Instant};

use revshare_core::event::{EventError, UsageEvent};

const KEYS: usize = 110_000;
const BOUND: Duration = Duration::from_secs(3);

const GOOD: &str = r#"{"specversion":"1.0","type":"ai.usage.v1","source":"acme-cloud/us-east-1","id":"01JD6Q3M2V","time":"2026-10-03T12:00:00.125Z","data":{"host":"acme-cloud","model":"llama-3.1-70b-instruct","use_case":"customer_service","requests":1,"input_tokens":1200,"output_tokens":350,"revenue":"0.004275","currency":"USD"}}"#;

/// `"x0":0,"x1":1,…` for `count` keys, with key `duplicate` written a second time
/// at the end when given.
fn members(count: usize, duplicate: Option<usize>) -> String {
    let mut text = String::with_capacity(count * 16);
    for k in 0..count {
        text.push_str(&format!("\"x{k}\":{k},"));
    }
    if let Some(k) = duplicate {
        text.push_str(&format!("\"x{k}\":0,"));
    }
    text.pop();
    text
}

/// GOOD with `extra` (members, without braces) added at the top level.
fn with_top_level(extra: &str) -> String {
    format!("{},{extra}}}", &GOOD[..GOOD.len() - 1])
}

/// Parses and hashes `text`, failing the test if that takes longer than the bound.
fn parse_timed(text: &str) -> Result<usize, EventError> {
    let start = Instant::now();
    let parsed = UsageEvent::parse(text.as_bytes()).map(|event| {
        let _ = event.leaf_hash();
        event.extensions.len()
    });
    let elapsed = start.elapsed();
    eprintln!("{} bytes: {elapsed:?}", text.len());
    assert!(elapsed < BOUND, "{} bytes took {elapsed:?}", text.len());
    parsed
}

#[test]
fn many_extension_attributes_are_read_in_linear_time() {
    let text = with_top_level(&members(KEYS, None));
    assert_eq!(parse_timed(&text), Ok(KEYS));
}

#[test]
fn a_duplicate_among_many_extension_attributes_is_refused() {
    let text = with_top_level(&members(KEYS, Some(54_321)));
    let error = parse_timed(&text).unwrap_err();
    assert_eq!(error.code().as_str(), "duplicate_key");
    assert_eq!(error.to_string(), "x54321: duplicate key");
}

#[test]
fn many_keys_inside_an_extension_object_are_read_in_linear_time() {
    let text = with_top_level(&format!("\"ext\":{{{}}}", members(KEYS, None)));
    assert_eq!(parse_timed(&text), Ok(1));
}

#[test]
fn a_duplicate_among_many_keys_inside_an_extension_object_is_refused() {
    let text = with_top_level(&format!("\"ext\":[{{{}}}]", members(KEYS, Some(7))));
    let error = parse_timed(&text).unwrap_err();
    assert_eq!(error.code().as_str(), "duplicate_key");
    assert_eq!(error.to_string(), "ext.x7: duplicate key");
}

#[test]
fn many_keys_in_a_value_of_data_are_refused_in_linear_time() {
    let text = GOOD.replace(
        r#""host":"acme-cloud""#,
        &format!("\"host\":{{{}}}", members(KEYS, Some(1))),
    );
    let error = parse_timed(&text).unwrap_err();
    assert_eq!(error.to_string(), "data.host: must be a string, found an object");
}

#[test]
fn deep_nesting_is_refused_quickly_and_without_overflow() {
    let depth = 200_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let error = parse_timed(&with_top_level(&format!("\"ext\":{deep}"))).unwrap_err();
    assert_eq!(error.to_string(), "ext: nests deeper than 64 levels");
    let error = parse_timed(&GOOD.replace(r#""acme-cloud","#, &format!("{deep},"))).unwrap_err();
    assert_eq!(error.to_string(), "data.host: must be a string, found an array");
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let error = parse_timed(&with_top_level(&format!("\"ext\":{objects}"))).unwrap_err();
    assert_eq!(error.to_string(), "ext: nests deeper than 64 levels");
}

#[test]
fn nesting_to_the_limit_is_read() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(parse_timed(&with_top_level(&format!("\"ext\":{}", nested(64)))), Ok(1));
    assert!(parse_timed(&with_top_level(&format!("\"ext\":{}", nested(65)))).is_err());
}
