//! The strict parser: serde_json with visitors that refuse duplicate keys at every
//! level, fields outside `data`'s list, and values of the wrong JSON type. It reads
//! any valid JSON (escapes, extension attributes) and explains every refusal; the
//! fast parser hands it whatever it does not handle itself.
//!
//! Each visitor stores a typed error in a shared slot and gives serde an opaque
//! message, so callers see the typed error rather than serde's text.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::validate::{validate, RawData, RawEvent};
use super::{EventError, UsageEvent, INTEGER_MAX};

const DEPTH_MAX: usize = 64;

pub(crate) fn parse(bytes: &[u8]) -> Result<UsageEvent<'_>, EventError> {
    let slot = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = EventSeed { slot: &slot }.deserialize(&mut deserializer);
    let parsed = parsed.and_then(|event| deserializer.end().map(|()| event));
    match parsed {
        Ok(raw) => validate(raw),
        Err(json_error) => Err(slot
            .into_inner()
            .unwrap_or_else(|| EventError::Json(json_error.to_string()))),
    }
}

type Slot<'s> = &'s RefCell<Option<EventError>>;

fn fail<E: de::Error>(slot: Slot<'_>, error: EventError) -> E {
    let mut current = slot.borrow_mut();
    if current.is_none() {
        *current = Some(error);
    }
    E::custom("see the typed error")
}

/// A string that borrows from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowVisitor;
        impl<'de> Visitor<'de> for CowVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(CowVisitor)
    }
}

/// What a field's value must be.
#[derive(Clone, Copy)]
enum Expect {
    String,
    Integer,
}

/// Accepts only the expected JSON kind, recording a typed error otherwise.
struct FieldSeed<'s> {
    slot: Slot<'s>,
    field: &'s str,
    expect: Expect,
}

enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Int(u64),
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = FieldValue<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl FieldSeed<'_> {
    fn wrong<E: de::Error>(&self, found: &str) -> E {
        let rule = match (self.expect, self.field) {
            (Expect::String, "data.revenue") => format!(
                "must be a decimal string such as \"0.004275\", found {found}; JSON numbers are refused (no binary floats near money)"
            ),
            (Expect::String, _) => format!("must be a string, found {found}"),
            (Expect::Integer, _) => {
                format!("must be an integer from 0 to 2^53-1 written without fraction or exponent, found {found}")
            }
        };
        fail(
            self.slot,
            EventError::Invalid {
                field: self.field.to_string(),
                rule,
            },
        )
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = FieldValue<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        match self.expect {
            Expect::String => Ok(FieldValue::Str(Cow::Borrowed(v))),
            Expect::Integer => Err(self.wrong("a string")),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match self.expect {
            Expect::String => Ok(FieldValue::Str(Cow::Owned(v.to_string()))),
            Expect::Integer => Err(self.wrong("a string")),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match self.expect {
            Expect::Integer if v <= INTEGER_MAX => Ok(FieldValue::Int(v)),
            Expect::Integer => Err(self.wrong(&format!("{v}, above 2^53-1"))),
            Expect::String => Err(self.wrong("a number")),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if v >= 0 {
            return self.visit_u64(v as u64);
        }
        Err(self.wrong(&format!("{v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(self.wrong(&format!("the number {v}")))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.wrong("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Err(self.wrong("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(self.wrong("an object"))
    }
}

fn take_str<'de, A: MapAccess<'de>>(map: &mut A, slot: Slot<'_>, field: &str) -> Result<Cow<'de, str>, A::Error> {
    match map.next_value_seed(FieldSeed {
        slot,
        field,
        expect: Expect::String,
    })? {
        FieldValue::Str(s) => Ok(s),
        FieldValue::Int(_) => unreachable!("a string seed yields strings"),
    }
}

fn take_int<'de, A: MapAccess<'de>>(map: &mut A, slot: Slot<'_>, field: &str) -> Result<u64, A::Error> {
    match map.next_value_seed(FieldSeed {
        slot,
        field,
        expect: Expect::Integer,
    })? {
        FieldValue::Int(v) => Ok(v),
        FieldValue::Str(_) => unreachable!("an integer seed yields integers"),
    }
}

/// Sets a field once; a second occurrence is a duplicate key.
fn once<T, E: de::Error>(slot: Slot<'_>, target: &mut Option<T>, field: &str, value: T) -> Result<(), E> {
    if target.is_some() {
        return Err(fail(
            slot,
            EventError::DuplicateKey {
                field: field.to_string(),
            },
        ));
    }
    *target = Some(value);
    Ok(())
}

macro_rules! refuse_non_objects {
    ($error:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(fail(self.slot, $error))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(fail(self.slot, $error))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(fail(self.slot, $error))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(fail(self.slot, $error))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(fail(self.slot, $error))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(fail(self.slot, $error))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(fail(self.slot, $error))
        }
    };
}

struct EventSeed<'s> {
    slot: Slot<'s>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = RawEvent<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = RawEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a usage event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let slot = self.slot;
        let mut raw = RawEvent::default();
        let mut extension_names = HashSet::new();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            match key.as_ref() {
                "specversion" => once(
                    slot,
                    &mut raw.specversion,
                    "specversion",
                    take_str(&mut map, slot, "specversion")?,
                )?,
                "type" => once(slot, &mut raw.kind, "type", take_str(&mut map, slot, "type")?)?,
                "source" => once(slot, &mut raw.source, "source", take_str(&mut map, slot, "source")?)?,
                "id" => once(slot, &mut raw.id, "id", take_str(&mut map, slot, "id")?)?,
                "time" => once(slot, &mut raw.time, "time", take_str(&mut map, slot, "time")?)?,
                "data" => {
                    let data = map.next_value_seed(DataSeed { slot })?;
                    once(slot, &mut raw.data, "data", data)?;
                }
                _ => {
                    let value = extension(&mut map, slot, &mut extension_names, &key)?;
                    raw.extensions.push((key, value));
                }
            }
        }
        Ok(raw)
    }

    refuse_non_objects!(EventError::NotAnObject);
}

/// Reads the value of the extension attribute `name`, refusing a name already seen.
/// `seen` is a hash set, so each check costs the same however many names came before
/// (a scan of the names read so far made 110,000 attributes take seconds). It keeps
/// the names as read, borrowed from the input unless they had escapes; the standard
/// hasher is seeded at random, so no input can be crafted to collide.
fn extension<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: Slot<'_>,
    seen: &mut HashSet<Cow<'de, str>>,
    name: &Cow<'de, str>,
) -> Result<serde_json::Value, A::Error> {
    if !seen.insert(name.clone()) {
        return Err(fail(
            slot,
            EventError::DuplicateKey {
                field: name.to_string(),
            },
        ));
    }
    map.next_value_seed(StrictValue {
        slot,
        path: name,
        depth: 0,
    })
}

struct DataSeed<'s> {
    slot: Slot<'s>,
}

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = RawData<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = RawData<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the data object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let slot = self.slot;
        let mut raw = RawData::default();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let m = &mut map;
            match key.as_ref() {
                "host" => once(slot, &mut raw.host, "data.host", take_str(m, slot, "data.host")?)?,
                "model" => once(slot, &mut raw.model, "data.model", take_str(m, slot, "data.model")?)?,
                "use_case" => once(
                    slot,
                    &mut raw.use_case,
                    "data.use_case",
                    take_str(m, slot, "data.use_case")?,
                )?,
                "region" => once(slot, &mut raw.region, "data.region", take_str(m, slot, "data.region")?)?,
                "customer" => once(
                    slot,
                    &mut raw.customer,
                    "data.customer",
                    take_str(m, slot, "data.customer")?,
                )?,
                "requests" => once(
                    slot,
                    &mut raw.requests,
                    "data.requests",
                    take_int(m, slot, "data.requests")?,
                )?,
                "input_tokens" => once(
                    slot,
                    &mut raw.input_tokens,
                    "data.input_tokens",
                    take_int(m, slot, "data.input_tokens")?,
                )?,
                "output_tokens" => once(
                    slot,
                    &mut raw.output_tokens,
                    "data.output_tokens",
                    take_int(m, slot, "data.output_tokens")?,
                )?,
                "revenue" => once(
                    slot,
                    &mut raw.revenue,
                    "data.revenue",
                    take_str(m, slot, "data.revenue")?,
                )?,
                "currency" => once(
                    slot,
                    &mut raw.currency,
                    "data.currency",
                    take_str(m, slot, "data.currency")?,
                )?,
                _ => {
                    return Err(fail(
                        slot,
                        EventError::ContentField {
                            field: format!("data.{key}"),
                        },
                    ))
                }
            }
        }
        Ok(raw)
    }

    refuse_non_objects!(EventError::Invalid {
        field: "data".to_string(),
        rule: "must be an object".to_string(),
    });
}

/// Any JSON value, refusing duplicate keys at every level (extension attributes).
struct StrictValue<'s> {
    slot: Slot<'s>,
    path: &'s str,
    depth: usize,
}

impl StrictValue<'_> {
    fn too_deep<E: de::Error>(&self) -> E {
        fail(
            self.slot,
            EventError::Invalid {
                field: self.path.to_string(),
                rule: format!("nests deeper than {DEPTH_MAX} levels"),
            },
        )
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = serde_json::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.depth >= DEPTH_MAX {
            return Err(self.too_deep());
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            slot: self.slot,
            path: self.path,
            depth: self.depth + 1,
        })? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.depth >= DEPTH_MAX {
            return Err(self.too_deep());
        }
        let mut object = serde_json::Map::new();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            // A lookup in the map being built (a B-tree, or a hash map under serde_json's
            // `preserve_order`): logarithmic or constant, never a scan.
            if object.contains_key(key.as_ref()) {
                return Err(fail(
                    self.slot,
                    EventError::DuplicateKey {
                        field: format!("{}.{key}", self.path),
                    },
                ));
            }
            let value = map.next_value_seed(StrictValue {
                slot: self.slot,
                path: self.path,
                depth: self.depth + 1,
            })?;
            object.insert(key.into_owned(), value);
        }
        Ok(serde_json::Value::Object(object))
    }
}
