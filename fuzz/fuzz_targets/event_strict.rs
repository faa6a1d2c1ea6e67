//! `UsageEvent::parse` on arbitrary bytes never panics, and an accepted event's
//! canonical form is itself an event with the same canonical form and leaf hash
//! (the canonical form is a fixed point). Most inputs the fuzzer makes are beyond the
//! fast parser, so this mostly runs the strict one; `event_fast` checks that the two
//! agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_core::event::UsageEvent;

fuzz_target!(|input: &[u8]| {
    let Ok(event) = UsageEvent::parse(input) else {
        return;
    };
    let canonical = event.canonical();
    let again = match UsageEvent::parse(&canonical) {
        Ok(again) => again,
        Err(error) => panic!(
            "the canonical form {} is refused: {error}",
            String::from_utf8_lossy(&canonical)
        ),
    };
    assert_eq!(again.canonical(), canonical);
    assert_eq!(again.leaf_hash(), event.leaf_hash());
});
