//! The state both listeners share: data, faults, the request log, pre-signed URL minting and
//! checking, request IDs, and the shutdown signal.

use super::clock::{UrlClock, VirtualClock};
use super::faults::Faults;
use super::idempotency::Idempotency;
use super::rate_window::RateWindow;
use super::record::Recorder;
use super::signing;
use super::state::Store;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The result of checking a pre-signed URL's query parameters.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum UrlCheck {
    Valid,
    Missing,
    BadSignature,
    Expired,
}

pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) secret: u64,
    /// `http://127.0.0.1:PORT` of the storage origin.
    pub(crate) storage_base: String,
    pub(crate) faults: Faults,
    pub(crate) recorder: Recorder,
    pub(crate) idempotency: Idempotency,
    pub(crate) clock: UrlClock,
    /// The clock of resources and run lifecycles.
    pub(crate) virtual_clock: VirtualClock,
    /// Wakes the webhook dispatcher (`deliveries`) whenever the store emits an event.
    pub(crate) delivery_signal: Arc<Notify>,
    store: Mutex<Store>,
    url_ttl_secs: AtomicU64,
    max_issued_expiry: AtomicI64,
    api_requests: AtomicU64,
    storage_requests: AtomicU64,
    nonces: AtomicU64,
    shutdown: watch::Receiver<bool>,
    /// The organization rate limit, when enforced.
    pub(crate) rate_window: Option<RateWindow>,
}

impl Shared {
    pub(crate) fn new(
        api_key: String,
        secret: u64,
        url_ttl: Duration,
        storage_base: String,
        shutdown: watch::Receiver<bool>,
        rate_limit: Option<(u32, Duration)>,
    ) -> Self {
        let store = Store::default();
        Self {
            delivery_signal: store.delivery_signal(),
            api_key,
            secret,
            storage_base,
            faults: Faults::default(),
            recorder: Recorder::default(),
            idempotency: Idempotency::default(),
            clock: UrlClock::default(),
            virtual_clock: VirtualClock::start(),
            store: Mutex::new(store),
            url_ttl_secs: AtomicU64::new(url_ttl.as_secs()),
            max_issued_expiry: AtomicI64::new(i64::MIN),
            api_requests: AtomicU64::new(0),
            storage_requests: AtomicU64::new(0),
            nonces: AtomicU64::new(0),
            shutdown,
            rate_window: rate_limit.map(|(n, window)| RateWindow::new(n, window)),
        }
    }

    /// The data, locked and settled up to the virtual clock's now (every run transition
    /// planned until now has happened). Never hold the guard across an `.await`.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.settle(self.virtual_clock.now_ms());
        store
    }

    /// `req_000001`, `req_000002`, … in arrival order on the API listener.
    pub(crate) fn next_api_request_id(&self) -> String {
        format!(
            "req_{:06}",
            self.api_requests.fetch_add(1, Ordering::SeqCst) + 1
        )
    }

    /// An S3-style request ID for the storage origin.
    pub(crate) fn next_storage_request_id(&self) -> String {
        format!(
            "FAKE{:012X}",
            self.storage_requests.fetch_add(1, Ordering::SeqCst) + 1
        )
    }

    pub(crate) fn url_ttl(&self) -> Duration {
        Duration::from_secs(self.url_ttl_secs.load(Ordering::SeqCst))
    }

    pub(crate) fn set_url_ttl(&self, ttl: Duration) {
        self.url_ttl_secs.store(ttl.as_secs(), Ordering::SeqCst);
    }

    /// A fresh pre-signed download URL for `storage_id`; `expired` mints one that has already
    /// expired. Every call returns a different URL.
    pub(crate) fn mint_url(&self, storage_id: &str, expired: bool) -> String {
        let now = self.clock.now();
        let ttl = i64::try_from(self.url_ttl_secs.load(Ordering::SeqCst)).unwrap_or(i64::MAX);
        let expires = if expired {
            now - 1
        } else {
            now.saturating_add(ttl)
        };
        self.max_issued_expiry.fetch_max(expires, Ordering::SeqCst);
        let nonce = self.nonces.fetch_add(1, Ordering::SeqCst) + 1;
        let mut url = match reqwest::Url::parse(&self.storage_base) {
            Ok(url) => url,
            Err(_) => return String::new(),
        };
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.clear().push("files").push(storage_id);
        }
        url.set_query(Some(&signing::url_query(
            self.secret,
            storage_id,
            expires,
            nonce,
        )));
        url.into()
    }

    /// Checks the `expires`, `nonce` and `sig` query parameters of a download of `storage_id`.
    pub(crate) fn check_url(
        &self,
        storage_id: &str,
        expires: Option<&str>,
        nonce: Option<&str>,
        sig: Option<&str>,
    ) -> UrlCheck {
        let (Some(expires), Some(nonce), Some(sig)) = (expires, nonce, sig) else {
            return UrlCheck::Missing;
        };
        let (Ok(expires_at), Ok(nonce)) = (expires.parse::<i64>(), nonce.parse::<u64>()) else {
            return UrlCheck::BadSignature;
        };
        if signing::url_signature(self.secret, storage_id, expires_at, nonce) != sig {
            return UrlCheck::BadSignature;
        }
        if self.clock.now() >= expires_at {
            return UrlCheck::Expired;
        }
        UrlCheck::Valid
    }

    /// Makes every URL minted so far expired (by moving the URL clock forward).
    pub(crate) fn expire_urls(&self) {
        let latest = self.max_issued_expiry.load(Ordering::SeqCst);
        if latest != i64::MIN {
            self.clock.advance_to(latest);
        }
    }

    /// Resolves once the fake is shutting down.
    pub(crate) async fn shutting_down(&self) {
        let mut rx = self.shutdown.clone();
        // An error means the sender is gone, which also means shutdown.
        let _ = rx.wait_for(|down| *down).await;
    }
}
