//! What the fuzz targets and the seed corpus writer share.

use ed25519_dalek::SigningKey;
use revshare_core::verify::PublicKey;

/// The fixed key that signs the seed statements, so that the fuzzer starts from
/// statements that verify and reaches the signature check itself.
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[0x42; 32])
}

/// The public half of [`signing_key`].
pub fn public_key() -> PublicKey {
    PublicKey::of(&signing_key())
}
