//! Closed statements as stored: every read checks the signature over the stored
//! bytes first, and proofs and leaf lists come from the leaves each statement was
//! closed with (never from re-deriving membership under today's contracts or
//! registry), so proving an event gives the same answer forever.

use revshare_core::merkle::{self, Hash};
use revshare_core::statement::Statement;
use revshare_core::verify::{prove as build_proof, signed_tree, InclusionProof, TreeName};
use revshare_store::backend::{StatementRow, TreeRow};

use crate::settle::VerifiedStatements;
use crate::{AppError, Backend, Result};

/// A stored statement, its signature checked.
#[derive(Clone, Debug)]
pub struct Shown {
    /// The exact stored (signed) bytes.
    pub json: String,
    pub statement: Statement,
    pub row: StatementRow,
}

fn verifier(backend: &mut dyn Backend) -> Result<VerifiedStatements> {
    Ok(VerifiedStatements::new(crate::keys::public_keys(backend)?))
}

fn row_of(backend: &mut dyn Backend, statement_id: &str) -> Result<StatementRow> {
    backend
        .statement(statement_id)?
        .ok_or_else(|| AppError::NotFound(format!("no statement `{statement_id}` is closed")))
}

/// Every closed statement, each checked.
pub fn list(backend: &mut dyn Backend) -> Result<Vec<Shown>> {
    let mut verified = verifier(backend)?;
    let mut shown = Vec::new();
    for row in backend.statements()? {
        let statement = verified.get(backend, &row)?.statement().clone();
        shown.push(Shown {
            json: row.json.clone(),
            statement,
            row,
        });
    }
    Ok(shown)
}

/// One closed statement, checked.
pub fn show(backend: &mut dyn Backend, statement_id: &str) -> Result<Shown> {
    let row = row_of(backend, statement_id)?;
    let statement = verifier(backend)?.get(backend, &row)?.statement().clone();
    Ok(Shown {
        json: row.json.clone(),
        statement,
        row,
    })
}

/// One tree of a closed statement as it was closed.
#[derive(Clone, Debug)]
pub struct Leaves {
    pub statement_id: String,
    pub tree: TreeName,
    pub leaves: Vec<Hash>,
}

/// A stored tree, checked against the root its signed statement names.
fn checked_tree(backend: &mut dyn Backend, shown: &Shown, tree: &TreeName) -> Result<Vec<Hash>> {
    let id = &shown.row.statement_id;
    let (count, root) = signed_tree(&shown.statement, tree)
        .ok_or_else(|| AppError::NotFound(format!("statement {id} has no tree `{tree}`")))?;
    let row: TreeRow = backend
        .tree(id, &tree.to_string())?
        .ok_or_else(|| AppError::Integrity(format!("statement {id}: the leaves of its tree `{tree}` are missing")))?;
    let leaves = split_leaves(&row)?;
    if leaves.len() as u64 != count || hex::encode(merkle::root(&leaves)) != root {
        return Err(AppError::Integrity(format!(
            "statement {id}: the stored leaves of tree `{tree}` do not make its signed root {root}"
        )));
    }
    Ok(leaves)
}

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

/// The leaves of one of a statement's trees, in tree order.
pub fn leaves(backend: &mut dyn Backend, statement_id: &str, tree: &TreeName) -> Result<Leaves> {
    let shown = show(backend, statement_id)?;
    let leaves = checked_tree(backend, &shown, tree)?;
    Ok(Leaves {
        statement_id: statement_id.to_string(),
        tree: tree.clone(),
        leaves,
    })
}

/// The trees a statement signs: `events`, then each adjustment's.
pub fn tree_names(statement: &Statement) -> Vec<TreeName> {
    let mut names = vec![TreeName::Events];
    for adjustment in &statement.adjustments {
        if let Some(period) = &adjustment.period {
            if adjustment.events.is_some() {
                names.push(TreeName::PriorPeriod(period.clone()));
            }
            if adjustment.voided.is_some() {
                names.push(TreeName::Voided(period.clone()));
            }
        }
    }
    names
}

/// The inclusion proof of event `(source, id)` in a closed statement: in the tree
/// that counts it (`events`, `prior_period:`), or that removed it (`voided:`).
pub fn prove(backend: &mut dyn Backend, statement_id: &str, source: &str, id: &str) -> Result<InclusionProof> {
    let shown = show(backend, statement_id)?;
    let key = backend
        .event_key(source, id)?
        .ok_or_else(|| AppError::NotFound(format!("event ({source}, {id}) was never received")))?;
    for tree in tree_names(&shown.statement) {
        let leaves = checked_tree(backend, &shown, &tree)?;
        if let Some(index) = leaves.iter().position(|l| *l == key.leaf) {
            return Ok(build_proof(statement_id, &tree, &leaves, index));
        }
    }
    Err(AppError::NotFound(format!(
        "event ({source}, {id}) is not counted in statement {statement_id}: {}",
        explain(backend, source, id)?
    )))
}

/// Where else an event is counted, or why it is not, in a sentence.
fn explain(backend: &mut dyn Backend, source: &str, id: &str) -> Result<String> {
    let located = crate::locate::locate(backend, source, id)?;
    let mut parts: Vec<String> = located
        .places
        .iter()
        .map(|p| {
            format!(
                "{} in {} (tree `{}`, leaf {})",
                if p.counted { "it is counted" } else { "it is removed" },
                p.statement_id,
                p.tree,
                p.leaf_index
            )
        })
        .collect();
    parts.extend(located.not_counted.iter().map(ToString::to_string));
    Ok(parts.join("; "))
}
