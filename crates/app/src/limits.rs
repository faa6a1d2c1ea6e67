//! The limits on what a caller controls, each defined once here (ARCHITECTURE.md
//! lists them; the core's own, on events, contracts and tables, live with their
//! parsers).

/// A void's, an accepted rollback's or a payment reversal's reason, in characters.
pub const REASON_CHARS_MAX: usize = 2000;
/// A contribution's reference, in characters.
pub const REFERENCE_CHARS_MAX: usize = 2000;
/// The events given as a dispute's evidence.
pub const DISPUTE_EVIDENCE_MAX: usize = 1000;
/// A party's legal name, in characters.
pub const NAME_CHARS_MAX: usize = 200;
/// The contracts a token may be narrowed to.
pub const TOKEN_CONTRACTS_MAX: usize = 100;
/// An `Idempotency-Key`, in characters.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
/// Items in a page of a list: by default, and at most.
pub const PAGE_DEFAULT: usize = 100;
pub const PAGE_MAX: usize = 1000;
/// Rows in a page of one of the dashboard overview's tables (its charts draw the
/// rows of the page shown).
pub const OVERVIEW_ROWS: usize = 25;
/// Items in a page of one of the dashboard's lists at most (`?limit=`), so that a
/// page weighs at most 200 KB (issue 22): fewer than the API's [`PAGE_MAX`].
pub const DASHBOARD_PAGE_MAX: usize = 250;
/// A usage batch posted over HTTP: events, and bytes.
pub const BATCH_EVENTS_MAX: u64 = 10_000;
pub const BATCH_BYTES_MAX: usize = 16 << 20;
/// Any other request body, in bytes.
pub const BODY_BYTES_MAX: usize = 1 << 20;
/// Seconds a close waits after its period's end: at most a year.
pub const GRACE_SECONDS_MAX: i64 = 366 * 86_400;

/// Refuses a reason (a void's, a rollback's, a reversal's) of no characters or of
/// more than [`REASON_CHARS_MAX`].
pub(crate) fn check_reason(reason: &str) -> crate::Result<()> {
    let length = reason.chars().count();
    if length == 0 || length > REASON_CHARS_MAX {
        return Err(crate::AppError::InvalidField(
            crate::Field::Reason,
            format!("1 to {REASON_CHARS_MAX} characters, found {length}"),
        ));
    }
    Ok(())
}

/// A dashboard session's lifetime (sign in again after it): eight hours.
pub const SESSION_SECONDS: i64 = 8 * 3600;
