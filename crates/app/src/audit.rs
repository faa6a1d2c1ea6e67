//! Reading the audit log: the full entries, and the chain every party may read
//! (`{seq, digest, prev_hash, hash}`: how many entries exist, nothing of their
//! content or time).

use revshare_core::audit::{Entry, Link, Seq};

use crate::access::Own;
use crate::limits::PAGE_MAX;
use crate::page::Page;
use crate::{Actor, Backend, Result};

/// Up to `limit` (at most [`PAGE_MAX`]) entries after `after` that the actor reads
/// in full (those about its own objects), ascending.
pub fn entries(backend: &mut dyn Backend, actor: &Actor, after: Seq, limit: usize) -> Result<Vec<Entry>> {
    let own = reader(backend, actor)?;
    let limit = limit.clamp(1, PAGE_MAX);
    let mut seen = Vec::new();
    let mut from = after;
    loop {
        let page = backend.audit_entries(from, PAGE_MAX)?;
        let done = page.len() < PAGE_MAX;
        from = page.last().map_or(from, |e| e.seq);
        seen.extend(page.into_iter().filter(|e| own.sees_entry(&e.object)));
        if done || seen.len() >= limit {
            seen.truncate(limit);
            return Ok(seen);
        }
    }
}

/// What the actor owns in the log: its objects, and the voids of events its
/// contracts select where it follows those.
pub(crate) fn reader(backend: &mut dyn Backend, actor: &Actor) -> Result<Own> {
    let mut own = Own::of(backend, actor)?;
    if own.follows_selected_voids() {
        let voids = crate::locate::voids_selected_by(backend, own.contracts())?;
        own.follow_voids(voids);
    }
    Ok(own)
}

/// Every entry after `after`, page by page.
pub fn all_entries(backend: &mut dyn Backend, after: Seq) -> Result<Vec<Entry>> {
    let mut all: Vec<Entry> = Vec::new();
    loop {
        let from = all.last().map_or(after, |e| e.seq);
        let page = backend.audit_entries(from, PAGE_MAX)?;
        let done = page.len() < PAGE_MAX;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// One page of the chain's links after `after` (every role reads the chain: it holds
/// digests, no content).
pub fn chain_page(backend: &mut dyn Backend, after: Seq, limit: usize) -> Result<Vec<Link>> {
    Ok(backend
        .audit_entries(after, limit.clamp(1, PAGE_MAX))?
        .iter()
        .map(Entry::link)
        .collect())
}

/// The chain's links after `after`.
pub fn chain(backend: &mut dyn Backend, after: Seq) -> Result<Vec<Link>> {
    Ok(all_entries(backend, after)?.iter().map(Entry::link).collect())
}

/// Where a page of the log starts (after the cursor's seq, the last one given, or
/// after `after_seq`, whichever is later) and how many entries it holds: checked
/// before anything is read, so a malformed request is refused as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPage {
    start: Seq,
    limit: usize,
}

impl LogPage {
    pub fn new(after_seq: Option<i64>, limit: Option<usize>, cursor: Option<&str>) -> Result<LogPage> {
        // A position past every seq a store holds (no cursor this API gave) starts
        // after every entry: the page is empty.
        let from_cursor = Seq::new(u64::try_from(crate::page::position(cursor)?).unwrap_or(u64::MAX)).min(Seq::MAX);
        let after = after_seq.unwrap_or(0);
        let after = Seq::try_from(after)
            .map_err(|_| crate::AppError::Invalid(format!("after_seq: {after} must be 0 or more")))?;
        Ok(LogPage {
            start: from_cursor.max(after),
            limit: crate::page::limit(limit)?,
        })
    }

    /// A full page continues after its last seq.
    fn of<T>(self, items: Vec<T>, seq: impl Fn(&T) -> Seq) -> Page<T> {
        let next_cursor = items
            .last()
            .filter(|_| items.len() == self.limit)
            .map(|last| crate::page::cursor_at(usize::try_from(seq(last).get()).unwrap_or(usize::MAX)));
        Page { items, next_cursor }
    }
}

/// One page of [`entries`] (api.md: `?after_seq=`, `?limit=`, `?cursor=`).
pub fn entries_page(backend: &mut dyn Backend, actor: &Actor, page: LogPage) -> Result<Page<Entry>> {
    Ok(page.of(entries(backend, actor, page.start, page.limit)?, |e| e.seq))
}

/// One page of the chain (see [`chain_page`]), as [`entries_page`] pages.
pub fn links_page(backend: &mut dyn Backend, page: LogPage) -> Result<Page<Link>> {
    Ok(page.of(chain_page(backend, page.start, page.limit)?, |l| l.seq))
}
