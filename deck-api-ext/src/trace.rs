//! Tracing for Deck requests: one `deck.request` span per logical request, one event per retry.
//!
//! Span fields: `operation` (the spec's operationId), `method`, `path` (the URL path only: query
//! strings are never recorded), and, once known, `status`, `attempt` (attempts made),
//! `duration_ms` (all attempts and waits), `permit_wait_ms` (time spent waiting for the rate
//! limiter, when any) and `request_id` (Deck puts it in the body: it is read
//! from failed responses, whose bodies the executor buffers; for successes it is recorded when a
//! `x-request-id` or `request-id` header carries it, and is otherwise the `request_id` field of
//! the decoded response). Nothing here sees the API key: the `Authorization` header is never
//! read, and no header or body is logged. The request id and error code it records from a
//! response have passed through the call's `Redactor` (the executor), which removes the key and
//! the values of the operation's secret fields a server may have echoed there.

use std::time::Duration;

use tracing::Span;
use tracing::field::Empty;

/// The span for one logical request (all its attempts).
pub(crate) fn request_span(operation: &str, request: &reqwest::Request) -> Span {
    tracing::info_span!(
        "deck.request",
        operation = %operation,
        method = %request.method(),
        path = request.url().path(),
        status = Empty,
        attempt = Empty,
        duration_ms = Empty,
        permit_wait_ms = Empty,
        request_id = Empty,
    )
}

/// What an attempt ended with, for the span and the retry event.
pub(crate) enum Outcome<'a> {
    /// A response with this status, Deck `request_id` and first error `code`, when known.
    Response {
        status: reqwest::StatusCode,
        request_id: Option<&'a str>,
        code: Option<&'a str>,
    },
    /// No response: the transport failed.
    Failed(&'a reqwest::Error),
}

/// Records the final outcome on `span` and emits the completion event.
pub(crate) fn finish(span: &Span, attempts: u32, elapsed: Duration, outcome: &Outcome<'_>) {
    span.record("attempt", attempts);
    span.record("duration_ms", duration_ms(elapsed));
    match outcome {
        Outcome::Response {
            status,
            request_id,
            code,
        } => {
            span.record("status", status.as_u16());
            if let Some(request_id) = request_id {
                span.record("request_id", *request_id);
            }
            if status.is_success() {
                tracing::debug!(status = status.as_u16(), "Deck request succeeded");
            } else {
                tracing::debug!(
                    status = status.as_u16(),
                    code = code.unwrap_or(""),
                    "Deck request failed"
                );
            }
        }
        Outcome::Failed(error) => {
            tracing::debug!(error = %TransportError(error), "Deck request failed in transport");
        }
    }
}

/// Emits the event announcing that attempt `attempt` failed and another follows after `delay`.
pub(crate) fn retrying(attempt: u32, delay: Duration, outcome: &Outcome<'_>) {
    let delay_ms = duration_ms(delay);
    match outcome {
        Outcome::Response {
            status,
            request_id,
            code,
        } => tracing::info!(
            attempt,
            delay_ms,
            status = status.as_u16(),
            code = code.unwrap_or(""),
            request_id = request_id.unwrap_or(""),
            "retrying Deck request"
        ),
        Outcome::Failed(error) => tracing::info!(
            attempt,
            delay_ms,
            error = %TransportError(error),
            "retrying Deck request"
        ),
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Displays a transport error without its URL (whose query string may be a credential) but
/// with its root cause, e.g. `connect: Connection refused (os error 111)`.
struct TransportError<'a>(&'a reqwest::Error);

impl std::fmt::Display for TransportError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.0;
        let what = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else if e.is_body() {
            "body"
        } else {
            "request"
        };
        f.write_str(what)?;
        let mut source = std::error::Error::source(e);
        let mut last = None;
        while let Some(s) = source {
            last = Some(s);
            source = s.source();
        }
        if let Some(root) = last {
            write!(f, ": {root}")?;
        }
        Ok(())
    }
}
