//! RFC 9162 (Certificate Transparency v2) Merkle tree hashes and inclusion proofs.
//!
//! `MTH({}) = SHA-256()`, leaves `SHA-256(0x00 ‖ d)`, nodes `SHA-256(0x01 ‖ l ‖ r)`,
//! split at the largest power of two smaller than `n`.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (n ≥ 2): where RFC 9162 splits
/// a tree of `n` leaves. Public so that callers can hash subtrees in parallel.
pub fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root over leaf hashes, in order.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        _ => subtree_root(leaves),
    }
}

fn subtree_root(leaves: &[Hash]) -> Hash {
    // Iterative bottom-up over the same shape: fold pairs level by level, carrying
    // an odd last node up unchanged. This equals the recursive definition.
    debug_assert!(!leaves.is_empty());
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mut level: Vec<Hash> = leaves.chunks(2).map(pair).collect();
    while level.len() > 1 {
        let next: Vec<Hash> = level.chunks(2).map(pair).collect();
        level = next;
    }
    level[0]
}

fn pair(chunk: &[Hash]) -> Hash {
    match chunk {
        [left, right] => node_hash(left, right),
        [single] => *single,
        _ => unreachable!("chunks(2) yields one or two"),
    }
}

/// The audit path `PATH(m, D[n])` for leaf `index` (RFC 9162 §2.1.3.1).
pub fn inclusion_path(leaves: &[Hash], index: usize) -> Vec<Hash> {
    assert!(
        index < leaves.len(),
        "leaf index {index} outside a tree of {}",
        leaves.len()
    );
    let mut path = Vec::new();
    let mut slice = leaves;
    let mut m = index;
    // Walk down from the root, collecting siblings, then reverse into leaf-to-root order.
    while slice.len() > 1 {
        let k = split_point(slice.len());
        if m < k {
            path.push(subtree_root(&slice[k..]));
            slice = &slice[..k];
        } else {
            path.push(subtree_root(&slice[..k]));
            slice = &slice[k..];
            m -= k;
        }
    }
    path.reverse();
    path
}

/// Verifies an audit path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, tree_size: u64, path: &[Hash], root: &Hash) -> bool {
    if index >= tree_size {
        return false;
    }
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// The height of a tile: a stored tree keeps, beside its leaves, the roots of its
/// complete subtrees of 256, 65,536, … leaves (heights 8, 16, …), as transparency
/// logs serve their trees in tiles, so that any node is at most 128 stored hashes away.
pub const TILE_HEIGHT: u32 = 8;
/// The hashes of one full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// A tree hashed leaf by leaf, in O(log n) memory besides the tiles it returns: its
/// root and, level by level, the roots of its complete subtrees at heights 8, 16, …
/// (`tiles[k - 1]` holds those of height `8k`, in order). Each node is hashed once.
#[derive(Default)]
pub struct TreeBuilder {
    /// The roots of the complete subtrees not yet joined, by decreasing height.
    stack: Vec<(u32, Hash)>,
    tiles: Vec<Vec<Hash>>,
    count: u64,
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder::default()
    }

    pub fn push(&mut self, leaf: Hash) {
        self.count += 1;
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.stack.last() {
            if height != node.0 {
                break;
            }
            self.stack.pop();
            node = (height + 1, node_hash(&left, &node.1));
            if node.0.is_multiple_of(TILE_HEIGHT) {
                let level = (node.0 / TILE_HEIGHT) as usize;
                if self.tiles.len() < level {
                    self.tiles.push(Vec::new());
                }
                self.tiles[level - 1].push(node.1);
            }
        }
        self.stack.push(node);
    }

    /// The root (RFC 9162: the complete subtrees joined from the right) and the tiles.
    pub fn finish(self) -> (Hash, Vec<Vec<Hash>>) {
        let root = self
            .stack
            .iter()
            .rev()
            .map(|(_, hash)| *hash)
            .reduce(|right, left| node_hash(&left, &right))
            .unwrap_or_else(empty_root);
        (root, self.tiles)
    }
}

/// The root over `leaves` and its tiles ([`TreeBuilder`]).
pub fn root_and_tiles(leaves: &[Hash]) -> (Hash, Vec<Vec<Hash>>) {
    let mut builder = TreeBuilder::new();
    for leaf in leaves {
        builder.push(*leaf);
    }
    builder.finish()
}

/// How many tile levels a tree of `size` leaves has: those of height 8k ≤ log2(size).
pub fn tile_levels(size: u64) -> u32 {
    let mut levels = 0;
    while size >> (TILE_HEIGHT * (levels + 1)) > 0 {
        levels += 1;
    }
    levels
}

/// Where a tree's nodes are read from: the root of the complete subtree of
/// `2^height` leaves that starts at leaf `index << height`.
pub trait Subtrees {
    type Error;
    fn subtree(&mut self, height: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The root of leaves `[start, end)`, a node of an RFC 9162 tree or its right edge
/// (`start` a multiple of the largest power of two below `end - start`), from the
/// complete subtrees it splits into.
pub fn range_root<S: Subtrees>(nodes: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    debug_assert!(end > start);
    let size = end - start;
    if size.is_power_of_two() {
        let height = size.trailing_zeros();
        return nodes.subtree(height, start >> height);
    }
    let k = split_point(size as usize) as u64;
    let left = range_root(nodes, start, start + k)?;
    let right = range_root(nodes, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The audit path of leaf `index` in a tree of `size` leaves (as [`inclusion_path`]),
/// from the complete subtrees its siblings split into.
pub fn inclusion_path_from<S: Subtrees>(nodes: &mut S, size: u64, index: u64) -> Result<Vec<Hash>, S::Error> {
    debug_assert!(index < size);
    let mut path = Vec::new();
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let k = split_point((end - start) as usize) as u64;
        if index < start + k {
            path.push(range_root(nodes, start + k, end)?);
            end = start + k;
        } else {
            path.push(range_root(nodes, start, start + k)?);
            start += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The root of a tree of `size` leaves with the leaves `[first, first + window.len())`
/// given and every subtree apart from them read from `nodes`: equal to the signed
/// root only if those leaves are the tree's own at those places.
pub fn root_with_window<S: Subtrees>(nodes: &mut S, size: u64, first: u64, window: &[Hash]) -> Result<Hash, S::Error> {
    fn walk<S: Subtrees>(
        nodes: &mut S,
        (start, end): (u64, u64),
        (first, last): (u64, u64),
        window: &[Hash],
    ) -> Result<Hash, S::Error> {
        if end <= first || start >= last {
            return range_root(nodes, start, end);
        }
        if start >= first && end <= last {
            return Ok(root(&window[(start - first) as usize..(end - first) as usize]));
        }
        let k = split_point((end - start) as usize) as u64;
        let left = walk(nodes, (start, start + k), (first, last), window)?;
        let right = walk(nodes, (start + k, end), (first, last), window)?;
        Ok(node_hash(&left, &right))
    }
    if size == 0 {
        return Ok(empty_root());
    }
    walk(nodes, (0, size), (first, first + window.len() as u64), window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    fn h(text: &str) -> Hash {
        unhex(text).try_into().unwrap()
    }

    /// The Certificate Transparency reference leaves and roots (RFC 6962 test data,
    /// as published with the Go and C++ log implementations).
    const DATA: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_leaves() -> Vec<Hash> {
        DATA.iter().map(|d| leaf_hash(&unhex(d))).collect()
    }

    #[test]
    fn roots_match_the_published_vectors() {
        let leaves = reference_leaves();
        for (size, expected) in ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(root(&leaves[..size])), *expected, "tree size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_the_published_vectors() {
        let leaves = reference_leaves();
        let cases: [(usize, &[&str]); 3] = [
            (
                0,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (7, &[]),
        ];
        let full = root(&leaves);
        for (index, expected) in cases {
            let path = inclusion_path(&leaves, index);
            if expected.is_empty() {
                continue;
            }
            let expected: Vec<Hash> = expected.iter().map(|e| h(e)).collect();
            assert_eq!(path, expected, "leaf {index}");
            assert!(verify_inclusion(&leaves[index], index as u64, 8, &path, &full));
        }
    }

    /// RFC 9162 §2.1.5's worked example: seven leaves d0..d6, and the audit paths
    /// it lists, built here from the named inner nodes.
    #[test]
    fn the_rfc_worked_example() {
        let d: Vec<Hash> = (0..7u8).map(|i| leaf_hash(&[i])).collect();
        let (a, b, c, dd, e, f) = (d[0], d[1], d[2], d[3], d[4], d[5]);
        let g = node_hash(&a, &b);
        let hh = node_hash(&c, &dd);
        let i = node_hash(&e, &f);
        let j = d[6];
        let k = node_hash(&g, &hh);
        let l = node_hash(&i, &j);
        assert_eq!(root(&d), node_hash(&k, &l));
        assert_eq!(inclusion_path(&d, 0), vec![b, hh, l]);
        assert_eq!(inclusion_path(&d, 3), vec![c, g, l]);
        assert_eq!(inclusion_path(&d, 4), vec![f, j, k]);
        assert_eq!(inclusion_path(&d, 6), vec![i, k]);
    }

    #[test]
    fn every_proof_verifies_and_tampering_fails() {
        let leaves: Vec<Hash> = (0..37u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=leaves.len() {
            let tree = &leaves[..n];
            let r = root(tree);
            for index in 0..n {
                let path = inclusion_path(tree, index);
                assert!(verify_inclusion(&tree[index], index as u64, n as u64, &path, &r));
                if n > 1 {
                    let other = (index + 1) % n;
                    assert!(!verify_inclusion(&tree[other], index as u64, n as u64, &path, &r));
                    assert!(
                        !verify_inclusion(&tree[index], other as u64, n as u64, &path, &r)
                            || tree[index] == tree[other]
                    );
                    let mut bent = path.clone();
                    bent[0][0] ^= 1;
                    assert!(!verify_inclusion(&tree[index], index as u64, n as u64, &bent, &r));
                }
                assert!(!verify_inclusion(&tree[index], n as u64, n as u64, &path, &r));
            }
        }
    }

    /// Subtrees read from a tree's leaves and tiles as a store keeps them.
    struct Stored<'a> {
        leaves: &'a [Hash],
        tiles: &'a [Vec<Hash>],
    }

    impl Subtrees for Stored<'_> {
        type Error = std::convert::Infallible;
        fn subtree(&mut self, height: u32, index: u64) -> Result<Hash, Self::Error> {
            let level = height / TILE_HEIGHT;
            let span = 1usize << (height % TILE_HEIGHT);
            let hashes = if level == 0 {
                self.leaves
            } else {
                &self.tiles[level as usize - 1][..]
            };
            let first = index as usize * span;
            Ok(root(&hashes[first..first + span]))
        }
    }

    #[test]
    fn tiles_give_the_roots_and_paths_of_the_whole_tree() {
        let leaves: Vec<Hash> = (0..66_000u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in [
            0usize, 1, 2, 3, 255, 256, 257, 511, 512, 513, 1000, 65_535, 65_536, 65_537, 66_000,
        ] {
            let tree = &leaves[..n];
            let (r, tiles) = root_and_tiles(tree);
            assert_eq!(r, root(tree), "size {n}");
            assert_eq!(tiles.len() as u32, tile_levels(n as u64), "size {n}");
            for (k, level) in tiles.iter().enumerate() {
                let span = 1usize << (TILE_HEIGHT as usize * (k + 1));
                let expected: Vec<Hash> = tree.chunks_exact(span).map(root).collect();
                assert_eq!(*level, expected, "size {n}, level {}", k + 1);
            }
            let mut stored = Stored {
                leaves: tree,
                tiles: &tiles,
            };
            let step = (n / 13).max(1);
            for index in (0..n).step_by(step).chain(n.checked_sub(1)) {
                let path = inclusion_path_from(&mut stored, n as u64, index as u64).unwrap();
                assert_eq!(path, inclusion_path(tree, index), "size {n}, leaf {index}");
                let first = index - index % 256;
                let last = (first + 300).min(n);
                let window = root_with_window(&mut stored, n as u64, first as u64, &tree[first..last]).unwrap();
                assert_eq!(window, r, "size {n}, window at {first}");
                let mut bent = tree[first..last].to_vec();
                bent[last - first - 1][3] ^= 1;
                let bent = root_with_window(&mut stored, n as u64, first as u64, &bent).unwrap();
                assert_ne!(bent, r, "size {n}: a changed leaf in the window changes the root");
            }
        }
    }
}
