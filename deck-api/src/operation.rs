//! Hand-written: the traits `cargo xtask regen` implements for every generated builder.
//!
//! Each builder in [`crate::builder`] implements [`Operation`] (its operationId as the spec spells
//! it, method, path template, response type, where its bodies hold secrets, and a way to build
//! its request without sending it); builders of cursor lists also implement [`List`]. The implementations are emitted by the
//! xtask from the spec, never written per operation; `deck-api-ext` builds its typed `.call()`
//! and `.paginate()` on them.

use serde::de::DeserializeOwned;

pub use crate::sensitive::SensitivePaths;

/// What a successful response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody {
    /// A JSON document decoded into [`Operation::Response`].
    Json,
    /// Nothing (`Response = ()`).
    Empty,
}

/// One generated operation, ready to be sent.
pub trait Operation<'a>: Sized + Send + 'a {
    /// The spec's operationId, as written there (`getStorageItem`).
    const OPERATION_ID: &'static str;
    /// The HTTP method.
    const METHOD: reqwest::Method;
    /// The path template under the base URL (`/storage/{storage_id}`).
    const PATH: &'static str;
    /// What a success carries.
    const BODY: ResponseBody;
    /// Where the request and response bodies hold secrets (`x-deck-sensitive` in the spec),
    /// whose values must stay out of errors and traces; [`SensitivePaths::NONE`] for most.
    const SENSITIVE_PATHS: SensitivePaths;
    /// The success body's type.
    type Response: DeserializeOwned + Send + 'static;
    /// The client this builder was made from.
    fn client(&self) -> &'a crate::Client;
    /// Checks every parameter and builds the request, without sending it.
    // progenitor's own error type, as its generated code returns it; built once per call.
    #[allow(clippy::result_large_err)]
    fn into_request(self) -> Result<reqwest::Request, progenitor_client::Error>;
}

/// A cursor list: query parameters `limit` and `cursor`, success body
/// `{data: [Item], has_more, next_cursor}`.
pub trait List<'a>: Operation<'a> {
    /// One element of `data`.
    type Item: DeserializeOwned + Send + 'static;
    /// The page-size query parameter.
    const LIMIT_PARAM: &'static str;
    /// The cursor query parameter.
    const CURSOR_PARAM: &'static str;
    /// The bounds of the page size, when the spec gives them.
    const LIMIT_RANGE: Option<(i64, i64)>;
}

/// One row of [`crate::OPERATIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationMeta {
    /// The spec's operationId.
    pub id: &'static str,
    /// progenitor's snake_case id (what `OperationInfo` carries).
    pub progenitor_id: &'static str,
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
    /// Whether the builder implements [`List`].
    pub list: bool,
    /// Where its bodies hold secrets (as [`Operation::SENSITIVE_PATHS`]).
    pub sensitive: SensitivePaths,
}

/// The spec's operationId for progenitor's snake_case id, when the operation exists.
pub fn spec_operation_id(progenitor_id: &str) -> Option<&'static str> {
    crate::OPERATIONS
        .iter()
        .find(|o| o.progenitor_id == progenitor_id)
        .map(|o| o.id)
}

/// The rule every path parameter of every operation passes before its URL is built (called by
/// the generated `build_request`): not empty, and not a dot segment (`.` or `..`, also
/// percent-encoded as `%2e`), which a URL parser would resolve into another endpoint
/// (`DELETE /storage/..` would become `DELETE /`).
pub fn check_path_param(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("path parameter `{name}` must not be empty"));
    }
    let decoded = value.to_ascii_lowercase().replace("%2e", ".");
    if decoded == "." || decoded == ".." {
        return Err(format!(
            "path parameter `{name}` must not be a dot segment (`.` or `..`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_path_param;

    #[test]
    fn dot_segments_and_empty_values_are_refused() {
        for bad in ["", ".", "..", "%2e", "%2E%2e", ".%2E"] {
            let err = check_path_param("run_id", bad).unwrap_err();
            assert!(err.contains("`run_id`"), "{err}");
        }
        for good in ["trun_1", "...", "a.b", ".hidden", "%2e%2e%2e"] {
            assert!(check_path_param("run_id", good).is_ok(), "{good}");
        }
    }
}
