//! The RFC 8785 (JCS) canonical form of a usage event and its RFC 9162 leaf hash.
//!
//! The event's own fields are written directly in JCS key order (they are strings and
//! integers only); extension values go through `serde_json_canonicalizer`, which
//! handles arbitrary JSON numbers.

use super::{UsageData, UsageEvent};
use crate::merkle::Hash;

impl UsageEvent<'_> {
    /// Writes the RFC 8785 (JCS) canonical form of the event as parsed.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        self.write_canonical_as(out, Strings::MayNeedEscapes);
    }

    fn write_canonical_as(&self, out: &mut Vec<u8>, strings: Strings) {
        out.push(b'{');
        if self.extensions.is_empty() {
            self.write_member(out, Member::Data, strings);
            for member in [
                Member::Id,
                Member::Source,
                Member::SpecVersion,
                Member::Time,
                Member::Type,
            ] {
                out.push(b',');
                self.write_member(out, member, strings);
            }
        } else {
            let mut members: Vec<(&str, Member)> = vec![
                ("data", Member::Data),
                ("id", Member::Id),
                ("source", Member::Source),
                ("specversion", Member::SpecVersion),
                ("time", Member::Time),
                ("type", Member::Type),
            ];
            for (index, (name, _)) in self.extensions.iter().enumerate() {
                members.push((name, Member::Extension(index)));
            }
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            for (position, (_, member)) in members.into_iter().enumerate() {
                if position > 0 {
                    out.push(b',');
                }
                self.write_member(out, member, strings);
            }
        }
        out.push(b'}');
    }

    fn write_member(&self, out: &mut Vec<u8>, member: Member, strings: Strings) {
        // Member names are constants: their JSON form is written as literal bytes.
        let mut field = |name: &[u8], value: &str| {
            out.extend_from_slice(name);
            strings.write(out, value);
        };
        match member {
            Member::Id => field(b"\"id\":", &self.id),
            Member::Source => field(b"\"source\":", &self.source),
            Member::SpecVersion => out.extend_from_slice(b"\"specversion\":\"1.0\""),
            Member::Time => field(b"\"time\":", &self.time),
            Member::Type => out.extend_from_slice(b"\"type\":\"ai.usage.v1\""),
            Member::Data => {
                out.extend_from_slice(b"\"data\":");
                self.data.write_canonical(out, strings);
            }
            Member::Extension(index) => {
                let (name, value) = &self.extensions[index];
                write_json_string(out, name);
                out.push(b':');
                let canonical =
                    serde_json_canonicalizer::to_vec(value).expect("a parsed JSON value always canonicalizes");
                out.extend_from_slice(&canonical);
            }
        }
    }

    /// The canonical form as a new buffer.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        self.write_canonical(&mut out);
        out
    }

    /// The RFC 9162 leaf hash `SHA-256(0x00 ‖ JCS(event))`, reusing `scratch`.
    pub fn leaf_hash_with(&self, scratch: &mut Vec<u8>) -> Hash {
        self.leaf_hash_as(scratch, Strings::MayNeedEscapes)
    }

    pub(super) fn leaf_hash_as(&self, scratch: &mut Vec<u8>, strings: Strings) -> Hash {
        scratch.clear();
        self.write_canonical_as(scratch, strings);
        crate::merkle::leaf_hash(scratch)
    }

    pub fn leaf_hash(&self) -> Hash {
        self.leaf_hash_with(&mut Vec::with_capacity(384))
    }
}

/// What the writer knows of an event's strings.
#[derive(Clone, Copy)]
pub(super) enum Strings {
    /// Each was read from the input without escapes, so none needs one
    /// (see [`UsageEvent::parse_and_hash`]).
    Plain,
    MayNeedEscapes,
}

impl Strings {
    fn write(self, out: &mut Vec<u8>, text: &str) {
        match self {
            Strings::Plain => {
                debug_assert_eq!(super::fast::plain_prefix_len(text.as_bytes()), text.len());
                out.push(b'"');
                out.extend_from_slice(text.as_bytes());
                out.push(b'"');
            }
            Strings::MayNeedEscapes => write_json_string(out, text),
        }
    }
}

#[derive(Clone, Copy)]
enum Member {
    Data,
    Id,
    Source,
    SpecVersion,
    Time,
    Type,
    Extension(usize),
}

impl UsageData<'_> {
    fn write_canonical(&self, out: &mut Vec<u8>, strings: Strings) {
        // Keys in JCS order; `currency` is always present and first.
        out.extend_from_slice(b"{\"currency\":");
        strings.write(out, &self.currency);
        if let Some(customer) = &self.customer {
            out.extend_from_slice(b",\"customer\":");
            strings.write(out, customer);
        }
        out.extend_from_slice(b",\"host\":");
        strings.write(out, &self.host);
        out.extend_from_slice(b",\"input_tokens\":");
        write_integer(out, self.input_tokens);
        out.extend_from_slice(b",\"model\":");
        strings.write(out, &self.model);
        out.extend_from_slice(b",\"output_tokens\":");
        write_integer(out, self.output_tokens);
        if let Some(region) = &self.region {
            out.extend_from_slice(b",\"region\":");
            strings.write(out, region);
        }
        if let Some(requests) = self.requests {
            out.extend_from_slice(b",\"requests\":");
            write_integer(out, requests);
        }
        out.extend_from_slice(b",\"revenue\":");
        strings.write(out, &self.revenue);
        out.extend_from_slice(b",\"use_case\":");
        strings.write(out, &self.use_case);
        out.push(b'}');
    }
}

fn write_integer(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut position = digits.len();
    loop {
        position -= 1;
        digits[position] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[position..]);
}

/// Writes a string as RFC 8785 (ECMAScript `JSON.stringify`) does: `"`, `\\` and
/// control characters escaped (the short forms where they exist), everything else
/// as is.
pub fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.push(b'"');
    // Most strings need no escape: copy them whole.
    if super::fast::plain_prefix_len(bytes) == bytes.len() {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
