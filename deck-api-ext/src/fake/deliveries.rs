//! Webhook deliveries: the fake POSTs each event, signed, to the webhook destinations subscribed
//! to it, as Deck does.
//!
//! - **What is sent**: the event exactly as `GET /v2/events/{id}` returns it, without the
//!   `request_id`, as `application/json`, with the Standard Webhooks headers (`webhook-id`: the
//!   event ID; `webhook-timestamp`: the **real** Unix time, so a receiver's
//!   [`Webhook::verify`](crate::webhook::Webhook::verify) accepts it; `webhook-signature`: signed
//!   by [`Signer`] with the destination's `webhook.secret`) and the destination's
//!   `custom_headers`.
//! - **Where**: active `webhook` destinations subscribed to the event's type (or `*`) whose URL
//!   is `http(s)` on a loopback host (`127.0.0.0/8`, `::1`, `localhost`). The fake is for tests:
//!   nothing leaves the machine. Deliveries to any other URL, and to the other destination
//!   types (SQS, Pub/Sub, …), are recorded as delivered without sending.
//! - **Retries** (Deck: "up to 3 times with exponential backoff"; a 2xx within 5 seconds):
//!   an attempt fails on anything but a 2xx within [`WEBHOOK_TIMEOUT`]; it is retried after
//!   each of [`WEBHOOK_RETRY_DELAYS`]; when all four attempts fail, the delivery is `failure` and
//!   the destination turns `inactive` (event `event_destination.deactivated`). A destination
//!   deleted or made inactive meanwhile ends its pending deliveries as `failure`.
//! - **Recorded**: each delivery is listed by `GET /v2/event-destinations/{id}/event-deliveries`
//!   from the moment its event exists: `status` `pending` while attempts remain (a value of the
//!   fake; Deck documents `success` and `failure`), then `success` (with `delivered_at`) or
//!   `failure`; `attempts` counts the attempts made.
//! - **Never in the way**: one dispatcher task per fake takes the queued deliveries after the
//!   store's lock is released and sends each from its own task, so no request handler waits for
//!   a receiver. At most [`MAX_QUEUED`] deliveries wait and [`MAX_IN_FLIGHT`] are sent at once;
//!   a delivery that finds the queue full is `failure` at once. Everything waits in tokio time,
//!   so under paused time retries and timeouts cost nothing.
//! - **Runs progress on their own while someone listens**: the store settles lazily (see
//!   `lifecycle`), so while an active webhook destination can be reached the dispatcher also
//!   wakes at each run's next planned transition and settles it, and its events go out on time.
//!   Without one, nothing runs in the background, as before.

use super::shared::Shared;
use super::table::Doc;
use crate::webhook::{Signer, unix_now};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a receiver has to answer an attempt with a 2xx (Deck: 5 seconds).
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// The waits before the retries of a failed attempt: three retries, exponential.
pub const WEBHOOK_RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// At most this many deliveries wait for the dispatcher.
pub const MAX_QUEUED: usize = 1_000;
/// At most this many deliveries are under way (sending or waiting to retry) at once.
pub const MAX_IN_FLIGHT: usize = 16;

/// Header names a destination's `custom_headers` cannot set.
const RESERVED: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// Where and how a destination's deliveries are sent.
#[derive(Clone)]
pub(crate) struct Target {
    url: reqwest::Url,
    signer: Signer,
    headers: HeaderMap,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Custom headers may carry credentials; the signer prints none.
        f.debug_struct("Target")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The target of an active `webhook` destination with a loopback `http(s)` URL and a valid
    /// secret; `None` for any other destination (recorded without sending).
    pub(crate) fn of(destination: &Doc) -> Option<Self> {
        if destination.str("status") != Some("active") || destination.str("type") != Some("webhook")
        {
            return None;
        }
        let config = destination.body.get("webhook")?;
        let url = reqwest::Url::parse(config.get("url")?.as_str()?).ok()?;
        let host = url.host_str()?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let loopback = match bare.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => bare.eq_ignore_ascii_case("localhost"),
        };
        if !loopback || !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let signer = Signer::new(config.get("secret")?.as_str()?).ok()?;
        let headers = custom_headers(config.get("custom_headers"));
        Some(Self {
            url,
            signer,
            headers,
        })
    }
}

/// `custom_headers`, "a JSON-encoded object of additional headers": its string values with
/// valid names, except the reserved ones.
fn custom_headers(given: Option<&Value>) -> HeaderMap {
    let mut out = HeaderMap::new();
    let parsed = given
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<serde_json::Map<String, Value>>(text).ok());
    for (name, value) in parsed.iter().flatten() {
        let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) else {
            continue;
        };
        if !RESERVED.contains(&name.as_str()) {
            out.insert(name, value);
        }
    }
    out
}

/// One delivery to send: an event to one destination.
pub(crate) struct Job {
    pub(crate) delivery_id: String,
    pub(crate) destination_id: String,
    pub(crate) event_id: String,
    pub(crate) target: Target,
    pub(crate) body: Bytes,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("delivery_id", &self.delivery_id)
            .field("destination_id", &self.destination_id)
            .field("event_id", &self.event_id)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The dispatcher: takes queued deliveries and sends each from its own task; while a webhook
/// destination listens, also settles runs at their planned transitions. Ends with the fake.
pub(crate) async fn dispatch(shared: Arc<Shared>) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        // No idle connections: no pool timers to wake a paused clock, and every attempt is
        // a fresh connection, as from a delivery fleet.
        .pool_max_idle_per_host(0)
        .user_agent("deck-fake-webhooks")
        .build()
        .ok();
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let signal = shared.delivery_signal.clone();
    loop {
        let (jobs, wake_at) = {
            let mut store = shared.store();
            (store.take_outbox(), store.next_wake())
        };
        for job in jobs {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit,
                () = shared.shutting_down() => return,
            };
            let Ok(permit) = permit else { return };
            tokio::spawn(deliver(shared.clone(), client.clone(), job, permit));
        }
        let wake = wake_at.and_then(|ms| shared.virtual_clock.instant_at(ms));
        let sleep = async move {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = signal.notified() => {}
            () = sleep => {}
            () = shared.shutting_down() => return,
        }
    }
}

/// Sends one delivery, with its retries, and records each attempt.
async fn deliver(
    shared: Arc<Shared>,
    client: Option<reqwest::Client>,
    job: Job,
    _permit: OwnedSemaphorePermit,
) {
    let mut attempts: u32 = 0;
    let mut delays = WEBHOOK_RETRY_DELAYS.iter();
    loop {
        if !shared.store().destination_active(&job.destination_id) {
            shared
                .store()
                .record_attempt(&job.delivery_id, attempts, Outcome::Failure);
            return;
        }
        attempts = attempts.saturating_add(1);
        let delivered = tokio::select! {
            delivered = attempt(client.as_ref(), &job) => delivered,
            () = shared.shutting_down() => return,
        };
        if delivered {
            shared
                .store()
                .record_attempt(&job.delivery_id, attempts, Outcome::Success);
            return;
        }
        let Some(delay) = delays.next() else {
            let mut store = shared.store();
            store.record_attempt(&job.delivery_id, attempts, Outcome::Failure);
            store.deactivate_destination(&job.destination_id);
            return;
        };
        shared
            .store()
            .record_attempt(&job.delivery_id, attempts, Outcome::Pending);
        tokio::select! {
            () = tokio::time::sleep(*delay) => {}
            () = shared.shutting_down() => return,
        }
    }
}

/// One attempt: `true` for a 2xx within [`WEBHOOK_TIMEOUT`].
async fn attempt(client: Option<&reqwest::Client>, job: &Job) -> bool {
    let Some(client) = client else {
        return false;
    };
    let mut headers = job.target.headers.clone();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in job
        .target
        .signer
        .headers(&job.event_id, unix_now(), &job.body)
    {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let send = client
        .post(job.target.url.clone())
        .headers(headers)
        .body(job.body.clone())
        .send();
    matches!(
        tokio::time::timeout(WEBHOOK_TIMEOUT, send).await,
        Ok(Ok(response)) if response.status().is_success()
    )
}

/// Where a delivery stands after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Attempts remain.
    Pending,
    Success,
    Failure,
}

impl Outcome {
    pub(crate) fn status(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn destination(body: Value) -> Doc {
        Doc {
            seq: 1,
            created_ms: 0,
            body: body.as_object().unwrap().clone(),
        }
    }

    fn webhook(url: &str) -> Value {
        json!({
            "id": "evtd_1", "status": "active", "type": "webhook",
            "webhook": { "url": url, "secret": "whsec_c2VjcmV0LXR3bw==", "custom_headers": null }
        })
    }

    #[test]
    fn only_active_loopback_webhooks_with_a_secret_are_sent_to() {
        for url in [
            "http://127.0.0.1:9/hook",
            "https://127.8.0.1/x",
            "http://[::1]:80/",
            "http://LOCALHOST:1/",
        ] {
            assert!(Target::of(&destination(webhook(url))).is_some(), "{url}");
        }
        for url in [
            "https://hooks.example/x",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            assert!(Target::of(&destination(webhook(url))).is_none(), "{url}");
        }
        let mut inactive = webhook("http://127.0.0.1:9/");
        inactive["status"] = "inactive".into();
        assert!(Target::of(&destination(inactive)).is_none());
        let mut no_secret = webhook("http://127.0.0.1:9/");
        no_secret["webhook"]["secret"] = "nope".into();
        assert!(Target::of(&destination(no_secret)).is_none());
        let sqs = json!({ "status": "active", "type": "aws_sqs", "aws_sqs": { "queue_url": "http://127.0.0.1/q" } });
        assert!(Target::of(&destination(sqs)).is_none());
    }

    #[test]
    fn custom_headers_are_read_leniently_and_cannot_replace_reserved_ones() {
        let given = json!(
            r#"{"x-team":"billing","Authorization":"Bearer t","host":"evil","bad name":"v","n":5}"#
        );
        let headers = custom_headers(Some(&given));
        assert_eq!(headers.len(), 2);
        assert_eq!(headers["x-team"], "billing");
        assert_eq!(headers["authorization"], "Bearer t");
        assert!(custom_headers(Some(&json!("not json"))).is_empty());
        assert!(custom_headers(None).is_empty());
        let mut with = webhook("http://127.0.0.1:9/");
        with["webhook"]["custom_headers"] = given;
        let target = Target::of(&destination(with)).unwrap();
        assert!(!format!("{target:?}").contains("Bearer"));
    }
}
