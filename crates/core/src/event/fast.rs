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

    /// Visits the members of an object; `member` reads each value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.skip_whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
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
pub(crate) fn parse(bytes: &[u8]) -> Option<RawEvent<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut scanner = Scanner { text, at: 0 };
    let mut raw = RawEvent::default();
    scanner.object(|s, key| match key {
        "specversion" => set(&mut raw.specversion, s.string()?),
        "type" => set(&mut raw.kind, s.string()?),
        "source" => set(&mut raw.source, s.string()?),
        "id" => set(&mut raw.id, s.string()?),
        "time" => set(&mut raw.time, s.string()?),
        "data" if raw.data.is_none() => {
            let mut data = RawData::default();
            s.object(|s, key| match key {
                "host" => set(&mut data.host, s.string()?),
                "model" => set(&mut data.model, s.string()?),
                "use_case" => set(&mut data.use_case, s.string()?),
                "region" => set(&mut data.region, s.string()?),
                "customer" => set(&mut data.customer, s.string()?),
                "requests" => set_int(&mut data.requests, s.integer()?),
                "input_tokens" => set_int(&mut data.input_tokens, s.integer()?),
                "output_tokens" => set_int(&mut data.output_tokens, s.integer()?),
                "revenue" => set(&mut data.revenue, s.string()?),
                "currency" => set(&mut data.currency, s.string()?),
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
    use super::plain_prefix_len;

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
