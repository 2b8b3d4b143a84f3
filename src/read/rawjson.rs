//! Tolerant, borrowing access to AWS JSON.
//!
//! CloudTrail records are messy: any field may be missing, null, of another type than
//! documented, or repeated. Typed serde structs reject such records, so keytrail reads
//! objects as lists of `(key, raw value)` pairs borrowed from the record's bytes and
//! interprets each value only when asked, never failing a record because one field is odd.

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// A JSON object as its raw members, in document order. Duplicate keys are kept;
/// [`RawObject::get`] returns the last, as most JSON readers do.
#[derive(Debug, Default)]
pub struct RawObject<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor;
        impl<'de> Visitor<'de> for ObjVisitor {
            type Value = RawObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    fields.push((k, v));
                }
                Ok(RawObject { fields })
            }
        }
        d.deserialize_map(ObjVisitor)
    }
}

impl<'a> RawObject<'a> {
    /// Parses `bytes` as one JSON object.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Views a raw value as an object, when it is one.
    pub fn of(raw: &'a RawValue) -> Option<Self> {
        if raw.get().starts_with('{') {
            serde_json::from_str(raw.get()).ok()
        } else {
            None
        }
    }

    /// The raw value of the last member named `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// Whether a member named `key` is present (even if null).
    pub fn has(&self, key: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == key)
    }

    /// The member as text (see [`text`]).
    pub fn text(&self, key: &str) -> Option<Cow<'a, str>> {
        self.get(key).and_then(text)
    }

    /// The member as an object.
    pub fn object(&self, key: &str) -> Option<RawObject<'a>> {
        self.get(key).and_then(RawObject::of)
    }

    /// The member as a boolean (see [`boolean`]).
    pub fn boolean(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(boolean)
    }

    /// All members, in document order.
    pub fn fields(&self) -> &[(Cow<'a, str>, &'a RawValue)] {
        &self.fields
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// A value as text: a string decoded; a number or boolean as written; null, objects and
/// arrays give `None`. Open sets (event names, error codes, types) stay strings.
pub fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    match s.as_bytes().first()? {
        b'"' => {
            if let Ok(b) = serde_json::from_str::<&str>(s) {
                Some(Cow::Borrowed(b))
            } else {
                serde_json::from_str::<String>(s).ok().map(Cow::Owned)
            }
        }
        b'n' | b'{' | b'[' => None,
        _ => Some(Cow::Borrowed(s)),
    }
}

/// A value as a boolean: JSON `true`/`false`, or the strings `"true"`/`"false"` (any case),
/// which real logs use for `sessionCredentialFromConsole` and `mfaAuthenticated`.
pub fn boolean(raw: &RawValue) -> Option<bool> {
    match raw.get() {
        "true" => Some(true),
        "false" => Some(false),
        s if s.starts_with('"') => match text(raw)?.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A value as a string-to-string map (an encryption context). Non-string member values are
/// kept as their JSON text, so nothing is lost; a non-object gives `None`.
pub fn string_map(raw: &RawValue) -> Option<BTreeMap<String, String>> {
    let obj = RawObject::of(raw)?;
    let mut out = BTreeMap::new();
    for (k, v) in obj.fields() {
        let value = match text(v) {
            Some(t) => t.into_owned(),
            None => v.get().to_string(),
        };
        out.insert(k.to_string(), value);
    }
    Some(out)
}

/// A value as a list of strings; non-string items are kept as their JSON text.
/// A single string is read as a one-item list; anything else gives `None`.
pub fn string_list(raw: &RawValue) -> Option<Vec<String>> {
    let s = raw.get();
    if s.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(s).ok()?;
        Some(
            items
                .into_iter()
                .map(|v| {
                    text(v)
                        .map(Cow::into_owned)
                        .unwrap_or_else(|| v.get().to_string())
                })
                .collect(),
        )
    } else {
        text(raw).map(|t| vec![t.into_owned()])
    }
}

/// The elements of an array value, or `None` if it is not an array.
pub fn array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if raw.get().starts_with('[') {
        serde_json::from_str(raw.get()).ok()
    } else {
        None
    }
}

/// What kind of JSON value starts with `first` (for messages): "an object", "an array", ...
pub fn json_kind(first: Option<u8>) -> &'static str {
    match first {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "not a JSON value",
        None => "empty",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_odd_shapes_without_failing() {
        let rec = br#"{"a":"x\"y","b":5,"c":null,"d":{"k":"v","n":1},"e":"TRUE","e2":false,"a":"last","f":["p",2]}"#;
        let o = RawObject::parse(rec).unwrap();
        assert_eq!(o.text("a").as_deref(), Some("last"));
        assert_eq!(o.text("b").as_deref(), Some("5"));
        assert_eq!(o.text("c"), None);
        assert!(o.has("c"));
        assert_eq!(o.text("missing"), None);
        assert_eq!(o.boolean("e"), Some(true));
        assert_eq!(o.boolean("e2"), Some(false));
        assert_eq!(o.boolean("b"), None);
        let d = string_map(o.get("d").unwrap()).unwrap();
        assert_eq!(d.get("k").map(String::as_str), Some("v"));
        assert_eq!(d.get("n").map(String::as_str), Some("1"));
        assert_eq!(string_list(o.get("f").unwrap()).unwrap(), vec!["p", "2"]);
        assert!(string_map(o.get("b").unwrap()).is_none());
    }

    #[test]
    fn escaped_strings_decode() {
        let o = RawObject::parse(br#"{"k\u0041":"caf\u00e9"}"#).unwrap();
        assert_eq!(o.text("kA").as_deref(), Some("café"));
    }
}
