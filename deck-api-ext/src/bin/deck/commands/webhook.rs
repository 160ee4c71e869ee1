//! `deck webhook verify`: checks a recorded or forwarded delivery the way a receiver must,
//! with the library's [`Webhook`] (Standard Webhooks: HMAC-SHA256 over `id.timestamp.body`,
//! constant-time compare, several secrets during a rotation, a timestamp tolerance). No API
//! request is made and no key is needed.
//!
//! The body is read from stdin byte for byte (at most [`MAX_BODY`]); the header values come
//! from the options. On success the event's type and id are printed as JSON
//! (`{"type":"task_run.completed","id":"evt_…"}`); a body that is authentic but not a Deck
//! event (the Standard Webhooks test vector) verifies too, with a note on stderr and nothing on
//! stdout. A rejection is one line with its reason and exit status 8.

use std::io::{Read, Write};
use std::time::Duration;

use deck_api_ext::events::Event;
use deck_api_ext::webhook::{Webhook, WebhookError};
use serde_json::json;

use crate::failure::{Failure, one_line};
use crate::output::JsonLines;

/// The largest body read from stdin: deliveries are small; this bounds memory for a wrong file.
pub const MAX_BODY: u64 = 16 * 1024 * 1024;

/// What `deck webhook verify` checks.
#[derive(Debug)]
pub struct Delivery {
    /// The endpoint's secrets (`whsec_…`), the current one and, during a rotation, the previous.
    pub secrets: Vec<String>,
    /// The `webhook-id` header.
    pub id: String,
    /// The `webhook-timestamp` header, as sent (it is part of what is signed).
    pub timestamp: String,
    /// The `webhook-signature` header.
    pub signature: String,
    /// How far the timestamp may be from `now`.
    pub tolerance: Duration,
    /// The time to check the timestamp against (Unix seconds); this machine's clock if `None`.
    pub now: Option<i64>,
}

/// Verifies `delivery` with the body read from stdin, printing the event's type and id.
pub async fn verify<W: Write>(delivery: Delivery, out: &mut JsonLines<W>) -> Result<(), Failure> {
    let body = tokio::task::spawn_blocking(|| read_body(std::io::stdin().lock()))
        .await
        .map_err(|e| Failure::Startup(format!("cannot read stdin: {e}")))??;
    match check(&delivery, &body)? {
        Some(event) => {
            out.write(&json!({ "type": event.event_type.as_str(), "id": event.id }))?;
            out.flush()
        }
        None => Ok(()),
    }
}

/// Checks the signature and timestamp of `body`; `Ok(None)` when it is authentic but not a
/// Deck event (a note says why on stderr).
pub fn check(delivery: &Delivery, body: &[u8]) -> Result<Option<Event>, Failure> {
    let hook = webhook(&delivery.secrets)?.tolerance(delivery.tolerance);
    let now = delivery.now.unwrap_or_else(unix_now);
    hook.verify_signature_at(
        &delivery.id,
        &delivery.timestamp,
        &delivery.signature,
        body,
        now,
    )
    .map_err(|error| Failure::NotVerified(reason(&error)))?;
    match Event::from_json(body) {
        Ok(event) => Ok(Some(event)),
        Err(error) => {
            let at = error
                .json_path()
                .map(|path| format!(" at {path}"))
                .unwrap_or_default();
            let _ = writeln!(
                std::io::stderr().lock(),
                "deck: {}",
                one_line(&format!(
                    "the signature is valid, but the body is not a Deck event{at}: {}",
                    error.message()
                ))
            );
            Ok(None)
        }
    }
}

/// A verifier for every secret given; a malformed secret is a usage error that never quotes it.
fn webhook(secrets: &[String]) -> Result<Webhook, Failure> {
    let invalid =
        |n: usize| Failure::Usage(format!("--secret #{n} is not `whsec_` followed by base64"));
    let (first, rest) = secrets
        .split_first()
        .ok_or_else(|| Failure::Usage("--secret is required".to_owned()))?;
    let mut hook = Webhook::new(first).map_err(|_| invalid(1))?;
    for (n, secret) in rest.iter().enumerate() {
        hook = hook.with_secret(secret).map_err(|_| invalid(n + 2))?;
    }
    Ok(hook)
}

/// The reason a rejection gives, with a hint where one helps.
fn reason(error: &WebhookError) -> String {
    match error {
        WebhookError::SignatureMismatch => format!(
            "{error} (the body, id or timestamp differs from what was signed, or the secret is \
             wrong; the body must be the raw bytes received)"
        ),
        WebhookError::TimestampOutOfTolerance { .. } => format!(
            "{error}; for a recorded delivery pass --now with the time it was received, or a \
             larger --tolerance"
        ),
        other => other.to_string(),
    }
}

/// Reads the body, refusing more than [`MAX_BODY`] bytes.
fn read_body(reader: impl Read) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    reader
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| Failure::NotVerified(format!("cannot read the body from stdin: {e}")))?;
    if u64::try_from(body.len()).unwrap_or(u64::MAX) > MAX_BODY {
        return Err(Failure::NotVerified(format!(
            "the body on stdin is larger than {} MiB",
            MAX_BODY / (1024 * 1024)
        )));
    }
    Ok(body)
}

/// Unix seconds now, by this machine's clock.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use deck_api_ext::webhook::Signer;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn delivery(id: &str, timestamp: &str, signature: &str, now: i64) -> Delivery {
        Delivery {
            secrets: vec![SECRET.to_owned()],
            id: id.to_owned(),
            timestamp: timestamp.to_owned(),
            signature: signature.to_owned(),
            tolerance: Duration::from_secs(300),
            now: Some(now),
        }
    }

    fn rejection(result: Result<Option<Event>, Failure>) -> String {
        match result {
            Err(failure) => {
                assert_eq!(failure.exit_code(), crate::failure::NOT_VERIFIED);
                failure.message().unwrap()
            }
            Ok(_) => panic!("verified"),
        }
    }

    #[test]
    fn the_published_vector_is_authentic_but_not_an_event() {
        let vector = delivery(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            1_614_265_330,
        );
        assert!(matches!(
            check(&vector, br#"{"test": 2432232314}"#),
            Ok(None)
        ));
        let message = rejection(check(&vector, br#"{"test": 2432232315}"#));
        assert!(
            message.starts_with("not verified: no webhook signature matches"),
            "{message}"
        );
    }

    #[test]
    fn an_event_is_returned_and_each_rejection_has_its_reason() {
        let body = br#"{"id":"evt_9","object":"event","type":"brand.new","data":null,"created_at":"2025-01-15T09:31:15Z"}"#;
        let signature = Signer::new(SECRET).unwrap().sign("msg_9", 1000, body);
        let event = check(&delivery("msg_9", "1000", &signature, 1200), body)
            .unwrap()
            .unwrap();
        assert_eq!(
            (event.id.as_str(), event.event_type.as_str()),
            ("evt_9", "brand.new")
        );
        let stale = rejection(check(&delivery("msg_9", "1000", &signature, 1301), body));
        assert!(
            stale.contains("301 s away") && stale.contains("--now"),
            "{stale}"
        );
        let empty = rejection(check(&delivery("msg_9", "1000", "", 1000), body));
        assert!(empty.contains("no `v1,` signature"), "{empty}");
        let other_id = rejection(check(&delivery("msg_8", "1000", &signature, 1000), body));
        assert!(
            other_id.contains("no webhook signature matches"),
            "{other_id}"
        );
    }

    #[test]
    fn secrets_are_checked_without_being_quoted() {
        let mut bad = delivery("m", "1", "v1,x", 1);
        bad.secrets.push("whsec_%%%".to_owned());
        let Err(failure) = check(&bad, b"{}") else {
            panic!("a bad secret");
        };
        assert_eq!(failure.exit_code(), crate::failure::USAGE);
        assert_eq!(
            failure.message().unwrap(),
            "--secret #2 is not `whsec_` followed by base64"
        );
    }

    #[test]
    fn bodies_are_bounded() {
        let size = MAX_BODY + 1;
        let Err(failure) = read_body(std::io::repeat(b'x').take(size)) else {
            panic!("a body over the cap");
        };
        assert_eq!(
            failure.message().unwrap(),
            "not verified: the body on stdin is larger than 16 MiB"
        );
        assert_eq!(read_body(&b"{}"[..]).unwrap(), b"{}");
    }
}
