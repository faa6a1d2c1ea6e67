//! Reading the audit log: the full entries, and the chain every party may read
//! (`{seq, digest, prev_hash, hash}`: how many entries exist, nothing of their
//! content or time).

use revshare_core::audit::{Entry, Link};

use crate::access::Own;
use crate::{Actor, Backend, Result};

/// The most entries one call returns.
pub const PAGE_MAX: usize = 1000;

/// Up to `limit` (at most [`PAGE_MAX`]) entries after `after` that the actor reads
/// in full (those about its own objects), ascending.
pub fn entries(backend: &mut dyn Backend, actor: &Actor, after: i64, limit: usize) -> Result<Vec<Entry>> {
    let own = Own::of(backend, actor)?;
    let limit = limit.clamp(1, PAGE_MAX);
    let mut seen = Vec::new();
    let mut from = after;
    loop {
        let page = backend.audit_entries(from, PAGE_MAX)?;
        let done = page.len() < PAGE_MAX;
        from = page.last().map_or(from, |e| e.seq as i64);
        seen.extend(page.into_iter().filter(|e| own.sees_entry(&e.object)));
        if done || seen.len() >= limit {
            seen.truncate(limit);
            return Ok(seen);
        }
    }
}

/// Every entry after `after`, page by page.
pub fn all_entries(backend: &mut dyn Backend, after: i64) -> Result<Vec<Entry>> {
    let mut all: Vec<Entry> = Vec::new();
    loop {
        let from = all.last().map_or(after, |e| e.seq as i64);
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
pub fn chain_page(backend: &mut dyn Backend, after: i64, limit: usize) -> Result<Vec<Link>> {
    Ok(backend
        .audit_entries(after, limit.clamp(1, PAGE_MAX))?
        .iter()
        .map(Entry::link)
        .collect())
}

/// The chain's links after `after`.
pub fn chain(backend: &mut dyn Backend, after: i64) -> Result<Vec<Link>> {
    Ok(all_entries(backend, after)?.iter().map(Entry::link).collect())
}
