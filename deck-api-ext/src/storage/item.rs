//! [`StorageItem`]: a file captured by a task run, as users see it.
//!
//! One type decodes both shapes Deck documents:
//!
//! - the API reference's item: `object: "storage"`, with `purpose` and `result`;
//! - the Storage guide's example: `object: "storage_item"`, with `fetch_date`, `task_run_id` and a
//!   per-item `request_id`, and no `purpose` or `result`.
//!
//! Fields one shape lacks are `Option`s; unknown fields are ignored; unknown `purpose` and
//! `result` values are kept ([`Purpose::Other`], [`ExtractionResult::Other`]). `file_size` is a
//! `u64` however Deck sends it (see `storage/file_size.rs`).

use std::fmt;

use chrono::{DateTime, Utc};
use deck_api::types;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::PresignedUrl;
use super::file_size::{self, ExactSize, FileSizeError};
use crate::error::Error;
use deck_api::operation::Operation;

/// A file captured during a task run: its name, type, size, download URL and extracted data.
///
/// Files are deleted by Deck 90 days after capture (sooner on some plans). The [`url`] is
/// pre-signed and time-limited: an item listed long ago may carry an expired URL, and the
/// download functions re-fetch the item once for a fresh one.
///
/// [`url`]: StorageItem::url
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StorageItem {
    /// Unique identifier, prefixed with `stor_`.
    pub id: String,
    /// Resource type: `storage` in the API reference, `storage_item` in the Storage guide.
    #[serde(default)]
    pub object: String,
    /// Original file name as it appeared on the source. May contain anything, including path
    /// separators: sanitise it before using it as a path (bulk pulls do).
    pub file_name: String,
    /// MIME type (`application/pdf`, `image/png`, `video/mp4`, `text/csv`, ...).
    #[serde(default)]
    pub file_type: String,
    /// File size in bytes, decoded from a JSON integer or a decimal string, exact over the whole
    /// `u64` range.
    #[serde(
        deserialize_with = "file_size::deserialize",
        serialize_with = "file_size::serialize"
    )]
    pub file_size: u64,
    /// Pre-signed download URL, time-limited; `None` when Deck sends `null` (fetch the item again
    /// with `Deck::get_storage_item` for a fresh one; downloads do that themselves).
    #[serde(default)]
    pub url: Option<PresignedUrl>,
    /// Source-specific details Deck records about the file; informational, keys vary.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Structured data extracted from the file; `None` when extraction is off, not supported for
    /// the file, or failed. Decode it with [`StorageItem::extraction_as`].
    #[serde(default)]
    pub extraction: Option<serde_json::Value>,
    /// How the file relates to the run (API reference shape only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// Extraction outcome (API reference shape only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExtractionResult>,
    /// When the file was retrieved from the source (Storage guide shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_date: Option<DateTime<Utc>>,
    /// The task run that produced the file, prefixed with `trun_` (Storage guide shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_run_id: Option<String>,
    /// The request that returned this item, when Deck includes it per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// When the item was created.
    pub created_at: DateTime<Utc>,
}

impl StorageItem {
    /// An item with the given id, file name and size, for tests of code that consumes items
    /// (no server needed). The other fields are empty (`object: "storage"`, no URL, no
    /// extraction, created at the Unix epoch); set the public fields you need.
    ///
    /// ```
    /// use deck_api_ext::storage::{PresignedUrl, StorageItem};
    ///
    /// let mut item = StorageItem::new("stor_1", "bill.pdf", 245_678);
    /// item.file_type = "application/pdf".into();
    /// item.url = Some(PresignedUrl::new("https://files.example.com/bill.pdf?sig=1"));
    /// assert_eq!(item.file_size, 245_678);
    /// ```
    pub fn new(id: impl Into<String>, file_name: impl Into<String>, file_size: u64) -> Self {
        StorageItem {
            id: id.into(),
            object: "storage".into(),
            file_name: file_name.into(),
            file_type: String::new(),
            file_size,
            url: None,
            metadata: None,
            extraction: None,
            purpose: None,
            result: None,
            fetch_date: None,
            task_run_id: None,
            request_id: None,
            created_at: DateTime::UNIX_EPOCH,
        }
    }
}

/// Defines an open string enum: known variants plus `Other(String)` for values this version does
/// not know, which round-trip unchanged.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $text => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok($name::from(text.as_ref()))
            }
        }
    };
}

open_enum! {
    /// How a file relates to its task run.
    Purpose {
        /// A file you provided as task input for the agent to use.
        Attachment = "attachment",
        /// A file you provided as task input that Deck extracts data from directly.
        Extraction = "extraction",
        /// A file the agent captured during the run.
        Output = "output",
    }
}

open_enum! {
    /// The extraction outcome of a file.
    ExtractionResult {
        /// Extraction succeeded, or the file had no extraction.
        Success = "success",
        /// The file's data could not be extracted; the raw file is still downloadable.
        Failure = "failure",
    }
}

/// The confirmation Deck returns when a storage item is deleted. Deletion is permanent: the file
/// and its extracted data cannot be recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeletedStorageItem {
    /// The id of the deleted item.
    pub id: String,
    /// Resource type (`storage_item` in the Storage guide).
    #[serde(default)]
    pub object: String,
    /// `true` when the item was removed.
    pub deleted: bool,
    /// The request id, for Deck support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl From<types::DeleteStorageItemResponse> for DeletedStorageItem {
    fn from(value: types::DeleteStorageItemResponse) -> Self {
        DeletedStorageItem {
            id: value.id,
            object: value.object,
            deleted: value.deleted,
            request_id: value.request_id,
        }
    }
}

/// The error of converting a generated size union: names the operation, `file_size` and the item.
fn size_error(operation: &str, storage_id: &str, error: FileSizeError) -> Error {
    Error::decode(
        operation,
        "file_size".to_owned(),
        format!("{error} (storage item {storage_id})"),
        None,
    )
}

/// The one conversion of the generated size union (see [`ExactSize`]).
fn exact_size(
    operation: &str,
    storage_id: &str,
    size: &types::Int64OrString,
) -> Result<u64, Error> {
    size.exact_u64()
        .map_err(|e| size_error(operation, storage_id, e))
}

fn non_null(value: serde_json::Value) -> Option<serde_json::Value> {
    (!value.is_null()).then_some(value)
}

/// `TryFrom` a generated full storage item: the list and get responses carry the same fields.
macro_rules! from_generated_item {
    ($ty:ident, $builder:ident, $doc:literal) => {
        impl TryFrom<types::$ty> for StorageItem {
            type Error = Error;

            #[doc = $doc]
            /// Fails (a decode error naming `file_size` and the item) for a negative size.
            fn try_from(value: types::$ty) -> Result<Self, Error> {
                let operation =
                    <deck_api::builder::$builder<'static> as Operation<'static>>::OPERATION_ID;
                let file_size = exact_size(operation, &value.id, &value.file_size)?;
                Ok(StorageItem {
                    file_size,
                    id: value.id,
                    object: value.object,
                    file_name: value.file_name,
                    file_type: value.file_type,
                    url: value.url.map(PresignedUrl::new),
                    metadata: value.metadata.map(|m| m.0),
                    extraction: non_null(value.extraction),
                    purpose: value
                        .purpose
                        .and_then(|p| serde_json::to_value(p).ok())
                        .and_then(|p| p.as_str().map(Purpose::from)),
                    result: value.result.as_deref().map(ExtractionResult::from),
                    fetch_date: value.fetch_date,
                    task_run_id: value.task_run_id,
                    request_id: value.request_id,
                    created_at: value.created_at,
                })
            }
        }
    };
}

from_generated_item!(
    ListStorageItemResponse,
    ListTaskRunStorage,
    "Converts an item of the generated `listTaskRunStorage` response."
);
from_generated_item!(
    GetStorageItemResponse,
    GetStorageItem,
    "Converts the generated `getStorageItem` response."
);

impl TryFrom<types::TaskRunStorageSummary> for StorageItem {
    type Error = Error;

    /// Converts a storage entry embedded in a task run (`getTaskRun` with `include=storage`),
    /// which carries fewer fields. Fails (a decode error naming `file_size` and the item) for a
    /// negative size.
    fn try_from(value: types::TaskRunStorageSummary) -> Result<Self, Error> {
        let operation =
            <deck_api::builder::GetTaskRun<'static> as Operation<'static>>::OPERATION_ID;
        let file_size = exact_size(operation, &value.id, &value.file_size)?;
        Ok(StorageItem {
            file_size,
            id: value.id,
            object: value.object,
            file_name: value.file_name,
            file_type: value.file_type,
            url: value.url.map(PresignedUrl::new),
            metadata: None,
            extraction: value.extraction.and_then(non_null),
            purpose: None,
            result: None,
            fetch_date: None,
            task_run_id: None,
            request_id: None,
            created_at: value.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, decode_json};

    const SPEC_ITEM: &str = r#"{
        "id": "stor_1", "object": "storage", "file_name": "a.pdf", "file_type": "application/pdf",
        "file_size": "9007199254740993", "url": null, "metadata": null, "extraction": null,
        "purpose": "output", "result": "failure", "created_at": "2025-01-15T09:30:00Z"
    }"#;

    #[test]
    fn the_spec_shape_decodes() {
        let item: StorageItem = serde_json::from_str(SPEC_ITEM).unwrap();
        assert_eq!(item.object, "storage");
        assert_eq!(item.file_size, 9_007_199_254_740_993);
        assert_eq!(item.url, None);
        assert_eq!(item.metadata, None);
        assert_eq!(item.extraction, None);
        assert_eq!(item.purpose, Some(Purpose::Output));
        assert_eq!(item.result, Some(ExtractionResult::Failure));
        assert_eq!(item.fetch_date, None);
    }

    #[test]
    fn unknown_enum_values_and_fields_are_kept_or_ignored() {
        let json = SPEC_ITEM
            .replace(r#""output""#, r#""thumbnail""#)
            .replace(r#""failure""#, r#""partial""#)
            .replace(
                r#""id": "stor_1","#,
                r#""id": "stor_1", "checksum": {"sha256": "00"},"#,
            );
        let item: StorageItem = serde_json::from_str(&json).unwrap();
        assert_eq!(item.purpose, Some(Purpose::Other("thumbnail".into())));
        assert_eq!(item.result, Some(ExtractionResult::Other("partial".into())));
        let back = serde_json::to_value(&item).unwrap();
        assert_eq!(back["purpose"], "thumbnail");
        assert_eq!(back["result"], "partial");
    }

    #[test]
    fn bad_sizes_name_the_field_and_the_item() {
        let page = format!(
            r#"{{"data": [{ok}, {bad}], "has_more": false}}"#,
            ok = SPEC_ITEM,
            bad = SPEC_ITEM.replace(r#""9007199254740993""#, r#""12kb""#)
        );
        #[derive(Deserialize, Debug)]
        struct Page {
            #[allow(dead_code)]
            data: Vec<StorageItem>,
        }
        let err = decode_json::<Page>("listTaskRunStorage", page.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(err.json_path(), Some("data[1].file_size"));
        assert_eq!(
            err.to_string(),
            r#"listTaskRunStorage: response body at data[1].file_size: file_size "12kb" is not a non-negative decimal integer"#
        );
    }

    #[test]
    fn debug_output_does_not_leak_the_url_signature() {
        let json = SPEC_ITEM.replace(
            r#""url": null"#,
            r#""url": "https://storage.deck.co/stor_1?X-Amz-Signature=s3cr3t""#,
        );
        let item: StorageItem = serde_json::from_str(&json).unwrap();
        let debug = format!("{item:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("https://storage.deck.co/stor_1?<redacted>"));
    }

    fn generated_list_item(size: serde_json::Value) -> types::ListStorageItemResponse {
        let mut value: serde_json::Value = serde_json::from_str(SPEC_ITEM).unwrap();
        value["file_size"] = size;
        value["extraction"] = serde_json::json!({"total": 1});
        value["metadata"] = serde_json::json!({});
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn converts_from_the_generated_types() {
        let item = StorageItem::try_from(generated_list_item(serde_json::json!(42))).unwrap();
        assert_eq!(item.file_size, 42);
        assert_eq!(item.purpose, Some(Purpose::Output));
        assert_eq!(item.extraction, Some(serde_json::json!({"total": 1})));
        assert_eq!(item.metadata, Some(serde_json::json!({})));

        let item =
            StorageItem::try_from(generated_list_item(serde_json::json!("9007199254740993")))
                .unwrap();
        assert_eq!(item.file_size, 9_007_199_254_740_993);

        let get: types::GetStorageItemResponse = serde_json::from_str(SPEC_ITEM).unwrap();
        assert_eq!(
            StorageItem::try_from(get).unwrap().file_size,
            9_007_199_254_740_993
        );
    }

    #[test]
    fn negative_generated_sizes_are_decode_errors_naming_the_item() {
        let err = StorageItem::try_from(generated_list_item(serde_json::json!(-5))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(err.json_path(), Some("file_size"));
        assert_eq!(
            err.to_string(),
            "listTaskRunStorage: response body at file_size: file_size is negative (-5) (storage item stor_1)"
        );
    }
}
