//! The fast event parser on arbitrary bytes, line by line as in a usage file. Reading
//! (`parse_and_hash`: the fast parser, or the strict one where it gives up) never
//! panics and always agrees with the strict parser alone: the same event and leaf
//! hash, or the same error. Lines share one `Shape`, so the key-order guesses one
//! line leaves must not change how the next is read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_core::event::{Shape, UsageEvent};

fuzz_target!(|input: &[u8]| {
    let mut shape = Shape::default();
    let mut scratch = Vec::new();
    for line in input.split(|b| *b == b'\n') {
        check(line, &mut shape, &mut scratch);
    }
});

fn check(line: &[u8], shape: &mut Shape, scratch: &mut Vec<u8>) {
    let read = UsageEvent::parse_and_hash(line, shape, scratch);
    match (read, UsageEvent::parse_strict(line)) {
        (Ok((event, leaf)), Ok(reference)) => {
            assert_eq!(event, reference);
            assert_eq!(event.canonical(), reference.canonical());
            assert_eq!(leaf, reference.leaf_hash());
        }
        (Err(error), Err(reference)) => assert_eq!(error, reference),
        (read, strict) => panic!("the parsers disagree: read {read:?}, strict {strict:?}"),
    }
}
