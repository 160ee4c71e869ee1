//! Typed extraction: decode a storage item's `extraction` into your own type.
//!
//! When a task has `storage.extraction` enabled, Deck parses captured files and puts structured
//! JSON in each item's `extraction` field. Its shape depends on the document (a utility bill gives
//! other fields than a hotel receipt) and on the task's `extraction_schema`
//! ([`StorageConfig`](crate::task_config::StorageConfig)). Define a type for the fields you asked
//! for and decode with [`StorageItem::extraction_as`]:
//!
//! ```
//! use deck_api_ext::extraction::Extraction;
//! use deck_api_ext::storage::StorageItem;
//!
//! #[derive(serde::Deserialize)]
//! struct Statement {
//!     company_name: String,
//!     amount_due: f64,
//! }
//!
//! # fn demo(item: &StorageItem) -> Result<(), deck_api_ext::extraction::ExtractionError> {
//! match item.extraction_as::<Statement>()? {
//!     Extraction::Decoded(s) => println!("{} owes {}", s.company_name, s.amount_due),
//!     Extraction::Missing(reason) => println!("no data: {reason}"),
//! }
//! # Ok(()) }
//! ```
//!
//! "No extraction" and "extraction that does not match your type" are different outcomes: the
//! first is [`Extraction::Missing`] (extraction off, unsupported file, or failed: the raw file is
//! still downloadable), the second an [`ExtractionError`] naming the JSON path that did not fit.
//!
//! Extraction failures also surface as error codes ([`ExtractionErrorCode`]): `extraction_failed`
//! (the file could not be parsed) and `extraction_timeout` (extraction took too long).

use std::fmt;

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::storage::{ExtractionResult, StorageItem};

/// The error code Deck uses when a file could not be parsed (corrupt, unsupported layout or
/// unreadable content).
pub const EXTRACTION_FAILED: &str = "extraction_failed";

/// The error code Deck uses when extraction took too long.
pub const EXTRACTION_TIMEOUT: &str = "extraction_timeout";

/// The outcome of decoding an item's extraction as `T`.
#[derive(Debug, Clone, PartialEq)]
pub enum Extraction<T> {
    /// The extraction, decoded.
    Decoded(T),
    /// The item has no extraction; the reason says why.
    Missing(MissingReason),
}

impl<T> Extraction<T> {
    /// The decoded value, if any.
    pub fn decoded(self) -> Option<T> {
        match self {
            Extraction::Decoded(value) => Some(value),
            Extraction::Missing(_) => None,
        }
    }

    /// Whether a value was decoded.
    pub fn is_decoded(&self) -> bool {
        matches!(self, Extraction::Decoded(_))
    }
}

/// Why an item has no extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissingReason {
    /// `extraction` is `null` (or absent): extraction is off for the task, the file type is not
    /// supported, or extraction failed and Deck did not report a `result`.
    NotExtracted,
    /// The item's `result` is `failure`: Deck could not extract the file's data.
    Failed,
}

impl fmt::Display for MissingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MissingReason::NotExtracted => "no extraction (extraction off, unsupported or failed)",
            MissingReason::Failed => "extraction failed",
        })
    }
}

/// An item's extraction did not decode as the requested type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractionError {
    storage_id: String,
    path: String,
    message: String,
}

impl ExtractionError {
    /// The storage item whose extraction did not decode.
    pub fn storage_id(&self) -> &str {
        &self.storage_id
    }

    /// The JSON path inside the extraction that did not fit, e.g. `billing_period.total_days`
    /// (`.` for the root).
    pub fn json_path(&self) -> &str {
        &self.path
    }

    /// What was wrong there, e.g. `invalid type: string "33", expected u32`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ExtractionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "extraction of storage item {} at {}: {}",
            self.storage_id, self.path, self.message
        )
    }
}

impl std::error::Error for ExtractionError {}

impl From<ExtractionError> for Error {
    /// A [`Decode`](crate::ErrorKind::Decode) error with the path inside the extraction.
    fn from(error: ExtractionError) -> Self {
        let path = match error.path.as_str() {
            "." => "extraction".to_owned(),
            index if index.starts_with('[') => format!("extraction{index}"),
            field => format!("extraction.{field}"),
        };
        Error::decode(
            "extraction",
            path,
            format!("{} (storage item {})", error.message, error.storage_id),
            None,
        )
    }
}

impl StorageItem {
    /// Decodes this item's `extraction` as `T`.
    ///
    /// Returns [`Extraction::Missing`] when there is nothing to decode (`result: failure`, or a
    /// `null` extraction), and an [`ExtractionError`] naming the JSON path when the extraction
    /// does not fit `T`. Fields of the extraction that `T` does not declare are ignored (unless
    /// `T` denies unknown fields), so new fields from Deck do not break decoding.
    pub fn extraction_as<T: DeserializeOwned>(&self) -> Result<Extraction<T>, ExtractionError> {
        if self.result == Some(ExtractionResult::Failure) {
            return Ok(Extraction::Missing(MissingReason::Failed));
        }
        match &self.extraction {
            None | Some(serde_json::Value::Null) => {
                Ok(Extraction::Missing(MissingReason::NotExtracted))
            }
            Some(value) => decode(value)
                .map(Extraction::Decoded)
                .map_err(|(path, message)| ExtractionError {
                    storage_id: self.id.clone(),
                    path,
                    message,
                }),
        }
    }
}

/// Decodes `value` as `T`, returning the failing path and message.
fn decode<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| (e.path().to_string(), e.inner().to_string()))
}

/// The extraction error codes Deck documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtractionErrorCode {
    /// `extraction_failed`: the file could not be parsed (corrupt, unsupported layout or
    /// unreadable content). The raw file is still available.
    Failed,
    /// `extraction_timeout`: extraction took too long.
    Timeout,
}

impl ExtractionErrorCode {
    /// Recognises `code`; `None` for any other code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            EXTRACTION_FAILED => Some(ExtractionErrorCode::Failed),
            EXTRACTION_TIMEOUT => Some(ExtractionErrorCode::Timeout),
            _ => None,
        }
    }

    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtractionErrorCode::Failed => EXTRACTION_FAILED,
            ExtractionErrorCode::Timeout => EXTRACTION_TIMEOUT,
        }
    }

    /// The first extraction code among the entries of an API error's `errors` array.
    pub fn of_error(error: &Error) -> Option<Self> {
        error.errors().iter().find_map(|e| Self::from_code(&e.code))
    }

    /// The first extraction code among a task run's `errors`.
    pub fn of_run_errors(errors: &[deck_api::types::TaskRunError]) -> Option<Self> {
        errors.iter().find_map(|e| Self::from_code(&e.code))
    }
}

impl fmt::Display for ExtractionErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Bill {
        company_name: String,
        period: Period,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Period {
        total_days: u32,
    }

    fn item(extraction: serde_json::Value, result: Option<&str>) -> StorageItem {
        let mut value = json!({
            "id": "stor_1", "object": "storage", "file_name": "a.pdf",
            "file_type": "application/pdf", "file_size": 1, "url": null, "metadata": null,
            "extraction": extraction, "created_at": "2025-01-15T09:30:00Z"
        });
        if let Some(result) = result {
            value["result"] = json!(result);
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn decodes_into_the_callers_type_ignoring_extra_fields() {
        let item = item(
            json!({"company_name": "EnergyLink", "period": {"total_days": 33}, "new": 1}),
            Some("success"),
        );
        assert_eq!(
            item.extraction_as::<Bill>().unwrap(),
            Extraction::Decoded(Bill {
                company_name: "EnergyLink".into(),
                period: Period { total_days: 33 }
            })
        );
    }

    #[test]
    fn missing_extraction_is_not_an_error() {
        assert_eq!(
            item(json!(null), None).extraction_as::<Bill>().unwrap(),
            Extraction::Missing(MissingReason::NotExtracted)
        );
        assert_eq!(
            item(json!(null), Some("failure"))
                .extraction_as::<Bill>()
                .unwrap(),
            Extraction::Missing(MissingReason::Failed)
        );
        // An unknown result with data still decodes.
        assert!(
            item(
                json!({"company_name": "x", "period": {"total_days": 1}}),
                Some("partial")
            )
            .extraction_as::<Bill>()
            .unwrap()
            .is_decoded()
        );
    }

    #[test]
    fn decode_failures_carry_the_json_path() {
        let err = item(
            json!({"company_name": "EnergyLink", "period": {"total_days": "33"}}),
            None,
        )
        .extraction_as::<Bill>()
        .unwrap_err();
        assert_eq!(err.storage_id(), "stor_1");
        assert_eq!(err.json_path(), "period.total_days");
        assert_eq!(
            err.to_string(),
            r#"extraction of storage item stor_1 at period.total_days: invalid type: string "33", expected u32"#
        );
        let err = Error::from(err);
        assert_eq!(err.json_path(), Some("extraction.period.total_days"));
        assert_eq!(err.kind(), crate::ErrorKind::Decode);
    }

    #[test]
    fn a_root_mismatch_names_the_root() {
        let err = item(json!("text"), None)
            .extraction_as::<Bill>()
            .unwrap_err();
        assert_eq!(err.json_path(), ".");
        assert_eq!(Error::from(err).json_path(), Some("extraction"));
        let err = item(json!([1, 2]), None)
            .extraction_as::<Bill>()
            .unwrap_err();
        assert_eq!(err.json_path(), "[0]");
        assert_eq!(Error::from(err).json_path(), Some("extraction[0]"));
    }

    #[test]
    fn recognises_the_extraction_error_codes() {
        assert_eq!(
            ExtractionErrorCode::from_code("extraction_failed"),
            Some(ExtractionErrorCode::Failed)
        );
        assert_eq!(
            ExtractionErrorCode::from_code("extraction_timeout"),
            Some(ExtractionErrorCode::Timeout)
        );
        assert_eq!(ExtractionErrorCode::from_code("timeout"), None);
        let errors: Vec<deck_api::types::TaskRunError> = serde_json::from_value(json!([
            {"type": "task", "code": "timeout", "message": "slow"},
            {"type": "storage", "code": "extraction_timeout", "message": "Extraction took too long"}
        ]))
        .unwrap();
        assert_eq!(
            ExtractionErrorCode::of_run_errors(&errors),
            Some(ExtractionErrorCode::Timeout)
        );
        let api = Error::from_parts(
            "getStorageItem",
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            &reqwest::header::HeaderMap::new(),
            br#"{"errors":[{"type":"storage","code":"extraction_failed","message":"bad"}],"request_id":"req_1"}"#,
        );
        assert_eq!(
            ExtractionErrorCode::of_error(&api),
            Some(ExtractionErrorCode::Failed)
        );
        assert_eq!(ExtractionErrorCode::Failed.to_string(), "extraction_failed");
    }
}
