//! A statement's stored trees as the app reads them back.

use revshare_core::merkle::Hash;
use revshare_store::backend::TreeRow;

use crate::{AppError, Result};

/// A stored tree's leaves, 32 bytes each.
pub(crate) fn split_leaves(row: &TreeRow) -> Result<Vec<Hash>> {
    if !row.leaves.len().is_multiple_of(32) {
        return Err(AppError::Integrity(format!(
            "statement {}: tree `{}` holds {} bytes, not whole leaves",
            row.statement_id,
            row.tree,
            row.leaves.len()
        )));
    }
    Ok(row
        .leaves
        .chunks_exact(32)
        .map(|c| {
            let mut leaf = [0u8; 32];
            leaf.copy_from_slice(c);
            leaf
        })
        .collect())
}
