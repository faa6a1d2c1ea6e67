//! Statements, their Merkle trees' leaves and payout notices.

use revshare_core::audit::Entry;

use super::{Result, SigningKeyRow, StatementRow, Tables, TokenRow};

/// A stored statement with what checking it takes, read together: the audit entry
/// its seq names and the store's signing keys. The entry is none if it is missing
/// or does not decode: the statement then fails its check (after the reader's access
/// is decided), and `audit verify` names the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRead {
    pub row: StatementRow,
    pub entry: Option<Entry>,
    pub keys: Vec<SigningKeyRow>,
}

/// The most leaves one stored chunk of a tree holds (32 MiB): a whole tree in one
/// value would pass the 1 GB both SQLite and PostgreSQL allow a value.
pub const LEAVES_PER_CHUNK: usize = 1 << 20;

/// The most hashes one stored chunk of a tree's tiles holds, and the most entries
/// one chunk of its leaf index holds: small values, so that reading one tile or one
/// entry reads a few pages (SQLite reads a value's pages in a chain).
pub const NODES_PER_CHUNK: usize = 1 << 13;

/// The bytes of one entry of a tree's leaf index ([`leaf_index`]).
pub const INDEX_ENTRY: usize = 12;

/// One of a statement's Merkle trees as closed: its leaves in tree order (32 bytes
/// each) and its tiles (`tiles[k - 1]`: the roots of its complete subtrees of
/// `256^k` leaves, in order, 32 bytes each; `core::merkle::TreeBuilder`). Derived:
/// checked against the signed roots, not audited on its own. The store keeps beside
/// them an index of the leaves by hash ([`leaf_index`]), made when it stores them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeRow {
    pub statement_id: String,
    pub tree: String,
    pub count: i64,
    pub root: String,
    pub leaves: Vec<u8>,
    pub tiles: Vec<Vec<u8>>,
}

/// A part of a stored tree, read by range ([`Statements::tree_range`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreePart {
    Leaves,
    /// The tiles of one level (1 and up).
    Tiles(u32),
    /// The leaf index ([`leaf_index`]).
    Index,
}

impl TreePart {
    /// The bytes of one item.
    pub fn width(self) -> usize {
        match self {
            TreePart::Leaves | TreePart::Tiles(_) => 32,
            TreePart::Index => INDEX_ENTRY,
        }
    }

    /// The most items one stored chunk holds.
    pub fn per_chunk(self) -> usize {
        match self {
            TreePart::Leaves => LEAVES_PER_CHUNK,
            TreePart::Tiles(_) | TreePart::Index => NODES_PER_CHUNK,
        }
    }

    /// The stored chunks holding items `[first, first + count)`: each chunk's number,
    /// and the byte offset and length read in it.
    pub fn spans(self, first: u64, count: u64) -> Vec<(i32, usize, usize)> {
        let per = self.per_chunk() as u64;
        let width = self.width();
        let mut spans = Vec::new();
        let (mut at, end) = (first, first.saturating_add(count));
        while at < end {
            let chunk = at / per;
            let upto = ((chunk + 1) * per).min(end);
            let Ok(number) = i32::try_from(chunk) else { break };
            spans.push((number, ((at % per) as usize) * width, ((upto - at) as usize) * width));
            at = upto;
        }
        spans
    }
}

/// A tree's leaves by hash: for each leaf, its first 6 bytes and its place in the
/// tree (6 bytes, big-endian), sorted; found by a binary search reading a few
/// entries, so that finding an event's leaf in a tree of millions reads no other leaf.
pub fn leaf_index(leaves: &[u8]) -> Vec<u8> {
    let mut entries: Vec<[u8; INDEX_ENTRY]> = leaves
        .chunks_exact(32)
        .zip(0u64..)
        .map(|(leaf, place)| {
            let mut entry = [0u8; INDEX_ENTRY];
            entry[..6].copy_from_slice(&leaf[..6]);
            entry[6..].copy_from_slice(&place.to_be_bytes()[2..]);
            entry
        })
        .collect();
    entries.sort_unstable();
    entries.concat()
}

/// Checks how a part of a stored tree was cut, as read back in chunk order (each
/// chunk's number and length): numbered from 0, each full but the last, since a range
/// is read from the chunks its place names. Otherwise the tree is corrupt.
pub fn check_chunks(statement_id: &str, tree: &str, part: TreePart, chunks: &[(i64, usize)]) -> Result<()> {
    let full = part.per_chunk() * part.width();
    for (at, (number, len)) in chunks.iter().enumerate() {
        let last = at + 1 == chunks.len();
        if *number != at as i64 || (!last && *len != full) || *len == 0 || len % part.width() != 0 {
            let what = match part {
                TreePart::Leaves => "leaves".to_string(),
                TreePart::Tiles(level) => format!("tiles of level {level}"),
                TreePart::Index => "leaf index".to_string(),
            };
            return Err(crate::StoreError::corrupt(
                format!("statement:{statement_id}"),
                format!("the {what} of its tree `{tree}` are not stored in chunks of {} from 0 (chunk {number} of {len} bytes)", part.per_chunk()),
            ));
        }
    }
    Ok(())
}

/// The chunks of `bytes`, `per_chunk` items of `width` bytes each, numbered from 0.
pub fn chunks_of(bytes: &[u8], part: TreePart) -> impl Iterator<Item = (i32, &[u8])> {
    bytes
        .chunks(part.per_chunk() * part.width())
        .zip(0..)
        .map(|(items, chunk)| (chunk, items))
}

impl TreeRow {
    /// The leaves as stored: chunks of at most [`LEAVES_PER_CHUNK`] leaves, numbered
    /// from 0 in tree order.
    pub fn chunks(&self) -> impl Iterator<Item = (i32, &[u8])> {
        self.leaves
            .chunks(LEAVES_PER_CHUNK * 32)
            .zip(0..)
            .map(|(leaves, chunk)| (chunk, leaves))
    }
}

/// A beneficiary's signed payout notice. Derived from its statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRow {
    pub statement_id: String,
    pub beneficiary: String,
    pub json: String,
}

/// Closed statements (a role of [`super::Backend`]). A bearer's read of a statement
/// reads its token too ([`Statements::token_and_statement`]), so this role comes with
/// [`Tables`].
pub trait Statements: Tables {
    fn statement(&mut self, statement_id: &str) -> Result<Option<StatementRow>>;
    /// A statement with its audit entry and the signing keys, read together.
    fn statement_read(&mut self, statement_id: &str) -> Result<Option<StatementRead>>;
    /// A token and, only if that token holds `token_sha256` and is not revoked, a
    /// statement read: what answering a bearer's request for a statement reads (one
    /// round trip where the backend can). The caller still checks the token in full;
    /// the condition only keeps a statement from being read for a token that fails.
    fn token_and_statement(
        &mut self,
        token_id: &str,
        token_sha256: &str,
        statement_id: &str,
    ) -> Result<(Option<TokenRow>, Option<StatementRead>)> {
        let token = self.token(token_id)?;
        // Comparing digests of a 256-bit secret: how long a prefix matches tells nothing.
        let holds = token
            .as_ref()
            .is_some_and(|t| t.sha256 == token_sha256 && t.revoked_at.is_none());
        let read = if holds {
            self.statement_read(statement_id)?
        } else {
            None
        };
        Ok((token, read))
    }

    /// Every statement, by `(contract, start_day)`.
    fn statements(&mut self) -> Result<Vec<StatementRow>>;
    /// The statements of one contract, by `start_day`.
    fn statements_of(&mut self, contract: &str) -> Result<Vec<StatementRow>>;
    /// Stores a statement with its trees and payout notices; `false` (nothing
    /// stored) when one with its id exists.
    fn insert_statement(&mut self, row: &StatementRow, trees: &[TreeRow], notices: &[NoticeRow]) -> Result<bool>;
    /// A whole stored tree: its leaves and tiles.
    fn tree(&mut self, statement_id: &str, tree: &str) -> Result<Option<TreeRow>>;
    /// The bytes of items `[first, first + count)` of one part of a stored tree, read
    /// from only the chunks that hold them (fewer where the part ends sooner).
    fn tree_range(&mut self, statement_id: &str, tree: &str, part: TreePart, first: u64, count: u64)
        -> Result<Vec<u8>>;
    /// A statement's trees without their leaves (`leaves` empty).
    fn tree_summaries(&mut self, statement_id: &str) -> Result<Vec<TreeRow>>;
    fn notices(&mut self, statement_id: &str) -> Result<Vec<NoticeRow>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_stored_in_numbered_chunks_that_make_it_again() {
        let leaves: Vec<u8> = (0..(2 * LEAVES_PER_CHUNK + 3) * 32).map(|i| (i % 251) as u8).collect();
        let tree = TreeRow {
            statement_id: "s".into(),
            tree: "events".into(),
            count: (2 * LEAVES_PER_CHUNK + 3) as i64,
            root: String::new(),
            leaves,
            tiles: Vec::new(),
        };
        let chunks: Vec<(i32, &[u8])> = tree.chunks().collect();
        let sizes: Vec<(i32, usize)> = chunks.iter().map(|(n, c)| (*n, c.len())).collect();
        assert_eq!(
            sizes,
            [(0, LEAVES_PER_CHUNK * 32), (1, LEAVES_PER_CHUNK * 32), (2, 3 * 32)]
        );
        assert!(chunks.iter().map(|(_, c)| *c).collect::<Vec<&[u8]>>().concat() == tree.leaves);
        let empty = TreeRow {
            leaves: Vec::new(),
            count: 0,
            ..tree
        };
        assert_eq!(empty.chunks().count(), 0, "an empty tree stores no chunk");
    }

    #[test]
    fn a_range_is_read_from_the_chunks_that_hold_it() {
        let per = NODES_PER_CHUNK as u64;
        assert_eq!(TreePart::Tiles(1).spans(0, 0), []);
        assert_eq!(TreePart::Tiles(1).spans(3, 2), [(0, 96, 64)]);
        assert_eq!(
            TreePart::Index.spans(per - 1, 3),
            [
                (0, (NODES_PER_CHUNK - 1) * INDEX_ENTRY, INDEX_ENTRY),
                (1, 0, 2 * INDEX_ENTRY)
            ]
        );
        assert_eq!(TreePart::Leaves.spans(LEAVES_PER_CHUNK as u64, 1), [(1, 0, 32)]);
    }

    #[test]
    fn the_leaf_index_is_sorted_by_hash_and_names_each_place() {
        let leaves: Vec<u8> = (0..300u32)
            .flat_map(|i| revshare_core::merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        let index = leaf_index(&leaves);
        let entries: Vec<&[u8]> = index.chunks_exact(INDEX_ENTRY).collect();
        assert_eq!(entries.len(), 300);
        assert!(entries.windows(2).all(|w| w[0] < w[1]));
        for entry in entries {
            let mut place = [0u8; 8];
            place[2..].copy_from_slice(&entry[6..]);
            let place = u64::from_be_bytes(place) as usize;
            assert_eq!(entry[..6], leaves[place * 32..place * 32 + 6]);
        }
    }
}
