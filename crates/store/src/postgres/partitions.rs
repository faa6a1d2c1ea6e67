//! Segments by month (schema 13): a partition `segments_YYYY_MM` of `segments` for
//! each month of their days, made before its first segment is stored, so that an
//! old month can move to cheaper storage (a tablespace of its own) while every read
//! still goes through `segments` (docs/operations.md).

use std::collections::HashSet;

use postgres::GenericClient;
use revshare_core::period::{Cadence, Day, Period};

use super::PgStore;
use crate::backend::Result;

/// Serializes the making of partitions by concurrent writers.
const PARTITION_LOCK: i64 = super::WRITE_LOCK + 2;

/// The partition that holds `month`'s segments.
pub(super) fn name_of(month: Period) -> String {
    format!("segments_{}", month.to_string().replace('-', "_"))
}

/// The months of some days, each once.
fn months(days: impl IntoIterator<Item = i32>) -> Vec<Period> {
    let mut months: Vec<Period> = days.into_iter().map(|d| Cadence::Month.period_of(Day(d))).collect();
    months.sort_by_key(|m| m.start());
    months.dedup();
    months
}

/// Makes the partitions of the months of `days` that do not exist yet, in the
/// caller's transaction (a migration's, a copy's: no other writer runs beside it).
pub(super) fn make(client: &mut impl GenericClient, days: impl IntoIterator<Item = i32>) -> Result<()> {
    for month in months(days) {
        let name = name_of(month);
        // Days are integers and the name is made of digits: nothing here is the user's.
        client.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF segments FOR VALUES FROM ({}) TO ({});
             ALTER TABLE {name} ALTER COLUMN events SET STORAGE EXTERNAL;",
            month.start().0,
            month.end().0
        ))?;
    }
    Ok(())
}

impl PgStore {
    /// Makes the partitions of the months of `days` this connection has not seen
    /// made, each in a short transaction of its own before the caller's begins (a
    /// partition made inside an import would lock `segments` until it commits).
    pub(super) fn ensure_partitions(&mut self, days: impl IntoIterator<Item = i32>) -> Result<()> {
        let wanted: Vec<Period> = months(days)
            .into_iter()
            .filter(|m| !self.partitions.contains(&m.start().0))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut transaction = self.client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])?;
        make(&mut transaction, wanted.iter().map(|m| m.start().0))?;
        transaction.commit()?;
        self.partitions.extend(wanted.iter().map(|m| m.start().0));
        Ok(())
    }
}

/// The months whose partitions a connection has made or seen, by their first day.
pub(super) type Made = HashSet<i32>;
