//! Tokens (api.md): `rs_<token_id>_<secret>`, shown once at creation; only SHA-256 of
//! the whole string is stored, compared in constant time. Every request reads its
//! token from the store, so a revocation takes effect on the next request in every
//! server process.

use base64::Engine as _;
use revshare_core::audit::Action as AuditAction;
use revshare_core::event::Timestamp;
use revshare_core::period::Day;
use revshare_store::backend::TokenRow;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::{require, Permission};
use crate::keys::Keys;
use crate::limits::TOKEN_CONTRACTS_MAX as CONTRACTS_MAX;
use crate::rows::{object, payload};
use crate::tx;
use crate::Field;
use crate::{Actor, AppError, Backend, Ctx, Result};
use revshare_core::records::Role;

/// What to create.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub party: String,
    pub role: Role,
    /// Narrows the token to these contracts (an auditor's must name at least one).
    pub contracts: Vec<String>,
    /// Valid while now < this day at 00:00 UTC.
    pub expires: Option<Day>,
}

/// A created token: its row, and the token itself, which is shown this once.
pub struct Created {
    pub row: TokenRow,
    pub token: String,
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    Ok(bytes)
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Creates a token for a party.
pub fn create(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, new: &NewToken) -> Result<Created> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    crate::access::check_token_scope(new.role, &new.contracts)?;
    if new.contracts.len() > CONTRACTS_MAX {
        return Err(AppError::InvalidField(
            Field::Contracts,
            format!("at most {CONTRACTS_MAX} contracts"),
        ));
    }
    if new.expires.is_some_and(|day| day.unix_seconds() <= ctx.now.seconds) {
        return Err(AppError::InvalidField(
            Field::Expires,
            format!(
                "{} is not in the future",
                new.expires.map(|d| d.to_string()).unwrap_or_default()
            ),
        ));
    }
    let token_id = hex::encode(random_bytes::<6>()?);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let token = format!("rs_{token_id}_{secret}");
    let row = tx::write(backend, keys, ctx, |tx| {
        if !tx.backend.parties()?.iter().any(|p| p.id == new.party) {
            return Err(AppError::InvalidField(
                Field::Party,
                format!("no party `{}` exists", new.party),
            ));
        }
        let known = tx.backend.contracts()?;
        if let Some(missing) = new.contracts.iter().find(|c| !known.iter().any(|k| k.id == **c)) {
            return Err(AppError::InvalidField(
                Field::Contracts,
                format!("no contract `{missing}` is stored"),
            ));
        }
        let mut row = TokenRow {
            token_id: token_id.clone(),
            party: new.party.clone(),
            role: new.role,
            contracts: (!new.contracts.is_empty()).then(|| new.contracts.clone()),
            expires: new.expires.map(|d| d.to_string()),
            sha256: sha256_hex(&token),
            created_at: tx.time().to_string(),
            revoked_at: None,
            seq: tx.next_seq(),
        };
        let entry = tx.record(AuditAction::TokenCreated, object::token(&token_id), payload(&row))?;
        row.seq = entry.seq;
        tx.backend.add_token(&row)?;
        Ok(row)
    })?;
    Ok(Created { row, token })
}

/// Every token (never their secrets), by creation.
pub fn list(backend: &mut dyn Backend, ctx: Ctx<'_>) -> Result<Vec<TokenRow>> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    Ok(backend.tokens()?)
}

/// One page of [`list`], in the order they were created (the store's: the second,
/// then the id).
pub fn list_page(
    backend: &mut dyn Backend,
    ctx: Ctx<'_>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<crate::page::Page<TokenRow>> {
    crate::page::page(list(backend, ctx)?, limit, cursor)
}

/// Revokes a token; revoking it again changes nothing.
pub fn revoke(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>, token_id: &str) -> Result<TokenRow> {
    require(ctx.actor, Permission::ManagePartiesAndTokens)?;
    tx::write(backend, keys, ctx, |tx| {
        let mut row = tx
            .backend
            .token(token_id)?
            .ok_or_else(|| AppError::NotFound(format!("no token `{token_id}` exists")))?;
        if row.revoked_at.is_some() {
            return Ok(row);
        }
        row.revoked_at = Some(tx.time().to_string());
        row.seq = tx.next_seq();
        tx.record(AuditAction::TokenRevoked, object::token(token_id), payload(&row))?;
        tx.backend.update_token(&row)?;
        Ok(row)
    })
}

/// The id of a well-formed token string (its public part), `None` if malformed.
pub fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("rs_")?;
    let (token_id, secret) = rest.split_once('_')?;
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let b64 = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let well_formed =
        token_id.len() == 12 && token_id.bytes().all(hex) && secret.len() == 43 && secret.bytes().all(b64);
    well_formed.then_some(token_id)
}

/// The actor a bearer token stands for, checked against the store now: known, the
/// same hash (in constant time), not revoked, not expired.
pub fn authenticate(backend: &mut dyn Backend, token: &str, now: Timestamp) -> Result<Actor> {
    actor_of(token, backend.token(well_formed_id(token)?)?, now)
}

/// The id of a token string, refused as [`authenticate`] refuses it if malformed.
pub(crate) fn well_formed_id(token: &str) -> Result<&str> {
    token_id(token).ok_or_else(refused)
}

pub(crate) fn refused() -> AppError {
    AppError::Unauthenticated("the token is not valid (unknown, malformed, expired or revoked)".into())
}

/// The actor of a token string and the row its id names (already read), checked as
/// [`authenticate`] checks it.
pub(crate) fn actor_of(token: &str, row: Option<TokenRow>, now: Timestamp) -> Result<Actor> {
    let row = row.ok_or_else(refused)?;
    let same: bool = sha256_hex(token).as_bytes().ct_eq(row.sha256.as_bytes()).into();
    if !same {
        return Err(refused());
    }
    actor_of_row(row, now)
}

/// The actor of a token row whose holder was already proven (by the token's hash,
/// or by a dashboard session bound to it): refused if revoked or expired.
pub(crate) fn actor_of_row(row: TokenRow, now: Timestamp) -> Result<Actor> {
    if row.revoked_at.is_some() {
        return Err(refused());
    }
    let expired = row
        .expires
        .as_deref()
        .and_then(Day::parse)
        .is_some_and(|day| now.seconds >= day.unix_seconds());
    if expired {
        return Err(refused());
    }
    Ok(Actor::token(&row.token_id, row.role, &row.party, row.contracts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_strictly() {
        let good = format!("rs_0123456789ab_{}", "A".repeat(43));
        assert_eq!(token_id(&good), Some("0123456789ab"));
        for bad in [
            String::new(),
            "rs_".to_string(),
            format!("rs_0123456789AB_{}", "A".repeat(43)),
            format!("rs_0123456789a_{}", "A".repeat(44)),
            format!("rs_0123456789ab_{}", "A".repeat(42)),
            format!("rs_0123456789ab_{}=", "A".repeat(42)),
            format!("xx_0123456789ab_{}", "A".repeat(43)),
        ] {
            assert_eq!(token_id(&bad), None, "{bad}");
        }
    }
}
