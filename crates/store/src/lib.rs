//! revshare's memory: parties, contracts, tables, events, statements and the audit
//! log, in an embedded SQLite file by default or in PostgreSQL, behind one
//! [`Backend`] interface.
//!
//! The backends only store: SQL, transactions, locks, encodings. What an import, a
//! close or a proof means lives in the application layer (`revshare-app`).

#![forbid(unsafe_code)]

pub mod backend;
mod columns;
mod event;
pub mod postgres;
mod rollup;
mod segment;
pub mod sqlite;

use std::path::{Path, PathBuf};

use revshare_core::audit::{Action, Entry, Head, Seq};
use revshare_core::records::Role;
use revshare_core::statement::StatementId;

pub use backend::Backend;
use backend::Result;
use event::{HostPart, InsertOutcome};
use segment::EventBatch;

/// What went wrong in the store. Messages are readable as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(String),
    /// Stored data that does not decode (a segment, a hash, a JSON column): edited
    /// behind the service's back, or damaged. Never the caller's fault, never
    /// retried: `object` names what failed, as `audit verify` names it.
    #[error("{object}: {message}; the stored data was altered or damaged")]
    Corrupt { object: String, message: String },
    /// Something the user asked that the store refuses (named in the message).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}

impl StoreError {
    pub fn corrupt(object: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            object: object.into(),
            message: message.into(),
        }
    }
}

/// Where the store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// For messages: the file, or PostgreSQL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => format!("the PostgreSQL database {}", postgres::redact(url)),
        }
    }
}

/// Opens (and migrates) the store at `location`; a SQLite file is created if missing.
pub fn open(location: &Location) -> Result<Box<dyn Backend>> {
    Ok(match location {
        Location::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
        Location::Postgres(url) => Box::new(postgres::PgStore::open(url)?),
    })
}

/// Checks that a path's folder exists, for clear errors before SQLite's own.
pub fn check_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.exists() => Err(StoreError::Io(format!(
            "the folder {} does not exist",
            parent.display()
        ))),
        _ => Ok(()),
    }
}

/// The accepted events of a batch, grouped by host in order of first appearance:
/// each is one batch of the store and one audit entry.
pub fn host_parts(batch: &EventBatch, outcomes: &[InsertOutcome]) -> Vec<HostPart> {
    let table = batch.table();
    let mut parts: Vec<(u32, HostPart)> = Vec::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        if *outcome != InsertOutcome::Accepted {
            continue;
        }
        let host = table.values(index).host;
        match parts.iter_mut().find(|(id, _)| *id == host) {
            Some((_, part)) => part.rows.push(index),
            None => parts.push((
                host,
                HostPart {
                    host: table.name(host).to_string(),
                    rows: vec![index],
                },
            )),
        }
    }
    parts.into_iter().map(|(_, part)| part).collect()
}

/// A seq as the stores' integer columns hold it, a row's or a bound's: one past
/// them ([`Seq::MAX`]) is refused, never saturated (two rows would claim one entry, a
/// bound would mean another). The chain's own seqs come from the store, so only a
/// caller's bound can be refused.
fn seq_i64(seq: Seq) -> Result<i64> {
    i64::try_from(seq).map_err(|_| StoreError::Refused(format!("seq {seq} past the stores' integers")))
}

/// A seq as read from a column: a negative one is corrupt, named as `object` (the
/// table and row, as `audit verify` names them).
fn stored_seq(stored: i64, object: impl FnOnce() -> String) -> Result<Seq> {
    Seq::try_from(stored).map_err(|_| StoreError::corrupt(object(), format!("its seq {stored} is negative")))
}

/// A stored statement id, which must read as `<contract>/<period>`.
fn stored_statement_id(text: String, table: &str) -> Result<StatementId> {
    StatementId::parse(&text)
        .ok_or_else(|| StoreError::corrupt(format!("{table}:{text}"), "its statement id is not <contract>/<period>"))
}

fn head_from(row: Option<(i64, String)>) -> Result<Head> {
    let Some((seq, hash)) = row else {
        return Ok(Head::EMPTY);
    };
    let bad = || StoreError::corrupt(format!("audit:{seq}"), "its hash is not 32 hex bytes");
    let bytes = hex::decode(&hash).map_err(|_| bad())?;
    Ok(Head {
        seq: Seq::try_from(seq).map_err(|_| bad())?,
        hash: bytes.try_into().map_err(|_| bad())?,
    })
}

fn entry_from_columns((seq, c): (i64, [String; 8])) -> Result<Entry> {
    let [time, actor, action, object, payload_sha256, digest, prev_hash, hash] = c;
    let action = Action::parse(&action)
        .ok_or_else(|| StoreError::corrupt(format!("audit:{seq}"), format!("unknown action `{action}`")))?;
    Ok(Entry {
        seq: stored_seq(seq, || format!("audit:{seq}"))?,
        time,
        actor,
        action,
        object,
        payload_sha256,
        digest,
        prev_hash,
        hash,
    })
}

fn registry_rows_json(rows: &[(String, String)]) -> String {
    serde_json::to_string(rows).expect("pairs of strings serialize")
}

fn registry_rows_parse(version: i64, text: &str) -> Result<Vec<(String, String)>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(format!("registry:v{version}"), format!("its rows do not parse: {e}")))
}

/// A token row as its columns come back.
struct TokenColumns {
    token_id: String,
    party: String,
    role: String,
    contracts: Option<String>,
    expires: Option<String>,
    sha256: String,
    created_at: String,
    revoked_at: Option<String>,
    seq: i64,
}

fn token_from_columns(c: TokenColumns) -> Result<backend::TokenRow> {
    let contracts = c
        .contracts
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                StoreError::corrupt(
                    format!("token:{}", c.token_id),
                    format!("its contracts do not parse: {e}"),
                )
            })
        })
        .transpose()?;
    let role = Role::parse(&c.role).ok_or_else(|| {
        StoreError::corrupt(
            format!("token:{}", c.token_id),
            format!("its role `{}` is not a role", c.role),
        )
    })?;
    let seq = stored_seq(c.seq, || format!("token:{}", c.token_id))?;
    Ok(backend::TokenRow {
        token_id: c.token_id,
        party: c.party,
        role,
        contracts,
        expires: c.expires,
        sha256: c.sha256,
        created_at: c.created_at,
        revoked_at: c.revoked_at,
        seq,
    })
}

fn contracts_json(contracts: &Option<Vec<String>>) -> Option<String> {
    contracts
        .as_ref()
        .map(|c| serde_json::to_string(c).expect("strings serialize"))
}

fn one_text_row(changed: usize, what: &str, id: &str) -> Result<()> {
    match changed {
        1 => Ok(()),
        _ => Err(StoreError::Database(format!("{what} {id} is not stored"))),
    }
}

fn one_row(changed: usize, what: &str, number: i64) -> Result<()> {
    match changed {
        1 => Ok(()),
        _ => Err(StoreError::Database(format!("{what} {number} is not stored"))),
    }
}

/// A contribution row's enum columns from their stored text.
fn contribution_enums(
    contract: &str,
    number: i64,
    by: &str,
    kind: &str,
    status: &str,
) -> Result<(
    revshare_core::contract::Party,
    revshare_core::contract::ContributionKind,
    revshare_core::tables::ContributionStatus,
)> {
    let bad = |what: &str, value: &str| {
        StoreError::corrupt(
            format!("contribution:{contract}:{number}"),
            format!("unknown {what} `{value}`"),
        )
    };
    Ok((
        revshare_core::contract::Party::parse(by).ok_or_else(|| bad("side", by))?,
        revshare_core::contract::ContributionKind::parse(kind).ok_or_else(|| bad("kind", kind))?,
        revshare_core::tables::ContributionStatus::parse(status).ok_or_else(|| bad("status", status))?,
    ))
}

/// A payment's status from its stored text.
fn payment_status(payment_id: &str, status: &str) -> Result<revshare_core::records::PaymentStatus> {
    revshare_core::records::PaymentStatus::parse(status)
        .ok_or_else(|| StoreError::corrupt(format!("payment:{payment_id}"), format!("unknown status `{status}`")))
}

/// A tree's count and root, and the bytes of its chunks (to read them into one
/// buffer), in SQL both backends take.
/// The tiles of a tree stored before they were (`core::merkle::TreeBuilder` over its
/// stored leaves; bytes that are not whole leaves end it).
pub(crate) fn tiles_of(leaves: &[u8]) -> Vec<Vec<u8>> {
    let mut builder = revshare_core::merkle::TreeBuilder::new();
    for leaf in leaves.chunks_exact(32) {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(leaf);
        builder.push(hash);
    }
    builder.finish().1.into_iter().map(|level| level.concat()).collect()
}

/// A tree's tiles as read back, their chunks in order of level and chunk: each
/// level's number, its chunks' numbers and lengths, its bytes.
#[derive(Default)]
pub(crate) struct StoredTiles {
    levels: Vec<StoredLevel>,
}

/// One level of a tree's tiles as read back.
struct StoredLevel {
    level: i64,
    /// Its chunks' numbers and lengths, in order.
    layout: Vec<(i64, usize)>,
    bytes: Vec<u8>,
}

impl StoredTiles {
    /// Adds the next chunk read.
    pub(crate) fn push(&mut self, level: i64, chunk: i64, hashes: &[u8]) {
        match self.levels.last_mut() {
            Some(last) if last.level == level => {
                last.layout.push((chunk, hashes.len()));
                last.bytes.extend_from_slice(hashes);
            }
            _ => self.levels.push(StoredLevel {
                level,
                layout: vec![(chunk, hashes.len())],
                bytes: hashes.to_vec(),
            }),
        }
    }

    /// The levels' bytes, checked: levels numbered from 1, each cut in full chunks
    /// numbered from 0 but its last.
    pub(crate) fn laid_out(self, statement_id: &str, tree: &str) -> backend::Result<Vec<Vec<u8>>> {
        let mut tiles = Vec::new();
        for (at, StoredLevel { level, layout, bytes }) in (1i64..).zip(self.levels) {
            if level != at {
                return Err(StoreError::corrupt(
                    format!("statement:{statement_id}"),
                    format!("its tree `{tree}` has tiles of level {level} but none of level {at}"),
                ));
            }
            let part = backend::TreePart::Tiles(u32::try_from(level).unwrap_or(u32::MAX));
            backend::check_chunks(statement_id, tree, part, &layout)?;
            tiles.push(bytes);
        }
        Ok(tiles)
    }
}

pub(crate) const TREE_SUMMARY: &str = "SELECT count, root,
        (SELECT coalesce(sum(length(l.leaves)), 0) FROM statement_tree_leaves l
         WHERE l.statement_id = t.statement_id AND l.tree = t.tree)
     FROM statement_trees t WHERE t.statement_id = $1 AND t.tree = $2";
