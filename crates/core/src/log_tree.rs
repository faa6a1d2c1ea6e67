//! The audit log as an append-only Merkle tree (statements.md, Checkpoints and
//! witnesses): leaf `i` is the 32-byte `digest` of entry `seq = i + 1`, hashed as an
//! RFC 9162 leaf (`SHA-256(0x00 ‖ digest)`), nodes `SHA-256(0x01 ‖ l ‖ r)`, so a tree
//! of size `n` holds entries `1..=n`.
//!
//! A store keeps the hashes of every complete subtree in the order of Go's
//! `sumdb/tlog` (Crosby and Wallach's stored hash index; `tlog_tiles` is Cloudflare's
//! port of it): appending a leaf reads at most `log₂ n` stored hashes and adds two on
//! average, and a root, an inclusion proof or a consistency proof reads `O(log n)` of
//! them in one request. Nothing here reads a store: callers hand in [`Nodes`].

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tlog_tiles as tlog;

pub type Hash = [u8; 32];

/// The root of the empty tree, `SHA-256("")`.
pub const EMPTY_ROOT: Hash = tlog::EMPTY_HASH.0;

/// The leaf hash of an entry's digest.
pub fn leaf(digest: &Hash) -> Hash {
    tlog::record_hash(digest).0
}

/// Where the hash of the complete subtree `(level, n)` is stored.
pub fn stored_index(level: u8, n: u64) -> u64 {
    tlog::stored_hash_index(level, n)
}

/// How many hashes a tree of `size` leaves stores.
pub fn stored_count(size: u64) -> u64 {
    tlog::stored_hash_count(size)
}

/// The stored hashes of a tree, read by index.
pub trait Nodes {
    type Error;
    /// The hashes at `indexes`, in that order; every index is below
    /// [`stored_count`] of the tree read.
    fn read(&mut self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

/// Stored hashes held in memory, borrowed.
impl Nodes for &[Hash] {
    type Error = String;
    fn read(&mut self, indexes: &[u64]) -> Result<Vec<Hash>, String> {
        indexes
            .iter()
            .map(|i| {
                let at = usize::try_from(*i).map_err(|_| format!("node {i} is out of range"))?;
                self.get(at).copied().ok_or_else(|| format!("node {i} is not stored"))
            })
            .collect()
    }
}

/// Stored hashes held in memory (a whole tree rebuilt from digests, or a test's).
impl Nodes for Vec<Hash> {
    type Error = String;
    fn read(&mut self, indexes: &[u64]) -> Result<Vec<Hash>, String> {
        let mut all: &[Hash] = self;
        all.read(indexes)
    }
}

/// Why a tree computation failed: reading the nodes, or a proof that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError<E> {
    #[error("reading the log's tree: {0}")]
    Read(E),
    /// A request outside the tree (a size or index it does not have).
    #[error("{0}")]
    Outside(String),
}

/// `tlog_tiles` reads through `&self` and has its own error type: this adapter lends
/// it the nodes and keeps the reader's own error for the caller.
struct Reader<'n, N: Nodes> {
    nodes: RefCell<&'n mut N>,
    /// Hashes computed in this call and not stored yet (an append of several leaves).
    pending: RefCell<HashMap<u64, Hash>>,
    error: RefCell<Option<N::Error>>,
}

impl<'n, N: Nodes> Reader<'n, N> {
    fn new(nodes: &'n mut N) -> Reader<'n, N> {
        Reader {
            nodes: RefCell::new(nodes),
            pending: RefCell::new(HashMap::new()),
            error: RefCell::new(None),
        }
    }

    /// The caller's error if the nodes failed, else the tree's.
    fn fail(&self, error: tlog::Error) -> TreeError<N::Error> {
        match self.error.borrow_mut().take() {
            Some(read) => TreeError::Read(read),
            None => TreeError::Outside(error.to_string()),
        }
    }
}

impl<N: Nodes> tlog::HashReader for Reader<'_, N> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        let pending = self.pending.borrow();
        let stored: Vec<u64> = indexes.iter().copied().filter(|i| !pending.contains_key(i)).collect();
        let read = match stored.is_empty() {
            true => Vec::new(),
            false => match self.nodes.borrow_mut().read(&stored) {
                Ok(read) if read.len() == stored.len() => read,
                Ok(_) => return Err(tlog::Error::IndexesNotInTree),
                Err(error) => {
                    *self.error.borrow_mut() = Some(error);
                    return Err(tlog::Error::IndexesNotInTree);
                }
            },
        };
        let mut read = read.into_iter();
        Ok(indexes
            .iter()
            .map(|i| {
                tlog::Hash(
                    pending
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| read.next().expect("one hash was read per stored index")),
                )
            })
            .collect())
    }
}

/// The hashes to store when leaves are appended to a tree of `size`: one run that
/// starts at `stored_index(0, size)`.
pub fn append<N: Nodes>(size: u64, leaves: &[Hash], nodes: &mut N) -> Result<Vec<Hash>, TreeError<N::Error>> {
    let reader = Reader::new(nodes);
    let first = stored_index(0, size);
    let mut added: Vec<Hash> = Vec::with_capacity(leaves.len() * 2);
    for (n, leaf) in (size..).zip(leaves) {
        let hashes = tlog::stored_hashes_for_record_hash(n, tlog::Hash(*leaf), &reader).map_err(|e| reader.fail(e))?;
        let mut pending = reader.pending.borrow_mut();
        for hash in hashes {
            pending.insert(first + added.len() as u64, hash.0);
            added.push(hash.0);
        }
    }
    debug_assert_eq!(first + added.len() as u64, stored_count(size + leaves.len() as u64));
    Ok(added)
}

/// The root of the tree of `size` leaves.
pub fn root<N: Nodes>(size: u64, nodes: &mut N) -> Result<Hash, TreeError<N::Error>> {
    let reader = Reader::new(nodes);
    tlog::tree_hash(size, &reader).map(|h| h.0).map_err(|e| reader.fail(e))
}

/// The RFC 9162 audit path of leaf `index` in the tree of `size` leaves.
pub fn inclusion<N: Nodes>(index: u64, size: u64, nodes: &mut N) -> Result<Vec<Hash>, TreeError<N::Error>> {
    if index >= size {
        return Err(TreeError::Outside(format!(
            "entry {} is not in a log of {size}",
            index + 1
        )));
    }
    let reader = Reader::new(nodes);
    let proof = tlog::prove_record(size, index, &reader).map_err(|e| reader.fail(e))?;
    Ok(proof.into_iter().map(|h| h.0).collect())
}

/// The RFC 9162 consistency proof that the tree of `from` leaves is a prefix of the
/// tree of `to` leaves (`1 ≤ from ≤ to`).
pub fn consistency<N: Nodes>(from: u64, to: u64, nodes: &mut N) -> Result<Vec<Hash>, TreeError<N::Error>> {
    if from == 0 || from > to {
        return Err(TreeError::Outside(format!(
            "a consistency proof goes from a size of at least 1 to one at least as large, not {from} to {to}"
        )));
    }
    let reader = Reader::new(nodes);
    let proof = tlog::prove_tree(to, from, &reader).map_err(|e| reader.fail(e))?;
    Ok(proof.into_iter().map(|h| h.0).collect())
}

/// The root of the tree of `size` leaves computed from `leaves` (`(index, leaf hash)`,
/// strictly increasing indexes below `size`) and the stored hash of every complete
/// subtree that holds none of them, read in one call. It equals the tree's signed
/// root exactly when each of `leaves` is the tree's leaf at its index: one proof for
/// many leaves, where the nodes their paths share are hashed once (a close checks
/// every entry its rows name this way).
pub fn root_over<N: Nodes>(size: u64, leaves: &[(u64, Hash)], nodes: &mut N) -> Result<Hash, TreeError<N::Error>> {
    let increasing = leaves.windows(2).all(|pair| pair[0].0 < pair[1].0);
    if !increasing || leaves.last().is_some_and(|(index, _)| *index >= size) {
        return Err(TreeError::Outside(format!(
            "leaves to check must be distinct, in order and in a tree of {size}"
        )));
    }
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let mut wanted = Vec::new();
    Span { lo: 0, hi: size }.wanted(leaves, &mut wanted);
    let read = nodes.read(&wanted).map_err(TreeError::Read)?;
    if read.len() != wanted.len() {
        return Err(TreeError::Outside(format!(
            "{} stored hashes read for {} asked",
            read.len(),
            wanted.len()
        )));
    }
    Ok(Span { lo: 0, hi: size }.hash(leaves, &mut read.into_iter()))
}

/// A half of a [`Span`] with the leaves to check that fall in it.
type Half<'l> = (Span, &'l [(u64, Hash)]);

/// Leaves `lo..hi` of a tree, a subtree of RFC 9162's split: `lo` is a multiple of
/// the largest power of two not above `hi - lo`, so a complete one is stored.
#[derive(Clone, Copy)]
struct Span {
    lo: u64,
    hi: u64,
}

impl Span {
    /// The two halves RFC 9162 hashes (the left one complete); `None` for a leaf.
    fn halves(self) -> Option<(Span, Span)> {
        let n = self.hi - self.lo;
        (n > 1).then(|| {
            let k = 1u64 << (63 - (n - 1).leading_zeros());
            let mid = self.lo + k;
            (Span { lo: self.lo, hi: mid }, Span { lo: mid, hi: self.hi })
        })
    }

    /// Where the span is stored when it is a complete subtree.
    fn stored(self) -> Option<u64> {
        let n = self.hi - self.lo;
        n.is_power_of_two().then(|| {
            let level = n.trailing_zeros() as u8;
            stored_index(level, self.lo >> level)
        })
    }

    fn split(self, leaves: &[(u64, Hash)]) -> Option<(Half<'_>, Half<'_>)> {
        let (left, right) = self.halves()?;
        let cut = leaves.partition_point(|(index, _)| *index < right.lo);
        Some(((left, &leaves[..cut]), (right, &leaves[cut..])))
    }

    /// The stored hashes [`Span::hash`] reads, in the order it reads them.
    fn wanted(self, leaves: &[(u64, Hash)], wanted: &mut Vec<u64>) {
        if leaves.is_empty() {
            if let Some(index) = self.stored() {
                return wanted.push(index);
            }
        }
        if let Some(((left, l), (right, r))) = self.split(leaves) {
            left.wanted(l, wanted);
            right.wanted(r, wanted);
        }
    }

    fn hash(self, leaves: &[(u64, Hash)], stored: &mut impl Iterator<Item = Hash>) -> Hash {
        if leaves.is_empty() && self.stored().is_some() {
            return stored.next().expect("one stored hash read per stored span");
        }
        match self.split(leaves) {
            Some(((left, l), (right, r))) => {
                let left = left.hash(l, stored);
                tlog::node_hash(tlog::Hash(left), tlog::Hash(right.hash(r, stored))).0
            }
            None => leaves[0].1,
        }
    }
}

/// Whether `path` proves `leaf` is leaf `index` of the tree of `size` with `root`.
pub fn check_inclusion(path: &[Hash], size: u64, root: &Hash, index: u64, leaf: &Hash) -> bool {
    if index >= size || path.len() > 64 {
        return false;
    }
    let path: Vec<tlog::Hash> = path.iter().map(|h| tlog::Hash(*h)).collect();
    tlog::check_record(&path, size, tlog::Hash(*root), index, tlog::Hash(*leaf)).is_ok()
}

/// Whether `proof` shows the tree `(from, from_root)` is a prefix of `(to, to_root)`.
/// Equal sizes hold only with equal roots and an empty proof.
pub fn check_consistency(proof: &[Hash], from: u64, from_root: &Hash, to: u64, to_root: &Hash) -> bool {
    if from == 0 || from > to || proof.len() > 128 {
        return false;
    }
    let proof: Vec<tlog::Hash> = proof.iter().map(|h| tlog::Hash(*h)).collect();
    tlog::check_tree(&proof, to, tlog::Hash(*to_root), from, tlog::Hash(*from_root)).is_ok()
}

/// Every stored hash of the tree over `digests` (entries 1..=n), computed in memory:
/// what a store should hold (`audit verify` compares them).
pub fn build(digests: &[Hash]) -> Vec<Hash> {
    let mut nodes: Vec<Hash> = Vec::with_capacity(digests.len() * 2);
    for (n, digest) in (0u64..).zip(digests) {
        let added = match append(n, &[leaf(digest)], &mut nodes) {
            Ok(added) => added,
            Err(_) => unreachable!("a tree built in memory holds every node it reads"),
        };
        nodes.extend(added);
    }
    nodes
}

/// An inclusion proof of one audit entry (`GET /v1/audit/inclusion`): hashes in
/// lowercase hex, leaf to root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub seq: u64,
    pub size: u64,
    pub proof: Vec<String>,
}

/// A consistency proof between two sizes of the log (`GET /v1/audit/consistency`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

/// Hashes as lowercase hex.
pub fn to_hex(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// Hashes from lowercase hex; `None` names nothing: the caller says which proof.
pub fn from_hex(texts: &[String]) -> Option<Vec<Hash>> {
    texts
        .iter()
        .map(|t| {
            let lowercase = t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            hex::decode(t)
                .ok()
                .filter(|_| lowercase)
                .and_then(|b| b.try_into().ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;

    fn digests(n: usize) -> Vec<Hash> {
        (0..n as u32)
            .map(|i| {
                let mut d = [0u8; 32];
                d[..4].copy_from_slice(&i.to_be_bytes());
                d
            })
            .collect()
    }

    #[test]
    fn roots_equal_the_statement_trees_rfc_9162_roots() {
        let digests = digests(70);
        let mut nodes = build(&digests);
        let leaves: Vec<Hash> = digests.iter().map(leaf).collect();
        for size in 0..=digests.len() {
            assert_eq!(
                root(size as u64, &mut nodes).unwrap(),
                merkle::root(&leaves[..size]),
                "size {size}"
            );
        }
        assert_eq!(EMPTY_ROOT, merkle::empty_root());
    }

    #[test]
    fn appending_in_batches_stores_what_appending_one_by_one_does() {
        let digests = digests(53);
        let whole = build(&digests);
        let mut nodes: Vec<Hash> = Vec::new();
        let mut size = 0u64;
        for batch in digests.chunks(7) {
            let leaves: Vec<Hash> = batch.iter().map(leaf).collect();
            let added = append(size, &leaves, &mut nodes).unwrap();
            assert_eq!(nodes.len() as u64, stored_index(0, size));
            nodes.extend(added);
            size += batch.len() as u64;
        }
        assert_eq!(nodes, whole);
    }

    /// For every size up to 40 and every set of leaves of trees up to 9 (some sets of
    /// the larger ones), the root over them is the tree's root, reading only stored
    /// hashes of subtrees that hold none of them; a changed leaf or a leaf at another
    /// index gives another root, and leaves out of order or outside are refused.
    #[test]
    fn a_root_over_many_leaves_is_the_trees_root_and_only_with_those_leaves() {
        let digests = digests(40);
        let mut nodes = build(&digests);
        let leaves: Vec<Hash> = digests.iter().map(leaf).collect();
        for size in 0..=digests.len() as u64 {
            let root_n = root(size, &mut nodes).unwrap();
            let sets: Vec<u64> = match size {
                0..=9 => (0..1u64 << size).collect(),
                _ => vec![
                    0,
                    1,
                    0b10_1001_1001,
                    (1 << size) - 1,
                    1 << (size - 1),
                    0x5555_5555 & ((1 << size) - 1),
                ],
            };
            for set in sets {
                let mut chosen: Vec<(u64, Hash)> = (0..size)
                    .filter(|i| set >> i & 1 == 1)
                    .map(|i| (i, leaves[i as usize]))
                    .collect();
                let mut forgetful: Vec<Hash> = nodes.clone();
                for (index, _) in &chosen {
                    forgetful[stored_index(0, *index) as usize] = [0xee; 32];
                }
                assert_eq!(
                    root_over(size, &chosen, &mut forgetful).unwrap(),
                    root_n,
                    "{size} {set:b}"
                );
                if let Some(first) = chosen.first_mut() {
                    first.1[0] ^= 1;
                    assert_ne!(root_over(size, &chosen, &mut nodes).unwrap(), root_n, "{size} {set:b}");
                }
            }
        }
        let moved = [(1, leaves[0])];
        assert_ne!(root_over(4, &moved, &mut nodes).unwrap(), root(4, &mut nodes).unwrap());
        for bad in [
            vec![(2, leaves[2]), (1, leaves[1])],
            vec![(1, leaves[1]), (1, leaves[1])],
            vec![(4, leaves[4])],
        ] {
            assert!(
                matches!(root_over(4, &bad, &mut nodes), Err(TreeError::Outside(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_inclusion_and_consistency_proof_checks_and_a_bent_one_fails() {
        let digests = digests(37);
        let mut nodes = build(&digests);
        let leaves: Vec<Hash> = digests.iter().map(leaf).collect();
        for size in 1..=digests.len() as u64 {
            let root_n = root(size, &mut nodes).unwrap();
            for index in 0..size {
                let path = inclusion(index, size, &mut nodes).unwrap();
                assert_eq!(path, merkle::inclusion_path(&leaves[..size as usize], index as usize));
                assert!(check_inclusion(&path, size, &root_n, index, &leaves[index as usize]));
                if let Some(first) = path.first() {
                    let mut bent = path.clone();
                    bent[0][0] ^= first[0] | 1;
                    assert!(!check_inclusion(&bent, size, &root_n, index, &leaves[index as usize]));
                }
            }
            for from in 1..=size {
                let root_m = root(from, &mut nodes).unwrap();
                let proof = consistency(from, size, &mut nodes).unwrap();
                assert!(
                    check_consistency(&proof, from, &root_m, size, &root_n),
                    "{from} -> {size}"
                );
                let mut other = root_m;
                other[0] ^= 1;
                assert!(!check_consistency(&proof, from, &other, size, &root_n));
            }
        }
        assert!(matches!(inclusion(5, 5, &mut nodes), Err(TreeError::Outside(_))));
        assert!(matches!(consistency(0, 5, &mut nodes), Err(TreeError::Outside(_))));
        assert!(matches!(consistency(6, 5, &mut nodes), Err(TreeError::Outside(_))));
    }

    #[test]
    fn a_missing_node_is_the_readers_error() {
        let mut nodes = build(&digests(9));
        nodes.truncate(3);
        assert!(matches!(root(9, &mut nodes), Err(TreeError::Read(_))));
    }
}
