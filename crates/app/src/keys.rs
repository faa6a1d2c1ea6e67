//! The service's secrets: an Ed25519 signing key and the key of customer
//! pseudonyms, in one JSON file (mode 0600), never in the database and never
//! printed, with the id of the store they belong to. The store records the public
//! key and its id; every load checks the file against both, so a key file of another
//! store can sign nothing here. Beside the key file lies the checkpoint file of its
//! store (`checkpoint_file`), which a database writer cannot reach either.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use revshare_core::checkpoint::{LogKey, LogSigner, StoreId};
use revshare_core::verify::{PublicKey, ALGORITHM};
use revshare_store::backend::SigningKeyRow;
use serde::{Deserialize, Serialize};

use crate::checkpoint_file::CheckpointFile;
use crate::{AppError, Backend, Result};

/// The secrets, checked against the store they sign for (see [`Keys::open`]).
pub struct Keys {
    signing: SigningKey,
    pseudonym: [u8; 32],
    path: PathBuf,
    /// The store id the file names (files made before stores had one name none).
    store_id: Option<StoreId>,
    /// The checkpoint file beside the key file, once the keys are bound to a store.
    checkpoints: Option<CheckpointFile>,
    /// The key these replace, while a rotation is sealed (it signs beside them).
    previous: Option<SigningKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    alg: String,
    key_id: String,
    secret: String,
    pseudonym_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_id: Option<String>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn key_error(message: String) -> AppError {
    AppError::Invalid(message)
}

impl Keys {
    /// Creates new secrets for a new store `store_id` at `path` (mode 0600); never
    /// replaces an existing file.
    pub fn create(path: &Path, store_id: &StoreId) -> Result<Keys> {
        let mut pseudonym = [0u8; 32];
        getrandom::fill(&mut pseudonym).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
        Keys::create_with(path, pseudonym, store_id)
    }

    /// Creates a new signing key at `path` that keeps `pseudonym`, the key of
    /// customer pseudonyms (which must never change for a store).
    fn create_with(path: &Path, pseudonym: [u8; 32], store_id: &StoreId) -> Result<Keys> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
        let keys = Keys {
            signing: SigningKey::from_bytes(&secret),
            pseudonym,
            path: path.to_path_buf(),
            store_id: Some(store_id.clone()),
            checkpoints: None,
            previous: None,
        };
        let file = KeyFile {
            alg: ALGORITHM.to_string(),
            key_id: keys.public().key_id,
            secret: b64().encode(secret),
            pseudonym_secret: b64().encode(pseudonym),
            store_id: Some(store_id.to_string()),
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

    /// The file half of a rotation (`setup`'s `Keys::rotate` records the key): a new
    /// key file at `new_path` (mode 0600, never over an existing file) bound to this
    /// store, its checkpoint file starting where this one is, and signing its first
    /// checkpoint with both keys until [`Keys::end_rotation`].
    pub(crate) fn begin_rotation(&self, backend: &mut dyn Backend, new_path: &Path) -> Result<Keys> {
        let current = store_key_id(backend)?;
        if current != self.public().key_id {
            return Err(key_error(format!(
                "these keys ({}) are not the store's current key {current}",
                self.public().key_id
            )));
        }
        let store_id = self
            .store_id
            .clone()
            .ok_or_else(|| key_error("these keys are not bound to a store".to_string()))?;
        let mut rotated = Keys::create_with(new_path, self.pseudonym, &store_id)?;
        rotated.bind(store_id.clone())?;
        // The new file's checkpoint file starts where this one is, and the rotation is
        // sealed by both keys, so that its checkpoint opens with either.
        let carried = match self.checkpoint_file()?.on_disk(&self.log_signer()?.keys()) {
            Ok(kept) => kept.map_or(Ok(()), |kept| rotated.checkpoint_file()?.replace(&kept)),
            Err(error) => Err(error),
        };
        if let Err(error) = carried {
            rotated.abandon(new_path);
            return Err(error);
        }
        rotated.previous = Some(self.signing.clone());
        Ok(rotated)
    }

    /// From now on only this key signs.
    pub(crate) fn end_rotation(&mut self) {
        self.previous = None;
    }

    /// Removes the files of a rotation that was not recorded: nothing refers to them.
    pub(crate) fn abandon(&self, path: &Path) {
        let _ = std::fs::remove_file(path);
        if let Some(store_id) = &self.store_id {
            let _ = std::fs::remove_file(checkpoint_path(path, store_id));
        }
    }

    /// Reads a key file, without checking it against a store (see [`Keys::open`]).
    pub fn load(path: &Path) -> Result<Keys> {
        check_private(path)?;
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
        let store_id = match &file.store_id {
            Some(text) => Some(
                StoreId::parse(text)
                    .ok_or_else(|| key_error(format!("{}: store_id is not 16 lowercase hex digits", path.display())))?,
            ),
            None => None,
        };
        let keys = Keys {
            signing: SigningKey::from_bytes(&decode("secret", &file.secret)?),
            pseudonym: decode("pseudonym_secret", &file.pseudonym_secret)?,
            path: path.to_path_buf(),
            store_id,
            checkpoints: None,
            previous: None,
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

    /// Reads a key file and checks that it holds this store's signing key and names
    /// this store. A store made by a build before stores had an id and a log tree is
    /// upgraded now (statements.md: its key is needed), and the file given its id.
    pub fn open(path: &Path, backend: &mut dyn Backend) -> Result<Keys> {
        let mut keys = Keys::load(path)?;
        let stored = store_key_id(backend)?;
        let held = keys.public().key_id;
        if held != stored {
            return Err(key_error(format!(
                "{} holds key {held}, but this store signs with key {stored}; point --key-file (or \
                 REVSHARE_KEY_FILE) at the key file of this store",
                path.display()
            )));
        }
        // Before anything checks the ledger (an upgrade to a tree runs audit verify).
        crate::ledger::post_earlier_statements(backend)?;
        match (keys.store_id.clone(), crate::log::store_id(backend)?) {
            (Some(held), Some(stored)) if held == stored => keys.bind(held),
            (Some(held), Some(stored)) => Err(key_error(format!(
                "{} is the key file of store {held}, but this is store {stored}",
                path.display()
            ))),
            (None, Some(stored)) => Err(key_error(format!(
                "{} names no store, but this store is {stored}: it was upgraded with another copy of its key \
                 file, which now names it; use that copy",
                path.display()
            ))),
            (held, None) => {
                // Checked before the key file is touched: a refused upgrade changes nothing.
                crate::log::check_upgradable(backend, path, held.as_ref())?;
                let id = match held {
                    // An upgrade that stopped after naming the store in the key file.
                    Some(id) => id,
                    None => {
                        let id = new_store_id()?;
                        keys.write_store_id(&id)?;
                        id
                    }
                };
                keys.bind(id)?;
                crate::log::upgrade(backend, &keys)
            }
        }?;
        Ok(keys)
    }

    /// Binds the keys to their store: its checkpoint file beside the key file.
    pub(crate) fn bind(&mut self, store_id: StoreId) -> Result<()> {
        self.checkpoints = Some(CheckpointFile::new(checkpoint_path(&self.path, &store_id)));
        self.store_id = Some(store_id);
        Ok(())
    }

    /// Writes the store id into the key file (replacing it atomically, mode 0600).
    pub(crate) fn write_store_id(&mut self, store_id: &StoreId) -> Result<()> {
        self.rewrite(Some(store_id))?;
        self.store_id = Some(store_id.clone());
        Ok(())
    }

    /// Takes the store id out of the key file (see `setup::release_key_file`).
    pub(crate) fn forget_store_id(&mut self) -> Result<()> {
        self.rewrite(None)?;
        self.store_id = None;
        self.checkpoints = None;
        Ok(())
    }

    fn rewrite(&self, store_id: Option<&StoreId>) -> Result<()> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| key_error(format!("cannot read the key file {}: {e}", self.path.display())))?;
        let mut file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| key_error(format!("{} is not a revshare key file: {e}", self.path.display())))?;
        file.store_id = store_id.map(StoreId::to_string);
        let text = serde_json::to_string_pretty(&file).expect("key files serialize");
        crate::checkpoint_file::write_private(&self.path, text.as_bytes())
            .map_err(|e| key_error(format!("cannot write the key file {}: {e}", self.path.display())))
    }

    /// The store these keys are bound to.
    pub fn store_id(&self) -> Option<&StoreId> {
        self.store_id.as_ref()
    }

    fn bound(&self) -> Result<(&StoreId, &CheckpointFile)> {
        match (&self.store_id, &self.checkpoints) {
            (Some(id), Some(file)) => Ok((id, file)),
            _ => Err(key_error(
                "these keys are not opened for a store (Keys::open binds them)".to_string(),
            )),
        }
    }

    /// The checkpoint signer of the store's log.
    pub(crate) fn log_signer(&self) -> Result<LogSigner> {
        let (id, _) = self.bound()?;
        let signer = LogSigner::new(self.signing.clone(), id);
        Ok(match &self.previous {
            Some(previous) => signer.with_previous(previous.clone()),
            None => signer,
        })
    }

    /// The checkpoint file beside the key file.
    pub fn checkpoint_file(&self) -> Result<&CheckpointFile> {
        Ok(self.bound()?.1)
    }

    /// Writes the newest checkpoint signed with these keys to the checkpoint file
    /// (before a command exits or a response is sent).
    pub fn flush(&self) -> Result<()> {
        let (_, file) = self.bound()?;
        file.flush(&self.log_signer()?.keys())
    }

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The public key as a note verifier of the store's log.
    pub fn log_key(&self) -> Result<LogKey> {
        Ok(self.log_signer()?.key())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::of(&self.signing)
    }

    /// The key that signs dashboard sessions (`sessions`): derived from the
    /// pseudonyms' secret, which never changes for a store and which every server
    /// process of the store holds, so a session made by one is read by all; never
    /// the signing key itself, which rotates.
    pub(crate) fn session_key(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(b"revshare dashboard session key v1\0");
        hash.update(self.pseudonym);
        hash.finalize().into()
    }

    /// The keyed pseudonym of a customer reference at a host.
    pub fn pseudonym(&self, host: &str, reference: &str) -> [u8; 16] {
        revshare_core::privacy::pseudonym(&self.pseudonym, host, reference)
    }
}

/// A new Ed25519 key: a party's witness key (`revshare witness`).
/// Refuses a key file that its group or others may open, as ssh refuses such a
/// private key: it holds the signing key and the pseudonyms' secret. The files this
/// crate writes are 0600; a copy or an editor may have widened one.
fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(key_error(format!(
                    "the key file {} is open to its group or others (mode {mode:04o}), and it holds the \
                     store's signing key and pseudonym secret: run `chmod 600 {}` (and check who read it)",
                    path.display(),
                    path.display()
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

pub fn new_signing_key() -> Result<SigningKey> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// A new random store id.
pub(crate) fn new_store_id() -> Result<StoreId> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Invalid(format!("no randomness: {e}")))?;
    Ok(StoreId::from_bytes(bytes))
}

/// `<key file>.<store id>.checkpoint`.
pub fn checkpoint_path(key_file: &Path, store_id: &StoreId) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(format!(".{store_id}.checkpoint"));
    PathBuf::from(name)
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
pub(crate) fn public_keys_of(rows: Vec<SigningKeyRow>) -> Vec<PublicKey> {
    rows.into_iter()
        .map(|k| PublicKey {
            alg: k.alg,
            key_id: k.key_id,
            public_key: k.public_key,
        })
        .collect()
}
