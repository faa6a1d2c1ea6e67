//! The fast parser: reads the common event shape (the six attributes, `data` with
//! its listed fields, strings without escapes, plain non-negative integers) in one
//! pass without allocating. Anything else (an escape, an extension attribute, a
//! duplicate or unknown key, a wrong type, bad JSON) makes it give up with `None`,
//! and the strict parser reads the event instead and explains any refusal.
//!
//! The invariant: whatever it accepts, the strict parser reads into the same
//! [`RawEvent`]; both then apply the same rules ([`validate`]). A test checks this on
//! mutated events.

use std::borrow::Cow;

use super::validate::{RawData, RawEvent};
use super::INTEGER_MAX;

/// How many leading bytes need no JSON escape: not `"`, `\\` or a control character.
/// Eight bytes at a time (SWAR): strings in events are short, so this beats both a
/// byte loop and a vector search with its setup cost.
pub(crate) fn plain_prefix_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Flags each zero byte; the lowest flag is always exact.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let v = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let stops = zero_bytes(v ^ (ONES * u64::from(b'"')))
            | zero_bytes(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGHS);
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .take_while(|&&b| b >= 0x20 && b != b'"' && b != b'\\')
        .count()
}

struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let bytes = self.text.as_bytes();
        let start = self.at;
        let end = start + plain_prefix_len(&bytes[start..]);
        if bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        // Quotes are ASCII, so both ends are char boundaries of the validated text.
        Some(&self.text[start..end])
    }

    /// A non-negative integer in plain notation, at most 2^53 − 1.
    fn integer(&mut self) -> Option<u64> {
        self.skip_whitespace();
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 16 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = bytes.get(start + digits) {
            return None;
        }
        self.at = start + digits;
        let value = bytes[start..self.at]
            .iter()
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
        (value <= INTEGER_MAX).then_some(value)
    }

    /// Visits the members of an object whose keys are all in `keys`; `member` reads
    /// the value of the key at that index. `guesses` holds the keys' order in the
    /// previous event: a key where its guess says is recognized by one comparison of
    /// its bytes; any other is read as a string and looked up (and becomes the guess).
    fn object<const N: usize>(
        &mut self,
        keys: &Keys<N>,
        guesses: &mut [u8; N],
        mut member: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut position = 0;
        loop {
            self.skip_whitespace();
            let guess = guesses.get(position).map_or(NO_GUESS, |g| *g);
            let key = match keys.matched_at(self.text.as_bytes(), self.at, guess) {
                Some(length) => {
                    self.at += length;
                    usize::from(guess)
                }
                None => {
                    let text = self.string()?;
                    self.eat(b':')?;
                    let key = keys.names.iter().position(|name| *name == text)?;
                    if let Some(slot) = guesses.get_mut(position) {
                        *slot = key as u8;
                    }
                    key
                }
            };
            member(self, key)?;
            position += 1;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// No guess for a key position yet.
const NO_GUESS: u8 = u8::MAX;

/// The keys of one object, each with its JSON form `"key":` as a 16-byte pattern
/// (every key here is at most 13 bytes, so the form fits).
struct Keys<const N: usize> {
    names: [&'static str; N],
    patterns: [(u128, u128, usize); N],
}

impl<const N: usize> Keys<N> {
    const fn new(names: [&'static str; N]) -> Keys<N> {
        let mut patterns = [(0u128, 0u128, 0usize); N];
        let mut k = 0;
        while k < N {
            let name = names[k].as_bytes();
            let length = name.len() + 3;
            assert!(length <= 16, "a key's JSON form fits in 16 bytes");
            let mut form = [0u8; 16];
            form[0] = b'"';
            let mut i = 0;
            while i < name.len() {
                form[i + 1] = name[i];
                i += 1;
            }
            form[name.len() + 1] = b'"';
            form[name.len() + 2] = b':';
            // The low `length` bytes, little-endian.
            let mask = u128::MAX >> (8 * (16 - length));
            patterns[k] = (u128::from_le_bytes(form), mask, length);
            k += 1;
        }
        Keys { names, patterns }
    }

    /// The length of `"key":` if the key `guess` names is written at `at`, exactly.
    fn matched_at(&self, bytes: &[u8], at: usize, guess: u8) -> Option<usize> {
        let (form, mask, length) = *self.patterns.get(usize::from(guess))?;
        let matched = match bytes.get(at..at + 16) {
            Some(window) => {
                let window = u128::from_le_bytes(window.try_into().expect("16 bytes"));
                (window ^ form) & mask == 0
            }
            None => bytes
                .get(at..at + length)
                .is_some_and(|window| *window == form.to_le_bytes()[..length]),
        };
        matched.then_some(length)
    }
}

const TOP_KEYS: Keys<6> = Keys::new(["specversion", "type", "source", "id", "time", "data"]);
const DATA_KEYS: Keys<10> = Keys::new([
    "host",
    "model",
    "use_case",
    "region",
    "customer",
    "requests",
    "input_tokens",
    "output_tokens",
    "revenue",
    "currency",
]);

/// The order of keys in the last event read: one serializer writes a producer's
/// events, so keys come in the same order event after event, and recognizing a key
/// where it was last time costs one comparison instead of a scan and a lookup. The
/// guesses only make reading faster; they never change what is read.
#[derive(Clone, Debug)]
pub struct Shape {
    top: [u8; 6],
    data: [u8; 10],
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            top: [NO_GUESS; 6],
            data: [NO_GUESS; 10],
        }
    }
}

fn set<'a>(slot: &mut Option<Cow<'a, str>>, value: &'a str) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(Cow::Borrowed(value));
    Some(())
}

fn set_int(slot: &mut Option<u64>, value: u64) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// Reads the common shape, or `None` to defer to the strict parser.
pub(crate) fn parse<'a>(bytes: &'a [u8], shape: &mut Shape) -> Option<RawEvent<'a>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut scanner = Scanner { text, at: 0 };
    let mut raw = RawEvent::default();
    let Shape {
        top,
        data: data_guesses,
    } = shape;
    scanner.object(&TOP_KEYS, top, |s, key| match key {
        0 => set(&mut raw.specversion, s.string()?),
        1 => set(&mut raw.kind, s.string()?),
        2 => set(&mut raw.source, s.string()?),
        3 => set(&mut raw.id, s.string()?),
        4 => set(&mut raw.time, s.string()?),
        5 if raw.data.is_none() => {
            let mut data = RawData::default();
            s.object(&DATA_KEYS, data_guesses, |s, key| match key {
                0 => set(&mut data.host, s.string()?),
                1 => set(&mut data.model, s.string()?),
                2 => set(&mut data.use_case, s.string()?),
                3 => set(&mut data.region, s.string()?),
                4 => set(&mut data.customer, s.string()?),
                5 => set_int(&mut data.requests, s.integer()?),
                6 => set_int(&mut data.input_tokens, s.integer()?),
                7 => set_int(&mut data.output_tokens, s.integer()?),
                8 => set(&mut data.revenue, s.string()?),
                9 => set(&mut data.currency, s.string()?),
                _ => None,
            })?;
            raw.data = Some(data);
            Some(())
        }
        _ => None,
    })?;
    scanner.skip_whitespace();
    (scanner.at == bytes.len()).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::{parse, plain_prefix_len, Shape, NO_GUESS};

    const EVENT: &[u8] = br#"{"specversion":"1.0","type":"ai.usage.v1","source":"s","id":"i","time":"2026-10-01T00:00:00Z","data":{"host":"h","model":"m","use_case":"chat","input_tokens":1,"output_tokens":2,"revenue":"0.1","currency":"USD"}}"#;
    const REORDERED: &[u8] = br#"{"data":{"currency":"USD","host":"h","model":"m","use_case":"chat","output_tokens":2,"input_tokens":1,"revenue":"0.1"},"id":"i","source":"s","specversion":"1.0","time":"2026-10-01T00:00:00Z","type":"ai.usage.v1"}"#;

    #[test]
    fn guesses_follow_the_last_event_read() {
        let mut shape = Shape::default();
        assert!(parse(EVENT, &mut shape).is_some());
        assert_eq!(shape.top, [0, 1, 2, 3, 4, 5]);
        assert_eq!(shape.data[..7], [0, 1, 2, 6, 7, 8, 9]);
        assert_eq!(shape.data[7..], [NO_GUESS; 3]);
        // Read by its guesses, the same event again; then another order, which
        // the guesses do not fit, is still read, and becomes the guess.
        assert_eq!(parse(EVENT, &mut shape), parse(EVENT, &mut Shape::default()));
        assert!(parse(REORDERED, &mut shape).is_some());
        assert_eq!(shape.top, [5, 3, 2, 0, 4, 1]);
        assert_eq!(shape.data[..7], [9, 0, 1, 2, 7, 6, 8]);
    }

    #[test]
    fn plain_prefix_stops_at_the_first_special_byte() {
        for (text, expected) in [
            (&b""[..], 0),
            (b"abc", 3),
            (b"abcdefgh", 8),
            (b"abcdefghij\"", 10),
            (b"abcdefg\\h", 7),
            (b"\x1f", 0),
            (b"abcdefgh\x00", 8),
            (b"\xc3\xa9t\xc3\xa9\"", 5),
            (b"\x7f\x80\xff \x21\"", 5),
            (b"aaaaaaa\x01\"", 7),
        ] {
            assert_eq!(plain_prefix_len(text), expected, "{text:?}");
        }
        for length in 0..40 {
            for position in 0..length {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'x'; length];
                    bytes[position] = special;
                    assert_eq!(plain_prefix_len(&bytes), position);
                }
            }
        }
    }
}
