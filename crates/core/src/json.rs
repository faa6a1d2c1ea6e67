//! JSON as a verifier must read it: every member kept (also ones this version does not
//! know), a duplicate key at any level refused (two readers could otherwise see two
//! different values under one signature), and SHA-256 of a value's RFC 8785 form.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Parses one JSON document into a value, refusing duplicate keys at every level.
/// serde_json's own recursion limit (128) bounds nesting.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// [`parse_strict`] for a document that must be an object.
pub fn parse_strict_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match parse_strict(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err("not a JSON object".to_string()),
    }
}

/// The RFC 8785 (JCS) form of a value.
pub fn canonical(value: &Value) -> Vec<u8> {
    // A `Value` holds only finite numbers and valid strings, so JCS cannot fail.
    serde_json_canonicalizer::to_vec(value).expect("JCS of a serde_json::Value")
}

/// SHA-256 of the JCS form of anything that serializes to JSON. Every check of a
/// stored row hashes it, so a row whose compact serde_json form already is its JCS
/// form ([`compact_is_canonical`]: every audited row) is written that way, several
/// times faster; any other value goes through the JCS writer. (The check reads the
/// `Value` a type serializes to: a type with float fields or integer map keys, which
/// no audited row has, would be judged by what `to_value` made of them.)
pub fn canonical_sha256<T: serde::Serialize>(value: &T) -> [u8; 32] {
    let bytes = match serde_json::to_value(value) {
        Ok(tree) if compact_is_canonical(&tree) => serde_json::to_vec(&tree),
        _ => serde_json_canonicalizer::to_vec(value).map_err(|e| serde_json::Error::io(std::io::Error::other(e))),
    };
    Sha256::digest(bytes.expect("the value serializes to JSON")).into()
}

/// Whether serde_json's compact form of `value` is its RFC 8785 form: no number
/// that JCS writes otherwise (a fraction, or an integer beyond 2^53 that ECMAScript
/// rounds), and only ASCII keys (JCS sorts keys by UTF-16 units, serde_json's map by
/// bytes: one order for ASCII). Strings are escaped alike by both (`"`, `\\`, and
/// control characters, the short forms where there are, else `\u00xx`).
fn compact_is_canonical(value: &Value) -> bool {
    const EXACT: u64 = 1 << 53;
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= EXACT) || n.as_i64().is_some_and(|i| i.unsigned_abs() <= EXACT)
        }
        Value::Array(items) => items.iter().all(compact_is_canonical),
        Value::Object(map) => map.iter().all(|(k, v)| k.is_ascii() && compact_is_canonical(v)),
    }
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(StrictValue)?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_every_level() {
        assert!(parse_strict(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        let top = parse_strict(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(top.contains("duplicate key `a`"), "{top}");
        let deep = parse_strict(br#"{"a":{"b":[{"c":1,"c":1}]}}"#).unwrap_err();
        assert!(deep.contains("duplicate key `c`"), "{deep}");
        assert!(parse_strict(b"{} x").is_err(), "trailing bytes");
        assert!(parse_strict_object(b"[1]").is_err());
    }

    fn values() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = prop_oneof![
            "[a-z_]{0,6}",
            "[\\x00-\\x1f\"\\\\/\\x7f]{0,4}",
            "\\PC{0,5}",
            "[\u{2028}\u{2029}\u{e9}\u{1f600}\u{fffd}a]{0,4}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(text.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The fast path writes exactly what the JCS writer writes, wherever it is
        /// taken; and the digest is the JCS form's either way.
        #[test]
        fn the_compact_form_is_taken_only_where_it_is_the_jcs_form(value in values()) {
            let jcs = serde_json_canonicalizer::to_vec(&value).unwrap();
            if compact_is_canonical(&value) {
                proptest::prop_assert_eq!(serde_json::to_vec(&value).unwrap(), jcs.clone());
            }
            let digest: [u8; 32] = Sha256::digest(&jcs).into();
            proptest::prop_assert_eq!(canonical_sha256(&value), digest);
        }
    }

    #[test]
    fn a_row_with_a_fraction_or_a_large_integer_is_still_jcs() {
        for value in [
            serde_json::json!({"a": 0.1}),
            serde_json::json!({"b": 9007199254740993u64}),
            serde_json::json!({"é": 1, "z": 2}),
        ] {
            let digest: [u8; 32] = Sha256::digest(serde_json_canonicalizer::to_vec(&value).unwrap()).into();
            assert_eq!(canonical_sha256(&value), digest, "{value}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_strict(deep.as_bytes()).is_err());
    }

    #[test]
    fn many_keys_parse_in_linear_time() {
        let mut text = String::from("{");
        for i in 0..200_000 {
            text.push_str(&format!("\"k{i}\":1,"));
        }
        text.push_str("\"k0\":2}");
        let started = std::time::Instant::now();
        assert!(parse_strict(text.as_bytes())
            .unwrap_err()
            .contains("duplicate key `k0`"));
        assert!(started.elapsed().as_secs() < 5);
    }
}
