//! The service's secrets: an Ed25519 signing key and the key of customer
//! pseudonyms, in one JSON file (mode 0600), never in the database and never
//! printed. The store records the public key; every load checks the file against it,
//! so a key file of another store can sign nothing here.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use revshare_core::verify::{PublicKey, ALGORITHM};
use revshare_store::backend::SigningKeyRow;
use serde::{Deserialize, Serialize};

use crate::{AppError, Backend, Result};

/// The secrets, checked against the store they sign for (see [`Keys::open`]).
pub struct Keys {
    signing: SigningKey,
    pseudonym: [u8; 32],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    alg: String,
    key_id: String,
    secret: String,
    pseudonym_secret: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn key_error(message: String) -> AppError {
    AppError::Invalid(message)
}

impl Keys {
    /// Creates new secrets at `path` (mode 0600); never replaces an existing file.
    pub fn create(path: &Path) -> Result<Keys> {
        let mut pseudonym = [0u8; 32];
        getrandom::fill(&mut pseudonym).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
        Keys::create_with(path, pseudonym)
    }

    /// Creates a new signing key at `path` that keeps `pseudonym`, the key of
    /// customer pseudonyms (which must never change for a store).
    fn create_with(path: &Path, pseudonym: [u8; 32]) -> Result<Keys> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
        let keys = Keys {
            signing: SigningKey::from_bytes(&secret),
            pseudonym,
        };
        let file = KeyFile {
            alg: ALGORITHM.to_string(),
            key_id: keys.public().key_id,
            secret: b64().encode(secret),
            pseudonym_secret: b64().encode(pseudonym),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut handle = options
            .open(path)
            .map_err(|e| key_error(format!("cannot create the key file {}: {e}", path.display())))?;
        let text = serde_json::to_string_pretty(&file).expect("key files serialize");
        handle
            .write_all(text.as_bytes())
            .and_then(|()| handle.sync_all())
            .map_err(|e| key_error(format!("cannot write the key file {}: {e}", path.display())))?;
        Ok(keys)
    }

    /// A new signing key for the store whose keys these are, written to `new_path`
    /// (mode 0600, never over an existing file) and recorded in the store in the same
    /// transaction as its audit entry. From then on the store signs with it, and only
    /// its file opens the store; the old public key stays recorded, so statements it
    /// signed keep verifying. The pseudonym key is kept: customers' pseudonyms never
    /// change.
    pub fn rotate(&self, backend: &mut dyn Backend, new_path: &Path, ctx: crate::Ctx<'_>) -> Result<Keys> {
        let current = store_key_id(backend)?;
        if current != self.public().key_id {
            return Err(key_error(format!(
                "these keys ({}) are not the store's current key {current}",
                self.public().key_id
            )));
        }
        let rotated = Keys::create_with(new_path, self.pseudonym)?;
        let recorded = crate::setup::add_signing_key(backend, &rotated.public(), ctx);
        if let Err(error) = recorded {
            // Nothing refers to the new file: take it away again.
            let _ = std::fs::remove_file(new_path);
            return Err(error);
        }
        Ok(rotated)
    }

    /// Reads a key file, without checking it against a store (see [`Keys::open`]).
    pub fn load(path: &Path) -> Result<Keys> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| key_error(format!("cannot read the key file {}: {e}", path.display())))?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| key_error(format!("{} is not a revshare key file: {e}", path.display())))?;
        let decode = |field: &str, value: &str| -> Result<[u8; 32]> {
            b64()
                .decode(value)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| key_error(format!("{}: {field} is not 32 base64 bytes", path.display())))
        };
        let keys = Keys {
            signing: SigningKey::from_bytes(&decode("secret", &file.secret)?),
            pseudonym: decode("pseudonym_secret", &file.pseudonym_secret)?,
        };
        if keys.public().key_id != file.key_id {
            return Err(key_error(format!(
                "{}: key_id {} is not the id of the key it holds ({})",
                path.display(),
                file.key_id,
                keys.public().key_id
            )));
        }
        Ok(keys)
    }

    /// Reads a key file and checks that it holds this store's signing key.
    pub fn open(path: &Path, backend: &mut dyn Backend) -> Result<Keys> {
        let keys = Keys::load(path)?;
        let stored = store_key_id(backend)?;
        let held = keys.public().key_id;
        if held != stored {
            return Err(key_error(format!(
                "{} holds key {held}, but this store signs with key {stored}; point --key-file (or \
                 REVSHARE_KEY_FILE) at the key file of this store",
                path.display()
            )));
        }
        Ok(keys)
    }

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::of(&self.signing)
    }

    /// The keyed pseudonym of a customer reference at a host.
    pub fn pseudonym(&self, host: &str, reference: &str) -> [u8; 16] {
        revshare_core::privacy::pseudonym(&self.pseudonym, host, reference)
    }
}

/// The id of the key this store signs with now (its latest signing key).
pub fn store_key_id(backend: &mut dyn Backend) -> Result<String> {
    backend
        .signing_keys()?
        .pop()
        .map(|k| k.key_id)
        .ok_or_else(|| AppError::Invalid("this store is not initialized; run `revshare init` first".to_string()))
}

/// The store's public keys, retired ones included (what verifies its statements).
pub fn public_keys(backend: &mut dyn Backend) -> Result<Vec<PublicKey>> {
    Ok(public_keys_of(backend.signing_keys()?))
}

/// The public keys of stored signing key rows.
pub fn public_keys_of(rows: Vec<SigningKeyRow>) -> Vec<PublicKey> {
    rows.into_iter()
        .map(|k| PublicKey {
            alg: k.alg,
            key_id: k.key_id,
            public_key: k.public_key,
        })
        .collect()
}
