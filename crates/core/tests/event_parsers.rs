//! The fast event parser and the strict one agree on every input: the same event or
//! the same error. Inputs are the spec's example events, mutated byte by byte, read
//! with no key-order guesses and with guesses left by another event; parsing and
//! hashing in one step gives the leaf hash of what the strict parser reads.

mod common;

use proptest::prelude::*;
use revshare_core::event::{Shape, UsageEvent};

fn bases() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for file in ["edge/usage.ndjson", "usage-small.ndjson"] {
        let usage = common::read(file);
        lines.extend(
            usage
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .take(40)
                .map(<[u8]>::to_vec),
        );
    }
    lines.push(br#" { "specversion" : "1.0" , "type":"ai.usage.v1","source":"s","id":"i","time":"2026-10-01T00:00:00+05:30","data":{ "host":"h","model":"m","use_case":"chat","input_tokens":0,"output_tokens":9007199254740991,"revenue":"999999999999999.999999999999","currency":"EUR","customer":"\u00e9t\u00e9"} } "#.to_vec());
    lines
}

const SNIPPETS: &[&str] = &[
    " ",
    "\"",
    "\\",
    "\\n",
    "\\u0000",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "0",
    "-",
    ".",
    "e",
    "1e3",
    "null",
    "true",
    "\"x\":1,",
    "\"data\":{},",
    "\"id\":\"dup\",",
    "\"prompt\":\"hi\",",
    "é",
    "\u{2028}",
    "\t",
    "00",
    "9007199254740992",
];

/// One example event, as a strategy.
fn example() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(bases())
}

/// An edit: a place, an operation and a snippet (see [`mutate`]).
type Edit = (prop::sample::Index, u8, prop::sample::Index);

/// Up to three edits.
fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), any::<u8>(), any::<prop::sample::Index>()),
        0..4,
    )
}

fn mutate(base: &[u8], ops: &[Edit]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for (at, op, snippet) in ops {
        let position = at.index(bytes.len() + 1);
        match op % 4 {
            0 => {
                let s = snippet.get(SNIPPETS).as_bytes();
                bytes.splice(position..position, s.iter().copied());
            }
            1 if position < bytes.len() => {
                bytes.remove(position);
            }
            2 if position < bytes.len() => bytes[position] = bytes[position].wrapping_add(1),
            _ if position < bytes.len() => bytes[position] = 0xff,
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn fast_and_strict_parsers_agree(
        base in example(),
        ops in edits(),
    ) {
        let input = mutate(&base, &ops);
        prop_assert_eq!(UsageEvent::parse(&input), UsageEvent::parse_strict(&input), "input {}", String::from_utf8_lossy(&input));
    }

    #[test]
    fn key_order_guesses_never_change_what_is_read(
        earlier in example(),
        base in example(),
        ops in edits(),
    ) {
        // The guesses come from an earlier event, valid or not, as in a file.
        let mut shape = Shape::default();
        let _ = UsageEvent::parse_shaped(&earlier, &mut shape);
        let input = mutate(&base, &ops);
        prop_assert_eq!(UsageEvent::parse_shaped(&input, &mut shape), UsageEvent::parse_strict(&input), "input {}", String::from_utf8_lossy(&input));
    }

    #[test]
    fn parsing_and_hashing_in_one_step_equals_hashing_what_the_strict_parser_read(
        earlier in example(),
        base in example(),
        ops in edits(),
    ) {
        // One step skips the escape scan for what the fast parser read; the strict
        // parser's event, hashed with the scan, is the reference.
        let mut shape = Shape::default();
        let mut scratch = Vec::new();
        let _ = UsageEvent::parse_and_hash(&earlier, &mut shape, &mut scratch);
        let input = mutate(&base, &ops);
        let reference = UsageEvent::parse_strict(&input).map(|event| {
            let leaf = event.leaf_hash();
            (event, leaf)
        });
        prop_assert_eq!(UsageEvent::parse_and_hash(&input, &mut shape, &mut scratch), reference, "input {}", String::from_utf8_lossy(&input));
    }
}

#[test]
fn unmutated_examples_take_the_same_path_to_the_same_event() {
    let mut shape = Shape::default();
    for base in bases() {
        let fast = UsageEvent::parse(&base).unwrap();
        assert_eq!(Ok(fast), UsageEvent::parse_strict(&base));
        assert_eq!(
            UsageEvent::parse_shaped(&base, &mut shape),
            UsageEvent::parse_strict(&base)
        );
    }
}
