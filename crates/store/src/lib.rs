//! revshare's memory: contracts, tables, events and closed statements, in an embedded
//! SQLite file by default or in PostgreSQL, behind one [`Backend`] interface.
//!
//! The meaning of each operation lives here once, backend-agnostic: [`import`]
//! (streaming, idempotent for life), [`close`] (signed immutable statements and
//! prior-period adjustments for late usage) and [`prove`] (inclusion proofs). The
//! backends only store.

pub mod backend;
pub mod close;
pub mod import;
pub mod keys;
pub mod postgres;
pub mod prove;
mod segment;
pub mod sqlite;

use std::path::{Path, PathBuf};

use revshare_core::contract::{Contract, ContractSet, ContributionKind, Party};
use revshare_core::money::Decimal;
use revshare_core::period::Day;
use revshare_core::rating::RatingInputs;
use revshare_core::tables::{Contribution, ContributionStatus, Contributions, FxTable, ModelRegistry};

pub use backend::Backend;
use backend::Result;

/// What went wrong in the store. Messages are readable as they are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(String),
    #[error("{0}")]
    Key(String),
    /// Something the user asked that the rules refuse (named in the message).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}

/// Where the store is.
#[derive(Clone, Debug)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

/// An open store of either kind.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(Box<postgres::PgStore>),
}

impl Store {
    pub fn open(location: &Location) -> Result<Store> {
        Ok(match location {
            Location::Sqlite(path) => Store::Sqlite(sqlite::SqliteStore::open(path)?),
            Location::Postgres(url) => Store::Postgres(Box::new(postgres::PgStore::open(url)?)),
        })
    }

    pub fn backend(&mut self) -> &mut (dyn Backend + Send) {
        match self {
            Store::Sqlite(s) => s,
            Store::Postgres(p) => &mut **p,
        }
    }
}

/// The default key file of a store: beside the SQLite file, else in the current folder.
pub fn default_key_file(location: &Location) -> PathBuf {
    match location {
        Location::Sqlite(path) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".key");
            PathBuf::from(name)
        }
        Location::Postgres(_) => PathBuf::from("revshare.key"),
    }
}

/// The current time as RFC 3339 UTC, for records (the core never reads the clock).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is valid");
    now.format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}

/// Loads everything rating needs from the store.
pub fn rating_inputs(backend: &mut dyn Backend) -> Result<RatingInputs> {
    let mut loaded = Vec::new();
    for row in backend.contracts()? {
        let contract = Contract::from_toml(&row.file_name, &row.toml)
            .map_err(|e| StoreError::Database(format!("a stored contract no longer loads: {e}")))?;
        loaded.push((row.file_name.clone(), contract));
    }
    let contracts = ContractSet::new(loaded).map_err(|e| StoreError::Database(e.to_string()))?;
    let mut fx = FxTable::default();
    for row in backend.fx()? {
        let rate = Decimal::parse(&row.rate, 10).map_err(|e| StoreError::Database(e.to_string()))?;
        fx.insert(Day(row.date), &row.from, &row.to, rate)
            .map_err(StoreError::Database)?;
    }
    let mut contributions = Contributions::default();
    for row in backend.contributions()? {
        let bad = || StoreError::Database(format!("contribution {} has unknown fields", row.number));
        contributions.rows.push(Contribution {
            contract: row.contract.clone(),
            by: Party::parse(&row.by).ok_or_else(bad)?,
            kind: ContributionKind::parse(&row.kind).ok_or_else(bad)?,
            date: Day(row.date),
            status: ContributionStatus::parse(&row.status).ok_or_else(bad)?,
            reference: row.reference.clone(),
        });
    }
    let models = backend.models()?;
    let registry = (!models.is_empty()).then(|| ModelRegistry {
        rows: models
            .into_iter()
            .map(|(pattern, licensor)| (revshare_core::contract::Glob::new(&pattern), licensor))
            .collect(),
    });
    Ok(RatingInputs {
        contracts,
        fx,
        contributions,
        registry,
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
