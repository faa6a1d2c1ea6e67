//! Inclusion proofs for stored statements: which tree of a statement holds an event,
//! and its RFC 9162 audit path.

use revshare_core::merkle::Hash;
use revshare_core::verify::{prove as build, InclusionProof};

use crate::backend::{Backend, Result};
use crate::close::{tree_leaves, Settled};
use crate::StoreError;

/// The proof that event `(source, id)` is counted in statement `statement_id`.
pub fn prove(backend: &mut dyn Backend, statement_id: &str, source: &str, id: &str) -> Result<InclusionProof> {
    let row = backend
        .statement(statement_id)?
        .ok_or_else(|| StoreError::Refused(format!("no statement `{statement_id}` is closed")))?;
    let settled: Vec<Settled> = serde_json::from_str(&row.settled).map_err(|e| StoreError::Database(e.to_string()))?;
    // Rating inputs are read once for all the statement's trees.
    let inputs = crate::rating_inputs(backend)?;
    let trees =
        std::iter::once("events".to_string()).chain(settled.iter().map(|s| format!("prior_period:{}", s.period)));
    for tree in trees {
        let leaves = tree_leaves(backend, &inputs, &row, &tree)?;
        if let Some(index) = leaves.iter().position(|(s, i, _)| s == source && i == id) {
            let hashes: Vec<Hash> = leaves.iter().map(|(_, _, h)| *h).collect();
            return Ok(build(statement_id, &tree, &hashes, index));
        }
    }
    Err(StoreError::Refused(format!(
        "event ({source}, {id}) is not counted in statement {statement_id}"
    )))
}
