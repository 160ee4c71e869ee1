//! The executor every Deck API request goes through, generated operations and the crate's own
//! calls alike: the key (through [`KeyBoundary`]), user agent, per-attempt timeout, idempotency
//! keys, retries ([`RetryConfig`]), tracing, and bounded reading of the response.
//!
//! # How the executor reports its own failures
//!
//! Decided once: the typed call path ([`CallExt`](crate::CallExt), pagination, the storage
//! helpers) calls [`DeckExecutor::call`], which returns this crate's [`Error`] directly —
//! deadline passed, body over its cap, transport failures, API errors with their decoded body.
//! progenitor's `exec` hook can only return a `reqwest::Error`, which cannot be constructed, so
//! the generated `send()` (the raw escape hatch) goes through [`Execute`] and gets the same
//! retries and authentication but none of the executor's own failures: it has no deadline and
//! reads its body itself.

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use deck_api::hooks::{BoxFuture, Execute};
use deck_api::sensitive::SensitivePaths;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::{Error, ErrorBody, Result};
use crate::key_boundary::{
    BodySecrets, KeyBoundary, MAX_SECRET_BYTES, MAX_SECRET_VALUES, Redactor,
};
use crate::rate_limit::Limiter;
use crate::response::{self, BodyFailure};
use crate::retry::{IDEMPOTENCY_KEY, RetryConfig, is_retryable_status, method_is_idempotent};
use crate::trace::{self, Outcome};

/// A successful response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Removes the key and the call's secrets (the request's, and this body's) from an error
    /// built from this body (a decode error quotes the body).
    pub(crate) redactor: Redactor,
}

impl Reply {
    /// `error`, built from this reply's body, without the API key or the call's secrets.
    pub(crate) fn scrub(&self, error: Error) -> Error {
        self.redactor.scrub(error)
    }
}

/// See the [module documentation](self).
pub(crate) struct DeckExecutor {
    pub(crate) boundary: KeyBoundary,
    pub(crate) user_agent: HeaderValue,
    /// Per attempt.
    pub(crate) timeout: Option<Duration>,
    /// Per call, unless the call sets its own.
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) max_response_body: usize,
    pub(crate) retry: RetryConfig,
    /// Shared by every clone of the client (the executor is behind one `Arc`).
    pub(crate) limiter: Limiter,
}

/// What bounds one call: an explicit deadline (which permit waits count against), or the
/// client-wide budget (spent only outside permit waits, so the limiter slows a call, never fails
/// it).
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    deadline: Option<Instant>,
    budget: Option<Duration>,
}

impl Limits {
    /// Runs `work`, spending the budget on the time it takes; `None` when the budget runs out.
    async fn spend<F: std::future::Future>(&mut self, work: F) -> Option<F::Output> {
        let Some(budget) = self.budget else {
            return Some(work.await);
        };
        let started = Instant::now();
        let out = tokio::time::timeout(budget, work).await.ok();
        self.budget = Some(budget.saturating_sub(started.elapsed()));
        out
    }
}

/// Why the retry loop gave up without a response.
enum RunFailure {
    Transport(reqwest::Error),
    /// The next permit is later than the call's deadline.
    PermitTooLate(Duration),
    /// The client-wide call deadline was spent.
    BudgetSpent,
}

/// A fresh random idempotency key in UUID v4 form.
pub(crate) fn generate_idempotency_key() -> HeaderValue {
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
    HeaderValue::from_str(&key).expect("hex and dashes are a valid header value")
}

impl DeckExecutor {
    /// Sends `request` as `operation` and reads the successful response whole, within the call's
    /// deadline (`deadline`, else the client-wide one). A failure never holds the API key, nor
    /// the values of the operation's secret fields (`sensitive`: those sent in the request body,
    /// and those of the success body for its decode errors, in [`Reply::redactor`]), even when
    /// the server echoed them (see [`Redactor`]); neither do traces. A request body whose
    /// secrets cannot all be located (not JSON, or beyond the caps of [`BodySecrets`]) is
    /// refused before anything is sent.
    pub(crate) async fn call(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
        sensitive: SensitivePaths,
        deadline: Option<Duration>,
    ) -> Result<Reply> {
        let redactor = self
            .request_redactor(&request, sensitive.request)
            .ok_or_else(|| {
                Error::invalid_request(
                    operation,
                    format!(
                        "the request body cannot be searched for the values of its secret fields ({}): it is not JSON, or holds more than {MAX_SECRET_VALUES} values or {MAX_SECRET_BYTES} bytes there; nothing was sent",
                        sensitive.request.join(", ")
                    ),
                )
            })?;
        self.call_unscrubbed(
            client,
            request,
            operation,
            sensitive.response,
            &redactor,
            deadline,
        )
        .await
        .map_err(|e| redactor.scrub(e))
    }

    /// The key's redactor, plus the secrets of `request`'s body under `paths`; `None` when they
    /// cannot all be located (a streaming body, not JSON, over the caps).
    fn request_redactor(&self, request: &reqwest::Request, paths: &[&str]) -> Option<Redactor> {
        let key = self.boundary.redactor();
        let Some(body) = request.body().filter(|_| !paths.is_empty()) else {
            return Some(key.clone());
        };
        let found = BodySecrets::find(body.as_bytes()?, paths);
        found.complete.then(|| key.with_body(found))
    }

    async fn call_unscrubbed(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
        response_secrets: &[&str],
        redactor: &Redactor,
        deadline: Option<Duration>,
    ) -> Result<Reply> {
        let span = trace::request_span(operation, &request);
        let mut limits = match deadline {
            Some(limit) => Limits {
                deadline: Some(Instant::now() + limit),
                budget: None,
            },
            None => Limits {
                deadline: None,
                budget: self.call_timeout,
            },
        };
        let default_limit = self.call_timeout.unwrap_or_default();
        let work = async {
            let response = self
                .run(client, request, &mut limits, redactor)
                .await
                .map_err(|failure| match failure {
                    RunFailure::Transport(e) => Error::transport(operation, e),
                    RunFailure::PermitTooLate(wait) => Error::permit_too_late(operation, wait),
                    RunFailure::BudgetSpent => Error::deadline(operation, default_limit),
                })?;
            let status = response.status();
            if !status.is_success() {
                return Err(Error::from_response(operation, response).await);
            }
            let headers = response.headers().clone();
            let body = limits
                .spend(response::read_body(response, self.max_response_body))
                .await
                .ok_or_else(|| Error::deadline(operation, default_limit))?
                .map_err(|failure| match failure {
                    BodyFailure::TooLarge { cap } => Error::body_too_large(operation, cap),
                    BodyFailure::Transport(e) => Error::transport(operation, e),
                })?;
            // A decode error quotes the body: the secrets it carries are scrubbed too, and when
            // they cannot all be located the error keeps no copy of it.
            let redactor = redactor.with_body(BodySecrets::find(&body, response_secrets));
            Ok(Reply {
                status,
                headers,
                body,
                redactor,
            })
        }
        .instrument(span);
        match deadline {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .unwrap_or_else(|_| Err(Error::deadline(operation, limit))),
            None => work.await,
        }
    }

    /// Adds the headers and timeout; the key only where [`KeyBoundary`] allows. Returns whether
    /// the request goes to Deck.
    fn prepare(&self, request: &mut reqwest::Request) -> bool {
        if self.timeout.is_some() && request.timeout().is_none() {
            *request.timeout_mut() = self.timeout;
        }
        if !request.headers().contains_key(USER_AGENT) {
            request
                .headers_mut()
                .insert(USER_AGENT, self.user_agent.clone());
        }
        if !self.boundary.apply(request) {
            return false;
        }
        let mutating = matches!(
            *request.method(),
            reqwest::Method::POST | reqwest::Method::PATCH | reqwest::Method::DELETE
        );
        if mutating
            && !request.headers().contains_key(IDEMPOTENCY_KEY)
            && self.retry.is_enabled()
            && self.retry.auto_idempotency_keys()
        {
            request
                .headers_mut()
                .insert(IDEMPOTENCY_KEY, generate_idempotency_key());
        }
        true
    }

    /// How many attempts `request` may get.
    fn attempts_for(&self, request: &reqwest::Request) -> u32 {
        let retry_safe = method_is_idempotent(request.method())
            || request.headers().contains_key(IDEMPOTENCY_KEY);
        if retry_safe && request.try_clone().is_some() {
            self.retry.max_attempts()
        } else {
            1
        }
    }

    /// The retry loop: every attempt of one logical request, each after a permit of the rate
    /// limiter (requests to Deck only). A failed response comes back with its (capped) body
    /// buffered; a success with its body unread. What it traces from a response (request id,
    /// error code) passes through `redactor`.
    async fn run(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        limits: &mut Limits,
        redactor: &Redactor,
    ) -> std::result::Result<reqwest::Response, RunFailure> {
        let to_deck = self.prepare(&mut request);
        let max_attempts = self.attempts_for(&request);
        let started = tokio::time::Instant::now();
        let mut waited = Duration::ZERO;
        let mut permit_wait = Duration::ZERO;
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
            if to_deck {
                permit_wait += self
                    .limiter
                    .acquire(limits.deadline)
                    .await
                    .map_err(|late| RunFailure::PermitTooLate(late.wait))?;
            }
            let attempt_result = limits
                .spend(async {
                    match client.execute(this).await {
                        Ok(response) if !response.status().is_success() => {
                            Ok(buffer_error(response, redactor).await)
                        }
                        Ok(response) => Ok(Attempt::Success(response)),
                        Err(error) => Err(error),
                    }
                })
                .await;
            let Some(result) = attempt_result else {
                return Err(RunFailure::BudgetSpent);
            };
            let rate_limited = matches!(&result, Ok(Attempt::Failure(f)) if f.is_rate_limited());
            let told_when = matches!(&result, Ok(Attempt::Failure(f))
                if f.response.headers().contains_key(reqwest::header::RETRY_AFTER));
            if to_deck && result.is_ok() {
                match (rate_limited, told_when) {
                    // Deck documents no Retry-After: one that comes is followed as it says.
                    (true, true) => {}
                    (true, false) => self.limiter.on_rate_limited(),
                    (false, _) => self.limiter.on_success(),
                }
            }
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
                    response::retry_after(failure.response.headers(), SystemTime::now()),
                    is_retryable_status(failure.response.status()),
                ),
                Err(error) => (Outcome::Failed(error), None, response::is_transient(error)),
            };
            if retryable && !last {
                // With the limiter on, a rate-limit rejection waits for the next permit (at the
                // rate that just dropped) instead of a backoff of its own.
                let paced = rate_limited && retry_after.is_none() && self.limiter.is_on();
                let delay = if paced {
                    Duration::ZERO
                } else {
                    self.retry.delay(attempt, retry_after)
                };
                if waited + delay <= self.retry.max_total_delay() {
                    trace::retrying(attempt, delay, &outcome);
                    if limits.spend(tokio::time::sleep(delay)).await.is_none() {
                        return Err(RunFailure::BudgetSpent);
                    }
                    waited += delay;
                    attempt += 1;
                    continue;
                }
            }
            let span = tracing::Span::current();
            if !permit_wait.is_zero() {
                span.record("permit_wait_ms", permit_wait.as_millis() as u64);
            }
            let header_id = match &result {
                Ok(Attempt::Success(response)) => response::header_request_id(response.headers())
                    .map(|id| redactor.text(&id).into_owned()),
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
            return result
                .map(Attempt::into_response)
                .map_err(RunFailure::Transport);
        }
    }
}

/// The raw escape hatch: progenitor's generated `send()` ends here (see the module docs).
impl Execute for DeckExecutor {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let span = trace::request_span(operation_id, &request);
        // The operation's secret request values stay out of the traces here too (the caller
        // gets the raw response).
        let paths = deck_api::sensitive::sensitive_paths(operation_id).request;
        let redactor = match request.body().and_then(reqwest::Body::as_bytes) {
            Some(body) if !paths.is_empty() => self
                .boundary
                .redactor()
                .with_body(BodySecrets::find(body, paths)),
            _ => self.boundary.redactor().clone(),
        };
        Box::pin(
            async move {
                match self
                    .run(client, request, &mut Limits::default(), &redactor)
                    .await
                {
                    Ok(response) => Ok(response),
                    Err(RunFailure::Transport(e)) => Err(e),
                    // Without a deadline or budget neither can happen; a permit is always granted.
                    Err(RunFailure::PermitTooLate(_) | RunFailure::BudgetSpent) => {
                        unreachable!("the escape hatch sets no deadline")
                    }
                }
            }
            .instrument(span),
        )
    }
}

impl fmt::Debug for DeckExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeckExecutor")
            .field("base_url", &self.boundary.base().as_str())
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("call_timeout", &self.call_timeout)
            .field("max_response_body", &self.max_response_body)
            .field("retry", &self.retry)
            .field("rate_limit", &self.limiter)
            .finish()
    }
}

/// One attempt's response: a success passed through untouched, or a failure whose body was read
/// (capped) so that its request id and code can be logged and the retry decided.
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
    /// A 429 whose code is `rate_limit_exceeded` (or that carries no code): a request-rate signal.
    /// `session_limit_exceeded` (the concurrency limit on runs) is not.
    fn is_rate_limited(&self) -> bool {
        self.response.status() == StatusCode::TOO_MANY_REQUESTS
            && !self
                .body
                .errors
                .iter()
                .any(|e| e.code == "session_limit_exceeded")
    }

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

/// Reads the body of a failed response (capped) and rebuilds the response around it, so the
/// caller still gets status, headers, URL and body.
async fn buffer_error(response: reqwest::Response, redactor: &Redactor) -> Attempt {
    let status = response.status();
    let version = response.version();
    let url = response.url().clone();
    let mut headers = response.headers().clone();
    let (body, truncated) = response::read_error_body(response).await;
    if truncated {
        headers.remove(reqwest::header::CONTENT_LENGTH);
    }
    let mut parsed = ErrorBody::parse(&body);
    // Only the request id and the codes are traced; the full error is scrubbed in `call`.
    let request_id = parsed
        .request_id
        .clone()
        .or_else(|| response::header_request_id(&headers))
        .map(|id| redactor.text(&id).into_owned());
    for detail in &mut parsed.errors {
        detail.code = redactor.text(&detail.code).into_owned();
    }
    let mut builder = http::Response::builder().status(status).version(version);
    builder = reqwest::ResponseBuilderExt::url(builder, url);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    let rebuilt = builder
        .body(body)
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
    use crate::key_boundary::BaseUrl;

    fn executor(retry: RetryConfig) -> DeckExecutor {
        let base = BaseUrl::parse("https://api.deck.co/v2", "base URL").unwrap();
        DeckExecutor {
            boundary: KeyBoundary::new(
                base,
                HeaderValue::from_static("Bearer sk_live_unit_secret"),
            ),
            user_agent: HeaderValue::from_static("deck-api-rust/test"),
            timeout: Some(Duration::from_secs(9)),
            call_timeout: None,
            max_response_body: 1024,
            retry,
            limiter: Limiter::new(crate::rate_limit::RateLimit::default()),
        }
    }

    #[test]
    fn prepare_adds_key_timeout_and_idempotency_key_for_deck_only() {
        let deck = executor(RetryConfig::default());
        let client = reqwest::Client::new();
        let mut to_deck = client.post("https://api.deck.co/v2/tasks").build().unwrap();
        deck.prepare(&mut to_deck);
        assert!(to_deck.headers().contains_key(IDEMPOTENCY_KEY));
        assert_eq!(to_deck.timeout(), Some(&Duration::from_secs(9)));
        assert!(!format!("{deck:?}").contains("sk_live_unit_secret"));
        let mut own_key = client
            .post("https://api.deck.co/v2/tasks")
            .header("idempotency-key", "mine")
            .build()
            .unwrap();
        deck.prepare(&mut own_key);
        assert_eq!(own_key.headers()[IDEMPOTENCY_KEY], "mine");
        let mut elsewhere = client.post("https://files.example.com/x").build().unwrap();
        deck.prepare(&mut elsewhere);
        assert!(!elsewhere.headers().contains_key(IDEMPOTENCY_KEY));
        assert_eq!(elsewhere.headers()[USER_AGENT], "deck-api-rust/test");
        let once = executor(RetryConfig::disabled());
        let mut post = client.post("https://api.deck.co/v2/tasks").build().unwrap();
        once.prepare(&mut post);
        assert!(!post.headers().contains_key(IDEMPOTENCY_KEY));
    }

    #[test]
    fn generated_keys_are_uuid_v4_and_distinct() {
        let a = generate_idempotency_key();
        let b = generate_idempotency_key();
        assert_ne!(a, b);
        let s = a.to_str().unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
    }
}
