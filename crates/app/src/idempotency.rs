//! `Idempotency-Key` on the API's POSTs (api.md): scoped to (token, method, path), a
//! repeat with the same body and query gets the first response again; another body
//! or query (`?dry_run=true`, then without) is `idempotency_conflict`; a repeat while
//! the first still runs is `conflict`. Keys are kept at least 7 days.

use revshare_core::event::Timestamp;
use revshare_store::backend::IdempotencyRow;
use sha2::{Digest, Sha256};

use crate::limits::IDEMPOTENCY_KEY_CHARS_MAX as KEY_CHARS_MAX;
use crate::{Actor, AppError, Backend, Result};

/// How long keys are kept at least.
pub const KEPT_DAYS: i64 = 7;

/// What a claimed key says to do.
pub enum Claim {
    /// The first request with this key: run it, then [`finish`] (or [`release`]).
    Fresh(Pending),
    /// A repeat of a finished request: answer this again.
    Replay {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
}

/// The request a key is claimed for.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query string, if the request has one: a repeat must match it.
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

impl Request<'_> {
    /// What a repeat must match: the query (when there is one) and the body.
    fn sha256(&self) -> String {
        let mut digest = Sha256::new();
        if let Some(query) = self.query {
            digest.update(query.as_bytes());
            digest.update(b"\n");
        }
        digest.update(self.body);
        hex::encode(digest.finalize())
    }
}

/// A key claimed by a request that is running.
pub struct Pending(IdempotencyRow);

/// Claims `key` for a request of `actor`.
pub fn claim(
    backend: &mut dyn Backend,
    actor: &Actor,
    request: &Request<'_>,
    key: &str,
    now: Timestamp,
) -> Result<Claim> {
    let length = key.chars().count();
    if length == 0 || length > KEY_CHARS_MAX || key.chars().any(char::is_control) {
        return Err(AppError::Invalid(format!(
            "Idempotency-Key: 1 to {KEY_CHARS_MAX} printable characters"
        )));
    }
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    let row = IdempotencyRow {
        token_id: actor.id().to_string(),
        method: request.method.to_string(),
        path: request.path.to_string(),
        key: key.to_string(),
        body_sha256: request.sha256(),
        done: false,
        status: 0,
        // Until it is done, the claim's own mark: whoever reads it back knows
        // whether the claim is its own.
        content_type: format!("running:{}", hex::encode(nonce)),
        response: Vec::new(),
        created_at: revshare_core::period::rfc3339(now.seconds),
    };
    let stored = backend.claim_idempotency(&row)?;
    if stored.body_sha256 != row.body_sha256 {
        return Err(AppError::IdempotencyConflict(format!(
            "Idempotency-Key `{key}` was used with another body or query for {} {}",
            request.method, request.path
        )));
    }
    if stored.content_type == row.content_type {
        return Ok(Claim::Fresh(Pending(row)));
    }
    if !stored.done {
        return Err(AppError::Conflict(format!(
            "a request with Idempotency-Key `{key}` is still running"
        )));
    }
    Ok(Claim::Replay {
        status: u16::try_from(stored.status).unwrap_or(500),
        content_type: stored.content_type,
        body: stored.response,
    })
}

/// Records the response to a claimed key.
pub fn finish(backend: &mut dyn Backend, pending: Pending, status: u16, content_type: &str, body: &[u8]) -> Result<()> {
    let mut row = pending.0;
    row.done = true;
    row.status = i32::from(status);
    row.content_type = content_type.to_string();
    row.response = body.to_vec();
    Ok(backend.finish_idempotency(&row)?)
}

/// Gives a key back when its request failed without an answer worth repeating.
pub fn release(backend: &mut dyn Backend, pending: Pending) -> Result<()> {
    Ok(backend.release_idempotency(&pending.0)?)
}

/// Forgets keys older than a day past [`KEPT_DAYS`].
pub fn purge(backend: &mut dyn Backend, now: Timestamp) -> Result<u64> {
    let before = revshare_core::period::rfc3339(now.seconds - (KEPT_DAYS + 1) * 86_400);
    Ok(backend.purge_idempotency(&before)?)
}
