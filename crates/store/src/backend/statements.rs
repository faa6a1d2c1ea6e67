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

/// One of a statement's Merkle trees as closed: its leaves in tree order (32 bytes
/// each). Derived: checked against the signed roots, not audited on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeRow {
    pub statement_id: String,
    pub tree: String,
    pub count: i64,
    pub root: String,
    pub leaves: Vec<u8>,
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
    fn tree(&mut self, statement_id: &str, tree: &str) -> Result<Option<TreeRow>>;
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
}
