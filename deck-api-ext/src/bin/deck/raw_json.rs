//! [`RawObject`]: a JSON object exactly as the API sent it, for printing.
//!
//! Decoding into `serde_json::Value` and printing that would not reproduce what the API sent:
//! numbers are re-rendered (an integer beyond 64 bits becomes a rounded float, `1.50` becomes
//! `1.5`), duplicate keys collapse, and field order depends on serde_json's `preserve_order`
//! feature being on somewhere in the build. A `RawObject` keeps the fields in the order they
//! came, each value as its original JSON text; only insignificant whitespace is removed, so that
//! an object always prints on one line. A response with a duplicate key never gets here: the
//! library refuses it as ambiguous before decoding (the type itself would keep both).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

/// A JSON object: its fields in order, each value's JSON text compacted but otherwise verbatim.
#[derive(Debug, Clone, Default)]
pub struct RawObject {
    fields: Vec<(String, Box<RawValue>)>,
}

impl RawObject {
    /// The text of the first field named `key`.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The first field named `key`, for rewriting in place (its position is kept).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Box<RawValue>> {
        self.fields
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The value of field `key` when it is a JSON string.
    pub fn str_field(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = RawObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
            fields.push((key, compact(value).map_err(de::Error::custom)?));
        }
        Ok(RawObject { fields })
    }
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, value) in &self.fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `raw` without whitespace between tokens. JSON strings cannot hold unescaped control
/// characters, so the result is one line.
pub fn compact(raw: Box<RawValue>) -> Result<Box<RawValue>, serde_json::Error> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let text = raw.get();
    if !text.bytes().any(is_space) {
        return Ok(raw);
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii() && is_space(c as u8) {
            continue;
        }
        out.push(c);
    }
    RawValue::from_string(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) -> String {
        let object: RawObject = serde_json::from_str(json).unwrap();
        serde_json::to_string(&object).unwrap()
    }

    #[test]
    fn fields_order_and_values_are_kept() {
        let json = r#"{"zeta":1,"id":"stor_1","big":123456789012345678901234567890,"amount":8247.410,"nested":{"b":[1,2],"a":null},"new_field":{"x":"y"}}"#;
        assert_eq!(round_trip(json), json);
    }

    #[test]
    fn whitespace_goes_but_not_inside_strings() {
        let json = "{\n  \"a\" : [ 1 ,\t2 ],\r\n  \"b\": \"two  words \\\" {x: y}\",\n  \"c\": {\"d\" : \"\\\\\"} }";
        assert_eq!(
            round_trip(json),
            r#"{"a":[1,2],"b":"two  words \" {x: y}","c":{"d":"\\"}}"#
        );
    }

    #[test]
    fn duplicates_are_kept_and_the_first_is_found() {
        let object: RawObject = serde_json::from_str(r#"{"k":1,"k":"two"}"#).unwrap();
        assert_eq!(object.get("k").unwrap().get(), "1");
        assert_eq!(
            serde_json::to_string(&object).unwrap(),
            r#"{"k":1,"k":"two"}"#
        );
        assert_eq!(object.str_field("k"), None);
        let object: RawObject = serde_json::from_str(r#"{"id":"stor_\u0031"}"#).unwrap();
        assert_eq!(object.str_field("id").as_deref(), Some("stor_1"));
    }

    #[test]
    fn only_objects_decode_and_errors_carry_the_path() {
        #[derive(serde::Deserialize)]
        struct Page {
            #[allow(dead_code)]
            data: Vec<RawObject>,
        }
        let body = br#"{"data":[{"a":1},{"b":{"c":2}},"not an object"]}"#;
        let mut de = serde_json::Deserializer::from_slice(body);
        let error = match serde_path_to_error::deserialize::<_, Page>(&mut de) {
            Ok(_) => panic!("a string is not an item"),
            Err(error) => error,
        };
        assert_eq!(error.path().to_string(), "data[2]");
        assert!(error.inner().to_string().contains("expected a JSON object"));
        // Through the path tracker, raw values still decode.
        let ok = br#"{"data":[{"a":1},{"b":{"c":2}}]}"#;
        let mut de = serde_json::Deserializer::from_slice(ok);
        let page: Page = serde_path_to_error::deserialize(&mut de).unwrap();
        assert_eq!(
            serde_json::to_string(&page.data[1]).unwrap(),
            r#"{"b":{"c":2}}"#
        );
    }
}
