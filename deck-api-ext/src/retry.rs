//! How failed API requests are retried: [`RetryConfig`]. The executor (`executor.rs`) applies it.
//!
//! # What is retried
//!
//! * Responses with status 429, 500, 502, 503 or 504, and transport failures before a response
//!   (connect errors, timeouts, connections reset while sending).
//! * `GET`, `HEAD`, `PUT`, `DELETE` and `OPTIONS` requests freely; `POST` and `PATCH` only when
//!   they carry an `Idempotency-Key` header, so a retry can never create a second resource.
//! * Requests whose body cannot be cloned (streams) are sent once.
//!
//! # Idempotency keys
//!
//! Deck accepts an `Idempotency-Key` on `POST`, `PATCH` and `DELETE` and replays the cached
//! response of a successful request with the same key. Every such generated builder has
//! `.idempotency_key(..)` (1 to 256 characters, checked before anything is sent) for a key of
//! your own, e.g. a business key stable across process restarts:
//!
//! ```no_run
//! # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
//! use deck_api_ext::prelude::*;
//!
//! let body = deck_api_ext::api::types::CreateTaskRequest::builder()
//!     .agent_id("agt_1")
//!     .name("Statements");
//! let task = deck
//!     .api()
//!     .create_task()
//!     .idempotency_key("user_456_create_task_789")
//!     .body(body)
//!     .call()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Without one, when retries are enabled, the client adds a random key, **one per logical call,
//! reused by every attempt of that call** (as async-stripe does), so a `createTask` whose response
//! was lost to a 503 is retried safely. The key travels with the request itself, so it survives
//! `tokio::spawn` and any executor. Turn generated keys off with
//! [`RetryConfig::with_auto_idempotency_keys`]`(false)`; then `POST`/`PATCH` without a key of
//! their own are sent once.
//!
//! # Delays
//!
//! Full-jitter exponential backoff (the crate's one backoff, shared with downloads): before retry
//! *n* (1-based) the client waits a uniformly random duration in
//! `[0, min(max_backoff, initial_backoff × 2^(n-1))]`. A `Retry-After` header (delta-seconds or
//! HTTP date) replaces that delay, capped at [`retry_after_cap`](RetryConfig::retry_after_cap).
//! The sum of all waits never exceeds [`max_total_delay`](RetryConfig::max_total_delay): a retry
//! that would exceed it is not made and the last response is returned. Waits use `tokio::time`,
//! so tests can pause time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderName;
use reqwest::{Method, StatusCode};

use crate::backoff::Backoff;

/// The header Deck reads idempotency keys from.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// How failed requests are retried. See the [module documentation](self) for the rules.
///
/// ```
/// use std::time::Duration;
/// use deck_api_ext::RetryConfig;
///
/// let retry = RetryConfig::default()
///     .with_max_attempts(6)
///     .with_initial_backoff(Duration::from_millis(200))
///     .with_max_total_delay(Duration::from_secs(30));
/// assert_eq!(retry.max_attempts(), 6);
/// assert_eq!(RetryConfig::disabled().max_attempts(), 1);
/// ```
#[derive(Clone)]
pub struct RetryConfig {
    max_attempts: u32,
    backoff: Backoff,
    max_total_delay: Duration,
    retry_after_cap: Duration,
    auto_idempotency_keys: bool,
}

impl Default for RetryConfig {
    /// 4 attempts in total, backoff from 500 ms up to 20 s, at most 60 s of waiting in all,
    /// `Retry-After` capped at 30 s, automatic idempotency keys.
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(20)),
            max_total_delay: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(30),
            auto_idempotency_keys: true,
        }
    }
}

impl RetryConfig {
    /// No retries: every request is sent once (and no idempotency key is added).
    pub fn disabled() -> Self {
        RetryConfig::default().with_max_attempts(1)
    }

    /// Total attempts per logical request, the first included (at least 1; 1 disables retries).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The backoff ceiling before the first retry; it doubles with each retry.
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.backoff.initial = backoff;
        self
    }

    /// The largest backoff ceiling.
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.backoff.max = backoff;
        self
    }

    /// The most time all waits of one logical request may add up to.
    pub fn with_max_total_delay(mut self, delay: Duration) -> Self {
        self.max_total_delay = delay;
        self
    }

    /// The longest `Retry-After` honoured; longer requests are shortened to this.
    pub fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Whether to add a generated `Idempotency-Key` to `POST`, `PATCH` and `DELETE` requests that
    /// lack one, making them retryable (default `true`).
    pub fn with_auto_idempotency_keys(mut self, enabled: bool) -> Self {
        self.auto_idempotency_keys = enabled;
        self
    }

    /// Replaces the jitter source (default `fastrand::f64`): a function returning numbers in
    /// `[0, 1)`; out-of-range results are clamped. For deterministic tests, e.g. `|| 1.0` waits
    /// the full backoff ceiling.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.backoff.jitter = Arc::new(jitter);
        self
    }

    /// Total attempts per logical request.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff ceiling before the first retry.
    pub fn initial_backoff(&self) -> Duration {
        self.backoff.initial
    }

    /// The largest backoff ceiling.
    pub fn max_backoff(&self) -> Duration {
        self.backoff.max
    }

    /// The most time all waits of one logical request may add up to.
    pub fn max_total_delay(&self) -> Duration {
        self.max_total_delay
    }

    /// The longest `Retry-After` honoured.
    pub fn retry_after_cap(&self) -> Duration {
        self.retry_after_cap
    }

    /// Whether generated idempotency keys are added.
    pub fn auto_idempotency_keys(&self) -> bool {
        self.auto_idempotency_keys
    }

    /// Whether more than one attempt is allowed.
    pub fn is_enabled(&self) -> bool {
        self.max_attempts > 1
    }

    /// The wait before retry number `retry`: the capped `Retry-After` when given, else backoff.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.retry_after_cap),
            None => self.backoff.delay(retry),
        }
    }
}

impl fmt::Debug for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfig")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.backoff.initial)
            .field("max_backoff", &self.backoff.max)
            .field("max_total_delay", &self.max_total_delay)
            .field("retry_after_cap", &self.retry_after_cap)
            .field("auto_idempotency_keys", &self.auto_idempotency_keys)
            .finish_non_exhaustive()
    }
}

/// Whether a response with `status` is worth retrying: 429, 500, 502, 503, 504.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

pub(crate) fn method_is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_capped_and_replaces_backoff() {
        let retry = RetryConfig::default()
            .with_retry_after_cap(Duration::from_secs(5))
            .with_initial_backoff(Duration::from_millis(500))
            .with_jitter(|| 1.0);
        assert_eq!(
            retry.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
        assert_eq!(retry.delay(2, None), Duration::from_secs(1));
    }
}
