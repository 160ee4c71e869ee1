//! Verifying Deck webhook deliveries (feature `webhooks`).
//!
//! Deck signs every delivery with the [Standard Webhooks] scheme: headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature`; the signature is HMAC-SHA256 over
//! `{id}.{timestamp}.{raw body}` with the base64 secret that follows `whsec_`, sent as
//! space-separated `v1,<base64>` entries. During a secret rotation Deck keeps the previous secret
//! valid for 24 hours, so a [`Webhook`] accepts several secrets.
//!
//! Verify the **raw body bytes** exactly as received, before any JSON parsing.
//!
//! ```
//! use deck_api_ext::webhook::Webhook;
//! # fn main() -> Result<(), deck_api_ext::webhook::WebhookError> {
//! let hook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! # let body = br#"{"id":"evt_1","object":"event","type":"storage.created","data":{},"created_at":"2025-01-15T09:31:15Z"}"#;
//! # let (id, ts) = ("msg_1", 1_736_933_475_i64);
//! # let sig = hook.sign(id, ts, body);
//! // In your HTTP handler: header values and the raw body.
//! let event = hook.verify_at(id, &ts.to_string(), &sig, body, ts)?;
//! assert_eq!(event.event_type.as_str(), "storage.created");
//! # Ok(()) }
//! ```
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Header carrying the delivery id.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the Unix timestamp (seconds) of the delivery.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Why a delivery was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// A secret is not `whsec_` followed by base64.
    InvalidSecret,
    /// A required header is absent; names it.
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a Unix timestamp.
    InvalidTimestamp,
    /// The timestamp is further from now than the tolerance.
    TimestampOutOfTolerance {
        /// Seconds between the delivery's timestamp and now.
        skew_seconds: i64,
    },
    /// No signature matches any secret.
    SignatureMismatch,
    /// The body is authentic but is not a Deck event; names the JSON path.
    InvalidPayload(String),
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidSecret => {
                f.write_str("webhook secret must be `whsec_` followed by base64")
            }
            Self::MissingHeader(h) => write!(f, "webhook delivery lacks the `{h}` header"),
            Self::InvalidTimestamp => f.write_str("webhook-timestamp is not a Unix timestamp"),
            Self::TimestampOutOfTolerance { skew_seconds } => {
                write!(
                    f,
                    "webhook timestamp is {skew_seconds} s away from now (outside the tolerance)"
                )
            }
            Self::SignatureMismatch => {
                f.write_str("no webhook signature matches the configured secrets")
            }
            Self::InvalidPayload(msg) => write!(f, "webhook body is not a Deck event: {msg}"),
        }
    }
}

impl std::error::Error for WebhookError {}

/// One webhook secret, kept out of `Debug`.
#[derive(Clone)]
struct Secret(Vec<u8>);

impl Secret {
    fn parse(secret: &str) -> Result<Self, WebhookError> {
        let b64 = secret
            .strip_prefix("whsec_")
            .ok_or(WebhookError::InvalidSecret)?;
        let key = BASE64
            .decode(b64)
            .map_err(|_| WebhookError::InvalidSecret)?;
        if key.is_empty() {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(Self(key))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// A verified Deck event. `data` is kept as JSON: its shape depends on `event_type`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// Event id (`evt_…`); deliveries are at-least-once, so deduplicate on it.
    pub id: String,
    /// Always `event`.
    #[serde(default)]
    pub object: Option<String>,
    /// The event type, e.g. `storage.created`, `task_run.completed`.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// A summary of the resource that triggered the event.
    #[serde(default)]
    pub data: serde_json::Value,
    /// When the event happened (ISO 8601); deliveries may arrive out of order.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// An event type: the ones this crate knows by name, and any other Deck may add.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// `storage.created`: a new file was captured and is ready for download.
    StorageCreated,
    /// `storage.deleted`: a storage item was permanently removed.
    StorageDeleted,
    /// `task_run.completed`.
    TaskRunCompleted,
    /// `task_run.failed`.
    TaskRunFailed,
    /// Any other type, kept as sent.
    Other(String),
}

impl EventType {
    /// The type as Deck spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::StorageCreated => "storage.created",
            Self::StorageDeleted => "storage.deleted",
            Self::TaskRunCompleted => "task_run.completed",
            Self::TaskRunFailed => "task_run.failed",
            Self::Other(s) => s,
        }
    }
}

impl From<String> for EventType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "storage.created" => Self::StorageCreated,
            "storage.deleted" => Self::StorageDeleted,
            "task_run.completed" => Self::TaskRunCompleted,
            "task_run.failed" => Self::TaskRunFailed,
            _ => Self::Other(s),
        }
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::from)
    }
}

/// Verifies deliveries against one or more secrets (several during a rotation).
#[derive(Clone)]
pub struct Webhook {
    secrets: Vec<Secret>,
    tolerance: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Webhook {
    /// A verifier for one `whsec_…` secret, with the standard 5-minute tolerance.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        Ok(Self {
            secrets: vec![Secret::parse(secret)?],
            tolerance: Duration::from_secs(300),
        })
    }

    /// Also accept `secret` (the previous one stays valid for 24 hours after a rotation).
    pub fn with_secret(mut self, secret: &str) -> Result<Self, WebhookError> {
        self.secrets.push(Secret::parse(secret)?);
        Ok(self)
    }

    /// How far the delivery timestamp may be from now, in either direction.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery from its headers (any map of lower-case names) against the clock.
    pub fn verify_headers(
        &self,
        header: impl Fn(&'static str) -> Option<String>,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let get = |name| header(name).ok_or(WebhookError::MissingHeader(name));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.verify_at(
            &get(HEADER_ID)?,
            &get(HEADER_TIMESTAMP)?,
            &get(HEADER_SIGNATURE)?,
            body,
            now,
        )
    }

    /// Verifies a delivery as of `now` (Unix seconds): the signature, then the timestamp, then
    /// parses the event.
    pub fn verify_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidTimestamp)?;
        let matched = signatures
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|b64| BASE64.decode(b64).ok())
            .any(|sig| {
                self.secrets
                    .iter()
                    .any(|s| s.mac(id, timestamp, body).verify_slice(&sig).is_ok())
            });
        if !matched {
            return Err(WebhookError::SignatureMismatch);
        }
        let skew = now - ts;
        if skew.unsigned_abs() > self.tolerance.as_secs() {
            return Err(WebhookError::TimestampOutOfTolerance { skew_seconds: skew });
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            WebhookError::InvalidPayload(format!("at {path}: {}", e.inner()))
        })
    }

    /// The `webhook-signature` value for a delivery, signed with the first secret (for tests and
    /// for forwarding).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.secrets[0]
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", BASE64.encode(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"storage.created","data":{"id":"stor_1"},"created_at":"2025-01-15T09:31:15Z","new_field":1}"#;

    #[test]
    fn standard_webhooks_reference_vector() {
        // The Standard Webhooks specification's published example.
        let hook = Webhook::new(SECRET).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            hook.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verifies_and_parses_unknown_fields_and_types() {
        let hook = Webhook::new(SECRET).unwrap();
        let sig = hook.sign("msg_1", 1000, BODY);
        let event = hook.verify_at("msg_1", "1000", &sig, BODY, 1100).unwrap();
        assert_eq!(event.event_type, EventType::StorageCreated);
        let other = br#"{"id":"evt_2","type":"brand.new","data":null}"#;
        let sig = hook.sign("msg_2", 1000, other);
        let event = hook.verify_at("msg_2", "1000", &sig, other, 1000).unwrap();
        assert_eq!(event.event_type, EventType::Other("brand.new".into()));
    }

    #[test]
    fn rejects_tampering_wrong_secret_and_stale_timestamps() {
        let hook = Webhook::new(SECRET).unwrap();
        let sig = hook.sign("msg_1", 1000, BODY);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            hook.verify_at("msg_1", "1000", &sig, &tampered, 1000),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            hook.verify_at("msg_2", "1000", &sig, BODY, 1000),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            hook.verify_at("msg_1", "1000", &sig, BODY, 1301),
            Err(WebhookError::TimestampOutOfTolerance { skew_seconds: 301 })
        );
        assert_eq!(
            hook.verify_at("msg_1", "1000", &sig, BODY, 699),
            Err(WebhookError::TimestampOutOfTolerance { skew_seconds: -301 })
        );
        let other = Webhook::new("whsec_c2VjcmV0LXR3bw==").unwrap();
        assert_eq!(
            other.verify_at("msg_1", "1000", &sig, BODY, 1000),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn rotation_accepts_either_secret_and_any_listed_signature() {
        let old = Webhook::new(SECRET).unwrap();
        let new = Webhook::new("whsec_c2VjcmV0LXR3bw==").unwrap();
        let both = Webhook::new("whsec_c2VjcmV0LXR3bw==")
            .unwrap()
            .with_secret(SECRET)
            .unwrap();
        let sig_old = old.sign("m", 5, BODY);
        assert!(both.verify_at("m", "5", &sig_old, BODY, 5).is_ok());
        let listed = format!("v1,AAAA {} v2,zzz", new.sign("m", 5, BODY));
        assert!(both.verify_at("m", "5", &listed, BODY, 5).is_ok());
    }

    #[test]
    fn bad_input_is_an_error_naming_the_problem() {
        assert_eq!(
            Webhook::new("MfKQ9r8").unwrap_err(),
            WebhookError::InvalidSecret
        );
        assert_eq!(
            Webhook::new("whsec_!!").unwrap_err(),
            WebhookError::InvalidSecret
        );
        let hook = Webhook::new(SECRET).unwrap();
        assert_eq!(
            hook.verify_headers(|_| None, BODY).unwrap_err(),
            WebhookError::MissingHeader(HEADER_ID)
        );
        assert_eq!(
            hook.verify_at("m", "soon", "v1,x", BODY, 5).unwrap_err(),
            WebhookError::InvalidTimestamp
        );
        let body = br#"{"id":5}"#;
        let sig = hook.sign("m", 5, body);
        let err = hook.verify_at("m", "5", &sig, body, 5).unwrap_err();
        assert!(
            matches!(&err, WebhookError::InvalidPayload(m) if m.contains("id")),
            "{err}"
        );
        assert!(!format!("{hook:?}").contains("MfKQ"));
    }
}
