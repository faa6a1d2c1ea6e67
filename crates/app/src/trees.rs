//! A statement's stored trees as the app reads them back: whole (`audit verify`, a
//! whole leaf list), or by range (a proof, a page of leaves, `locate`): a tile of
//! each level and the leaf index, a few stored hashes whatever the tree's size.

use std::collections::HashMap;

use revshare_core::merkle::{self, Hash, Subtrees, TILE_HEIGHT, TILE_WIDTH};
use revshare_store::backend::{TreePart, TreeRow, INDEX_ENTRY};

use revshare_core::verify::{InclusionProof, TreeName};

use crate::{AppError, Backend, Result};

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

/// The proof of `leaf` in a statement's stored tree `tree` of `size` leaves and the
/// signed `root`, if the tree holds it: found by the tree's leaf index, its path made
/// from the tiles it crosses (one tile of each level and the right edge's), and
/// verified against the signed root before it is given.
pub fn proof(
    backend: &mut dyn Backend,
    statement_id: &str,
    tree: &TreeName,
    size: u64,
    root: &Hash,
    leaf: &Hash,
) -> Result<Option<InclusionProof>> {
    let mut stored = StoredTree::new(backend, statement_id, &tree.to_string(), size);
    let Some(index) = stored.find(leaf)? else {
        return Ok(None);
    };
    let path = merkle::inclusion_path_from(&mut stored, size, index)?;
    if !merkle::verify_inclusion(leaf, index, size, &path, root) {
        return Err(bent(statement_id, tree));
    }
    Ok(Some(InclusionProof {
        statement_id: statement_id.to_string(),
        tree: tree.to_string(),
        leaf_index: index,
        tree_size: size,
        leaf_hash: hex::encode(leaf),
        audit_path: path.iter().map(hex::encode).collect(),
        root: hex::encode(root),
    }))
}

/// The leaves `[start, start + limit)` (fewer past the end) of a statement's stored
/// tree `tree` of `size` leaves and the signed `root`, checked: with the tiles around
/// them they make the signed root.
pub fn page(
    backend: &mut dyn Backend,
    statement_id: &str,
    tree: &TreeName,
    size: u64,
    root: &Hash,
    start: u64,
    limit: u64,
) -> Result<Vec<Hash>> {
    let mut stored = StoredTree::new(backend, statement_id, &tree.to_string(), size);
    let items = stored.leaves(start, limit)?;
    if merkle::root_with_window(&mut stored, size, start, &items)? != *root {
        return Err(bent(statement_id, tree));
    }
    Ok(items)
}

fn bent(statement_id: &str, tree: &TreeName) -> AppError {
    AppError::Integrity(format!(
        "statement {statement_id}: the stored hashes of tree `{tree}` do not make its signed root"
    ))
}

/// One stored tree of a closed statement, read by range: a tile (256 hashes of one
/// level; level 0 the leaves) at a time, each read once, and its leaf index. What it
/// reads is checked by the caller against the tree's signed root (a proof verified,
/// a page's root made again), never trusted on its own.
pub(crate) struct StoredTree<'b> {
    backend: &'b mut dyn Backend,
    statement_id: String,
    tree: String,
    size: u64,
    tiles: HashMap<(u32, u64), Vec<Hash>>,
}

impl<'b> StoredTree<'b> {
    /// The tree `tree` of statement `statement_id`, of `size` leaves (as signed).
    pub(crate) fn new(backend: &'b mut dyn Backend, statement_id: &str, tree: &str, size: u64) -> StoredTree<'b> {
        StoredTree {
            backend,
            statement_id: statement_id.to_string(),
            tree: tree.to_string(),
            size,
            tiles: HashMap::new(),
        }
    }

    fn missing(&self, what: &str) -> AppError {
        AppError::Integrity(format!(
            "statement {}: the stored {what} of its tree `{}` ({} leaves) are missing or cut short",
            self.statement_id, self.tree, self.size
        ))
    }

    fn part(level: u32) -> TreePart {
        match level {
            0 => TreePart::Leaves,
            level => TreePart::Tiles(level),
        }
    }

    /// Tile `tile` of `level`: the hashes `[256 tile, 256 (tile + 1))` of the level,
    /// fewer in its last tile.
    fn tile(&mut self, level: u32, tile: u64) -> Result<&[Hash]> {
        if !self.tiles.contains_key(&(level, tile)) {
            let length = self.size.checked_shr(TILE_HEIGHT * level).unwrap_or(0);
            let first = tile * TILE_WIDTH;
            let count = length.saturating_sub(first).min(TILE_WIDTH);
            let bytes = self
                .backend
                .tree_range(&self.statement_id, &self.tree, Self::part(level), first, count)?;
            if bytes.len() as u64 != count * 32 {
                return Err(self.missing(if level == 0 { "leaves" } else { "tiles" }));
            }
            self.tiles.insert((level, tile), hashes(&bytes));
        }
        Ok(&self.tiles[&(level, tile)])
    }

    /// Leaf `index`.
    pub(crate) fn leaf(&mut self, index: u64) -> Result<Hash> {
        let tile = self.tile(0, index / TILE_WIDTH)?;
        tile.get((index % TILE_WIDTH) as usize)
            .copied()
            .ok_or_else(|| self.missing("leaves"))
    }

    /// The leaves `[first, first + count)` (fewer past the end), read at once.
    pub(crate) fn leaves(&mut self, first: u64, count: u64) -> Result<Vec<Hash>> {
        let count = count.min(self.size.saturating_sub(first));
        let bytes = self
            .backend
            .tree_range(&self.statement_id, &self.tree, TreePart::Leaves, first, count)?;
        if bytes.len() as u64 != count * 32 {
            return Err(self.missing("leaves"));
        }
        Ok(hashes(&bytes))
    }

    fn entry(&mut self, at: u64) -> Result<([u8; 6], u64)> {
        let bytes = self
            .backend
            .tree_range(&self.statement_id, &self.tree, TreePart::Index, at, 1)?;
        if bytes.len() != INDEX_ENTRY {
            return Err(self.missing("leaf index entries"));
        }
        let mut prefix = [0u8; 6];
        prefix.copy_from_slice(&bytes[..6]);
        let mut place = [0u8; 8];
        place[2..].copy_from_slice(&bytes[6..]);
        Ok((prefix, u64::from_be_bytes(place)))
    }

    /// Where `leaf` is in the tree (its first place), if it is: a binary search of the
    /// leaf index, each candidate's leaf read and compared.
    pub(crate) fn find(&mut self, leaf: &Hash) -> Result<Option<u64>> {
        let (mut low, mut high) = (0u64, self.size);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.entry(middle)?.0[..] < leaf[..6] {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        let mut found: Option<u64> = None;
        for at in low..self.size {
            let (prefix, place) = self.entry(at)?;
            if prefix[..] != leaf[..6] {
                break;
            }
            if place < self.size && self.leaf(place)? == *leaf && found.is_none_or(|f| place < f) {
                found = Some(place);
            }
        }
        Ok(found)
    }
}

impl Subtrees for StoredTree<'_> {
    type Error = AppError;

    /// The root of a complete subtree from the level below it that is stored: at most
    /// 128 hashes of one tile.
    fn subtree(&mut self, height: u32, index: u64) -> Result<Hash> {
        let level = height / TILE_HEIGHT;
        let span = 1u64 << (height % TILE_HEIGHT);
        let first = index << (height % TILE_HEIGHT);
        let tile = self.tile(level, first / TILE_WIDTH)?;
        let at = (first % TILE_WIDTH) as usize;
        match tile.get(at..at + span as usize) {
            Some(hashes) => Ok(merkle::root(hashes)),
            None => Err(self.missing(if level == 0 { "leaves" } else { "tiles" })),
        }
    }
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(c);
            hash
        })
        .collect()
}
