//! A fake Deck server for tests and demos (feature `fake`).
//!
//! Deck has no sandbox: every call is live. [`FakeDeck`] is a real HTTP server, started
//! in-process on `127.0.0.1`, that behaves like the Deck API for the operations in `spec/`, with
//! the Storage guide's behaviour, and injects faults on demand:
//!
//! - **API** ([`FakeDeck::base_url`], `http://127.0.0.1:PORT/v2`): every operation of
//!   `spec/catalogue.json` — agents, sources, credentials, tasks (with run and reset), task runs
//!   (list, get with `include=input,storage,artifacts`, cancel, interaction), storage, sessions,
//!   events, event destinations and their deliveries, `POST /token`, `GET /test`. Lists use
//!   opaque keyset cursors bound to the path and the filters, `limit` 1–100 (default 20),
//!   `400 cursor_invalid`, filters as the spec declares them (array filters as repeated keys,
//!   `?status=queued&status=running`); agents, sources, credentials, tasks, event destinations
//!   and storage items list oldest first, task runs, events and deliveries newest first
//!   (`created_at`, then ID, descending: a choice of the fake, not documented by Deck). PATCH
//!   leaves absent fields unchanged and clears nullable ones sent as `null`. Requests need
//!   `Authorization: Bearer <api_key>`; errors use Deck's envelope
//!   `{errors:[{type,code,message,field}],request_id}` (a missing required body field is `400
//!   input_missing` naming it) or, for bodies that do not parse or bind, the 400
//!   `ValidationErrorResponse`; every JSON response carries a `request_id` (`req_000001`, …).
//!   `Idempotency-Key` works as Deck documents it on every `POST`, `PATCH` and `DELETE`.
//! - **Run lifecycle**: `POST /tasks/{id}/run` creates a `queued` run that lives by its task's
//!   [`RunPlan`] on the fake's virtual clock (`2025-01-15T09:30:00Z` plus the tokio time
//!   elapsed since the fake started, in milliseconds), with one event per transition
//!   (`task_run.queued`, `.running`, …), `storage.created` per captured item, and
//!   `<resource>.created|updated|deleted` for agents, sources, credentials, tasks
//!   (`task.reset` too) and event destinations. Event data writes the REST view's `null`s as
//!   `""`, as Deck's events do; every event decodes into the typed
//!   [`Event`](crate::events::Event).
//! - **Webhook deliveries**: each event is POSTed, signed with the destination's
//!   `webhook.secret` (Standard Webhooks headers, [`webhook::Signer`](crate::webhook::Signer)),
//!   to every active webhook destination subscribed to its type (or `*`) whose URL is on a
//!   loopback host; a failed attempt (not a 2xx within [`WEBHOOK_TIMEOUT`]) is retried after
//!   each of [`WEBHOOK_RETRY_DELAYS`], and when all fail the destination turns `inactive`. Each
//!   delivery is listed by `listEventDeliveries` with its `status` (`pending`, `success`,
//!   `failure`) and `attempts`. Deliveries are sent from their own tasks (bounded by
//!   [`MAX_QUEUED`] and [`MAX_IN_FLIGHT`]) and never hold up a request; while such a
//!   destination is active, runs reach their planned transitions without being polled, so the
//!   events go out on time. Other destinations (remote URLs, SQS, …) are recorded as delivered
//!   without sending: nothing leaves the machine.
//! - **Storage origin** ([`FakeDeck::storage_base_url`]): serves file bytes at the pre-signed URLs
//!   the API returns (`/files/{id}?expires=…&nonce=…&sig=…`): `403` once expired or tampered
//!   with, `Range` (`206`/`416`), `ETag`/`If-Range`. It needs no credentials and records whether
//!   a request carried an `Authorization` header anyway
//!   ([`FakeDeck::storage_saw_authorization`]).
//! - **Data**: seed runs, items and tasks from code ([`RunSeed`], [`ItemSeed`], [`TaskSeed`],
//!   [`RunPlan`], [`Content`]), or start with the [`demo`] data set. Seeding emits no events.
//! - **Faults** ([`FakeDeck::inject`]): statuses with or without `Retry-After`, HTML gateway
//!   errors, latency, a connection cut mid-body, expired URLs, malformed JSON, a repeated cursor,
//!   `has_more` without a cursor, `Range` ignored; each fires a set number of times and is
//!   counted.
//! - **Recording** ([`FakeDeck::requests`]): every request on both listeners, with the
//!   `Authorization` value never stored.
//!
//! Everything is deterministic under paused tokio time except URL expiry and the
//! `webhook-timestamp` of deliveries, which use real time (make URLs short-lived with
//! [`FakeDeckBuilder::url_ttl`], or expire them at once with [`FakeDeck::expire_urls`]).
//! Resources created through the API are stamped by the virtual clock (one millisecond apart
//! at least, so an update is always after its creation). The servers stop when the
//! [`FakeDeck`] is dropped.
//!
//! The fake runs on the test's own tokio runtime, so it works under paused time
//! (`#[tokio::test(start_paused = true)]`): [`Fault::Latency`] then costs no real time, which
//! makes client timeouts and retry backoff testable in milliseconds, and runs move through
//! their lifecycle as the test advances the clock:
//!
//! ```
//! use deck_api_ext::fake::{FakeDeck, RunPlan, TaskSeed};
//! use deck_api_ext::prelude::*;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeDeck::start().await?;
//! fake.add_task(TaskSeed::new("task_bills", "Bills").run_plan(RunPlan::new()))?;
//! let deck = Deck::builder().api_key(fake.api_key()).base_url(fake.base_url()).build()?;
//!
//! let body = deck_api_ext::api::types::RunTaskRequest::builder();
//! let run = deck.api().run_task().task_id("task_bills").body(body).call().await?;
//! assert_eq!(run.created_at.to_rfc3339(), "2025-01-15T09:30:00+00:00");
//!
//! tokio::time::advance(Duration::from_secs(3)).await; // queued 1 s, running 2 s
//! let done = deck.api().get_task_run().run_id(&run.id).call().await?;
//! assert_eq!(done.result.as_deref(), Some("success"));
//! # Ok(())
//! # }
//! ```
//!
//! # In your own tests
//!
//! ```toml
//! [dev-dependencies]
//! deck-api-ext = { path = "…", features = ["fake"] }
//! # `rt-multi-thread`/`macros` for #[tokio::test]; `test-util` for paused time
//! # (`#[tokio::test(start_paused = true)]`), which makes retries and latency instant.
//! tokio = { version = "1", features = ["macros", "rt-multi-thread", "test-util"] }
//! futures-util = "0.3" # TryStreamExt, to consume paginator streams
//! ```
//!
//! For code that only handles results, no server is needed: `Error::api(..)` and
//! `StorageItem::new(..)` build values like Deck's.
//!
//! # Example
//!
//! A downstream test seeds a run, lists it and downloads a file through the client, and
//! checks that a `429` from Deck is retried:
//!
//! ```
//! use deck_api_ext::fake::{Content, FakeDeck, Fault, ItemSeed, Route, RunSeed};
//! use deck_api_ext::{Deck, RetryConfig};
//! use futures_util::TryStreamExt;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeDeck::start().await?;
//! fake.add_run(
//!     RunSeed::new("trun_invoices")
//!         .item(ItemSeed::new("jan.pdf", "application/pdf", Content::bytes("%PDF-1.7 jan")))
//!         .item(ItemSeed::new("feb.pdf", "application/pdf", Content::bytes("%PDF-1.7 feb"))),
//! )?;
//! // The first listing request is rate limited.
//! let rate_limited = fake.inject(Route::ListStorage, Fault::rate_limited(None), 1);
//!
//! let deck = Deck::builder()
//!     .api_key(fake.api_key())
//!     .base_url(fake.base_url())
//!     .retry(RetryConfig::default().with_initial_backoff(Duration::from_millis(10)))
//!     .build()?;
//! let items: Vec<_> = deck.list_storage("trun_invoices").items().try_collect().await?;
//! assert_eq!(items.len(), 2);
//!
//! let mut file = Vec::new();
//! deck.download(&items[0]).to_writer(&mut file).await?;
//! assert_eq!(file, b"%PDF-1.7 jan");
//!
//! assert_eq!(rate_limited.hits(), 1); // the client saw the 429 and retried
//! assert!(!fake.storage_saw_authorization()); // the key never went to the storage origin
//! # Ok(())
//! # }
//! ```

mod api;
mod api_resources;
mod api_runs;
mod clock;
mod content;
mod cursor;
mod deliveries;
pub mod demo;
mod envelope;
mod fault_layer;
mod faults;
mod front;
mod idempotency;
mod lifecycle;
mod range;
mod rate_window;
mod record;
mod render;
mod seed;
mod serve;
mod shared;
mod signing;
mod state;
mod storage_origin;
mod table;

pub use content::Content;
pub use deliveries::{MAX_IN_FLIGHT, MAX_QUEUED, WEBHOOK_RETRY_DELAYS, WEBHOOK_TIMEOUT};
pub use faults::{Fault, FaultHandle, Route};
pub use lifecycle::RunPlan;
pub use record::{AuthorizationSeen, Origin, REDACTED, RecordedRequest};
pub use seed::{ItemSeed, RunSeed, SeedError, SeededRun, TaskSeed};

use serve::{Running, Settings};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The API key a fake accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "sk_test_fake";
/// How long pre-signed URLs stay valid unless configured otherwise (one hour, like S3's
/// default).
pub const DEFAULT_URL_TTL: Duration = Duration::from_secs(3600);
const DEFAULT_SECRET: u64 = 0x5eed_dec0_ffee_0001;

/// A running fake Deck: an API listener and a storage origin on `127.0.0.1`.
///
/// Start it inside a tokio runtime ([`FakeDeck::start`], [`FakeDeck::demo`],
/// [`FakeDeck::builder`]); it stops when dropped (or with [`FakeDeck::shutdown`]). All methods
/// take `&self`, so a test can share it behind an `Arc`. See the [module docs](self).
pub struct FakeDeck {
    running: Running,
    api_key: String,
}

impl FakeDeck {
    /// Starts an empty fake with the default settings.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// Starts a fake seeded with the [`demo`] data set.
    pub async fn demo() -> io::Result<Self> {
        Self::builder().demo_data().start().await
    }

    /// A builder for a fake with non-default settings.
    pub fn builder() -> FakeDeckBuilder {
        FakeDeckBuilder::default()
    }

    /// The API base URL, `http://127.0.0.1:PORT/v2` (what `https://api.deck.co/v2` is for Deck).
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", self.running.api_addr)
    }

    /// The storage origin's base URL, `http://127.0.0.1:PORT`; pre-signed URLs start with it.
    pub fn storage_base_url(&self) -> String {
        format!("http://{}", self.running.storage_addr)
    }

    /// The API listener's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.running.api_addr
    }

    /// The storage origin's address.
    pub fn storage_addr(&self) -> SocketAddr {
        self.running.storage_addr
    }

    /// The API key the fake accepts (`Authorization: Bearer <key>`).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Adds a task run with its storage items. Item IDs default to `stor_<run>_<n>` (`<run>` is
    /// the run ID without `trun_`, `<n>` the 1-based position, four digits).
    pub fn add_run(&self, run: RunSeed) -> Result<SeededRun, SeedError> {
        self.shared().store().add_run(run)
    }

    /// Adds a task.
    pub fn add_task(&self, task: TaskSeed) -> Result<(), SeedError> {
        self.shared().store().add_task(task)
    }

    /// The IDs of a run's remaining (not deleted) items in listing order; `None` for an unknown
    /// run.
    pub fn item_ids(&self, run_id: &str) -> Option<Vec<String>> {
        self.shared().store().item_ids(run_id)
    }

    /// The content a storage item serves, to compare downloads against; `None` once deleted.
    pub fn content(&self, storage_id: &str) -> Option<Content> {
        self.shared().store().content(storage_id)
    }

    /// A fresh pre-signed download URL for a storage item (as `GET /v2/storage/{id}` returns);
    /// `None` for an unknown item.
    pub fn signed_url(&self, storage_id: &str) -> Option<String> {
        let shared = self.shared();
        let exists = shared.store().item(storage_id).is_some();
        exists.then(|| shared.mint_url(storage_id, false))
    }

    /// Expires every pre-signed URL issued so far, without sleeping: the storage origin's clock
    /// jumps past their expiry. URLs issued afterwards are valid for the usual TTL.
    pub fn expire_urls(&self) {
        self.shared().expire_urls();
    }

    /// How long newly issued URLs stay valid (whole seconds; zero makes them expire at once).
    pub fn url_ttl(&self) -> Duration {
        self.shared().url_ttl()
    }

    /// Changes how long newly issued URLs stay valid.
    pub fn set_url_ttl(&self, ttl: Duration) {
        self.shared().set_url_ttl(ttl);
    }

    /// Arms `fault` on `route` for the next `times` requests it applies to, and returns a
    /// handle that counts its hits.
    ///
    /// # Panics
    ///
    /// If the fault cannot apply to the route (for example [`Fault::IgnoreRange`] on an API
    /// route, or a status outside 100–599): a mistake in the test, reported where it was made.
    #[track_caller]
    pub fn inject(&self, route: Route, fault: Fault, times: usize) -> FaultHandle {
        if let Some(where_) = fault.unsupported_on(route) {
            panic!("fake Deck: {fault:?} applies to {where_} only, not to Route::{route:?}");
        }
        if let Fault::Status { status, .. } | Fault::GatewayHtml { status } = &fault
            && !(100..=599).contains(status)
        {
            panic!("fake Deck: {status} is not an HTTP status code (100-599)");
        }
        self.shared().faults.inject(route, fault, times)
    }

    /// Total hits of the faults injected for exactly `route` (faults injected for
    /// [`Route::AnyApi`] count under `AnyApi`).
    pub fn fault_hits(&self, route: Route) -> usize {
        self.shared().faults.hits(route)
    }

    /// Disarms every injected fault (their hits still count).
    pub fn clear_faults(&self) {
        self.shared().faults.clear();
    }

    /// Every request received so far on both listeners, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared().recorder.snapshot()
    }

    /// Forgets the recorded requests (not [`FakeDeck::storage_saw_authorization`]).
    pub fn clear_requests(&self) {
        self.shared().recorder.clear();
    }

    /// Whether any request to the storage origin carried an `Authorization` header. A client
    /// must never send one there: pre-signed URLs need no credentials, and the Deck key must
    /// only ever go to the Deck API.
    pub fn storage_saw_authorization(&self) -> bool {
        self.shared().recorder.storage_saw_authorization()
    }

    /// Stops both listeners and waits until every connection has closed. Dropping the fake
    /// stops it too, without waiting.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }

    fn shared(&self) -> &shared::Shared {
        &self.running.shared
    }
}

impl fmt::Debug for FakeDeck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDeck")
            .field("base_url", &self.base_url())
            .field("storage_base_url", &self.storage_base_url())
            .field("api_key", &REDACTED)
            .finish()
    }
}

/// Settings for a [`FakeDeck`].
#[derive(Clone)]
pub struct FakeDeckBuilder {
    api_key: String,
    url_ttl: Duration,
    secret: u64,
    demo: bool,
    rate_limit: Option<(u32, Duration)>,
}

impl Default for FakeDeckBuilder {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            url_ttl: DEFAULT_URL_TTL,
            secret: DEFAULT_SECRET,
            demo: false,
            rate_limit: None,
        }
    }
}

impl fmt::Debug for FakeDeckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDeckBuilder")
            .field("api_key", &REDACTED)
            .field("url_ttl", &self.url_ttl)
            .field("demo", &self.demo)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

impl FakeDeckBuilder {
    /// The API key to accept (default [`DEFAULT_API_KEY`]).
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = api_key.into();
        self
    }

    /// How long pre-signed URLs stay valid (default [`DEFAULT_URL_TTL`]; whole seconds).
    pub fn url_ttl(mut self, ttl: Duration) -> Self {
        self.url_ttl = ttl;
        self
    }

    /// The secret that cursors and URL signatures are keyed with. Fakes with the same secret
    /// issue the same cursors; change it to check that a client does not reuse cursors across
    /// servers.
    pub fn secret(mut self, secret: u64) -> Self {
        self.secret = secret;
        self
    }

    /// Enforces an organization rate limit: at most `requests` accepted API requests in any
    /// `window` (a sliding window, in tokio time), beyond which Deck's `429 rate_limit_exceeded`
    /// is answered, without `Retry-After` (Deck documents none). Off by default. Deck's own
    /// limit is `rate_limit(200, Duration::from_secs(10))`; tests and benchmarks may scale the
    /// window down. The storage origin is never limited.
    pub fn rate_limit(mut self, requests: u32, window: Duration) -> Self {
        self.rate_limit = Some((requests.max(1), window.max(Duration::from_millis(1))));
        self
    }

    /// Seeds the [`demo`] data set.
    pub fn demo_data(mut self) -> Self {
        self.demo = true;
        self
    }

    /// Binds both listeners on `127.0.0.1:0` and starts serving on the current tokio runtime.
    ///
    /// Fails if the API key is empty or contains characters a header cannot carry, or if a
    /// port cannot be bound.
    pub async fn start(self) -> io::Result<FakeDeck> {
        let key_ok = !self.api_key.is_empty() && self.api_key.bytes().all(|b| b.is_ascii_graphic());
        if !key_ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "fake Deck: the API key must be non-empty printable ASCII without spaces",
            ));
        }
        let running = Running::start(Settings {
            api_key: self.api_key.clone(),
            secret: self.secret,
            url_ttl: self.url_ttl,
            rate_limit: self.rate_limit,
        })
        .await?;
        let fake = FakeDeck {
            running,
            api_key: self.api_key,
        };
        if self.demo {
            fake.shared().store().seed_agent(
                demo::AGENT,
                demo::AGENT_NAME,
                Some("Collects utility bills and statements."),
            );
            for task in demo::tasks() {
                fake.add_task(task).map_err(io::Error::other)?;
            }
            for run in demo::runs() {
                fake.add_run(run).map_err(io::Error::other)?;
            }
        }
        Ok(fake)
    }
}
