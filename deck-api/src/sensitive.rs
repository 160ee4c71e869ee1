//! Hand-written: what `cargo xtask regen` emits for secret fields.
//!
//! A property marked `"x-deck-sensitive": true` in `spec/` (a credential's `auth_credentials`, a
//! webhook's `secret`, the session `token`) is a secret. Regen gives every generated struct that
//! holds one, and its type builder, a `Debug` that prints [`Redacted`] (`<redacted>`) in its
//! place (`None` when it is absent), so an operation builder, a request or a response can be
//! logged with `{:?}`. It also lists where each operation's secrets are, as
//! [`SensitivePaths`] ([`Operation::SENSITIVE_PATHS`](crate::Operation::SENSITIVE_PATHS) and
//! [`OperationMeta::sensitive`](crate::operation::OperationMeta::sensitive)), so the layer above
//! can scrub their values from errors and traces.

use std::fmt;

/// Printed by `Debug` in place of a secret: `<redacted>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the secrets of one operation are, as JSON paths into its request body and its success
/// response body: property names joined by `.`, `[]` after a name for every element of an
/// array, `*` for every value of a map, and the empty path for the whole body
/// (`auth_credentials`, `webhook.secret`, `data[].webhook.secret`). Every string under such a
/// path, at any depth, is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SensitivePaths {
    /// Paths into the request body.
    pub request: &'static [&'static str],
    /// Paths into the success response body.
    pub response: &'static [&'static str],
}

impl SensitivePaths {
    /// No secrets (most operations).
    pub const NONE: SensitivePaths = SensitivePaths {
        request: &[],
        response: &[],
    };

    /// Whether neither body holds a secret.
    pub const fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

/// The sensitive paths of the operation whose spec operationId is `operation_id`
/// ([`SensitivePaths::NONE`] for an unknown id).
pub fn sensitive_paths(operation_id: &str) -> SensitivePaths {
    crate::OPERATIONS
        .iter()
        .find(|o| o.id == operation_id)
        .map(|o| o.sensitive)
        .unwrap_or(SensitivePaths::NONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{
        CreateCredentialRequest, CreateSessionTokenResponse, UpdateCredentialRequest,
        WebhookDestinationConfig,
    };

    #[test]
    fn the_operations_list_their_secrets() {
        assert_eq!(
            sensitive_paths("createCredential").request,
            ["auth_credentials"]
        );
        assert_eq!(
            sensitive_paths("updateCredential").request,
            ["auth_credentials"]
        );
        assert_eq!(sensitive_paths("createSessionToken").response, ["token"]);
        assert_eq!(
            sensitive_paths("createEventDestination"),
            SensitivePaths {
                // The other destination types' configs carry their credentials in requests.
                request: &[
                    "aws_eventbridge",
                    "aws_kinesis",
                    "aws_s3",
                    "aws_sqs",
                    "azure_servicebus",
                    "gcp_pubsub",
                    "hookdeck",
                    "rabbitmq",
                    "webhook.secret"
                ],
                response: &["webhook.secret"],
            }
        );
        assert_eq!(
            sensitive_paths("listEventDestinations").response,
            ["data[].webhook.secret"]
        );
        assert!(sensitive_paths("getTaskRun").is_empty());
        assert!(sensitive_paths("noSuchOperation").is_empty());
    }

    #[test]
    fn debug_prints_redacted_for_secrets_only() {
        let request: CreateCredentialRequest = CreateCredentialRequest::builder()
            .source_id("src_1")
            .auth_credentials(serde_json::json!({"username": "u", "password": "hunter2"}))
            .try_into()
            .unwrap();
        let shown = format!("{request:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("auth_credentials: Some(<redacted>)"),
            "{shown}"
        );
        assert!(shown.contains("src_1"), "{shown}");
        let empty: UpdateCredentialRequest = UpdateCredentialRequest::builder().try_into().unwrap();
        assert!(format!("{empty:?}").contains("auth_credentials: None"));
        let webhook = WebhookDestinationConfig::builder()
            .secret("whsec_abc".to_string())
            .url("https://example.com/hook".to_string());
        let shown = format!("{webhook:?}");
        assert!(!shown.contains("whsec_abc"), "{shown}");
        assert!(shown.contains("Ok(Some(<redacted>))"), "{shown}");
        let token: CreateSessionTokenResponse = serde_json::from_value(serde_json::json!({
            "id": "tok_1", "token": "tk_secret", "expires_at": "2026-01-02T03:04:05Z"
        }))
        .unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains("tk_secret"), "{shown}");
        assert!(shown.contains("token: <redacted>"), "{shown}");
    }
}
