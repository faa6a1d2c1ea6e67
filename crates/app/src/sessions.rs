//! Dashboard sessions (docs/dashboard.md): a token signs in once and the browser
//! keeps a signed cookie instead of the token. The cookie is stateless, so every
//! server process of a store reads it (they all hold the key file) and nothing is
//! stored: `v1.<token_id>.<expires>.<nonce>.<mac>`, the MAC an HMAC-SHA256 under a
//! key derived from the key file over the token id, **the token's stored hash**, the
//! expiry and the nonce. It never holds the token, so a leaked cookie does not give
//! the token; it is bound to the token's hash, so it dies with its token
//! (revoked, expired: the row is read and checked on every request exactly as a
//! bearer's is) and after [`SESSION_SECONDS`] whatever happens. Each session has a
//! CSRF token, an HMAC of its cookie, that every form posts back.

use hmac::{Hmac, Mac};
use revshare_core::event::Timestamp;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::keys::Keys;
pub use crate::limits::SESSION_SECONDS;
use crate::{Actor, AppError, Backend, Result};

/// A new session: the cookie's value, its CSRF token and when it ends.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    /// Unix seconds: the cookie is refused from then on.
    pub expires: i64,
    pub actor: Actor,
}

/// A cookie read back: who it stands for now, and the CSRF token its forms carry.
#[derive(Clone, Debug)]
pub struct Resumed {
    pub actor: Actor,
    pub csrf: String,
}

/// The parts of a cookie value, before its MAC is checked.
struct Parts<'a> {
    token_id: &'a str,
    expires: i64,
    nonce: &'a str,
    mac: &'a str,
}

fn parts(cookie: &str) -> Option<Parts<'_>> {
    let mut fields = cookie.split('.');
    let (version, token_id, expires, nonce, mac) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    let well_formed = version == "v1"
        && fields.next().is_none()
        && hex(token_id, 12)
        && hex(nonce, 32)
        && hex(mac, 64)
        && !expires.is_empty()
        && expires.len() <= 12
        && expires.bytes().all(|c| c.is_ascii_digit());
    if !well_formed {
        return None;
    }
    Some(Parts {
        token_id,
        expires: expires.parse().ok()?,
        nonce,
        mac,
    })
}

fn hmac(keys: &Keys, parts: &[&[u8]]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&keys.session_key()).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

fn cookie_mac(keys: &Keys, token_id: &str, token_sha256: &str, expires: i64, nonce: &str) -> String {
    hmac(
        keys,
        &[
            b"revshare session v1",
            token_id.as_bytes(),
            token_sha256.as_bytes(),
            expires.to_string().as_bytes(),
            nonce.as_bytes(),
        ],
    )
}

fn csrf_of(keys: &Keys, cookie: &str) -> String {
    hmac(keys, &[b"revshare csrf v1", cookie.as_bytes()])[..32].to_string()
}

fn refused() -> AppError {
    AppError::Unauthenticated(
        "the session is not valid (unknown, altered, expired or signed out): sign in again".into(),
    )
}

/// Signs in with a token: checked as a bearer's is ([`crate::tokens::authenticate`]),
/// then a session bound to its hash, ending [`SESSION_SECONDS`] from `now`.
pub fn sign_in(backend: &mut dyn Backend, keys: &Keys, token: &str, now: Timestamp) -> Result<Session> {
    let token_id = crate::tokens::well_formed_id(token)?;
    let row = backend.token(token_id)?;
    let sha256 = row.as_ref().map(|r| r.sha256.clone()).unwrap_or_default();
    let actor = crate::tokens::actor_of(token, row, now)?;
    let expires = now.seconds + SESSION_SECONDS;
    let nonce = hex::encode(crate::tokens::random_bytes::<16>()?);
    let mac = cookie_mac(keys, token_id, &sha256, expires, &nonce);
    let cookie = format!("v1.{token_id}.{expires}.{nonce}.{mac}");
    Ok(Session {
        csrf: csrf_of(keys, &cookie),
        cookie,
        expires,
        actor,
    })
}

/// The actor a session cookie stands for now: well formed, not past its end, its
/// MAC matching the token row as stored now, and the token neither revoked nor
/// expired. Every refusal is the same `Unauthenticated`.
pub fn resume(backend: &mut dyn Backend, keys: &Keys, cookie: &str, now: Timestamp) -> Result<Resumed> {
    let parts = parts(cookie).ok_or_else(refused)?;
    if now.seconds >= parts.expires {
        return Err(refused());
    }
    let row = backend.token(parts.token_id)?.ok_or_else(refused)?;
    let want = cookie_mac(keys, parts.token_id, &row.sha256, parts.expires, parts.nonce);
    if !bool::from(want.as_bytes().ct_eq(parts.mac.as_bytes())) {
        return Err(refused());
    }
    let actor = crate::tokens::actor_of_row(row, now).map_err(|_| refused())?;
    Ok(Resumed {
        actor,
        csrf: csrf_of(keys, cookie),
    })
}

/// Checks a form's CSRF field against its session's (in constant time): a form
/// posted without it, or with another session's, is refused (403).
pub fn check_csrf(resumed: &Resumed, given: &str) -> Result<()> {
    if bool::from(resumed.csrf.as_bytes().ct_eq(given.as_bytes())) {
        return Ok(());
    }
    Err(AppError::Forbidden(
        "the form's CSRF token does not match this session: reload the page and try again".into(),
    ))
}
