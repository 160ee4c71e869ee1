//! One error type for every fallible call in this crate: [`Error`], classified by [`ErrorKind`].
//!
//! An [`Error`] keeps everything a caller needs to react or report: the HTTP status, every entry of
//! Deck's `errors` array ([`ApiErrorDetail`]: `type`, `code`, `message`, `field`), the field map of a
//! 400 validation response, the `request_id`, a `Retry-After` hint, and, when a body could not be
//! decoded, the JSON path that failed plus a truncated copy of the body. Its `Display` is one line
//! a user can act on, for example
//! `listTaskRunStorage: HTTP 404 Not Found: not_found: Task run not found (request_id req_123)`.
//!
//! The API key never appears in an error: requests are not stored, and URLs kept by transport
//! errors lose their query string (pre-signed download URLs carry their signature there). Nor do
//! the values of an operation's secret fields (a credential's password, a session token) when a
//! server echoes or returns them: see `key_boundary::Redactor`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::response::{self, header_request_id, transport_message};
use crate::retry;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// [`Error::raw_body`] keeps at most this many bytes of an undecodable body.
const RAW_BODY_SNIPPET: usize = 1024;

/// `Display` quotes at most this many characters of an undecodable body.
const DISPLAY_SNIPPET: usize = 120;

/// `Display` shows at most this many characters of any one value a server sent (a message, a
/// code, a field name, a request id, a quoted value inside a decode message), then `…`. Programs
/// that print server text themselves can bound it the same way with [`clip`].
pub const QUOTE_LIMIT: usize = 100;

/// `Display` shows at most this many entries of Deck's `errors` array or validation map, then
/// says how many more there were.
const DISPLAY_ENTRIES: usize = 5;

/// `Display` shows at most this many characters of a message this crate composed (which may
/// embed several values from a server), then `…`.
const MESSAGE_LIMIT: usize = 400;

/// What replaces a secret (the API key, the value of a secret field) in every message an
/// [`Error`] holds.
pub const REDACTED: &str = "[redacted]";

/// What went wrong, broadly; see [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Deck answered with a non-success HTTP status ([`Error::status`] says which).
    Api,
    /// The request could not be sent or its response not received (DNS, connect, TLS, reset).
    Transport,
    /// A connect, read or total timeout elapsed.
    Timeout,
    /// A response body did not have the expected shape.
    Decode,
    /// The request could not be built from the arguments given.
    InvalidRequest,
    /// The client configuration is unusable (missing API key, malformed base URL, ...).
    Config,
    /// A paginated listing misbehaved (missing or repeated cursor, ...).
    Pagination,
    /// A local file operation failed.
    Io,
    /// Downloading a file from its pre-signed URL failed.
    Download,
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Api => "API error",
            ErrorKind::Transport => "transport error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Decode => "undecodable response",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Pagination => "pagination error",
            ErrorKind::Io => "I/O error",
            ErrorKind::Download => "download failed",
        }
    }
}

/// One entry of the `errors` array of Deck's error envelope
/// (`{"errors": [{"type", "code", "message", "field"}], "request_id"}`).
///
/// Fields missing from the body are empty strings (or `None` for `field`), so a partial envelope
/// still yields what it has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ApiErrorDetail {
    /// The error category, e.g. `request`, `rate_limit`, `api` (`type` in the body).
    pub error_type: String,
    /// The machine-readable code, e.g. `input_missing`, `rate_limit_exceeded`.
    pub code: String,
    /// The human-readable explanation; do not branch on it.
    pub message: String,
    /// The input field that caused the error, when Deck names one.
    pub field: Option<String>,
}

/// The error returned by every fallible operation of this crate.
///
/// Opaque on purpose: inspect it with the accessors ([`kind`](Self::kind),
/// [`status`](Self::status), [`code`](Self::code), [`request_id`](Self::request_id), ...) so that
/// new details can be added without breaking callers.
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    operation: Option<String>,
    /// The task run a wait was about (`run_wait.rs`, `run_watch.rs`).
    run_id: Option<String>,
    status: Option<StatusCode>,
    request_id: Option<String>,
    errors: Vec<ApiErrorDetail>,
    validation: Option<BTreeMap<String, Vec<String>>>,
    retry_after: Option<Duration>,
    /// A one-line description for non-API kinds, or the title of a validation response.
    message: String,
    /// For decode errors: the JSON path that failed (`data[3].file_size`).
    path: Option<String>,
    raw_body: Option<String>,
    /// Whether a transport failure may succeed when retried (connect errors, timeouts).
    transient: bool,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    fn new(kind: ErrorKind, operation: Option<&str>, message: String) -> Self {
        Error(Box::new(Inner {
            kind,
            operation: operation.map(str::to_owned),
            run_id: None,
            status: None,
            request_id: None,
            errors: Vec::new(),
            validation: None,
            retry_after: None,
            message,
            path: None,
            raw_body: None,
            transient: false,
            source: None,
        }))
    }

    fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// The configuration is unusable; `message` says what to fix (and names the setting, e.g.
    /// `DECK_API_KEY`). It must never contain the key itself.
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, None, message.into())
    }

    /// `operation` could not be built: a missing or invalid argument, described by `message`.
    pub(crate) fn invalid_request(operation: &str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidRequest, Some(operation), message.into())
    }

    /// A response body of `operation` did not decode. `path` is the JSON path that failed
    /// (`data[3].file_size`, empty for the document root), `message` what was wrong there, and
    /// `raw_body` the body, of which a truncated copy is kept for [`Error::raw_body`].
    pub(crate) fn decode(
        operation: &str,
        path: String,
        message: String,
        raw_body: Option<&[u8]>,
    ) -> Self {
        let mut error = Error::new(ErrorKind::Decode, Some(operation), message);
        error.0.path = Some(path).filter(|p| !p.is_empty() && p != ".");
        error.0.raw_body = raw_body.map(snippet);
        error
    }

    /// Paginating `operation` cannot continue (e.g. `has_more` without a `next_cursor`).
    pub(crate) fn pagination(operation: &str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Pagination, Some(operation), message.into())
    }

    /// A local file operation failed; `context` names it and the path, e.g.
    /// `writing /tmp/out/report.pdf.part`.
    pub(crate) fn io(context: String, source: std::io::Error) -> Self {
        let message = format!("{context}: {source}");
        Error::new(ErrorKind::Io, None, message).with_source(source)
    }

    /// Downloading a file failed; `context` names the file (never its pre-signed URL, whose query
    /// string is a credential), `message` says what went wrong.
    pub(crate) fn download(context: impl Into<String>, message: impl Into<String>) -> Self {
        let message = format!("{}: {}", context.into(), message.into());
        Error::new(ErrorKind::Download, None, message)
    }

    /// `operation` failed in transport: connect, TLS, timeout, reset, or reading the body.
    /// The query string of the URL kept by `source` is removed.
    pub(crate) fn transport(operation: &str, mut source: reqwest::Error) -> Self {
        if let Some(url) = source.url_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
        let kind = if source.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transport
        };
        let message = transport_message(&source);
        let transient = response::is_transient(&source);
        let mut error = Error::new(kind, Some(operation), message).with_source(source);
        error.0.transient = transient;
        error
    }

    /// Builds the error for a non-success `response` of `operation`, reading (at most 64 KiB of)
    /// its body: Deck's error envelope (an `errors` array and a `request_id`) or the 400
    /// validation shape (an `errors` object of field → messages). The status, the request id
    /// (body, else the `x-request-id` header) and `Retry-After` are kept. An undecodable body is
    /// kept, truncated, in [`Error::raw_body`].
    pub(crate) async fn from_response(operation: &str, response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let (body, _) = response::read_error_body(response).await;
        Error::from_parts(operation, status, &headers, &body)
    }

    /// A generated builder refused its parameters (progenitor's `InvalidRequest`, e.g. a missing
    /// required parameter, an idempotency key over 256 characters, a dot-segment path parameter),
    /// or the request could not be built.
    pub(crate) fn from_build(operation: &str, error: progenitor_client::Error) -> Self {
        match error {
            progenitor_client::Error::InvalidRequest(message)
            | progenitor_client::Error::Custom(message) => {
                Error::invalid_request(operation, message)
            }
            progenitor_client::Error::CommunicationError(e) => Error::invalid_request(
                operation,
                format!("cannot build the request: {}", response::root_cause(&e)),
            ),
            other => Error::invalid_request(operation, other.to_string()),
        }
    }

    /// `operation` did not finish within its deadline `limit` (all attempts and waits).
    pub(crate) fn deadline(operation: &str, limit: Duration) -> Self {
        Error::new(
            ErrorKind::Timeout,
            Some(operation),
            format!("the call did not finish within its deadline of {limit:?}"),
        )
    }

    /// The rate limiter's next permit for `operation` is `wait` away, beyond the call's deadline;
    /// nothing was sent.
    pub(crate) fn permit_too_late(operation: &str, wait: Duration) -> Self {
        Error::new(
            ErrorKind::Timeout,
            Some(operation),
            format!(
                "the rate limiter's next permit is {wait:?} away, beyond the call's deadline; nothing was sent"
            ),
        )
    }

    /// A response body of `operation` was longer than `cap` bytes.
    pub(crate) fn body_too_large(operation: &str, cap: usize) -> Self {
        Error::new(
            ErrorKind::Decode,
            Some(operation),
            format!(
                "the response body exceeds the cap of {cap} bytes (DeckBuilder::max_response_body)"
            ),
        )
    }

    /// Waiting on task run `run_id` (by `operation`, the polling operation) reached its deadline
    /// `limit` before the run ended or paused: the message says the last status seen (as Deck
    /// spelled it), or that none was, and `last_error` (what the last failed poll said, if the
    /// last poll failed) becomes the [`source`](StdError::source).
    pub(crate) fn run_deadline(
        operation: &str,
        run_id: &str,
        limit: Duration,
        last_status: Option<&str>,
        last_error: Option<Error>,
    ) -> Self {
        let status = match last_status {
            Some(status) => format!("last status \"{status}\""),
            None => "no status received yet".to_owned(),
        };
        let mut message =
            format!("the run did not end or pause within its wait deadline of {limit:?}; {status}");
        if let Some(error) = &last_error {
            message.push_str(&format!("; the last poll failed: {error}"));
        }
        let mut error =
            Error::new(ErrorKind::Timeout, Some(operation), message).with_run_id(run_id);
        if let Some(last) = last_error {
            error = error.with_source(last);
        }
        error
    }

    /// This error, about task run `run_id` (a wait's poll, a watcher's confirmation); `Display`
    /// names the run after the operation.
    pub(crate) fn with_run_id(mut self, run_id: &str) -> Self {
        self.0.run_id = Some(run_id.to_owned());
        self
    }

    /// An error that looks like one Deck returned: for tests of code that handles errors (a mock
    /// of a service using this client), without a server.
    ///
    /// ```
    /// use deck_api_ext::{Error, ErrorKind};
    ///
    /// let err = Error::api("getStorageItem", 404, "not_found", "Storage item not found")
    ///     .with_request_id("req_123");
    /// assert_eq!(err.kind(), ErrorKind::Api);
    /// assert!(err.is_not_found());
    /// assert_eq!(err.code(), Some("not_found"));
    /// assert_eq!(err.request_id(), Some("req_123"));
    /// assert_eq!(err.operation(), Some("getStorageItem"));
    /// ```
    pub fn api(operation: &str, status: u16, code: &str, message: &str) -> Self {
        let mut error = Error::new(ErrorKind::Api, Some(operation), String::new());
        error.0.status = StatusCode::from_u16(status).ok();
        error.0.errors = vec![ApiErrorDetail {
            error_type: String::new(),
            code: code.to_owned(),
            message: message.to_owned(),
            field: None,
        }];
        error
    }

    /// This error with Deck's `request_id`.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.0.request_id = Some(request_id.into());
        self
    }

    /// This error with every occurrence of every one of `secrets` (the API key, the values of an
    /// operation's secret fields; see `key_boundary::Redactor`) replaced by [`REDACTED`], in every
    /// text it holds: messages, codes, fields, the validation map, the request id, the JSON path
    /// and the raw body. A server (or a proxy echoing `Authorization`) may send a secret back; the
    /// executor calls this before an error built from a response leaves the call. With
    /// `hide_body`, the raw body may hold secrets that could not be located and is withheld
    /// (replaced by [`REDACTED`]).
    pub(crate) fn scrub(mut self, secrets: &[Box<str>], hide_body: bool) -> Self {
        let inner = &mut *self.0;
        let clean = |text: &mut String| {
            if let Cow::Owned(clean) = redact(text, secrets) {
                *text = clean;
            }
        };
        clean(&mut inner.message);
        for text in [
            &mut inner.request_id,
            &mut inner.path,
            &mut inner.operation,
            &mut inner.run_id,
        ]
        .into_iter()
        .flatten()
        {
            clean(text);
        }
        for detail in &mut inner.errors {
            clean(&mut detail.error_type);
            clean(&mut detail.code);
            clean(&mut detail.message);
            if let Some(field) = &mut detail.field {
                clean(field);
            }
        }
        if let Some(validation) = &mut inner.validation
            && validation.iter().any(|(field, messages)| {
                matches!(redact(field, secrets), Cow::Owned(_))
                    || messages
                        .iter()
                        .any(|m| matches!(redact(m, secrets), Cow::Owned(_)))
            })
        {
            *validation = std::mem::take(validation)
                .into_iter()
                .map(|(field, messages)| {
                    let scrub = |t: String| redact(&t, secrets).into_owned();
                    (scrub(field), messages.into_iter().map(scrub).collect())
                })
                .collect();
        }
        if let Some(raw) = &mut inner.raw_body {
            if hide_body {
                *raw = REDACTED.to_owned();
                return self;
            }
            clean(raw);
            // A snippet cut in the middle of a secret would still show its beginning (a tail
            // of fewer than four characters tells nothing and is kept).
            if let Some(kept) = raw.strip_suffix('…') {
                let partial = secrets.iter().find_map(|secret| {
                    (4..secret.len())
                        .rev()
                        .filter(|&n| secret.is_char_boundary(n))
                        .find(|&n| kept.ends_with(&secret[..n]))
                });
                if let Some(n) = partial {
                    *raw = format!("{}{REDACTED}…", &kept[..kept.len() - n]);
                }
            }
        }
        self
    }

    /// Builds an API error from a response already read: `status`, `headers` and `body`.
    pub(crate) fn from_parts(
        operation: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Self {
        let parsed = ErrorBody::parse(body);
        let mut error = Error::new(
            ErrorKind::Api,
            Some(operation),
            parsed.title.unwrap_or_default(),
        );
        error.0.status = Some(status);
        error.0.request_id = parsed.request_id.or_else(|| header_request_id(headers));
        error.0.errors = parsed.errors;
        error.0.validation = parsed.validation;
        error.0.retry_after = response::retry_after(headers, std::time::SystemTime::now());
        if !parsed.recognised && !body.is_empty() {
            error.0.raw_body = Some(snippet(body));
        }
        error
    }

    /// What went wrong, broadly.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The operation that failed, as the spec's operationId (`listTaskRunStorage`), when known.
    pub fn operation(&self) -> Option<&str> {
        self.0.operation.as_deref()
    }

    /// The task run this error is about, for errors of run waits
    /// ([`Deck::wait_for_run`](crate::Deck::wait_for_run), [`RunWatch`](crate::run_watch::RunWatch)):
    /// a deadline, or a poll that failed for good.
    pub fn run_id(&self) -> Option<&str> {
        self.0.run_id.as_deref()
    }

    /// The HTTP status of the response, for [`ErrorKind::Api`] errors.
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// The first Deck error code (`input_missing`, `rate_limit_exceeded`, ...), if the body had one.
    pub fn code(&self) -> Option<&str> {
        self.0
            .errors
            .iter()
            .map(|e| e.code.as_str())
            .find(|c| !c.is_empty())
    }

    /// The first Deck error message, else the title of a validation response, else this error's
    /// description.
    pub fn message(&self) -> &str {
        self.0
            .errors
            .iter()
            .map(|e| e.message.as_str())
            .find(|m| !m.is_empty())
            .unwrap_or(&self.0.message)
    }

    /// Every entry of the `errors` array of Deck's error envelope, in order.
    pub fn errors(&self) -> &[ApiErrorDetail] {
        &self.0.errors
    }

    /// The Deck `request_id` of the failed request (from the body, else the `x-request-id`
    /// header; for a 400 validation response, its `traceId`). Quote it to Deck support.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The field → messages map of a 400 validation response
    /// (`{"errors": {"name": ["The name field is required."]}}`).
    pub fn validation(&self) -> Option<&BTreeMap<String, Vec<String>>> {
        self.0.validation.as_ref()
    }

    /// How long the server asked to wait (`Retry-After`, as seconds or an HTTP date), uncapped.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// For [`ErrorKind::Decode`] errors: the JSON path that failed, e.g. `data[3].file_size`.
    pub fn json_path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// The response body (at most 1 KiB, lossily UTF-8) when it could not be decoded; `None` when
    /// the body was decoded or empty.
    pub fn raw_body(&self) -> Option<&str> {
        self.0.raw_body.as_deref()
    }

    /// Whether the same request may succeed later: HTTP 429, 500, 502, 503, 504, connect errors
    /// and timeouts. The client has already retried these as its [`RetryConfig`] allows.
    ///
    /// [`RetryConfig`]: crate::RetryConfig
    pub fn is_retryable(&self) -> bool {
        match self.0.kind {
            ErrorKind::Api => self.0.status.is_some_and(retry::is_retryable_status),
            ErrorKind::Timeout => true,
            ErrorKind::Transport => self.0.transient,
            _ => false,
        }
    }

    /// Whether Deck rejected the request for exceeding a rate limit (HTTP 429).
    pub fn is_rate_limited(&self) -> bool {
        self.0.status == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// Whether the resource does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.0.status == Some(StatusCode::NOT_FOUND)
    }

    fn fmt_api(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.0;
        if let Some(status) = inner.status {
            write!(f, "HTTP {}", status.as_u16())?;
            if let Some(reason) = status.canonical_reason() {
                write!(f, " {reason}")?;
            }
        }
        let details: Vec<&ApiErrorDetail> = inner
            .errors
            .iter()
            .filter(|d| !d.code.is_empty() || !d.message.is_empty())
            .collect();
        if !details.is_empty() {
            f.write_str(": ")?;
            for (i, detail) in details.iter().take(DISPLAY_ENTRIES).enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                fmt_detail(f, detail)?;
            }
            fmt_more(f, details.len())?;
        } else if let Some(validation) = &inner.validation {
            f.write_str(": ")?;
            let title = clip(inner.message.trim_end_matches(['.', ' ']), QUOTE_LIMIT);
            f.write_str(if title.is_empty() {
                "validation failed"
            } else {
                &title
            })?;
            let mut sep = ": ";
            for (field, messages) in validation.iter().take(DISPLAY_ENTRIES) {
                write!(
                    f,
                    "{sep}{}: {}",
                    clip(field, QUOTE_LIMIT),
                    clip(&messages.join(" "), QUOTE_LIMIT)
                )?;
                sep = "; ";
            }
            fmt_more(f, validation.len())?;
        } else if !inner.message.is_empty() {
            write!(f, ": {}", clip(&inner.message, QUOTE_LIMIT))?;
        } else if let Some(raw) = &inner.raw_body {
            write!(f, ": undecodable error body: {}", quote_snippet(raw))?;
        } else if let Some(hint) = inner.status.and_then(status_hint) {
            write!(f, ": {hint}")?;
        }
        if let Some(retry_after) = inner.retry_after {
            write!(f, " (retry after {}s)", retry_after.as_secs())?;
        }
        Ok(())
    }
}

fn fmt_detail(f: &mut fmt::Formatter<'_>, detail: &ApiErrorDetail) -> fmt::Result {
    if !detail.code.is_empty() {
        f.write_str(&clip(&detail.code, QUOTE_LIMIT))?;
        if let Some(field) = &detail.field {
            write!(f, " (field {})", clip(field, QUOTE_LIMIT))?;
        }
        if !detail.message.is_empty() {
            f.write_str(": ")?;
        }
    }
    f.write_str(&clip(&detail.message, QUOTE_LIMIT))
}

/// `; … (N more)` when `total` entries exceed what `Display` shows.
fn fmt_more(f: &mut fmt::Formatter<'_>, total: usize) -> fmt::Result {
    if total > DISPLAY_ENTRIES {
        write!(f, "; … ({} more)", total - DISPLAY_ENTRIES)?;
    }
    Ok(())
}

fn status_hint(status: StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        401 => Some("the API key is missing, malformed or revoked (check DECK_API_KEY)"),
        403 => Some("the API key is not allowed to do this"),
        _ => None,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.0;
        if let Some(op) = &inner.operation {
            write!(f, "{op}: ")?;
        }
        if let Some(run_id) = &inner.run_id {
            write!(f, "run {}: ", clip(run_id, QUOTE_LIMIT))?;
        }
        match inner.kind {
            ErrorKind::Api => self.fmt_api(f)?,
            ErrorKind::Decode => {
                f.write_str("response body")?;
                if let Some(path) = &inner.path {
                    write!(f, " at {}", clip(path, 2 * QUOTE_LIMIT))?;
                }
                write!(f, ": {}", clip_message(&inner.message))?;
            }
            ErrorKind::Config
            | ErrorKind::Io
            | ErrorKind::Download
            | ErrorKind::Transport
            | ErrorKind::Timeout => f.write_str(&clip_message(&inner.message))?,
            kind => write!(f, "{}: {}", kind.describe(), clip_message(&inner.message))?,
        }
        if let Some(request_id) = &inner.request_id {
            write!(f, " (request_id {})", clip(request_id, QUOTE_LIMIT))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.0;
        let mut d = f.debug_struct("Error");
        d.field("kind", &inner.kind);
        d.field("operation", &inner.operation);
        if let Some(run_id) = &inner.run_id {
            d.field("run_id", run_id);
        }
        if let Some(status) = inner.status {
            d.field("status", &status);
        }
        if let Some(request_id) = &inner.request_id {
            d.field("request_id", request_id);
        }
        if !inner.errors.is_empty() {
            d.field("errors", &inner.errors);
        }
        if let Some(validation) = &inner.validation {
            d.field("validation", validation);
        }
        if let Some(retry_after) = &inner.retry_after {
            d.field("retry_after", retry_after);
        }
        if !inner.message.is_empty() {
            d.field("message", &inner.message);
        }
        if let Some(path) = &inner.path {
            d.field("json_path", path);
        }
        if let Some(raw_body) = &inner.raw_body {
            d.field("raw_body", raw_body);
        }
        if let Some(source) = &inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// Decodes `bytes` (a response body of `operation`) as `T`. On failure the error names the JSON
/// path and what was wrong there: `listTaskRunStorage: response body at data[3].file_size: ...`.
///
/// The fast path is plain `serde_json`; only a body that fails is decoded a second time, tracking
/// the JSON path (which costs about half again as much CPU on every body).
///
/// A body holding an object with the same key twice is refused even when it decodes (serde would
/// silently keep one value, or skip both): `… response body at data[3].file_size: the key
/// "file_size" appears twice in one object`. See `duplicate_keys`.
pub(crate) fn decode_json<T: DeserializeOwned>(operation: &str, bytes: &[u8]) -> Result<T> {
    decode_json_with(operation, bytes, Keys::All)
}

/// Which repeated keys make a body ambiguous to the type it is decoded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keys {
    /// Every key: the caller's type may keep raw JSON (`RawValue`, `Value`), so one pass over the
    /// body checks every object.
    All,
    /// The keys the type reads: serde's derived structs (every generated type) already refuse a
    /// known field twice (`duplicate field`), and a repeated unknown key is ignored either way, so
    /// a body that decodes is unambiguous to them and costs no extra pass; one that fails is
    /// checked, for the same message as everywhere.
    Read,
}

/// [`decode_json`] with a duplicate-key policy (see [`Keys`]).
pub(crate) fn decode_json_with<T: DeserializeOwned>(
    operation: &str,
    bytes: &[u8],
    keys: Keys,
) -> Result<T> {
    let decoded = serde_json::from_slice(bytes);
    if keys == Keys::Read
        && let Ok(value) = decoded
    {
        return Ok(value);
    }
    // Checked on failure too: serde's derive reports a known field twice as `duplicate field`
    // at the object, other decoders do not; one message for every caller.
    if let Some(duplicate) = crate::duplicate_keys::find(bytes) {
        return Err(Error::decode(
            operation,
            duplicate.path,
            format!(
                "the key {:?} appears twice in one object; the response is ambiguous",
                duplicate.key
            ),
            Some(bytes),
        ));
    }
    if let Ok(value) = decoded {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = strip_position(&e.inner().to_string()).to_owned();
        Error::decode(operation, path, message, Some(bytes))
    })?;
    de.end().map_err(|e| {
        Error::decode(
            operation,
            String::new(),
            strip_position(&e.to_string()).to_owned(),
            Some(bytes),
        )
    })?;
    Ok(value)
}

/// A secret shorter than this many bytes is redacted only where it stands as a word of its own
/// (see [`redact`]).
const SHORT_SECRET: usize = 8;

/// `text` with every occurrence of any of `secrets` replaced by [`REDACTED`]; borrowed when none
/// occurs. Occurrences of two secrets that overlap are replaced as one, so no part of either
/// remains. A short secret (under [`SHORT_SECRET`] bytes, say a username `ann` beside the
/// password) is replaced only where no letter or digit continues it on either side (`"ann"`,
/// ` ann.`), not inside longer words (`cannot`). Linear in the text per secret (each secret's
/// occurrences are found left to right, without overlap).
pub(crate) fn redact<'a>(text: &'a str, secrets: &[Box<str>]) -> Cow<'a, str> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let mut from = 0;
        while let Some(at) = text.get(from..).and_then(|rest| rest.find(&**secret)) {
            let start = from + at;
            let end = start + secret.len();
            if secret.len() >= SHORT_SECRET || stands_alone(text, start, end) {
                spans.push((start, end));
                from = end;
            } else {
                from = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut spans = spans.into_iter().peekable();
    while let Some((start, mut end)) = spans.next() {
        while let Some(&(next_start, next_end)) = spans.peek() {
            if next_start >= end {
                break;
            }
            end = end.max(next_end);
            spans.next();
        }
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Whether `text[start..end]` is not continued by a letter or digit on either side (an edge of
/// the secret that is not a letter or digit counts as a boundary itself).
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let inside = &text[start..end];
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    (!word(inside.chars().next()) || !word(before))
        && (!word(inside.chars().next_back()) || !word(after))
}

/// Removes serde_json's ` at line L column C` suffix: the JSON path says where, more usefully.
fn strip_position(message: &str) -> &str {
    if let Some(at) = message.rfind(" at line ") {
        let rest = &message[at + " at line ".len()..];
        if let Some((line, column)) = rest.split_once(" column ") {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            if digits(line) && digits(column) {
                return &message[..at];
            }
        }
    }
    message
}

/// At most [`RAW_BODY_SNIPPET`] bytes of `body`, lossily decoded, cut on a character boundary,
/// with `…` when something was cut.
fn snippet(body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(&body[..body.len().min(RAW_BODY_SNIPPET)]).into_owned();
    let mut cut = body.len() > RAW_BODY_SNIPPET;
    if text.len() > RAW_BODY_SNIPPET {
        let mut end = RAW_BODY_SNIPPET;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = true;
    }
    if cut {
        text.push('…');
    }
    text
}

fn quote_snippet(raw: &str) -> String {
    let line = one_line(raw);
    let mut chars = line.chars();
    let mut shown: String = chars.by_ref().take(DISPLAY_SNIPPET).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// `text` on one line (see [`one_line`]) and at most `limit` characters, with `…` when cut: how
/// `Display` shows a value a server sent (with `limit` = [`QUOTE_LIMIT`]).
///
/// ```
/// use deck_api_ext::error::clip;
///
/// assert_eq!(clip("abcd", 3), "abc…");
/// assert_eq!(clip("a\nb", 10), "a b");
/// ```
pub fn clip(text: &str, limit: usize) -> std::borrow::Cow<'_, str> {
    let line = one_line(text);
    match line.char_indices().nth(limit) {
        None => line,
        Some((end, _)) => format!("{}…", &line[..end]).into(),
    }
}

/// A message this crate composed, for `Display`: on one line, every quoted run (`"…"` as serde
/// and `{:?}` quote strings, or between backticks) longer than [`QUOTE_LIMIT`] characters cut
/// to that length with `…` and its closing quote kept, and the whole at most [`MESSAGE_LIMIT`]
/// characters. Decode messages quote the offending value (`invalid type: string "…"`), and
/// pagination errors the cursor; a server can make either as long as it likes.
pub(crate) fn clip_message(message: &str) -> std::borrow::Cow<'_, str> {
    let line = one_line(message);
    if line.chars().count() <= QUOTE_LIMIT {
        return line;
    }
    let mut out = String::with_capacity(line.len().min(4 * MESSAGE_LIMIT));
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' && c != '`' {
            continue;
        }
        // A quoted run: copy up to QUOTE_LIMIT characters of it, skip the rest.
        let (mut shown, mut escaped, mut cut, mut closed) = (0, false, false, false);
        for q in chars.by_ref() {
            if q == c && !escaped {
                closed = true;
                break;
            }
            escaped = c == '"' && q == '\\' && !escaped;
            if shown < QUOTE_LIMIT {
                out.push(q);
                shown += 1;
            } else {
                cut = true;
            }
        }
        if cut {
            out.push('…');
        }
        if closed {
            out.push(c);
        }
    }
    clip(&out, MESSAGE_LIMIT).into_owned().into()
}

/// `text` with line breaks and other control characters replaced by spaces, so `Display` stays
/// on one line whatever a server put in its text.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// What could be read from an error body. Parsing is lenient: any JSON is accepted and whatever
/// matches one of Deck's two error shapes is kept.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) errors: Vec<ApiErrorDetail>,
    pub(crate) validation: Option<BTreeMap<String, Vec<String>>>,
    pub(crate) request_id: Option<String>,
    pub(crate) title: Option<String>,
    /// Whether the body matched a known error shape.
    pub(crate) recognised: bool,
}

impl ErrorBody {
    /// Parses Deck's `ErrorResponse` (`errors` array) or `ValidationErrorResponse` (`errors`
    /// object), or a bare `{"message": ...}` from a proxy in front of Deck.
    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) else {
            return ErrorBody::default();
        };
        let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let mut parsed = ErrorBody {
            request_id: text("request_id").or_else(|| text("traceId")),
            title: text("title").or_else(|| text("message")),
            ..ErrorBody::default()
        };
        match map.get("errors") {
            Some(serde_json::Value::Array(entries)) => {
                parsed.errors = entries.iter().filter_map(detail).collect();
                parsed.recognised = true;
            }
            Some(serde_json::Value::Object(fields)) => {
                let map = fields
                    .iter()
                    .map(|(field, messages)| (field.clone(), messages_of(messages)))
                    .collect();
                parsed.validation = Some(map);
                parsed.recognised = true;
            }
            _ => parsed.recognised = parsed.request_id.is_some() || parsed.title.is_some(),
        }
        parsed
    }
}

fn detail(entry: &serde_json::Value) -> Option<ApiErrorDetail> {
    let map = entry.as_object()?;
    let text = |key: &str| map.get(key).map(scalar_text).unwrap_or_default();
    Some(ApiErrorDetail {
        error_type: text("type"),
        code: text("code"),
        message: text("message"),
        field: map.get("field").filter(|v| !v.is_null()).map(scalar_text),
    })
}

fn messages_of(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Array(items) => items.iter().map(scalar_text).collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![scalar_text(other)],
    }
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_serde_position_only() {
        assert_eq!(
            strip_position("invalid digit at line 1 column 57"),
            "invalid digit"
        );
        assert_eq!(strip_position("look at line up"), "look at line up");
        assert_eq!(strip_position("x at line 3 column"), "x at line 3 column");
    }

    #[test]
    fn parses_envelope_leniently() {
        let body = br#"{"errors":[{"type":"request","code":"input_missing","field":"name","message":"m"},{"code":7},"junk"],"request_id":"req_1","extra":true}"#;
        let parsed = ErrorBody::parse(body);
        assert!(parsed.recognised);
        assert_eq!(parsed.request_id.as_deref(), Some("req_1"));
        assert_eq!(parsed.errors.len(), 2);
        assert_eq!(parsed.errors[0].field.as_deref(), Some("name"));
        assert_eq!(parsed.errors[1].code, "7");
    }

    #[test]
    fn parses_validation_shape() {
        let body = br#"{"title":"One or more validation errors occurred.","status":400,"errors":{"name":["required"],"limit":"too big"},"traceId":"00-abc"}"#;
        let parsed = ErrorBody::parse(body);
        let validation = parsed.validation.expect("validation map");
        assert_eq!(validation["name"], vec!["required"]);
        assert_eq!(validation["limit"], vec!["too big"]);
        assert_eq!(parsed.request_id.as_deref(), Some("00-abc"));
    }

    #[test]
    fn snippet_is_bounded_and_char_safe() {
        let body = "é".repeat(2000);
        let s = snippet(body.as_bytes());
        assert!(s.len() <= RAW_BODY_SNIPPET + '…'.len_utf8());
        assert!(s.ends_with('…'));
        let invalid = vec![0xffu8; 1000];
        let s = snippet(&invalid);
        assert!(s.len() <= RAW_BODY_SNIPPET + '…'.len_utf8());
        assert_eq!(snippet(b"short"), "short");
    }

    #[test]
    fn quoted_runs_are_cut_and_keep_their_closing_quote() {
        let long = "x".repeat(500);
        let message = format!("invalid type: string \"{long}\", expected u64 and `{long}`");
        let shown = clip_message(&message);
        let cut = format!("{}…", "x".repeat(QUOTE_LIMIT));
        assert_eq!(
            shown,
            format!("invalid type: string \"{cut}\", expected u64 and `{cut}`")
        );
        assert_eq!(clip_message("short \"q\""), "short \"q\"");
        let escaped = format!("\"{}\\\"{}\" after", "a".repeat(50), "b".repeat(100));
        assert!(clip_message(&escaped).ends_with("…\" after"));
        assert!(clip_message(&"y".repeat(5000)).chars().count() <= MESSAGE_LIMIT + 1);
    }

    #[test]
    fn scrub_reaches_every_text_and_a_cut_tail() {
        let secret = "sk_live_SECRET123";
        let body = format!("{}{secret}", "z".repeat(RAW_BODY_SNIPPET - 5));
        let err = Error::decode(
            "op",
            format!("a.{secret}"),
            format!("bad {secret}"),
            Some(body.as_bytes()),
        )
        .with_request_id(format!("req_{secret}"))
        .scrub(&[secret.into()], false);
        let all = format!("{err} {err:?} {}", err.raw_body().unwrap());
        assert!(!all.contains("sk_live"), "{all}");
        assert!(err.raw_body().unwrap().ends_with("[redacted]…"));
        assert_eq!(err.request_id(), Some("req_[redacted]"));
    }

    #[test]
    fn redact_merges_overlaps_and_spares_short_secrets_inside_words() {
        let secrets: Vec<Box<str>> = vec!["abcdefgh".into(), "efghijkl".into(), "ann".into()];
        assert_eq!(redact("xabcdefghijklx", &secrets), "x[redacted]x");
        assert_eq!(
            redact("ann cannot \"ann\" anna ann.", &secrets),
            "[redacted] cannot \"[redacted]\" anna [redacted]."
        );
        assert!(matches!(redact("clean", &secrets), Cow::Borrowed("clean")));
        let symbols: Vec<Box<str>> = vec!["#%!".into()];
        assert_eq!(redact("a#%!b", &symbols), "a[redacted]b");
        assert_eq!(redact("éabcdefghé", &secrets), "é[redacted]é");
    }

    #[test]
    fn scrub_hides_a_body_whose_secrets_could_not_be_located() {
        let err = Error::decode(
            "op",
            String::new(),
            "EOF".into(),
            Some(b"{\"token\": \"tk_"),
        )
        .scrub(&[], true);
        assert_eq!(err.raw_body(), Some(REDACTED));
        assert_eq!(err.message(), "EOF");
    }

    #[test]
    fn decode_json_names_the_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Page {
            data: Vec<Item>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Item {
            file_size: u64,
        }
        let body = br#"{"data":[{"file_size":1},{"file_size":"12x"}]}"#;
        let err = decode_json::<Page>("listTaskRunStorage", body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert_eq!(err.json_path(), Some("data[1].file_size"));
        assert_eq!(
            err.to_string(),
            "listTaskRunStorage: response body at data[1].file_size: invalid type: string \"12x\", expected u64"
        );
        assert!(err.raw_body().is_some());
    }

    #[test]
    fn types_that_read_a_key_refuse_it_twice_without_the_extra_pass() {
        use deck_api::types::PaginatedResponseOfListStorageItemResponse as Generated;
        let item = |size: &str| {
            format!(
                r#"{{"id":"stor_1","object":"storage","file_name":"a.pdf","file_type":"application/pdf",
                "file_size":5,"url":null,"metadata":null,"extraction":null,"file_size":{size},
                "created_at":"2025-01-15T09:30:00Z"}}"#
            )
        };
        let body = format!(r#"{{"data":[{}],"has_more":false}}"#, item("\"12kb\""));
        for keys in [Keys::Read, Keys::All] {
            let err = decode_json_with::<Generated>("listTaskRunStorage", body.as_bytes(), keys)
                .unwrap_err();
            assert_eq!(err.json_path(), Some("data[0].file_size"), "{keys:?}");
            assert!(err.to_string().contains("appears twice"), "{err}");
            let err = decode_json_with::<crate::paginate::Page<crate::StorageItem>>(
                "listTaskRunStorage",
                body.as_bytes(),
                keys,
            )
            .unwrap_err();
            assert!(err.to_string().contains("appears twice"), "{err}");
        }
        // The envelope's own fields too.
        let body = br#"{"data":[],"has_more":true,"next_cursor":"a","next_cursor":"b"}"#;
        let err = decode_json_with::<crate::paginate::Page<serde_json::Value>>(
            "listTaskRunStorage",
            body,
            Keys::Read,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("\"next_cursor\" appears twice"),
            "{err}"
        );
    }
}
