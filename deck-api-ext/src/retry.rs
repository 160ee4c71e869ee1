//! Retries, authentication and tracing of every Deck request: [`RetryConfig`] and the executor
//! the generated client sends through.
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
//! response of a successful request with the same key. When retries are enabled, the client adds
//! a random key to each such request that lacks one, **one key per logical call, reused by every
//! attempt** (as async-stripe does). So a `createTask` whose response was lost to a 503 is retried
//! safely: Deck answers the retry from its cache instead of creating a second task. Turn this off
//! with [`RetryConfig::with_auto_idempotency_keys`]`(false)`; then `POST`/`PATCH` are sent once
//! unless the request carries its own key. To choose the key yourself (a business key such as
//! `user_456_run_task_789`, stable across process restarts), run the call inside
//! [`with_idempotency_key`].
//!
//! # Delays
//!
//! Full-jitter exponential backoff: before retry *n* (1-based) the client waits a uniformly random
//! duration in `[0, min(max_backoff, initial_backoff × 2^(n-1))]`. A `Retry-After` header
//! (delta-seconds or HTTP date) replaces that delay, capped at
//! [`retry_after_cap`](RetryConfig::retry_after_cap). The sum of all waits never exceeds
//! [`max_total_delay`](RetryConfig::max_total_delay): a retry that would exceed it is not made and
//! the last response is returned. Waits use `tokio::time`, so tests can pause time.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use deck_api::hooks::{BoxFuture, Execute};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Method, StatusCode};
use tracing::Instrument;

use crate::config::BaseUrl;
use crate::error::{Error, ErrorBody, MAX_ERROR_BODY, Result};
use crate::trace::{self, Outcome};

/// The header Deck reads idempotency keys from.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Response headers that may carry a request id (Deck documents it in the body; proxies and
/// future API versions may add a header).
const REQUEST_ID_HEADERS: [&str; 2] = ["x-request-id", "request-id"];

/// A source of uniformly distributed numbers in `[0, 1)` for backoff jitter.
type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

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
    initial_backoff: Duration,
    max_backoff: Duration,
    max_total_delay: Duration,
    retry_after_cap: Duration,
    auto_idempotency_keys: bool,
    jitter: Jitter,
}

impl Default for RetryConfig {
    /// 4 attempts in total, backoff from 500 ms up to 20 s, at most 60 s of waiting in all,
    /// `Retry-After` capped at 30 s, automatic idempotency keys.
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_total_delay: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(30),
            auto_idempotency_keys: true,
            jitter: Arc::new(fastrand::f64),
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
        self.initial_backoff = backoff;
        self
    }

    /// The largest backoff ceiling.
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
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
        self.jitter = Arc::new(jitter);
        self
    }

    /// Total attempts per logical request.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff ceiling before the first retry.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The largest backoff ceiling.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
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

    /// The full-jitter backoff before retry number `retry` (1-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let r = (self.jitter)();
        let r = if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            1.0
        };
        ceiling.mul_f64(r)
    }

    /// The wait before retry number `retry`: the capped `Retry-After` when given, else backoff.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.retry_after_cap),
            None => self.backoff(retry),
        }
    }
}

impl fmt::Debug for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfig")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_total_delay", &self.max_total_delay)
            .field("retry_after_cap", &self.retry_after_cap)
            .field("auto_idempotency_keys", &self.auto_idempotency_keys)
            .finish_non_exhaustive()
    }
}

/// An `Idempotency-Key` value: 1 to 256 visible ASCII characters (Deck's limit).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(HeaderValue);

impl IdempotencyKey {
    /// Validates `key`: 1 to 256 visible ASCII characters.
    pub fn new(key: impl AsRef<str>) -> Result<Self> {
        let key = key.as_ref();
        if key.is_empty() || key.len() > 256 {
            return Err(Error::config(
                "an idempotency key must be 1 to 256 characters long",
            ));
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::config(
                "an idempotency key must consist of visible ASCII characters",
            ));
        }
        HeaderValue::from_str(key)
            .map(IdempotencyKey)
            .map_err(|_| Error::config("an idempotency key must be a valid header value"))
    }

    /// A fresh random key in UUID v4 form.
    pub fn generate() -> Self {
        let n = fastrand::u128(..);
        let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let hex = format!("{n:032x}");
        let key = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        IdempotencyKey(HeaderValue::from_str(&key).expect("hex and dashes are a valid header"))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdempotencyKey")
            .field(&self.as_str())
            .finish()
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

tokio::task_local! {
    static SCOPED_KEY: IdempotencyKey;
}

/// Runs `call` (one `POST`, `PATCH` or `DELETE`) with `key` as its `Idempotency-Key`, in place of
/// a generated one. Every attempt of the call sends the key; a later call with the same key and
/// the same parameters gets Deck's cached response (for 24 hours), with different parameters a 409.
/// Wrap exactly one mutating call: all of them inside share the key.
///
/// ```no_run
/// # async fn demo(deck: deck_api_ext::Deck, body: deck_api_ext::api::types::CreateTaskRequest) -> deck_api_ext::Result<()> {
/// use deck_api_ext::retry::{IdempotencyKey, with_idempotency_key};
///
/// let key = IdempotencyKey::new("user_456_create_task_789")?;
/// let task = with_idempotency_key(key, deck.send("createTask", deck.api().create_task().body(body).send()))
///     .await?;
/// # Ok(()) }
/// ```
pub async fn with_idempotency_key<F: Future>(key: IdempotencyKey, call: F) -> F::Output {
    SCOPED_KEY.scope(key, call).await
}

/// Whether a response with `status` is worth retrying: 429, 500, 502, 503, 504.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// Whether a transport failure happened before a response and may not recur: connect errors,
/// timeouts, and requests that failed while being sent (e.g. a pooled connection closed).
pub(crate) fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || (error.is_request() && !error.is_builder())
}

/// How long `Retry-After` in `headers` asks to wait, relative to `now`; `None` when absent or
/// malformed. A date in the past means no wait.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A request id from the response headers, when the server sends one.
pub(crate) fn header_request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

fn method_is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// The executor every Deck request goes through: adds the key (to base-URL requests only), the
/// user agent, the timeout and idempotency keys; retries; traces.
pub(crate) struct DeckExecutor {
    base: BaseUrl,
    auth: HeaderValue,
    user_agent: HeaderValue,
    timeout: Option<Duration>,
    retry: RetryConfig,
}

impl DeckExecutor {
    pub(crate) fn new(
        base: BaseUrl,
        auth: HeaderValue,
        user_agent: HeaderValue,
        timeout: Option<Duration>,
        retry: RetryConfig,
    ) -> Self {
        DeckExecutor {
            base,
            auth,
            user_agent,
            timeout,
            retry,
        }
    }

    /// Adds the headers and timeout. The key goes only to URLs under the base URL.
    fn prepare(&self, request: &mut reqwest::Request) {
        let to_deck = self.base.contains(request.url());
        if self.timeout.is_some() && request.timeout().is_none() {
            *request.timeout_mut() = self.timeout;
        }
        let method = request.method().clone();
        let headers = request.headers_mut();
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
        if !to_deck {
            return;
        }
        headers.insert(AUTHORIZATION, self.auth.clone());
        let mutating = matches!(method, Method::POST | Method::PATCH | Method::DELETE);
        if mutating && !headers.contains_key(IDEMPOTENCY_KEY) {
            let scoped = SCOPED_KEY.try_with(IdempotencyKey::clone).ok();
            let key = scoped.or_else(|| {
                (self.retry.is_enabled() && self.retry.auto_idempotency_keys)
                    .then(IdempotencyKey::generate)
            });
            if let Some(key) = key {
                headers.insert(IDEMPOTENCY_KEY, key.0);
            }
        }
    }

    /// How many attempts `request` may get.
    fn attempts_for(&self, request: &reqwest::Request) -> u32 {
        let retry_safe = method_is_idempotent(request.method())
            || request.headers().contains_key(IDEMPOTENCY_KEY);
        if retry_safe && request.try_clone().is_some() {
            self.retry.max_attempts
        } else {
            1
        }
    }

    async fn run(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        self.prepare(&mut request);
        let max_attempts = self.attempts_for(&request);
        let started = tokio::time::Instant::now();
        let mut waited = Duration::ZERO;
        let mut request = Some(request);
        let mut attempt = 1;
        loop {
            let this = if attempt < max_attempts {
                request.as_ref().and_then(reqwest::Request::try_clone)
            } else {
                None
            };
            let this = match this {
                Some(clone) => clone,
                None => request
                    .take()
                    .expect("the last attempt consumes the request"),
            };
            let last = request.is_none();
            let result = match client.execute(this).await {
                Ok(response) if !response.status().is_success() => Ok(buffer_error(response).await),
                Ok(response) => Ok(Attempt::Success(response)),
                Err(error) => Err(error),
            };
            let (outcome, retry_after, retryable) = match &result {
                Ok(Attempt::Success(response)) => (
                    Outcome::Response {
                        status: response.status(),
                        request_id: None,
                        code: None,
                    },
                    None,
                    false,
                ),
                Ok(Attempt::Failure(failure)) => (
                    failure.outcome(),
                    retry_after(failure.response.headers(), SystemTime::now()),
                    is_retryable_status(failure.response.status()),
                ),
                Err(error) => (Outcome::Failed(error), None, is_transient(error)),
            };
            if retryable && !last {
                let delay = self.retry.delay(attempt, retry_after);
                if waited + delay <= self.retry.max_total_delay {
                    trace::retrying(attempt, delay, &outcome);
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    attempt += 1;
                    continue;
                }
            }
            let span = tracing::Span::current();
            let header_id = match &result {
                Ok(Attempt::Success(response)) => header_request_id(response.headers()),
                _ => None,
            };
            let outcome = match (outcome, header_id.as_deref()) {
                (Outcome::Response { status, .. }, Some(id)) => Outcome::Response {
                    status,
                    request_id: Some(id),
                    code: None,
                },
                (outcome, _) => outcome,
            };
            trace::finish(&span, attempt, started.elapsed(), &outcome);
            return result.map(Attempt::into_response);
        }
    }
}

impl Execute for DeckExecutor {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let span = trace::request_span(operation_id, &request);
        Box::pin(self.run(client, request).instrument(span))
    }
}

impl fmt::Debug for DeckExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeckExecutor")
            .field("base_url", &self.base.as_str())
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// One attempt's response: a success passed through untouched, or a failure whose body was read
/// (it is small) so that its request id and code can be logged and the retry decided.
enum Attempt {
    Success(reqwest::Response),
    Failure(Failure),
}

struct Failure {
    response: reqwest::Response,
    body: ErrorBody,
    request_id: Option<String>,
}

impl Failure {
    fn outcome(&self) -> Outcome<'_> {
        Outcome::Response {
            status: self.response.status(),
            request_id: self.request_id.as_deref(),
            code: self
                .body
                .errors
                .iter()
                .map(|e| e.code.as_str())
                .find(|c| !c.is_empty()),
        }
    }
}

impl Attempt {
    fn into_response(self) -> reqwest::Response {
        match self {
            Attempt::Success(response) => response,
            Attempt::Failure(failure) => failure.response,
        }
    }
}

/// Reads the body of a failed response (up to 64 KiB) and rebuilds the response around it, so
/// the caller still gets status, headers, URL and body.
async fn buffer_error(mut response: reqwest::Response) -> Attempt {
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let mut headers = response.headers().clone();
    let mut body = Vec::new();
    let mut truncated = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    truncated = true;
                    break;
                }
            }
            Ok(None) => break,
            Err(_) => {
                truncated = true;
                break;
            }
        }
    }
    if truncated {
        headers.remove(reqwest::header::CONTENT_LENGTH);
    }
    let parsed = ErrorBody::parse(&body);
    let request_id = parsed
        .request_id
        .clone()
        .or_else(|| header_request_id(&headers));
    let mut builder = http::Response::builder().status(status).version(version);
    builder = reqwest::ResponseBuilderExt::url(builder, url);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    let rebuilt = builder
        .body(Bytes::from(body))
        .expect("status, version and headers come from a valid response");
    Attempt::Failure(Failure {
        response: reqwest::Response::from(rebuilt),
        body: parsed,
        request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_exponential_and_capped() {
        let full = RetryConfig::default()
            .with_initial_backoff(Duration::from_millis(500))
            .with_max_backoff(Duration::from_secs(3))
            .with_jitter(|| 1.0);
        assert_eq!(full.backoff(1), Duration::from_millis(500));
        assert_eq!(full.backoff(2), Duration::from_secs(1));
        assert_eq!(full.backoff(3), Duration::from_secs(2));
        assert_eq!(full.backoff(4), Duration::from_secs(3));
        assert_eq!(full.backoff(40), Duration::from_secs(3));
        let half = full.clone().with_jitter(|| 0.5);
        assert_eq!(half.backoff(2), Duration::from_millis(500));
        let weird = full.with_jitter(|| f64::NAN);
        assert_eq!(weird.backoff(1), Duration::from_millis(500));
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        headers.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(42)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        headers.insert("retry-after", HeaderValue::from_str(&earlier).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn retry_after_is_capped() {
        let retry = RetryConfig::default().with_retry_after_cap(Duration::from_secs(5));
        assert_eq!(
            retry.delay(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn the_key_is_a_sensitive_header_for_base_url_requests_only() {
        let base = BaseUrl::parse("https://api.deck.co/v2", "base URL").unwrap();
        let mut auth = HeaderValue::from_static("Bearer sk_live_unit_secret");
        auth.set_sensitive(true);
        let executor = DeckExecutor::new(
            base,
            auth,
            HeaderValue::from_static("deck-api-rust/test"),
            Some(Duration::from_secs(9)),
            RetryConfig::default(),
        );
        let client = reqwest::Client::new();
        let mut to_deck = client.post("https://api.deck.co/v2/tasks").build().unwrap();
        executor.prepare(&mut to_deck);
        let header = &to_deck.headers()[AUTHORIZATION];
        assert!(header.is_sensitive());
        assert!(!format!("{to_deck:?}").contains("sk_live_unit_secret"));
        assert!(to_deck.headers().contains_key(IDEMPOTENCY_KEY));
        assert_eq!(to_deck.timeout(), Some(&Duration::from_secs(9)));
        assert!(!format!("{executor:?}").contains("sk_live_unit_secret"));

        let mut elsewhere = client
            .get("https://files.example.com/v2/tasks?sig=1")
            .build()
            .unwrap();
        executor.prepare(&mut elsewhere);
        assert!(!elsewhere.headers().contains_key(AUTHORIZATION));
        assert_eq!(elsewhere.headers()[USER_AGENT], "deck-api-rust/test");
    }

    #[test]
    fn generated_keys_are_uuid_v4_and_distinct() {
        let a = IdempotencyKey::generate();
        let b = IdempotencyKey::generate();
        assert_ne!(a, b);
        let s = a.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn idempotency_keys_are_validated() {
        assert!(IdempotencyKey::new("user_456_run_task_789").is_ok());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a b").is_err());
        assert!(IdempotencyKey::new("x".repeat(257)).is_err());
        assert!(IdempotencyKey::new("x".repeat(256)).is_ok());
    }
}
