//! The service's secrets: an Ed25519 signing key and the key of customer
//! pseudonyms. They live in one file (JSON, mode 0600) beside the embedded store
//! (`<db>.key`) or where `--key-file` / `REVSHARE_KEY_FILE` says; never in the
//! database and never printed. The public key is also recorded in the store.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use revshare_core::verify::{PublicKey, ALGORITHM};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::StoreError;

pub struct Keys {
    signing: SigningKey,
    pseudonym: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    alg: String,
    key_id: String,
    secret: String,
    pseudonym_secret: String,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Keys {
    /// Creates new secrets at `path`; refuses to replace an existing file.
    pub fn create(path: &Path) -> Result<Keys, StoreError> {
        let mut secret = [0u8; 32];
        let mut pseudonym = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| StoreError::Key(format!("no randomness: {e}")))?;
        getrandom::fill(&mut pseudonym).map_err(|e| StoreError::Key(format!("no randomness: {e}")))?;
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
            .map_err(|e| StoreError::Key(format!("cannot create the key file {}: {e}", path.display())))?;
        let text = serde_json::to_string_pretty(&file).expect("key files serialize");
        handle
            .write_all(text.as_bytes())
            .and_then(|()| handle.sync_all())
            .map_err(|e| StoreError::Key(format!("cannot write the key file {}: {e}", path.display())))?;
        Ok(keys)
    }

    pub fn load(path: &Path) -> Result<Keys, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Key(format!(
                "cannot read the key file {} ({e}); run `revshare init` first",
                path.display()
            ))
        })?;
        let file: KeyFile = serde_json::from_str(&text)
            .map_err(|e| StoreError::Key(format!("{} is not a revshare key file: {e}", path.display())))?;
        let decode = |field: &str, value: &str| -> Result<[u8; 32], StoreError> {
            b64()
                .decode(value)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| StoreError::Key(format!("{}: {field} is not 32 base64 bytes", path.display())))
        };
        Ok(Keys {
            signing: SigningKey::from_bytes(&decode("secret", &file.secret)?),
            pseudonym: decode("pseudonym_secret", &file.pseudonym_secret)?,
        })
    }

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::of(&self.signing)
    }

    /// The keyed pseudonym of a customer reference: HMAC-SHA-256, first 16 bytes.
    pub fn pseudonym(&self, customer: &str) -> [u8; 16] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.pseudonym).expect("HMAC takes any key length");
        mac.update(customer.as_bytes());
        mac.finalize().into_bytes()[..16].try_into().expect("16 of 32 bytes")
    }
}
