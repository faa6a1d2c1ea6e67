//! Making a store: its signing key, its pseudonym scheme, and the parties that
//! contracts name.

use std::path::Path;

use revshare_core::audit::Action;
use revshare_core::contract::is_party_id;
use revshare_store::backend::{PartyRow, SigningKeyRow};

use crate::keys::Keys;
use crate::rows::{object, payload};
use crate::tx::{self, Tx};
use crate::{AppError, Backend, Ctx, Result};

/// What `init` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Initialized {
    /// A new store, signing with this key; `created_key` when the key file was made
    /// now (otherwise an existing key file was adopted).
    New { key_id: String, created_key: bool },
    /// The store was already initialized with this key (the key file matches it).
    Already { key_id: String },
}

/// Initializes the store: records the public key of `key_file` (created, mode 0600,
/// if it does not exist) and the pseudonym scheme. Running it again checks the key
/// file against the store and changes nothing.
pub fn init(backend: &mut dyn Backend, key_file: &Path, ctx: Ctx<'_>) -> Result<Initialized> {
    if !backend.signing_keys()?.is_empty() {
        crate::check_scheme(backend)?;
        let keys = Keys::open(key_file, backend)?;
        return Ok(Initialized::Already {
            key_id: keys.public().key_id,
        });
    }
    let store_id = crate::keys::new_store_id()?;
    let created_key = !key_file.exists();
    let mut keys = if created_key {
        Keys::create(key_file, &store_id)?
    } else {
        adopt(key_file, &store_id)?
    };
    keys.bind(store_id.clone())?;
    let public = keys.public();
    tx::write(backend, &keys, ctx, |tx| {
        if !tx.backend.signing_keys()?.is_empty() {
            return Err(AppError::Conflict("the store was initialized meanwhile".to_string()));
        }
        tx.backend
            .set_meta("pseudonym_scheme", revshare_core::privacy::PSEUDONYM_SCHEME)?;
        let time = tx.time().to_string();
        tx.backend.set_meta("created_at", &time)?;
        tx.backend.set_meta("store_id", store_id.as_str())?;
        record_key(tx, &public)
    })?;
    Ok(Initialized::New {
        key_id: public.key_id,
        created_key,
    })
}

/// An existing key file taken for a new store: one that names no store yet, which
/// from now on names this one.
fn adopt(key_file: &Path, store_id: &revshare_core::checkpoint::StoreId) -> Result<Keys> {
    let mut keys = Keys::load(key_file)?;
    if let Some(other) = keys.store_id() {
        return Err(AppError::Invalid(format!(
            "{} is the key file of store {other}; a new store needs a key file of its own (point --key-file at a \
             path where none exists)",
            key_file.display()
        )));
    }
    keys.write_store_id(store_id)?;
    Ok(keys)
}

/// Records the signing key of `keys` (the store signs with its latest), sealed by it.
impl Keys {
    /// A new signing key for the store whose keys these are, written to `new_path`
    /// (mode 0600, never over an existing file) and recorded in the store in the same
    /// transaction as its audit entry. From then on the store signs with it, and only
    /// its file opens the store; the old public key stays recorded, so statements it
    /// signed keep verifying. The pseudonym key is kept: customers' pseudonyms never
    /// change.
    pub fn rotate(&self, backend: &mut dyn Backend, new_path: &std::path::Path, ctx: Ctx<'_>) -> Result<Keys> {
        let mut rotated = self.begin_rotation(backend, new_path)?;
        let recorded = add_signing_key(backend, &rotated, ctx);
        rotated.end_rotation();
        match recorded {
            Ok(()) => Ok(rotated),
            Err(error) => {
                rotated.abandon(new_path);
                Err(error)
            }
        }
    }
}

pub(crate) fn add_signing_key(backend: &mut dyn Backend, keys: &Keys, ctx: Ctx<'_>) -> Result<()> {
    let public = keys.public();
    tx::write(backend, keys, ctx, |tx| record_key(tx, &public))
}

fn record_key(tx: &mut Tx<'_>, public: &revshare_core::verify::PublicKey) -> Result<()> {
    let mut row = SigningKeyRow {
        key_id: public.key_id.clone(),
        alg: public.alg.clone(),
        public_key: public.public_key.clone(),
        created_at: tx.time().to_string(),
        seq: tx.next_seq(),
    };
    let entry = tx.record(Action::KeyAdded, object::key(&row.key_id), payload(&row))?;
    row.seq = entry.seq;
    tx.backend.add_signing_key(&row)?;
    Ok(())
}

/// Adds a party unless it exists (contracts create the parties they name).
pub(crate) fn ensure_party(tx: &mut Tx<'_>, id: &str, name: &str) -> Result<bool> {
    if !is_party_id(id) {
        return Err(AppError::Invalid(format!(
            "party id `{id}` must match [a-z0-9][a-z0-9_-]{{0,63}}"
        )));
    }
    if tx.backend.parties()?.iter().any(|p| p.id == id) {
        return Ok(false);
    }
    let mut row = PartyRow {
        id: id.to_string(),
        name: name.to_string(),
        created_at: tx.time().to_string(),
        seq: tx.next_seq(),
    };
    let entry = tx.record(Action::PartyAdded, object::party(id), payload(&row))?;
    row.seq = entry.seq;
    tx.backend.add_party(&row)?;
    Ok(true)
}

/// Makes a key file name no store, so that a new store may take it: for `revshare
/// demo`, which replaces only a store it made, once it checked the key is that
/// store's. The store's checkpoint file goes with it.
pub fn release_key_file(key_file: &Path) -> Result<()> {
    let mut keys = Keys::load(key_file)?;
    if let Some(store_id) = keys.store_id().cloned() {
        let _ = std::fs::remove_file(crate::keys::checkpoint_path(key_file, &store_id));
        keys.forget_store_id()?;
    }
    Ok(())
}

/// Marks a store as made by `revshare demo`, which may replace only such a store.
pub fn mark_demo(backend: &mut dyn Backend) -> Result<()> {
    Ok(backend.set_meta("made_by", "revshare demo")?)
}

/// Whether `revshare demo` made the embedded store at `path` (read without
/// opening it for writing: a file the demo did not make is left exactly as it is).
pub fn is_demo_file(path: &Path) -> Result<bool> {
    Ok(revshare_store::sqlite::peek_meta(path, "made_by")
        .ok()
        .flatten()
        .as_deref()
        == Some("revshare demo"))
}
