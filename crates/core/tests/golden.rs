//! The core's reference path reproduces the spec's expected statements field for field.

mod common;

use revshare_core::rating::{rate_events, KeyedFacts};
use revshare_core::statement::Statement;

fn rate(example: &common::Example) -> Vec<Statement> {
    let events = common::events(&example.usage);
    let keyed: Vec<KeyedFacts<'_>> = events.iter().map(|e| KeyedFacts::of(e, e.leaf_hash())).collect();
    rate_events(&example.inputs, &keyed, None)
        .into_iter()
        .map(|r| r.statement)
        .collect()
}

#[test]
fn edge_cases_match_expected_json() {
    let example = common::edge();
    assert_eq!(serde_json::to_value(rate(&example)).unwrap(), example.expected);
}

#[test]
fn small_example_matches_expected_json() {
    let example = common::small();
    assert_eq!(serde_json::to_value(rate(&example)).unwrap(), example.expected);
}
