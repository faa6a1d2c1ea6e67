//! Moving a store into another (`revshare store copy`): an embedded file into
//! PostgreSQL when a deployment outgrows one machine, or back.
//!
//! The whole store goes, row for row (`revshare_store::backend::StoreCopy`): the
//! audit log, its tree and checkpoints, the store id and signing keys, so the same
//! key file opens the target, `audit verify` passes on it and every statement is
//! the same bytes. The source appends one last entry, `store_copied` (its row kept
//! in `meta` as `copied:<seq>`, covered by the entry), and is sealed; everything is
//! copied in the source's write transaction, after that entry, so the target holds
//! it too and nothing is written to the source meanwhile. The target is written in
//! one transaction of its own, refused unless it is empty, and committed only after
//! every table's count, the log's head and the newest checkpoint match the
//! source's. The source then marks itself retired (`meta` `retired`) and commits:
//! from then on it answers reads and refuses every write, so the log never forks.

use std::path::Path;

use revshare_core::audit::{Action, Entry, Seq};
use revshare_core::records::StoreCopyRow;
use revshare_store::backend::CopyTable;

use crate::keys::Keys;
use crate::rows::{object, payload};
use crate::{AppError, Backend, Ctx, Result};

/// The `meta` key a retired store holds: the seq of its `store_copied` entry and
/// where it went.
const RETIRED: &str = "retired";
/// The `meta` key of a `store_copied` entry's row: `copied:<seq>`.
pub(crate) fn copied_key(seq: Seq) -> String {
    format!("copied:{seq}")
}

/// How far a copy is, for a progress bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyProgress {
    /// The rows to copy in all.
    Started { rows: u64 },
    /// `rows` more rows of `table` are copied.
    Copied { table: String, rows: u64 },
}

/// What a copy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// Each table copied and its rows, in the order copied.
    pub tables: Vec<(String, u64)>,
    /// The `store_copied` entry, the last of the source and of the target's log.
    pub entry: Entry,
    /// The store both are.
    pub store_id: String,
}

/// Refuses a write to a retired store, naming where its log went.
pub(crate) fn refuse_if_retired(backend: &mut dyn Backend) -> Result<()> {
    match backend.meta(RETIRED)? {
        None => Ok(()),
        Some(retired) => {
            let (seq, to) = retired.split_once(' ').unwrap_or(("?", retired.as_str()));
            Err(AppError::Conflict(format!(
                "this store is retired: `revshare store copy` copied it to {to} (audit entry {seq}, \
                 store_copied), which holds its whole log; write there. This store answers reads only, so \
                 that its log never forks"
            )))
        }
    }
}

/// Where a retired store's log went (`None`: not retired).
pub fn retired_to(backend: &mut dyn Backend) -> Result<Option<String>> {
    Ok(backend.meta(RETIRED)?.map(|retired| {
        retired
            .split_once(' ')
            .map_or(retired.clone(), |(_, to)| to.to_string())
    }))
}

/// Whether the store is retired and its log of `size` entries ends with the
/// `store_copied` entry that retired it.
pub(crate) fn ends_retired(backend: &mut dyn Backend, size: u64) -> Result<bool> {
    if backend.meta(RETIRED)?.is_none() {
        return Ok(false);
    }
    Ok(backend
        .audit_entry(Seq::new(size))?
        .is_some_and(|e| e.action == Action::StoreCopied))
}

/// Copies the store `source` (opened with `keys`) into the empty store `target`
/// (named `target_name` in the entry and in messages), then retires the source.
pub fn copy_store(
    source: &mut dyn Backend,
    keys: &Keys,
    ctx: Ctx<'_>,
    target: &mut dyn Backend,
    target_name: &str,
    progress: &mut dyn FnMut(CopyProgress),
) -> Result<Copied> {
    crate::access::require(ctx.actor, crate::access::Permission::CopyStore)?;
    refuse_if_retired(source)?;
    // A quick refusal before the source is locked; checked again under the target's lock.
    check_empty(target, target_name)?;
    let store_id = keys
        .store_id()
        .map(ToString::to_string)
        .ok_or_else(|| AppError::Invalid("these keys are not bound to a store".into()))?;
    let (entry, tables) = crate::tx::write_then(
        source,
        keys,
        ctx,
        |tx| {
            refuse_if_retired(tx.backend)?;
            let seq = tx.next_seq();
            let row = StoreCopyRow {
                to: target_name.to_string(),
                size: i64::try_from(tx.head().size())
                    .map_err(|_| AppError::Integrity("the log is past the stores' integers".into()))?,
                actor: tx.actor().to_string(),
                copied_at: tx.time().to_string(),
            };
            let text = serde_json::to_string(&row).expect("a copy's row serializes");
            tx.backend.set_meta(&copied_key(seq), &text)?;
            tx.record(Action::StoreCopied, object::LOG.to_string(), payload(&row))
        },
        |source, entry| {
            let tables = copy_rows(source, target, target_name, progress)?;
            source.set_meta(RETIRED, &format!("{} {target_name}", entry.seq))?;
            Ok(tables)
        },
    )?;
    Ok(Copied {
        tables,
        entry,
        store_id,
    })
}

/// Refuses a target that holds anything: an audit entry, a store id, a row.
fn check_empty(target: &mut dyn Backend, target_name: &str) -> Result<()> {
    let tables = target.copy_tables()?;
    let mut held = Vec::new();
    for table in &tables {
        if table.name == revshare_store::backend::copy::META {
            continue;
        }
        let rows = target.count_rows(table)?;
        if rows > 0 {
            let noun = if rows == 1 { "row" } else { "rows" };
            held.push(format!("{rows} {noun} of {}", table.name));
        }
    }
    if let Some(id) = target.meta("store_id")? {
        held.insert(0, format!("store id {id}"));
    }
    if held.is_empty() {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "{target_name} is not empty (it holds {}): a copy goes into a new, empty store only, so that no log is \
         overwritten or merged; give a new database or file",
        held.join(", ")
    )))
}

/// Copies every table in one transaction of the target, committed only when the
/// counts, the head and the newest checkpoint match the source's.
fn copy_rows(
    source: &mut dyn Backend,
    target: &mut dyn Backend,
    target_name: &str,
    progress: &mut dyn FnMut(CopyProgress),
) -> Result<Vec<(String, u64)>> {
    let tables = source.copy_tables()?;
    let theirs = target.copy_tables()?;
    for table in &tables {
        let same = theirs.iter().find(|t| t.name == table.name).is_some_and(|t| {
            let mut a = t.columns.clone();
            let mut b = table.columns.clone();
            a.sort();
            b.sort();
            a == b
        });
        if !same {
            return Err(AppError::Invalid(format!(
                "{target_name} has no table {} with the source's columns: it is not a store of this build's schema",
                table.name
            )));
        }
    }
    if let Some(extra) = theirs.iter().find(|t| !tables.iter().any(|s| s.name == t.name)) {
        return Err(AppError::Invalid(format!(
            "{target_name} has a table {} the source lacks: it is not a store of this build's schema",
            extra.name
        )));
    }
    let mut counts = Vec::with_capacity(tables.len());
    for table in &tables {
        counts.push(source.count_rows(table)?);
    }
    progress(CopyProgress::Started {
        rows: counts.iter().sum(),
    });
    target.begin_write()?;
    let copied = (|| -> Result<()> {
        check_empty(target, target_name)?;
        for table in &tables {
            copy_table(source, target, table, progress)?;
        }
        target.finish_import()?;
        compare(source, target, &tables, &counts, target_name)
    })();
    match copied {
        Ok(()) => target.commit()?,
        Err(error) => {
            let _ = target.rollback();
            return Err(error);
        }
    }
    Ok(tables.into_iter().map(|t| t.name).zip(counts).collect())
}

fn copy_table(
    source: &mut dyn Backend,
    target: &mut dyn Backend,
    table: &CopyTable,
    progress: &mut dyn FnMut(CopyProgress),
) -> Result<()> {
    let mut sink = |rows: &[revshare_store::backend::CopyRow]| -> revshare_store::backend::Result<()> {
        target.import_rows(table, rows)?;
        progress(CopyProgress::Copied {
            table: table.name.clone(),
            rows: rows.len() as u64,
        });
        Ok(())
    };
    Ok(source.export_rows(table, &mut sink)?)
}

/// The target holds what the source holds: every table's rows (`meta` may keep a
/// value of its own the source lacks), the log's head and its newest checkpoint.
fn compare(
    source: &mut dyn Backend,
    target: &mut dyn Backend,
    tables: &[CopyTable],
    counts: &[u64],
    target_name: &str,
) -> Result<()> {
    let differs = |what: String| {
        AppError::Integrity(format!(
            "{target_name} does not hold what the source holds after the copy ({what}); nothing was kept"
        ))
    };
    for (table, count) in tables.iter().zip(counts) {
        let theirs = target.count_rows(table)?;
        let meta = table.name == revshare_store::backend::copy::META;
        if theirs != *count && !(meta && theirs > *count) {
            return Err(differs(format!("{} rows of {} for {count}", theirs, table.name)));
        }
    }
    if source.audit_head()? != target.audit_head()? {
        return Err(differs("the log's head".into()));
    }
    if source.newest_checkpoint()? != target.newest_checkpoint()? {
        return Err(differs("the newest checkpoint".into()));
    }
    if source.meta("store_id")? != target.meta("store_id")? {
        return Err(differs("the store id".into()));
    }
    Ok(())
}

/// The `store_copied` entries and their rows (`meta` `copied:<seq>`), for `audit
/// verify`: each row as stored, or `None` where it is missing.
pub(crate) fn copy_rows_of(backend: &mut dyn Backend, entries: &[Entry]) -> Result<Vec<(Seq, Option<String>)>> {
    entries
        .iter()
        .filter(|e| e.action == Action::StoreCopied)
        .map(|e| Ok((e.seq, backend.meta(&copied_key(e.seq))?)))
        .collect()
}

/// Checks, before a copy, that the target's key file (`target_key_file`) can be
/// the source's (`key_file`): the same file, one not there yet, or a copy of it.
pub fn check_target_key_file(key_file: &Path, target_key_file: &Path) -> Result<()> {
    if key_file == target_key_file || !target_key_file.exists() {
        return Ok(());
    }
    if read(key_file)? == read(target_key_file)? {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "{} exists and holds another key than {}: move it away, or give the target's key file with \
         --to-key-file",
        target_key_file.display(),
        key_file.display()
    )))
}

/// After a copy, gives the target the source's key file (a copy, mode 0600, where
/// it is another file) and the checkpoint file beside it, so that its first write
/// extends the checkpoint the copy ended with.
pub fn place_target_key_file(keys: &Keys, key_file: &Path, target_key_file: &Path) -> Result<()> {
    if key_file == target_key_file {
        return Ok(());
    }
    let write = |path: &Path, bytes: &[u8]| {
        crate::checkpoint_file::write_private(path, bytes)
            .map_err(|e| AppError::Invalid(format!("cannot write {}: {e}", path.display())))
    };
    write(target_key_file, &read(key_file)?)?;
    let store_id = keys
        .store_id()
        .ok_or_else(|| AppError::Invalid("these keys are not bound to a store".into()))?;
    let kept = keys.checkpoint_file()?.path().to_path_buf();
    write(&crate::keys::checkpoint_path(target_key_file, store_id), &read(&kept)?)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_row_keeps_its_form() {
        let row = StoreCopyRow {
            to: "the PostgreSQL database postgres://u:***@h/db".into(),
            size: 41,
            actor: "cli".into(),
            copied_at: "2026-12-07T16:00:00Z".into(),
        };
        let text = serde_json::to_string(&row).unwrap();
        assert_eq!(serde_json::from_str::<StoreCopyRow>(&text).unwrap(), row);
        assert_eq!(copied_key(Seq::new(42)), "copied:42");
    }
}
