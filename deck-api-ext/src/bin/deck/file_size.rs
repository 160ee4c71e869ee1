//! `file_size` as a JSON integer in the items `deck` prints.
//!
//! Deck may send a size as `245678` or as `"245678"` (the OpenAPI document allows both). Items
//! are printed as the API sent them, so this is the one field rewritten: to a JSON integer, with
//! the rules the library's `StorageItem` decodes it by (exact over the whole `u64` range, a
//! string only in canonical decimal form, `"-0"` is zero). Any other value is an error that
//! names the item and `file_size`, never a guess. Messages quote the value as it was sent, cut after
//! 100 characters (`…`).

use std::fmt;

use deck_api_ext::storage::{FileSizeError, parse_file_size};
use serde_json::Value;
use serde_json::value::to_raw_value;

use crate::failure::{Failure, QUOTE_LIMIT, clip};
use crate::raw_json::RawObject;

/// The field this module rewrites.
pub const FIELD: &str = "file_size";

/// Why a `file_size` is not a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeError {
    /// The item has no `file_size`.
    Missing,
    /// A negative number, or a string holding one.
    Negative(String),
    /// A string that is not a canonical decimal integer.
    NotDecimal(String),
    /// A number with a fraction or exponent, or beyond `u64`.
    NotAnInteger(String),
    /// A string of digits above `u64::MAX`.
    TooLarge(String),
    /// Not a number or a string (`null`, a boolean, an array, an object).
    WrongType(&'static str),
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are quoted cut to QUOTE_LIMIT characters: a server may send megabytes.
        let q = |v: &str| clip(v, QUOTE_LIMIT).into_owned();
        match self {
            SizeError::Missing => f.write_str("file_size is missing"),
            SizeError::Negative(v) => write!(f, "file_size is negative ({})", q(v)),
            SizeError::NotDecimal(v) => {
                write!(
                    f,
                    "file_size {:?} is not a non-negative decimal integer",
                    q(v)
                )
            }
            SizeError::NotAnInteger(v) => {
                write!(
                    f,
                    "file_size {} is not an integer from 0 to {}",
                    q(v),
                    u64::MAX
                )
            }
            SizeError::TooLarge(v) => write!(f, "file_size {} exceeds {}", q(v), u64::MAX),
            SizeError::WrongType(kind) => write!(
                f,
                "file_size is {kind}, expected a non-negative integer or a string of decimal digits"
            ),
        }
    }
}

/// The size the JSON text `raw` (a `file_size` value as sent) stands for.
pub fn parse(raw: &str) -> Result<u64, SizeError> {
    // `raw` comes from a parsed document, so it is valid JSON; a failure here is reported as a
    // value that is not a size, like any other.
    let value: Value =
        serde_json::from_str(raw).map_err(|_| SizeError::NotAnInteger(raw.to_owned()))?;
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(size), _) => Ok(size),
            (None, Some(_)) => Err(SizeError::Negative(raw.to_owned())),
            (None, None) => Err(SizeError::NotAnInteger(raw.to_owned())),
        },
        Value::String(s) => decimal(&s),
        Value::Null => Err(SizeError::WrongType("null")),
        Value::Bool(_) => Err(SizeError::WrongType("a boolean")),
        Value::Array(_) => Err(SizeError::WrongType("an array")),
        Value::Object(_) => Err(SizeError::WrongType("an object")),
    }
}

/// A string size, by the library's rule (`StorageItem` decodes sizes the same way).
fn decimal(text: &str) -> Result<u64, SizeError> {
    parse_file_size(text).map_err(|e| match e {
        FileSizeError::Negative(v) => SizeError::Negative(v),
        FileSizeError::TooLarge(v) => SizeError::TooLarge(v),
        FileSizeError::NotDecimal(v) => SizeError::NotDecimal(v),
        _ => SizeError::NotDecimal(text.to_owned()),
    })
}

/// Rewrites `item`'s `file_size` as a JSON integer, in place (the field keeps its position).
pub fn normalize(item: &mut RawObject) -> Result<(), SizeError> {
    let raw = item.get_mut(FIELD).ok_or(SizeError::Missing)?;
    let size = parse(raw.get())?;
    // Serialising a `u64` cannot fail.
    *raw = to_raw_value(&size).map_err(|_| SizeError::NotAnInteger(size.to_string()))?;
    Ok(())
}

/// [`normalize`] for an item of `operation`'s response found at `path` (`data[3]`, or empty for
/// the document itself); the failure names the operation, the JSON path and the item.
pub fn normalize_at(operation: &str, path: &str, item: &mut RawObject) -> Result<(), Failure> {
    normalize(item).map_err(|error| {
        let at = if path.is_empty() {
            FIELD.to_owned()
        } else {
            format!("{path}.{FIELD}")
        };
        let id = match item.str_field("id") {
            Some(id) => format!("storage item {}", clip(&id, QUOTE_LIMIT)),
            None => "a storage item without an id".to_owned(),
        };
        Failure::Malformed(format!(
            "{operation}: response body at {at}: {error} ({id})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(raw: &str) -> Result<u64, String> {
        parse(raw).map_err(|e| e.to_string())
    }

    fn object(json: &str) -> RawObject {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn integers_and_decimal_strings_are_exact() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("245678"), Ok(245_678));
        assert_eq!(size(r#""245678""#), Ok(245_678));
        assert_eq!(size(r#""0""#), Ok(0));
        assert_eq!(size(r#""-0""#), Ok(0));
        assert_eq!(size(r#""9007199254740993""#), Ok(9_007_199_254_740_993));
        assert_eq!(size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(size(r#""18446744073709551615""#), Ok(u64::MAX));
    }

    #[test]
    fn everything_else_says_why() {
        let cases = [
            ("-1", "file_size is negative (-1)"),
            (r#""-1""#, "file_size is negative (-1)"),
            (
                r#""12kb""#,
                r#"file_size "12kb" is not a non-negative decimal integer"#,
            ),
            (
                r#""007""#,
                r#"file_size "007" is not a non-negative decimal integer"#,
            ),
            (
                r#""+5""#,
                r#"file_size "+5" is not a non-negative decimal integer"#,
            ),
            (
                r#""""#,
                r#"file_size "" is not a non-negative decimal integer"#,
            ),
            (
                r#""18446744073709551616""#,
                "file_size 18446744073709551616 exceeds 18446744073709551615",
            ),
            (
                "18446744073709551616",
                "file_size 18446744073709551616 is not an integer from 0 to 18446744073709551615",
            ),
            (
                "1.5",
                "file_size 1.5 is not an integer from 0 to 18446744073709551615",
            ),
            (
                "1e3",
                "file_size 1e3 is not an integer from 0 to 18446744073709551615",
            ),
            (
                "null",
                "file_size is null, expected a non-negative integer or a string of decimal digits",
            ),
            ("true", "file_size is a boolean, expected"),
            ("[1]", "file_size is an array, expected"),
        ];
        for (raw, expected) in cases {
            let err = size(raw).expect_err(raw);
            assert!(err.starts_with(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn normalize_rewrites_in_place_and_keeps_everything_else() {
        let mut item =
            object(r#"{"id":"stor_1","file_size":"42","zeta":1,"alpha":{"b":2,"a":1.50}}"#);
        normalize(&mut item).unwrap();
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"id":"stor_1","file_size":42,"zeta":1,"alpha":{"b":2,"a":1.50}}"#
        );
    }

    #[test]
    fn failures_name_the_operation_path_and_item() {
        let mut item = object(r#"{"id": "stor_9", "file_size": "12kb"}"#);
        let failure = normalize_at("listTaskRunStorage", "data[3]", &mut item).unwrap_err();
        assert_eq!(
            failure.message().unwrap(),
            r#"listTaskRunStorage: response body at data[3].file_size: file_size "12kb" is not a non-negative decimal integer (storage item stor_9)"#
        );
        let mut item = object(r#"{"object": "storage"}"#);
        let failure = normalize_at("getStorageItem", "", &mut item).unwrap_err();
        assert_eq!(
            failure.message().unwrap(),
            "getStorageItem: response body at file_size: file_size is missing (a storage item without an id)"
        );
    }
}
