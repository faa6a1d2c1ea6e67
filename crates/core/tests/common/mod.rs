//! Loading the spec's examples (copied into `fixtures/spec-examples`) for tests.

#![allow(dead_code)]

use std::path::PathBuf;

use revshare_core::contract::{Contract, ContractSet};
use revshare_core::event::UsageEvent;
use revshare_core::rating::RatingInputs;
use revshare_core::tables::{Contributions, FxTable, ModelRegistry};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/spec-examples")
}

pub fn read(relative: &str) -> Vec<u8> {
    let path = fixtures().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A named example: its inputs, usage lines and expected statements.
pub struct Example {
    pub inputs: RatingInputs,
    pub usage: Vec<u8>,
    pub expected: serde_json::Value,
}

pub fn load_inputs(contracts: &[&str], fx: &str, contributions: &str, models: Option<&str>) -> RatingInputs {
    let loaded = contracts
        .iter()
        .map(|c| (c.to_string(), Contract::from_toml(c, &read(c)).unwrap()))
        .collect();
    RatingInputs {
        contracts: ContractSet::new(loaded).unwrap(),
        fx: FxTable::from_csv(fx, &read(fx)).unwrap(),
        contributions: Contributions::from_csv(contributions, &read(contributions)).unwrap(),
        registry: models.map(|m| ModelRegistry::from_csv(m, &read(m)).unwrap()),
    }
}

pub fn edge() -> Example {
    Example {
        inputs: load_inputs(
            &["edge/edge.toml", "edge/edge-fx.toml", "edge/edge-two.toml"],
            "edge/fx.csv",
            "edge/contributions.csv",
            Some("edge/models.csv"),
        ),
        usage: read("edge/usage.ndjson"),
        expected: serde_json::from_slice(&read("edge/expected.json")).unwrap(),
    }
}

pub fn small() -> Example {
    Example {
        inputs: load_inputs(
            &[
                "contracts/acme-llama.toml",
                "contracts/nimbus-llama.toml",
                "contracts/orbit-llama.toml",
            ],
            "fx.csv",
            "contributions.csv",
            None,
        ),
        usage: read("usage-small.ndjson"),
        expected: serde_json::from_slice(&read("expected-small.json")).unwrap(),
    }
}

/// Parses every non-blank line as an event (the examples hold only valid ones).
pub fn events(usage: &[u8]) -> Vec<UsageEvent<'_>> {
    usage
        .split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| UsageEvent::parse(line).unwrap())
        .collect()
}
