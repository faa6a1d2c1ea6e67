//! `revshare rate`: usage rated offline, with no store, from the files a party holds
//! (statements.md, Reconciliation). The pipeline is `revshare-ingest`'s; the edges
//! reach it here, as they reach every other use case.

pub use revshare_ingest::offline::{
    rate_usage, rate_usage_without, Problem, ProblemKind, RateOutput, UsageInput, Voids,
};

use crate::{AppError, Result};

/// The header of a voids file (`revshare statement inputs` writes it; `rate --voids`
/// and `reconcile` read it).
pub const VOIDS_HEADER: [&str; 2] = ["source", "id"];

/// Reads a voids file: CSV `source,id`, with that header. `name` labels errors, which
/// name the line.
pub fn voids_from_csv(name: &str, bytes: &[u8]) -> Result<Voids> {
    let invalid = |line: u64, message: String| AppError::Invalid(format!("{name}: line {line}: {message}"));
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = reader.headers().map_err(|e| invalid(1, e.to_string()))?;
    if header.iter().ne(VOIDS_HEADER) {
        return Err(invalid(1, format!("the header must be `{}`", VOIDS_HEADER.join(","))));
    }
    let mut voids = Voids::default();
    for record in reader.records() {
        let record = record.map_err(|e| invalid(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        match (record.get(0), record.get(1), record.len()) {
            (Some(source), Some(id), 2) if !source.is_empty() && !id.is_empty() => voids.insert(source, id),
            _ => return Err(invalid(line, "a row is `source,id`, both non-empty".to_string())),
        }
    }
    Ok(voids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voids_file_reads_its_rows_and_names_what_is_wrong() {
        let voids = voids_from_csv("v.csv", b"source,id\nacme/us,e1\nacme/us,e2\nacme/eu,e1\n").unwrap();
        assert_eq!(voids.len(), 3);
        assert!(voids.contains("acme/us", "e2") && voids.contains("acme/eu", "e1"));
        assert!(!voids.contains("acme/eu", "e2"));
        assert!(voids_from_csv("v.csv", b"source,id\n").unwrap().is_empty());
        let message = |bytes: &[u8]| voids_from_csv("v.csv", bytes).unwrap_err().to_string();
        assert!(message(b"id,source\n").starts_with("v.csv: line 1: the header must be `source,id`"));
        assert!(message(b"source,id\nacme/us,\n").starts_with("v.csv: line 2:"));
        assert!(message(b"source,id\nacme/us,e1,x\n").starts_with("v.csv: line 2:"));
    }
}
