//! Statement verification on arbitrary bytes never panics. Of a statement that
//! parses and holds only integers below 2^53, signing it with the fixed key and
//! verifying its JSON gives Ok.

#![no_main]

use std::sync::LazyLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use revshare_core::statement::Statement;
use revshare_core::verify::{self, PublicKey};

static KEY: LazyLock<PublicKey> = LazyLock::new(revshare_fuzz::public_key);
static SIGNING: LazyLock<SigningKey> = LazyLock::new(revshare_fuzz::signing_key);

fuzz_target!(|input: &[u8]| {
    let _ = verify::verify_bytes(input, std::slice::from_ref(&*KEY));
    signed_statements_verify(input);
});

fn signed_statements_verify(input: &[u8]) {
    let Ok(mut statement) = serde_json::from_slice::<Statement>(input) else {
        return;
    };
    if statement.integer_too_large().is_some() {
        return;
    }
    verify::sign(&mut statement, &SIGNING);
    let bytes = statement.to_json_pretty();
    let verified = verify::verify_statement_bytes(bytes.as_bytes(), std::slice::from_ref(&*KEY));
    assert!(verified.is_ok(), "{verified:?}");
}
