//! The `file_size` fix: a storage item's size as a plain `u64`.
//!
//! Deck's OpenAPI document declares `file_size` as `type: [integer, string]`, `format: int64`,
//! `pattern: ^-?(?:0|[1-9]\d*)$` (.NET's "number or string" handling), so a size may arrive as
//! `245678` or as `"245678"`. The generated `deck-api` types keep that union exactly as published,
//! as one shared type, `deck_api::types::Int64OrString` (`Int64(i64) | String(..)`); this module
//! turns it into the one thing users want, a `u64` ([`ExactSize`] for the generated type, and the
//! serde visitor [`StorageItem`](super::StorageItem) decodes with, which also takes integers above
//! `i64::MAX`):
//!
//! - a JSON integer from 0 to `u64::MAX`, or a string of decimal digits in canonical form (no sign,
//!   no leading zeros, no spaces, no fraction), parsed without going through `f64`, so
//!   `"9007199254740993"` stays exact;
//! - anything else (a negative number, `"12kb"`, `"+5"`, `"007"`, `1.5`, `null`) is a decode error
//!   whose message says what was wrong. The caller's decoder adds where (`data[3].file_size`).
//!
//! A hand-written visitor rather than `serde_with::PickFirst<(_, DisplayFromStr)>`: measured with
//! serde_with 3.24, `PickFirst` accepts `"+5"` and `"007"` (which the spec's pattern forbids,
//! because `u64::from_str` allows them), reports a negative number as a two-part
//! "could not deserialize any variant" message, and buffers every value, which made decoding
//! string sizes about 4× slower (200 000 items: 89 ms against 21 ms). See `ARCHITECTURE.md`.

use std::fmt;

use deck_api::types::Int64OrString;
use serde::de::{self, Deserializer, Unexpected, Visitor};

/// The exact size held by the generated int-or-string union, by the same rules as everywhere.
///
/// ```
/// use deck_api_ext::api::types::Int64OrString;
/// use deck_api_ext::storage::ExactSize;
///
/// let size: Int64OrString = serde_json::from_str("\"9007199254740993\"").unwrap();
/// assert_eq!(size.exact_u64().unwrap(), 9_007_199_254_740_993);
/// ```
pub trait ExactSize {
    /// The size as a `u64`; a negative or non-canonical value is an error.
    fn exact_u64(&self) -> Result<u64, FileSizeError>;
}

impl ExactSize for Int64OrString {
    fn exact_u64(&self) -> Result<u64, FileSizeError> {
        match self {
            Int64OrString::Int64(n) => from_i64(*n),
            Int64OrString::String(s) => parse_decimal(s),
            // The union is `#[non_exhaustive]`: a form added later is read through its JSON.
            other => match serde_json::to_value(other) {
                Ok(serde_json::Value::Number(n)) => n
                    .as_u64()
                    .ok_or_else(|| FileSizeError::NotDecimal(n.to_string())),
                Ok(serde_json::Value::String(s)) => parse_decimal(&s),
                Ok(v) => Err(FileSizeError::NotDecimal(v.to_string())),
                Err(e) => Err(FileSizeError::NotDecimal(e.to_string())),
            },
        }
    }
}

/// Why a `file_size` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileSizeError {
    /// A negative integer (or a string holding one).
    Negative(String),
    /// A string that is not a canonical decimal integer.
    NotDecimal(String),
    /// A string of digits above `u64::MAX`.
    TooLarge(String),
}

impl fmt::Display for FileSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileSizeError::Negative(v) => write!(f, "file_size is negative ({v})"),
            FileSizeError::NotDecimal(v) => {
                write!(f, "file_size {v:?} is not a non-negative decimal integer")
            }
            FileSizeError::TooLarge(v) => write!(f, "file_size {v} exceeds u64::MAX"),
        }
    }
}

impl std::error::Error for FileSizeError {}

/// Parses a size given as a string: canonical decimal digits only (the spec's pattern without
/// the minus sign), exact over the whole `u64` range. This is the rule [`StorageItem`] decodes
/// string sizes by; tools that keep items as raw JSON (the `deck` program) reuse it.
///
/// [`StorageItem`]: super::StorageItem
pub fn parse_decimal(text: &str) -> Result<u64, FileSizeError> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if text == "-0" {
        // The spec's pattern allows it; it is zero.
        return Ok(0);
    }
    if digits(text) && (text.len() == 1 || !text.starts_with('0')) {
        return text
            .parse::<u64>()
            .map_err(|_| FileSizeError::TooLarge(text.to_owned()));
    }
    if text.strip_prefix('-').is_some_and(digits) {
        Err(FileSizeError::Negative(text.to_owned()))
    } else {
        Err(FileSizeError::NotDecimal(text.to_owned()))
    }
}

/// Converts a signed size (the generated type's `Int64` variant).
pub(crate) fn from_i64(value: i64) -> Result<u64, FileSizeError> {
    u64::try_from(value).map_err(|_| FileSizeError::Negative(value.to_string()))
}

/// `#[serde(deserialize_with = "...")]` for a `u64` that may arrive as an integer or a string.
pub(crate) fn deserialize<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(FileSizeVisitor)
}

/// `#[serde(serialize_with = "...")]` counterpart: always a JSON integer.
pub(crate) fn serialize<S>(value: &u64, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
{
    serializer.serialize_u64(*value)
}

struct FileSizeVisitor;

impl<'de> Visitor<'de> for FileSizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer or a string of decimal digits")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        Ok(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        from_i64(value).map_err(E::custom)
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<u64, E> {
        u64::try_from(value).map_err(|_| E::custom(FileSizeError::TooLarge(value.to_string())))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<u64, E> {
        if value < 0 {
            Err(E::custom(FileSizeError::Negative(value.to_string())))
        } else {
            self.visit_u128(value.unsigned_abs())
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
        // serde_json hands integers above u64::MAX (and any number with a fraction or exponent)
        // over as f64; a size is never one of those.
        Err(E::invalid_value(Unexpected::Float(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<u64, E> {
        parse_decimal(value).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Holder {
        #[serde(deserialize_with = "deserialize")]
        file_size: u64,
    }

    fn decode(raw: &str) -> Result<u64, String> {
        serde_json::from_str::<Holder>(&format!(r#"{{"file_size": {raw}}}"#))
            .map(|h| h.file_size)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_and_strings_decode_exactly() {
        assert_eq!(decode("0"), Ok(0));
        assert_eq!(decode("245678"), Ok(245_678));
        assert_eq!(decode(r#""245678""#), Ok(245_678));
        assert_eq!(decode(r#""0""#), Ok(0));
        assert_eq!(decode(r#""-0""#), Ok(0));
        // Above 2^53: an f64 round trip would give ...992.
        assert_eq!(decode(r#""9007199254740993""#), Ok(9_007_199_254_740_993));
        assert_eq!(decode("9007199254740993"), Ok(9_007_199_254_740_993));
        assert_eq!(decode("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(decode(r#""18446744073709551615""#), Ok(u64::MAX));
    }

    #[test]
    fn invalid_sizes_are_errors_that_say_why() {
        let cases = [
            ("-1", "file_size is negative (-1)"),
            (r#""-1""#, "file_size is negative (-1)"),
            (
                r#""12kb""#,
                r#"file_size "12kb" is not a non-negative decimal integer"#,
            ),
            (
                r#""+5""#,
                r#"file_size "+5" is not a non-negative decimal integer"#,
            ),
            (
                r#"" 5""#,
                r#"file_size " 5" is not a non-negative decimal integer"#,
            ),
            (
                r#""1.0""#,
                r#"file_size "1.0" is not a non-negative decimal integer"#,
            ),
            (
                r#""007""#,
                r#"file_size "007" is not a non-negative decimal integer"#,
            ),
            (
                r#""""#,
                r#"file_size "" is not a non-negative decimal integer"#,
            ),
            (
                r#""-""#,
                r#"file_size "-" is not a non-negative decimal integer"#,
            ),
            (
                r#""18446744073709551616""#,
                "file_size 18446744073709551616 exceeds u64::MAX",
            ),
            (
                "1.5",
                "invalid value: floating point `1.5`, expected a non-negative integer",
            ),
            ("18446744073709551616", "invalid value: floating point"),
            (
                "null",
                "invalid type: null, expected a non-negative integer",
            ),
            ("true", "invalid type: boolean `true`"),
        ];
        for (raw, expected) in cases {
            let err = decode(raw).expect_err(raw);
            assert!(err.contains(expected), "{raw}: {err}");
        }
    }

    #[test]
    fn conversions_from_the_generated_union() {
        assert_eq!(from_i64(7), Ok(7));
        assert_eq!(from_i64(i64::MAX), Ok(i64::MAX as u64));
        assert_eq!(from_i64(-3), Err(FileSizeError::Negative("-3".into())));
        assert_eq!(
            parse_decimal("12kb"),
            Err(FileSizeError::NotDecimal("12kb".into()))
        );
    }

    proptest::proptest! {
        #[test]
        fn every_u64_round_trips_as_integer_and_string(n: u64) {
            let quoted = format!("\"{}\"", n);
            proptest::prop_assert_eq!(decode(&n.to_string()), Ok(n));
            proptest::prop_assert_eq!(decode(&quoted), Ok(n));
        }

        #[test]
        fn every_negative_i64_is_rejected(n in i64::MIN..0) {
            let quoted = format!("\"{}\"", n);
            proptest::prop_assert!(decode(&n.to_string()).is_err());
            proptest::prop_assert!(decode(&quoted).is_err());
        }
    }
}
