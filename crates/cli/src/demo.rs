//! `revshare demo`: the example end to end on bundled data.

use std::path::PathBuf;

use revshare_core::contract::{Contract, ContractSet};
use revshare_core::rating::RatingInputs;
use revshare_core::tables::{Contributions, FxTable};
use revshare_ingest::offline::UsageInput;

use crate::{format, rate, Failure, Format};

const EXAMPLES: [(&str, &[u8]); 3] = [
    (
        "acme-llama.toml",
        include_bytes!("../../../fixtures/spec-examples/contracts/acme-llama.toml"),
    ),
    (
        "nimbus-llama.toml",
        include_bytes!("../../../fixtures/spec-examples/contracts/nimbus-llama.toml"),
    ),
    (
        "orbit-llama.toml",
        include_bytes!("../../../fixtures/spec-examples/contracts/orbit-llama.toml"),
    ),
];
const FX: &[u8] = include_bytes!("../../../fixtures/spec-examples/fx.csv");
const CONTRIBUTIONS: &[u8] = include_bytes!("../../../fixtures/spec-examples/contributions.csv");
const USAGE: &[u8] = include_bytes!("../../../fixtures/spec-examples/usage-small.ndjson");

pub fn run(format: Format, _dir: Option<PathBuf>) -> Result<(), Failure> {
    let bundled = |e: String| Failure::other(format!("bundled example data is invalid: {e}"));
    let mut contracts = Vec::new();
    for (name, bytes) in EXAMPLES {
        contracts.push((
            name.to_string(),
            Contract::from_toml(name, bytes).map_err(|e| bundled(e.to_string()))?,
        ));
    }
    let inputs = RatingInputs {
        contracts: ContractSet::new(contracts).map_err(|e| bundled(e.to_string()))?,
        fx: FxTable::from_csv("fx.csv", FX).map_err(|e| bundled(e.to_string()))?,
        contributions: Contributions::from_csv("contributions.csv", CONTRIBUTIONS)
            .map_err(|e| bundled(e.to_string()))?,
        registry: None,
    };
    let usage = vec![UsageInput {
        name: "usage-small.ndjson".to_string(),
        reader: Box::new(USAGE),
    }];
    let output = rate::rate_with_report(&inputs, usage, None)?;
    let mut out = std::io::stdout().lock();
    format::write_statements(&mut out, &output.statements, format).map_err(|e| Failure::other(e.to_string()))?;
    println!("\nTry next: revshare rate --contract fixtures/spec-examples/contracts/acme-llama.toml --usage fixtures/spec-examples/usage-small.ndjson --format table");
    Ok(())
}
