//! Hand-written: the three states of a field in an update (`PATCH`) body.
//!
//! Deck's update bodies distinguish a field left out ("leave it as it is") from a field sent as
//! `null` ("remove it": a credential's `external_id` mapping, an agent's description). An
//! `Option<T>` omitted when `None` can only say the first, so `cargo xtask regen` gives every
//! optional, nullable property of a `PATCH` request body the type [`Patch<T>`] instead (a rule
//! over the spec, `xtask/src/patch_fields.rs`):
//!
//! | value | sent as |
//! |---|---|
//! | [`Patch::Unchanged`] (the default) | nothing: the key is left out |
//! | [`Patch::Clear`] | `null` |
//! | [`Patch::Set(v)`](Patch::Set) | `v` |
//!
//! ```
//! use deck_api::patch::Patch;
//! use deck_api::types::UpdateTaskRequest;
//!
//! let body: UpdateTaskRequest = UpdateTaskRequest::builder()
//!     .name("Fetch invoices") // Set
//!     .prompt(Patch::Clear) // null
//!     .try_into()
//!     .unwrap();
//! assert_eq!(
//!     serde_json::to_string(&body).unwrap(),
//!     r#"{"name":"Fetch invoices","prompt":null}"#
//! );
//! ```
//!
//! Reading such a body back, a missing key is `Unchanged` and `null` is `Clear` (the generated
//! field carries `#[serde(default)]`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A field of an update body: leave it [`Unchanged`](Patch::Unchanged) (omitted, the default),
/// [`Clear`](Patch::Clear) it (`null`), or [`Set`](Patch::Set) it. See the [module
/// documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Patch<T> {
    /// Leave the field as it is: the key is not sent.
    Unchanged,
    /// Remove the field's value: sent as `null`.
    Clear,
    /// Give the field this value.
    Set(T),
}

impl<T> Patch<T> {
    /// Whether this is [`Patch::Unchanged`] (what the generated field's
    /// `skip_serializing_if` asks).
    pub fn is_unchanged(&self) -> bool {
        matches!(self, Patch::Unchanged)
    }

    /// Whether this is [`Patch::Clear`].
    pub fn is_clear(&self) -> bool {
        matches!(self, Patch::Clear)
    }

    /// Whether this is [`Patch::Set`].
    pub fn is_set(&self) -> bool {
        matches!(self, Patch::Set(_))
    }

    /// The same state, borrowing the value.
    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Unchanged => Patch::Unchanged,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(value),
        }
    }

    /// The same state with `f` applied to a set value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Unchanged => Patch::Unchanged,
            Patch::Clear => Patch::Clear,
            Patch::Set(value) => Patch::Set(f(value)),
        }
    }

    /// The state as nested options: `None` (unchanged), `Some(None)` (clear), `Some(Some(v))`
    /// (set).
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Patch::Unchanged => None,
            Patch::Clear => Some(None),
            Patch::Set(value) => Some(Some(value)),
        }
    }
}

impl<T> Default for Patch<T> {
    /// [`Patch::Unchanged`].
    fn default() -> Self {
        Patch::Unchanged
    }
}

impl<T> From<T> for Patch<T> {
    /// [`Patch::Set`].
    fn from(value: T) -> Self {
        Patch::Set(value)
    }
}

impl From<&str> for Patch<String> {
    /// [`Patch::Set`] with the string.
    fn from(value: &str) -> Self {
        Patch::Set(value.to_owned())
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    /// `Set(v)` as `v`, `Clear` as `null`. `Unchanged` is skipped by the generated field's
    /// `skip_serializing_if`; serialised anywhere else it is `null` too.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(value) => value.serialize(serializer),
            Patch::Clear | Patch::Unchanged => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// `null` as `Clear`, any other value as `Set`; a missing key is `Unchanged` through the
    /// generated field's `#[serde(default)]`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(value) => Patch::Set(value),
            None => Patch::Clear,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Patch;
    use crate::types::{UpdateCredentialRequest, UpdateTaskRequest};
    use serde_json::json;

    #[test]
    fn three_states_serialise_distinctly_on_a_generated_type() {
        let unchanged: UpdateTaskRequest = UpdateTaskRequest::builder().try_into().unwrap();
        assert_eq!(serde_json::to_value(&unchanged).unwrap(), json!({}));
        let cleared: UpdateTaskRequest = UpdateTaskRequest::builder()
            .prompt(Patch::Clear)
            .settings(Patch::Clear)
            .try_into()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&cleared).unwrap(),
            json!({"prompt": null, "settings": null})
        );
        let set: UpdateTaskRequest = UpdateTaskRequest::builder()
            .prompt("Go")
            .extraction(true)
            .name("n".to_string())
            .try_into()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            json!({"prompt": "Go", "extraction": true, "name": "n"})
        );
    }

    #[test]
    fn three_states_deserialise_from_missing_null_and_value() {
        let body: UpdateTaskRequest =
            serde_json::from_value(json!({"prompt": null, "name": "n"})).unwrap();
        assert_eq!(body.prompt, Patch::Clear);
        assert_eq!(body.name, Patch::Set("n".to_owned()));
        assert_eq!(body.extraction, Patch::Unchanged);
        assert!(body.storage.is_unchanged());
    }

    #[test]
    fn a_newtype_field_keeps_its_check() {
        let cleared: UpdateCredentialRequest = UpdateCredentialRequest::builder()
            .external_id(Patch::Clear)
            .try_into()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&cleared).unwrap(),
            json!({"external_id": null})
        );
        let set: UpdateCredentialRequest = UpdateCredentialRequest::builder()
            .external_id("ext_1")
            .try_into()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            json!({"external_id": "ext_1"})
        );
        let owned: UpdateCredentialRequest = UpdateCredentialRequest::builder()
            .external_id("ext_2".to_string())
            .try_into()
            .unwrap();
        assert_eq!(
            owned.external_id.as_ref().map(|id| id.as_str()),
            Patch::Set("ext_2")
        );
        let too_long = UpdateCredentialRequest::builder().external_id("x".repeat(256));
        let err = UpdateCredentialRequest::try_from(too_long).unwrap_err();
        assert!(err.to_string().contains("255"), "{err}");
    }

    #[test]
    fn helpers() {
        assert!(Patch::<u8>::default().is_unchanged());
        assert!(Patch::<u8>::Clear.is_clear());
        assert!(Patch::from(3u8).is_set());
        assert_eq!(Patch::Set(2u8).map(|v| v * 2), Patch::Set(4));
        assert_eq!(Patch::Set(1u8).into_option(), Some(Some(1)));
        assert_eq!(Patch::<u8>::Clear.into_option(), Some(None));
        assert_eq!(Patch::<u8>::Unchanged.into_option(), None);
        assert_eq!(Patch::<String>::from("a"), Patch::Set("a".to_owned()));
    }
}
