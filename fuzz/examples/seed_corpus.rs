//! Writes the seed corpora of the fuzz targets from the spec's examples in
//! `fixtures/spec-examples`: `cargo run --manifest-path fuzz/Cargo.toml --example
//! seed_corpus`. Existing files of the same name are overwritten; others are kept.

use std::fs;
use std::path::{Path, PathBuf};

use revshare_core::statement::Statement;
use revshare_core::verify;

/// How many lines of the large usage example to take.
const SMALL_USAGE_LINES: usize = 120;

type Seeds = Vec<(String, Vec<u8>)>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples = root.join("../fixtures/spec-examples");
    let read = |name: &str| fs::read(examples.join(name));
    let events = [
        lines("edge-usage", &read("edge/usage.ndjson")?, usize::MAX),
        lines("small-usage", &read("usage-small.ndjson")?, SMALL_USAGE_LINES),
    ]
    .concat();
    write(root, "event_fast", &events)?;
    write(root, "event_strict", &events)?;
    let contracts = [
        "contracts/acme-llama.toml",
        "contracts/nimbus-llama.toml",
        "contracts/orbit-llama.toml",
        "edge/edge.toml",
        "edge/edge-fx.toml",
        "edge/edge-two.toml",
    ];
    write(root, "contract", &files(&read, &contracts)?)?;
    let tables = [
        "fx.csv",
        "contributions.csv",
        "edge/fx.csv",
        "edge/contributions.csv",
        "edge/models.csv",
    ];
    write(root, "tables", &files(&read, &tables)?)?;
    let statements = [
        statements("small", &read("expected-small.json")?)?,
        statements("edge", &read("edge/expected.json")?)?,
    ]
    .concat();
    write(root, "statement_verify", &statements)
}

/// Each non-empty line of `bytes`, up to `most`, named `prefix-NNN`.
fn lines(prefix: &str, bytes: &[u8], most: usize) -> Seeds {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .take(most)
        .enumerate()
        .map(|(index, line)| (format!("{prefix}-{index:03}"), line.to_vec()))
        .collect()
}

/// Whole files, named by their path with `/` as `-`.
fn files(read: &dyn Fn(&str) -> std::io::Result<Vec<u8>>, names: &[&str]) -> std::io::Result<Seeds> {
    names
        .iter()
        .map(|name| Ok((name.replace('/', "-"), read(name)?)))
        .collect()
}

/// Each statement of a JSON array, unsigned and signed with the fixed key.
fn statements(prefix: &str, bytes: &[u8]) -> Result<Seeds, serde_json::Error> {
    let key = revshare_fuzz::signing_key();
    let mut seeds = Seeds::new();
    for (index, mut statement) in serde_json::from_slice::<Vec<Statement>>(bytes)?.into_iter().enumerate() {
        seeds.push((
            format!("{prefix}-{index:02}-unsigned.json"),
            statement.to_json_pretty().into(),
        ));
        verify::sign(&mut statement, &key);
        seeds.push((
            format!("{prefix}-{index:02}-signed.json"),
            statement.to_json_pretty().into(),
        ));
    }
    Ok(seeds)
}

fn write(root: &Path, target: &str, seeds: &Seeds) -> Result<(), Box<dyn std::error::Error>> {
    let folder: PathBuf = root.join("corpus").join(target);
    fs::create_dir_all(&folder)?;
    for (name, bytes) in seeds {
        fs::write(folder.join(name), bytes)?;
    }
    println!("{target}: {} seeds", seeds.len());
    Ok(())
}
