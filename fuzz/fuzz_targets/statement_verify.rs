//! Statement verification on arbitrary bytes never panics. Of a statement that
//! parses, signing it with the fixed key and verifying gives Ok.

#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use revshare_core::statement::Statement;
use revshare_core::verify::{self, PublicKey, VerifyError};

static KEY: LazyLock<PublicKey> = LazyLock::new(revshare_fuzz::public_key);
static SIGNING: LazyLock<SigningKey> = LazyLock::new(revshare_fuzz::signing_key);

fuzz_target!(|input: &[u8]| {
    // The check under test. When verification of the raw bytes lands, this line
    // becomes `let _ = verify::verify_statement_bytes(input, &KEY);`.
    let _ = verify_statement_bytes(input, &KEY);
    signed_statements_verify(input);
});

/// Today's API behind the signature of `verify_statement_bytes`.
fn verify_statement_bytes(bytes: &[u8], key: &PublicKey) -> Result<(), VerifyError> {
    let statement = serde_json::from_slice::<Statement>(bytes).map_err(|e| VerifyError::Malformed {
        what: "statement",
        reason: e.to_string(),
    })?;
    verify::verify_statement(&statement, key)
}

fn signed_statements_verify(input: &[u8]) {
    let Ok(mut statement) = serde_json::from_slice::<Statement>(input) else {
        return;
    };
    verify::sign(&mut statement, &SIGNING);
    assert_eq!(verify::verify_statement(&statement, &KEY), Ok(()));
}
