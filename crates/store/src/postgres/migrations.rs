//! The schema ladder: a new database's tables, and each earlier schema moved forward
//! when the store is opened (schema 2's row-per-event table into segments).

use postgres::Transaction;

use super::events::{accepted_segments, insert_segments, leaf_of};
use super::{redact, Prepared, WRITE_LOCK};
use crate::backend::{EventBatch, EventRow, InsertOutcome, Result};
use crate::{host_parts, StoreError};

const SCHEMA_VERSION: i32 = 13;
const SCHEMA_2: &str = include_str!("../../migrations/postgres/002_audited.sql");
const SCHEMA_3: &str = include_str!("../../migrations/postgres/003_segments.sql");
const SCHEMA_4: &str = include_str!("../../migrations/postgres/004_tree_chunks.sql");
const SCHEMA_5: &str = include_str!("../../migrations/postgres/005_log_tree.sql");
const SCHEMA_6: &str = include_str!("../../migrations/postgres/006_ledger.sql");
const SCHEMA_7: &str = include_str!("../../migrations/postgres/007_closed_after_term.sql");
const SCHEMA_8: &str = include_str!("../../migrations/postgres/008_disputes.sql");
const SCHEMA_9: &str = include_str!("../../migrations/postgres/009_ledger_cover.sql");
const SCHEMA_10: &str = include_str!("../../migrations/postgres/010_rollups.sql");
const SCHEMA_11: &str = include_str!("../../migrations/postgres/011_keyed.sql");
const SCHEMA_12: &str = include_str!("../../migrations/postgres/012_month_partitions.sql");
const SCHEMA_13: &str = include_str!("../../migrations/postgres/013_tree_tiles.sql");

/// Serializes schema creation by concurrent first connections.
const MIGRATION_LOCK: i64 = WRITE_LOCK + 1;

/// Brings a new database or one of an earlier schema to this build's schema, in the
/// transaction that opens the store (under the migration lock, so concurrent first
/// connections take turns).
pub(super) fn migrate(transaction: &mut Transaction<'_>, url: &str) -> Result<()> {
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)")?;
    let applied: Vec<i32> = transaction
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The schema found, then each step from it to this build's, in order.
    let found = match applied.as_slice() {
        [] => 0,
        [version @ 2..=SCHEMA_VERSION] => *version,
        [1] => {
            return Err(StoreError::Refused(format!(
                "{}: this database was made by an earlier build of revshare (schema 1, without the audit \
                 log); use a new database (revshare init) and import its usage again",
                redact(url)
            )))
        }
        other => {
            return Err(StoreError::Refused(format!(
                "{}: not a revshare store of schema {SCHEMA_VERSION} (versions {other:?})",
                redact(url)
            )))
        }
    };
    if found == 0 {
        transaction.batch_execute(SCHEMA_2)?;
    }
    if found < 3 {
        // Segments made now are stored with their rollups (schema 10's table, which
        // names no other).
        transaction.batch_execute(SCHEMA_10)?;
        upgrade_to_segments(transaction)?;
    }
    if found < 4 {
        transaction.batch_execute(SCHEMA_4)?;
    }
    if found < 5 {
        transaction.batch_execute(SCHEMA_5)?;
    }
    if found < 6 {
        transaction.batch_execute(SCHEMA_6)?;
    }
    if found < 7 {
        transaction.batch_execute(SCHEMA_7)?;
    }
    if found < 8 {
        transaction.batch_execute(SCHEMA_8)?;
    }
    if found < 9 {
        transaction.batch_execute(SCHEMA_9)?;
    }
    if (3..10).contains(&found) {
        transaction.batch_execute(SCHEMA_10)?;
        fill_rollups(transaction)?;
    }
    if found < 11 {
        transaction.batch_execute(SCHEMA_11)?;
    }
    if found < 12 {
        partition_segments(transaction)?;
    }
    if found < 13 {
        transaction.batch_execute(SCHEMA_13)?;
        tile_stored_trees(transaction)?;
    }
    if found < SCHEMA_VERSION {
        transaction.execute("DELETE FROM schema_migrations", &[])?;
        transaction.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&SCHEMA_VERSION],
        )?;
    }
    Ok(())
}

/// Schema 2 kept a row per event in `events`: creates `segments` and moves every
/// batch's events into them, then drops `events`. On a new database there are none.
fn upgrade_to_segments(transaction: &mut postgres::Transaction<'_>) -> Result<()> {
    transaction.batch_execute(SCHEMA_3)?;
    // A process of the earlier build still connected must not commit rows the move
    // has not read (the drop would take them): it waits, then fails on the missing table.
    transaction.batch_execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")?;
    let portal = transaction.bind(
        "SELECT batch, source, id, leaf, host, model, use_case, currency, customer, utc_seconds, day,
                requests, input_tokens, output_tokens, revenue_units
         FROM events ORDER BY batch",
        &[],
    )?;
    let mut prepared = Prepared::default();
    let mut batch: Option<(i64, Vec<EventRow>)> = None;
    loop {
        let rows = transaction.query_portal(&portal, 10_000)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let number: i64 = row.try_get(0)?;
            if batch.as_ref().is_some_and(|(current, _)| *current != number) {
                if let Some((done, events)) = batch.take() {
                    move_batch(transaction, &mut prepared, done, &events)?;
                }
            }
            batch
                .get_or_insert_with(|| (number, Vec::new()))
                .1
                .push(schema_2_event(row)?);
        }
    }
    if let Some((done, events)) = batch {
        move_batch(transaction, &mut prepared, done, &events)?;
    }
    // The portal holds the table open until it is closed.
    drop(portal);
    transaction.batch_execute("DROP TABLE events")?;
    Ok(())
}

/// Schema 10: the rollup of every segment stored before it, from its events.
fn fill_rollups(transaction: &mut postgres::Transaction<'_>) -> Result<()> {
    let portal = transaction.bind("SELECT number, host, day, events FROM segments ORDER BY number", &[])?;
    let insert = transaction.prepare("INSERT INTO segment_rollups (number, rollup) VALUES ($1, $2)")?;
    loop {
        let rows = transaction.query_portal(&portal, 1_000)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let number: i64 = row.try_get(0)?;
            let host: &str = row.try_get(1)?;
            let segment = crate::segment::SegmentRow {
                number,
                host,
                day: row.try_get(2)?,
                // The events' seq plays no part in their sums.
                seq: 0,
                bytes: row.try_get(3)?,
            };
            let rollup = crate::rollup::of_segment(&segment)?;
            transaction.execute(&insert, &[&number, &rollup])?;
        }
    }
    Ok(())
}

/// Schema 12: `segments` partitioned by month, the rows of the table before moved
/// into the partitions of their months.
fn partition_segments(transaction: &mut postgres::Transaction<'_>) -> Result<()> {
    transaction.batch_execute(SCHEMA_12)?;
    let days: Vec<i32> = transaction
        .query("SELECT DISTINCT day FROM segments_before_partitions", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    super::partitions::make(transaction, days)?;
    transaction.batch_execute(
        "INSERT INTO segments (number, batch, host, day, count, events)
             SELECT number, batch, host, day, count, events FROM segments_before_partitions;
         DROP TABLE segments_before_partitions;",
    )?;
    Ok(())
}

/// Stores one schema-2 batch's events as segments.
fn move_batch(
    transaction: &mut postgres::Transaction<'_>,
    prepared: &mut Prepared,
    batch: i64,
    events: &[EventRow],
) -> Result<()> {
    let events = EventBatch::from_rows(events)?;
    let accepted = vec![InsertOutcome::Accepted; events.len()];
    let parts = host_parts(&events, &accepted);
    let batches = vec![batch; parts.len()];
    let segments = accepted_segments(&events, &accepted, &parts, &batches)?;
    insert_segments(transaction, prepared, &segments)
}

/// An event as schema 2 stored it, after its batch id.
fn schema_2_event(row: &postgres::Row) -> Result<EventRow> {
    let customer: Option<&[u8]> = row.try_get(8)?;
    let customer = customer
        .map(|c| {
            c.try_into()
                .map_err(|_| StoreError::Database("a stored customer is not 16 bytes".into()))
        })
        .transpose()?;
    let (source, id): (String, String) = (row.try_get(1)?, row.try_get(2)?);
    Ok(EventRow {
        leaf: leaf_of(&source, &id, row.try_get(3)?)?,
        source,
        id,
        host: row.try_get(4)?,
        model: row.try_get(5)?,
        use_case: row.try_get(6)?,
        currency: row.try_get(7)?,
        customer,
        utc_seconds: row.try_get(9)?,
        day: row.try_get(10)?,
        requests: row.try_get(11)?,
        input_tokens: row.try_get(12)?,
        output_tokens: row.try_get(13)?,
        revenue_units: row.try_get(14)?,
    })
}

/// Schema 13: each tree stored before it gets its tiles and leaf index, made from its
/// stored leaves (one tree in memory at a time).
fn tile_stored_trees(transaction: &mut Transaction<'_>) -> Result<()> {
    let trees: Vec<(String, String)> = transaction
        .query(
            "SELECT statement_id, tree FROM statement_trees ORDER BY statement_id, tree",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (statement_id, tree) in trees {
        let mut leaves = Vec::new();
        for row in transaction.query(
            "SELECT leaves FROM statement_tree_leaves WHERE statement_id = $1 AND tree = $2 ORDER BY chunk",
            &[&statement_id, &tree],
        )? {
            leaves.extend_from_slice(row.try_get::<_, &[u8]>(0)?);
        }
        let tiles = crate::tiles_of(&leaves);
        super::statements::insert_tiles(transaction, &statement_id, &tree, &tiles, &leaves)?;
    }
    Ok(())
}
