//! Lists page by page (api.md): `?limit=` (default 100, at most 1000) and an opaque
//! `?cursor=`, answering `{"items": […], "next_cursor": "…" | null}`, ascending by
//! creation. Lists only grow at their end, so a cursor is the position after the
//! last item given.

use base64::Engine as _;
use serde::Serialize;

use crate::limits::{PAGE_DEFAULT, PAGE_MAX};
use crate::{AppError, Result};

#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn engine() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The position a cursor stands for.
pub fn position(cursor: Option<&str>) -> Result<usize> {
    let Some(cursor) = cursor else { return Ok(0) };
    let bad = || AppError::Invalid(format!("cursor: `{cursor}` is not a cursor this API gave"));
    let bytes = engine().decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("p:").and_then(|n| n.parse().ok()).ok_or_else(bad)
}

pub(crate) fn cursor_at(position: usize) -> String {
    engine().encode(format!("p:{position}"))
}

/// The cursor of the page before the one `cursor` starts (of `limit_asked` items),
/// for a link back; `None` on the first page.
pub fn previous_cursor(cursor: Option<&str>, limit_asked: Option<usize>) -> Result<Option<String>> {
    let limit = limit(limit_asked)?;
    Ok(match position(cursor)? {
        0 => None,
        start => Some(cursor_at(start.saturating_sub(limit))),
    })
}

/// The limit asked of a page of the dashboard, checked: at most
/// [`DASHBOARD_PAGE_MAX`](crate::limits::DASHBOARD_PAGE_MAX).
pub fn dashboard_limit(limit: Option<usize>) -> Result<Option<usize>> {
    let max = crate::limits::DASHBOARD_PAGE_MAX;
    match limit {
        Some(n) if !(1..=max).contains(&n) => Err(AppError::Invalid(format!("limit: {n} must be from 1 to {max}"))),
        limit => Ok(limit),
    }
}

/// The limit asked for, checked.
pub fn limit(limit: Option<usize>) -> Result<usize> {
    match limit.unwrap_or(PAGE_DEFAULT) {
        n @ 1..=PAGE_MAX => Ok(n),
        n => Err(AppError::Invalid(format!("limit: {n} must be from 1 to {PAGE_MAX}"))),
    }
}

/// One page of `items` once put in the order their rows were added (by the audit
/// seq of the entry that added each).
pub(crate) fn by_seq<T>(
    mut items: Vec<T>,
    seq: impl Fn(&T) -> revshare_core::audit::Seq,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<Page<T>> {
    items.sort_by_key(seq);
    page(items, limit, cursor)
}

/// One page of a list given in creation order.
pub fn page<T>(items: Vec<T>, limit_asked: Option<usize>, cursor: Option<&str>) -> Result<Page<T>> {
    let limit = limit(limit_asked)?;
    let start = position(cursor)?.min(items.len());
    let end = (start + limit).min(items.len());
    let next_cursor = (end < items.len()).then(|| cursor_at(end));
    Ok(Page {
        items: items.into_iter().skip(start).take(end - start).collect(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_and_bad_cursors_are_named() {
        let first = page((0..250).collect(), None, None).unwrap();
        assert_eq!(first.items.len(), 100);
        let second = page((0..250).collect(), Some(200), first.next_cursor.as_deref()).unwrap();
        assert_eq!(second.items, (100..250).collect::<Vec<_>>());
        assert!(second.next_cursor.is_none());
        for bad in ["", "!!", "cDo", "eDox"] {
            assert!(page::<u8>(Vec::new(), None, Some(bad)).is_err(), "{bad}");
        }
        assert!(page::<u8>(Vec::new(), Some(0), None).is_err());
        // Back from each page to the one before it.
        assert_eq!(previous_cursor(None, None).unwrap(), None);
        let back = previous_cursor(first.next_cursor.as_deref(), None).unwrap();
        assert_eq!(
            page((0..250).collect(), None, back.as_deref()).unwrap().items,
            first.items
        );
        let third = page((0..250).collect(), Some(40), Some(&cursor_at(230))).unwrap();
        assert_eq!(third.items, (230..250).collect::<Vec<_>>());
        let back = previous_cursor(Some(&cursor_at(230)), Some(40)).unwrap();
        assert_eq!(
            page((0..250).collect(), Some(40), back.as_deref()).unwrap().items,
            (190..230).collect::<Vec<_>>()
        );
        let back = previous_cursor(Some(&cursor_at(10)), Some(40)).unwrap();
        assert_eq!(position(back.as_deref()).unwrap(), 0, "never before the first item");
        assert!(page::<u8>(Vec::new(), Some(1001), None).is_err());
        assert_eq!(dashboard_limit(Some(250)).unwrap(), Some(250));
        assert_eq!(dashboard_limit(None).unwrap(), None);
        assert!(dashboard_limit(Some(251)).is_err() && dashboard_limit(Some(0)).is_err());
    }
}
