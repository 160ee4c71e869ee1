//! Verifying (and, for tests, signing) Deck webhook deliveries (feature `webhooks`).
//!
//! Deck signs every delivery with the [Standard Webhooks] scheme: headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature`; the signature is HMAC-SHA256 over
//! `{id}.{timestamp}.{raw body}` with the base64 secret that follows `whsec_`, sent as
//! space-separated `v1,<base64>` entries. During a secret rotation Deck keeps the previous secret
//! valid for 24 hours, so a [`Webhook`] accepts several secrets.
//!
//! Verify the **raw body bytes** exactly as received, before any JSON parsing. A verified
//! delivery is the typed [`Event`] (the same type `GET /events` lists, see [`crate::events`]).
//! Each reason for a rejection is its own [`WebhookError`] variant: a tampered body or a wrong
//! secret is [`SignatureMismatch`](WebhookError::SignatureMismatch), a replayed or delayed
//! delivery [`TimestampOutOfTolerance`](WebhookError::TimestampOutOfTolerance), a header with no
//! signature in it (`""`, `v1,`) [`EmptySignature`](WebhookError::EmptySignature). Signatures
//! are compared in constant time and in full: a truncated `v1,` signature never matches.
//!
//! ```
//! use deck_api_ext::events::EventType;
//! use deck_api_ext::webhook::{Signer, Webhook};
//! # fn main() -> Result<(), deck_api_ext::webhook::WebhookError> {
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let body = br#"{"id":"evt_1","object":"event","type":"storage.created","data":{"id":"stor_1","file_name":"bill.pdf","file_size":"245678","created_at":"2025-01-15T09:31:15Z"},"created_at":"2025-01-15T09:31:15Z"}"#;
//! // What Deck sends (in your own tests, sign with `Signer`).
//! let (id, ts) = ("evt_1", 1_736_933_475_i64);
//! let signature = Signer::new(secret)?.sign(id, ts, body);
//!
//! // In your HTTP handler: header values and the raw body.
//! let hook = Webhook::new(secret)?;
//! let event = hook.verify_at(id, &ts.to_string(), &signature, body, ts)?;
//! assert_eq!(event.event_type, EventType::StorageCreated);
//! assert_eq!(event.storage_item().map(|item| item.file_size), Some(245_678));
//! # Ok(()) }
//! ```
//!
//! With an HTTP framework, pass the request's header map to [`Webhook::verify`]; the crate's
//! `webhook_receiver` example is a complete axum handler.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::clip_message;
use crate::events::Event;

/// Header carrying the delivery id.
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the Unix timestamp (seconds) of the delivery.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The tolerance Standard Webhooks recommends, and [`Webhook::new`]'s default: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Why a delivery was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// A secret is not `whsec_` followed by non-empty base64.
    InvalidSecret,
    /// A required header is absent; names it.
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a Unix timestamp.
    InvalidTimestamp,
    /// `webhook-signature` holds no `v1,` signature (it is empty, `v1,` alone, or only other
    /// schemes).
    EmptySignature,
    /// No signature matches any secret: the body, id or timestamp was altered, or the secret is
    /// wrong.
    SignatureMismatch,
    /// The signature is authentic but the timestamp is further from now than the tolerance
    /// (a replay, or a clock far off).
    TimestampOutOfTolerance {
        /// Seconds from the delivery's timestamp to now (negative: in the future).
        skew_seconds: i64,
    },
    /// The body is authentic but is not a Deck event; says where (JSON path) and why.
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
            Self::EmptySignature => f.write_str("webhook-signature holds no `v1,` signature"),
            Self::SignatureMismatch => {
                f.write_str("no webhook signature matches the configured secrets")
            }
            Self::TimestampOutOfTolerance { skew_seconds } => {
                write!(
                    f,
                    "webhook timestamp is {skew_seconds} s away from now (outside the tolerance)"
                )
            }
            Self::InvalidPayload(msg) => {
                write!(f, "webhook body is not a Deck event: {}", clip_message(msg))
            }
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

    fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", BASE64.encode(tag))
    }
}

/// Signs payloads the way Deck does, for tests of your webhook handler (and for forwarding).
///
/// ```
/// use deck_api_ext::webhook::{Signer, Webhook};
///
/// let signer = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"id":"evt_1","type":"task.created","data":null,"created_at":"2025-01-15T09:31:15Z"}"#;
/// let headers = signer.headers("evt_1", 1_736_933_475, body);
/// assert_eq!(headers[0], ("webhook-id", "evt_1".to_owned()));
/// let hook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let event = hook.verify_at("evt_1", &headers[1].1, &headers[2].1, body, 1_736_933_475)?;
/// assert_eq!(event.id, "evt_1");
/// # Ok::<(), deck_api_ext::webhook::WebhookError>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    secret: Secret,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    /// A signer for one `whsec_…` secret.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        Ok(Self {
            secret: Secret::parse(secret)?,
        })
    }

    /// The `webhook-signature` value (`v1,<base64>`) for a delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        self.secret.signature(id, timestamp, body)
    }

    /// The three headers of a signed delivery, `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature`, in that order.
    pub fn headers(&self, id: &str, timestamp: i64, body: &[u8]) -> [(&'static str, String); 3] {
        [
            (HEADER_ID, id.to_owned()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (HEADER_SIGNATURE, self.sign(id, timestamp, body)),
        ]
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

/// Unix seconds now, by the system clock.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Webhook {
    /// A verifier for one `whsec_…` secret, with the standard 5-minute tolerance.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        Ok(Self {
            secrets: vec![Secret::parse(secret)?],
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Also accept `secret` (the previous one stays valid for 24 hours after a rotation).
    pub fn with_secret(mut self, secret: &str) -> Result<Self, WebhookError> {
        self.secrets.push(Secret::parse(secret)?);
        Ok(self)
    }

    /// How far the delivery timestamp may be from now, in either direction (default
    /// [`DEFAULT_TOLERANCE`]).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery from its HTTP headers (axum's, hyper's, reqwest's `HeaderMap`) and
    /// raw body against the system clock, and returns the typed event.
    pub fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Event, WebhookError> {
        self.verify_headers_at(
            |name| {
                headers
                    .get(name)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            },
            body,
            unix_now(),
        )
    }

    /// Verifies a delivery from its headers (looked up by lower-case name) against the system
    /// clock.
    pub fn verify_headers(
        &self,
        header: impl Fn(&'static str) -> Option<String>,
        body: &[u8],
    ) -> Result<Event, WebhookError> {
        self.verify_headers_at(header, body, unix_now())
    }

    /// [`verify_headers`](Self::verify_headers) as of `now` (Unix seconds).
    pub fn verify_headers_at(
        &self,
        header: impl Fn(&'static str) -> Option<String>,
        body: &[u8],
        now: i64,
    ) -> Result<Event, WebhookError> {
        let get = |name| header(name).ok_or(WebhookError::MissingHeader(name));
        self.verify_at(
            &get(HEADER_ID)?,
            &get(HEADER_TIMESTAMP)?,
            &get(HEADER_SIGNATURE)?,
            body,
            now,
        )
    }

    /// Verifies a delivery as of `now` (Unix seconds), then decodes the typed event.
    pub fn verify_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Event, WebhookError> {
        self.verify_signature_at(id, timestamp, signatures, body, now)?;
        Event::from_json(body).map_err(|e| {
            let message = e.message().to_owned();
            match e.json_path() {
                Some(path) => WebhookError::InvalidPayload(format!("at {path}: {message}")),
                None => WebhookError::InvalidPayload(message),
            }
        })
    }

    /// Checks a delivery's signature and timestamp as of `now` (Unix seconds) without reading
    /// the body as an event (for payloads that are not Deck events, such as the Standard
    /// Webhooks test vectors). In order: the timestamp must parse, the header must hold a `v1,`
    /// signature, one of them must match one secret, and the timestamp must be within the
    /// tolerance.
    pub fn verify_signature_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::InvalidTimestamp)?;
        let candidates: Vec<&str> = signatures
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter(|b64| !b64.is_empty())
            .collect();
        if candidates.is_empty() {
            return Err(WebhookError::EmptySignature);
        }
        // The body is hashed once per secret, however many signatures the header lists.
        let macs: Vec<Hmac<Sha256>> = self
            .secrets
            .iter()
            .map(|s| s.mac(id, timestamp, body))
            .collect();
        let matched = candidates
            .iter()
            .filter_map(|b64| BASE64.decode(b64).ok())
            .any(|sig| {
                // `verify_slice` compares in constant time and refuses any other length, so a
                // truncated signature never matches.
                macs.iter()
                    .any(|mac| mac.clone().verify_slice(&sig).is_ok())
            });
        if !matched {
            return Err(WebhookError::SignatureMismatch);
        }
        let skew = now.saturating_sub(ts);
        if skew.unsigned_abs() > self.tolerance.as_secs() {
            return Err(WebhookError::TimestampOutOfTolerance { skew_seconds: skew });
        }
        Ok(())
    }

    /// The `webhook-signature` value for a delivery, signed with the first secret (the same as
    /// [`Signer::sign`]).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        self.secrets[0].signature(id, timestamp, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventType;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"storage.created","data":{"id":"stor_1","file_name":"a.pdf","file_size":12,"created_at":"2025-01-15T09:31:15Z"},"created_at":"2025-01-15T09:31:15Z","new_field":1}"#;

    #[test]
    fn standard_webhooks_published_vector() {
        // The Standard Webhooks specification's published example.
        let (id, ts) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330);
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(Signer::new(SECRET).unwrap().sign(id, ts, body), expected);
        let hook = Webhook::new(SECRET).unwrap();
        assert_eq!(hook.sign(id, ts, body), expected);
        hook.verify_signature_at(id, "1614265330", expected, body, ts)
            .unwrap();
        // Authentic, but not a Deck event.
        let err = hook
            .verify_at(id, "1614265330", expected, body, ts)
            .unwrap_err();
        assert!(
            matches!(&err, WebhookError::InvalidPayload(m) if m.contains("created_at")),
            "{err}"
        );
    }

    #[test]
    fn verifies_into_the_typed_event_keeping_unknown_fields_and_types() {
        let hook = Webhook::new(SECRET).unwrap();
        let sig = hook.sign("msg_1", 1000, BODY);
        let event = hook.verify_at("msg_1", "1000", &sig, BODY, 1100).unwrap();
        assert_eq!(event.event_type, EventType::StorageCreated);
        assert_eq!(event.storage_item().unwrap().file_size, 12);
        let other =
            br#"{"id":"evt_2","type":"brand.new","data":null,"created_at":"2025-01-15T09:31:15Z"}"#;
        let sig = hook.sign("msg_2", 1000, other);
        let event = hook.verify_at("msg_2", "1000", &sig, other, 1000).unwrap();
        assert_eq!(event.event_type, EventType::Other("brand.new".into()));
    }

    #[test]
    fn each_reason_is_its_own_error() {
        let hook = Webhook::new(SECRET).unwrap();
        let sig = hook.sign("msg_1", 1000, BODY);
        // Tampered body, id or timestamp.
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            hook.verify_at("msg_1", "1000", &sig, &tampered, 1000)
                .unwrap_err(),
            WebhookError::SignatureMismatch
        );
        assert_eq!(
            hook.verify_at("msg_2", "1000", &sig, BODY, 1000)
                .unwrap_err(),
            WebhookError::SignatureMismatch
        );
        assert_eq!(
            hook.verify_at("msg_1", "1001", &sig, BODY, 1000)
                .unwrap_err(),
            WebhookError::SignatureMismatch
        );
        // Wrong secret.
        let other = Webhook::new("whsec_c2VjcmV0LXR3bw==").unwrap();
        assert_eq!(
            other
                .verify_at("msg_1", "1000", &sig, BODY, 1000)
                .unwrap_err(),
            WebhookError::SignatureMismatch
        );
        // Stale or from the future, at the given time and with a given tolerance.
        assert_eq!(
            hook.verify_at("msg_1", "1000", &sig, BODY, 1301)
                .unwrap_err(),
            WebhookError::TimestampOutOfTolerance { skew_seconds: 301 }
        );
        assert_eq!(
            hook.verify_at("msg_1", "1000", &sig, BODY, 699)
                .unwrap_err(),
            WebhookError::TimestampOutOfTolerance { skew_seconds: -301 }
        );
        let strict = hook.clone().tolerance(Duration::from_secs(10));
        assert!(strict.verify_at("msg_1", "1000", &sig, BODY, 1010).is_ok());
        assert_eq!(
            strict
                .verify_at("msg_1", "1000", &sig, BODY, 1011)
                .unwrap_err(),
            WebhookError::TimestampOutOfTolerance { skew_seconds: 11 }
        );
        // Empty signatures.
        for empty in ["", "   ", "v1,", "v1, v1,", "v2,abc", "v1"] {
            assert_eq!(
                hook.verify_at("msg_1", "1000", empty, BODY, 1000)
                    .unwrap_err(),
                WebhookError::EmptySignature,
                "{empty:?}"
            );
        }
    }

    #[test]
    fn truncated_or_padded_signatures_never_match() {
        let hook = Webhook::new(SECRET).unwrap();
        let sig = hook.sign("msg_1", 1000, BODY);
        let b64 = sig.strip_prefix("v1,").unwrap();
        let raw = BASE64.decode(b64).unwrap();
        for cut in [1, 4, 16, 31] {
            let truncated = format!("v1,{}", BASE64.encode(&raw[..cut]));
            assert_eq!(
                hook.verify_at("msg_1", "1000", &truncated, BODY, 1000)
                    .unwrap_err(),
                WebhookError::SignatureMismatch,
                "{cut} bytes"
            );
        }
        let mut longer = raw.clone();
        longer.push(0);
        let padded = format!("v1,{}", BASE64.encode(&longer));
        assert_eq!(
            hook.verify_at("msg_1", "1000", &padded, BODY, 1000)
                .unwrap_err(),
            WebhookError::SignatureMismatch
        );
        for garbage in [
            "v1,!!!",
            "v1,AAAA",
            &format!("v1,{}", &b64[..b64.len() - 4]),
        ] {
            assert_eq!(
                hook.verify_at("msg_1", "1000", garbage, BODY, 1000)
                    .unwrap_err(),
                WebhookError::SignatureMismatch,
                "{garbage}"
            );
        }
    }

    #[test]
    fn rotation_accepts_either_secret_and_any_listed_signature() {
        let old = Signer::new(SECRET).unwrap();
        let new = Signer::new("whsec_c2VjcmV0LXR3bw==").unwrap();
        let both = Webhook::new("whsec_c2VjcmV0LXR3bw==")
            .unwrap()
            .with_secret(SECRET)
            .unwrap();
        let sig_old = old.sign("m", 5, BODY);
        assert!(both.verify_at("m", "5", &sig_old, BODY, 5).is_ok());
        let listed = format!("v1, v1,AAAA {} v2,zzz", new.sign("m", 5, BODY));
        assert!(both.verify_at("m", "5", &listed, BODY, 5).is_ok());
        // A long list is checked against one hash of the body per secret.
        let many = format!("{} {}", "v1,AAAA ".repeat(5_000), old.sign("m", 5, BODY));
        assert!(both.verify_at("m", "5", &many, BODY, 5).is_ok());
        let err = both.verify_at("m", "5", &"v1,AAAA ".repeat(5_000), BODY, 5);
        assert_eq!(err.unwrap_err(), WebhookError::SignatureMismatch);
    }

    #[test]
    fn header_maps_and_lookups() {
        let signer = Signer::new(SECRET).unwrap();
        let hook = Webhook::new(SECRET).unwrap();
        let now = unix_now();
        let mut map = http::HeaderMap::new();
        for (name, value) in signer.headers("evt_1", now, BODY) {
            map.insert(name, value.parse().unwrap());
        }
        assert_eq!(hook.verify(&map, BODY).unwrap().id, "evt_1");
        map.remove(HEADER_SIGNATURE);
        assert_eq!(
            hook.verify(&map, BODY).unwrap_err(),
            WebhookError::MissingHeader(HEADER_SIGNATURE)
        );
        assert_eq!(
            hook.verify_headers(|_| None, BODY).unwrap_err(),
            WebhookError::MissingHeader(HEADER_ID)
        );
        let stale = signer.headers("evt_1", 1000, BODY);
        let lookup = |name: &'static str| {
            stale
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert!(hook.verify_headers_at(lookup, BODY, 1000).is_ok());
        assert!(matches!(
            hook.verify_headers(lookup, BODY).unwrap_err(),
            WebhookError::TimestampOutOfTolerance { .. }
        ));
    }

    #[test]
    fn bad_input_is_an_error_naming_the_problem() {
        for bad in ["MfKQ9r8", "whsec_!!", "whsec_"] {
            assert_eq!(Webhook::new(bad).unwrap_err(), WebhookError::InvalidSecret);
            assert_eq!(Signer::new(bad).unwrap_err(), WebhookError::InvalidSecret);
        }
        let hook = Webhook::new(SECRET).unwrap();
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
        // What a body said is never printed whole.
        let err = WebhookError::InvalidPayload(format!("at data: {}", "z".repeat(5_000)));
        assert!(err.to_string().chars().count() < 500, "{err}");
        assert!(!format!("{hook:?}").contains("MfKQ"));
        assert!(!format!("{:?}", Signer::new(SECRET).unwrap()).contains("MfKQ"));
    }
}
