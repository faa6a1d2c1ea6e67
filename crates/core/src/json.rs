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

/// SHA-256 of the JCS form of anything that serializes to JSON.
pub fn canonical_sha256<T: serde::Serialize>(value: &T) -> [u8; 32] {
    let bytes = serde_json_canonicalizer::to_vec(value).expect("the value serializes to JSON");
    Sha256::digest(bytes).into()
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
