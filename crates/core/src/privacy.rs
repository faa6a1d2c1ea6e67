//! Customer pseudonyms (spec: statements.md, Privacy): the only form in which a
//! customer reference is ever stored.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The scheme a store records, so that a store made with another is refused by name.
pub const PSEUDONYM_SCHEME: &str = "hmac-sha256(host 0x00 reference)[..16]";

/// `HMAC-SHA-256(secret, host ‖ 0x00 ‖ reference)` truncated to 16 bytes: one customer
/// at two hosts does not link.
pub fn pseudonym(secret: &[u8; 32], host: &str, reference: &str) -> [u8; 16] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(host.as_bytes());
    mac.update(&[0]);
    mac.update(reference.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_per_host() {
        let secret = [1u8; 32];
        let a = pseudonym(&secret, "acme-cloud", "c-1");
        assert_eq!(a, pseudonym(&secret, "acme-cloud", "c-1"));
        assert_ne!(
            a,
            pseudonym(&secret, "nimbus-ai", "c-1"),
            "one customer at two hosts does not link"
        );
        assert_ne!(a, pseudonym(&[2u8; 32], "acme-cloud", "c-1"));
        // The separator keeps (host, reference) pairs apart.
        assert_ne!(pseudonym(&secret, "ab", "c"), pseudonym(&secret, "a", "bc"));
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret).unwrap();
        mac.update(b"acme-cloud\0c-1");
        assert_eq!(a[..], mac.finalize().into_bytes()[..16]);
    }
}
