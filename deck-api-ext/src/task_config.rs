//! Storage configuration on tasks: [`StorageConfig`], a typed builder for the task's
//! `storage {enabled, extraction, extraction_schema, deduplication}` object, which the generated
//! `CreateTaskRequest` / `UpdateTaskRequest` builders take directly.
//!
//! ```
//! use deck_api_ext::task_config::StorageConfig;
//! use deck_api_ext::api::types::CreateTaskRequest;
//!
//! let request = CreateTaskRequest::builder()
//!     .name("Fetch utility bills")
//!     .agent_id("agt_a1b2c3d4")
//!     .storage(StorageConfig::enabled().extraction(true).deduplication(true));
//! let request: CreateTaskRequest = request.try_into().unwrap();
//! assert_eq!(request.storage.unwrap().enabled, Some(true));
//! ```
//!
//! With the `schema` feature, [`StorageConfig::extraction_schema_for`] derives the
//! `extraction_schema` from a Rust type (schemars 1), in the plain form Deck's Storage guide
//! shows: `type`, `properties` and `items` inline, field doc comments as `description`s, standard
//! `format`s only (`date`, `date-time`, ...), and no `$schema`, `title`, `$defs` or `$ref`, which
//! an extraction service may not resolve. The same type then decodes the extraction
//! ([`StorageItem::extraction_as`](crate::storage::StorageItem::extraction_as)).
//!
//! Captured files are kept for 90 days at most.

use deck_api::types;
use serde::{Deserialize, Serialize};

/// A task's storage configuration: whether files are captured, extracted and deduplicated, and
/// the schema guiding extraction.
///
/// Build one with [`StorageConfig::enabled`] (or [`disabled`](StorageConfig::disabled)) and pass
/// it to the generated `CreateTaskRequest`/`UpdateTaskRequest` builders' `.storage(..)`, or
/// convert it with `types::StorageConfig::from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StorageConfig {
    /// Capture files produced during task execution.
    pub enabled: bool,
    /// Parse captured files and extract structured data; `None` leaves Deck's default (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction: Option<bool>,
    /// Skip files already stored by a previous run of the same task and connection; `None`
    /// leaves Deck's default (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplication: Option<bool>,
    /// A JSON Schema describing the fields to extract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction_schema: Option<serde_json::Value>,
}

impl StorageConfig {
    /// Storage on: Deck captures the files the agent is instructed to collect.
    pub fn enabled() -> Self {
        StorageConfig {
            enabled: true,
            extraction: None,
            deduplication: None,
            extraction_schema: None,
        }
    }

    /// Storage off.
    pub fn disabled() -> Self {
        StorageConfig {
            enabled: false,
            ..StorageConfig::enabled()
        }
    }

    /// Whether Deck also extracts structured data from captured files.
    pub fn extraction(mut self, on: bool) -> Self {
        self.extraction = Some(on);
        self
    }

    /// Whether files already stored by a previous run (same task and connection) are skipped.
    pub fn deduplication(mut self, on: bool) -> Self {
        self.deduplication = Some(on);
        self
    }

    /// The JSON Schema that guides extraction, e.g. the Storage guide's
    /// `{"type": "object", "properties": {"vendor_name": {"type": "string"}, ...}}`.
    pub fn extraction_schema(mut self, schema: serde_json::Value) -> Self {
        self.extraction_schema = Some(schema);
        self
    }

    /// The extraction schema derived from `T` (see [`extraction_schema_for`]). Fails only for
    /// types whose schema cannot be written inline (recursive types).
    #[cfg(feature = "schema")]
    pub fn extraction_schema_for<T: schemars::JsonSchema>(self) -> Result<Self, SchemaError> {
        Ok(self.extraction_schema(extraction_schema_for::<T>()?))
    }
}

impl From<StorageConfig> for types::StorageConfig {
    fn from(config: StorageConfig) -> Self {
        let built = types::StorageConfig::builder()
            .enabled(Some(config.enabled))
            .extraction(config.extraction)
            .deduplication(config.deduplication)
            .extraction_schema(config.extraction_schema.map(types::JsonElement::from));
        // Every field is optional and set from a value of its own type: this cannot fail.
        types::StorageConfig::try_from(built).expect("all storage fields are optional")
    }
}

/// Lets the generated builders take a [`StorageConfig`] directly:
/// `CreateTaskRequest::builder().storage(StorageConfig::enabled())`.
impl From<StorageConfig> for Option<types::StorageConfig> {
    fn from(config: StorageConfig) -> Self {
        Some(config.into())
    }
}

/// Lets the generated update builder take a [`StorageConfig`] directly, as a value to set:
/// `UpdateTaskRequest::builder().storage(StorageConfig::enabled())` (its `storage` is a
/// [`Patch`](deck_api::patch::Patch), which can also be `Patch::Clear`).
impl From<StorageConfig> for deck_api::patch::Patch<types::StorageConfig> {
    fn from(config: StorageConfig) -> Self {
        deck_api::patch::Patch::Set(config.into())
    }
}

impl From<types::StorageConfig> for StorageConfig {
    /// Reads a task's configuration (e.g. `GetTaskResponse::storage`); an absent `enabled` reads
    /// as off.
    fn from(config: types::StorageConfig) -> Self {
        StorageConfig {
            enabled: config.enabled.unwrap_or(false),
            extraction: config.extraction,
            deduplication: config.deduplication,
            extraction_schema: config.extraction_schema.map(serde_json::Value::from),
        }
    }
}

/// Why a type's schema cannot be used as an `extraction_schema`.
#[cfg(feature = "schema")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    type_name: String,
    message: String,
}

#[cfg(feature = "schema")]
impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "extraction schema for {}: {}",
            self.type_name, self.message
        )
    }
}

#[cfg(feature = "schema")]
impl std::error::Error for SchemaError {}

/// The extraction schema for `T`: JSON Schema with every definition inlined.
///
/// Generated with schemars 1 (2020-12 settings, subschemas inlined), then simplified to the form
/// Deck's Storage guide shows: the root's `$schema` and `title` are dropped, and non-standard
/// `format`s (`double`, `uint32`, ...) are removed while `date`, `date-time`, `email`, ... are
/// kept. Doc comments become `description`s, which help the extractor. Use
/// `#[schemars(extend("format" = "date"))]` on a `String` field for a date.
///
/// Fails for recursive types, whose schema needs a `$ref`.
#[cfg(feature = "schema")]
pub fn extraction_schema_for<T: schemars::JsonSchema>() -> Result<serde_json::Value, SchemaError> {
    use schemars::generate::SchemaSettings;
    use schemars::transform::RestrictFormats;

    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .with_transform(RestrictFormats::default())
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.remove("$schema");
        root.remove("title");
    }
    if let Some(path) = find_reference(&schema, String::new()) {
        return Err(SchemaError {
            type_name: T::schema_name().into_owned(),
            message: format!(
                "the schema needs a reference at {path} (a recursive type?); Deck's extraction schemas must be inline"
            ),
        });
    }
    Ok(schema)
}

/// The JSON pointer of the first `$ref` or `$defs` in `value`, if any.
#[cfg(feature = "schema")]
fn find_reference(value: &serde_json::Value, at: String) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => map.iter().find_map(|(key, child)| {
            let here = format!("{at}/{key}");
            if key == "$ref" || key == "$defs" || key == "definitions" {
                Some(here)
            } else {
                find_reference(child, here)
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| find_reference(child, format!("{at}/{i}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_builder_produces_the_guides_body() {
        let config = StorageConfig::enabled()
            .extraction(true)
            .deduplication(true);
        let request: types::CreateTaskRequest = types::CreateTaskRequest::builder()
            .name("Fetch utility bills")
            .agent_id("agt_a1b2c3d4")
            .storage(config)
            .try_into()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&request).unwrap()["storage"],
            json!({"enabled": true, "extraction": true, "deduplication": true})
        );
    }

    #[test]
    fn an_explicit_schema_is_sent_as_is() {
        let schema = json!({"type": "object", "properties": {"vendor_name": {"type": "string"}}});
        let request: types::UpdateTaskRequest = types::UpdateTaskRequest::builder()
            .storage(
                StorageConfig::enabled()
                    .extraction(true)
                    .extraction_schema(schema.clone()),
            )
            .try_into()
            .unwrap();
        let body = serde_json::to_value(&request).unwrap();
        assert_eq!(body["storage"]["extraction_schema"], schema);
        assert!(
            body["storage"].get("deduplication").is_none(),
            "unset fields are not sent"
        );
        assert!(body.get("name").is_none());
    }

    #[test]
    fn reads_back_a_tasks_configuration() {
        let api: types::StorageConfig =
            serde_json::from_value(json!({"enabled": true, "extraction": false})).unwrap();
        let config = StorageConfig::from(api);
        assert_eq!(config, StorageConfig::enabled().extraction(false));
        assert_eq!(config.deduplication, None, "absent stays absent");
        assert!(!StorageConfig::disabled().enabled);
    }

    #[cfg(feature = "schema")]
    #[test]
    fn recursive_types_are_rejected_with_the_place() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Node {
            children: Vec<Node>,
        }
        let err = extraction_schema_for::<Node>().unwrap_err();
        assert!(err.to_string().starts_with("extraction schema for Node: the schema needs a reference at /properties/children/items/$ref"), "{err}");
    }
}
