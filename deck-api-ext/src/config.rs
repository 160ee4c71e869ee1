//! Client configuration: [`DeckBuilder`], the environment variables, defaults and validation.
//!
//! | Setting | Environment | Default |
//! |---|---|---|
//! | API key | `DECK_API_KEY` (required) | none |
//! | Base URL | `DECK_BASE_URL` | `https://api.deck.co/v2` |
//! | Connect timeout (per attempt) | | 10 s |
//! | Read timeout (between reads) | | 30 s |
//! | Total timeout per API attempt | | 30 s |
//! | Deadline per API call (all attempts and waits) | | 90 s |
//! | Largest API response body | | 16 MiB |
//! | Retries | | [`RetryConfig::default`] (4 attempts, at most 60 s of waits) |
//! | Rate limit (shared by clones) | | [`RateLimit::default`]: 200 requests per 10 s, adaptive |
//!
//! So a silent server fails one attempt after 30 s and a whole call after at most 90 s, whatever
//! the retry policy (waiting for a rate-limit permit does not count toward either, unless the call
//! sets its own deadline); storage downloads have no total timeout (only connect and read timeouts and
//! their own low-progress rules).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::client::Deck;
use crate::error::{Error, Result};
use crate::executor::DeckExecutor;
use crate::key_boundary::{BaseUrl, KeyBoundary};
use crate::rate_limit::{Limiter, RateLimit};
use crate::retry::RetryConfig;

/// The environment variable holding the API key.
pub const API_KEY_ENV: &str = "DECK_API_KEY";
/// The environment variable that overrides the base URL.
pub const BASE_URL_ENV: &str = "DECK_BASE_URL";
/// The production API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.deck.co/v2";
/// The `User-Agent` product of this SDK; an app suffix may follow.
pub const USER_AGENT: &str = concat!("deck-api-rust/", env!("CARGO_PKG_VERSION"));

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(90);
/// The default cap on an API response body (16 MiB: a full page of 100 items is a few hundred KiB).
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// Builds a [`Deck`] client; start from [`Deck::builder`] or [`DeckBuilder::from_env`].
///
/// ```
/// use std::time::Duration;
/// use deck_api_ext::{Deck, RetryConfig};
///
/// let deck = Deck::builder()
///     .api_key("sk_live_example")
///     .base_url("https://api.deck.co/v2/")
///     .connect_timeout(Duration::from_secs(5))
///     .user_agent_suffix("my-app/1.2")
///     .retry(RetryConfig::default().with_max_attempts(5))
///     .build()?;
/// assert_eq!(deck.base_url(), "https://api.deck.co/v2");
/// # Ok::<(), deck_api_ext::Error>(())
/// ```
#[derive(Clone)]
pub struct DeckBuilder {
    api_key: Option<SecretString>,
    /// Where the key came from, for error messages: `DECK_API_KEY` or `api_key`.
    api_key_source: &'static str,
    base_url: String,
    base_url_source: &'static str,
    connect_timeout: Duration,
    read_timeout: Duration,
    timeout: Option<Duration>,
    call_timeout: Option<Duration>,
    max_response_body: usize,
    user_agent_suffix: Option<String>,
    http_client: Option<reqwest::Client>,
    retry: RetryConfig,
    rate_limit: RateLimit,
}

impl Default for DeckBuilder {
    fn default() -> Self {
        DeckBuilder::new()
    }
}

impl DeckBuilder {
    /// A builder with the defaults and no API key.
    pub fn new() -> Self {
        DeckBuilder {
            api_key: None,
            api_key_source: "api_key",
            base_url: DEFAULT_BASE_URL.to_owned(),
            base_url_source: "base URL",
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            timeout: Some(DEFAULT_TIMEOUT),
            call_timeout: Some(DEFAULT_CALL_TIMEOUT),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            user_agent_suffix: None,
            http_client: None,
            retry: RetryConfig::default(),
            rate_limit: RateLimit::default(),
        }
    }

    /// A builder configured from the process environment: `DECK_API_KEY` (required, non-empty)
    /// and `DECK_BASE_URL` (optional; empty means unset). Further settings can be chained
    /// before [`build`](Self::build).
    pub fn from_env() -> Result<Self> {
        // A value that is not valid Unicode is passed on lossily, to fail validation by name
        // rather than read as unset.
        Self::from_env_with(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` (a name → value
    /// function) instead of the process environment: for tests, or configuration kept elsewhere.
    ///
    /// ```
    /// use deck_api_ext::config::DeckBuilder;
    ///
    /// let err = DeckBuilder::from_env_with(|_| None).unwrap_err();
    /// assert!(err.to_string().contains("DECK_API_KEY"));
    /// ```
    pub fn from_env_with(mut lookup: impl FnMut(&str) -> Option<String>) -> Result<Self> {
        let key = lookup(API_KEY_ENV).ok_or_else(|| {
            Error::config(format!(
                "{API_KEY_ENV} is not set: export your Deck secret key (sk_live_...) as {API_KEY_ENV}"
            ))
        })?;
        let mut builder = DeckBuilder::new().api_key(key);
        builder.api_key_source = API_KEY_ENV;
        if let Some(url) = lookup(BASE_URL_ENV).filter(|u| !u.trim().is_empty()) {
            builder = builder.base_url(url);
            builder.base_url_source = BASE_URL_ENV;
        }
        Ok(builder)
    }

    /// The API key (`sk_live_...`), sent as `Authorization: Bearer` to the base URL only.
    /// Surrounding whitespace is ignored.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self.api_key_source = "api_key";
        self
    }

    /// The API base URL, e.g. `https://api.deck.co/v2` (the default) or a local fake server.
    /// Trailing slashes are ignored; it must be an absolute `http` or `https` URL without query,
    /// fragment or credentials.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self.base_url_source = "base URL";
        self
    }

    /// How long to wait for a TCP/TLS connection (default 10 s). Applies to API calls and
    /// storage downloads, unless a caller-supplied [`http_client`](Self::http_client) is used
    /// for API calls.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a response may stall between two reads (default 30 s). Applies like
    /// [`connect_timeout`](Self::connect_timeout); this is the only body timeout of storage
    /// downloads, which may take long but must keep moving.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The total time one API attempt may take, from sending to the end of the body (default
    /// 60 s); retries each get this long again. Applied per request, so it also holds with a
    /// caller-supplied [`http_client`](Self::http_client). Not applied to storage downloads.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The deadline of one API call: all its attempts, backoff waits and the reading of its
    /// response body (default 90 s). A call can set its own with
    /// [`CallOptions::timeout`](crate::CallOptions::timeout).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// Removes the default per-call deadline (per-attempt timeouts and the retry budget remain).
    pub fn no_call_timeout(mut self) -> Self {
        self.call_timeout = None;
        self
    }

    /// The largest API response body read (default [`DEFAULT_MAX_RESPONSE_BODY`]); a longer body
    /// fails the call with an error naming the operation and the cap, while it streams in, so
    /// memory stays bounded whatever a server sends. Storage downloads are not affected.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes.max(1);
        self
    }

    /// Removes the total per-attempt timeout of API calls (connect and read timeouts remain).
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Appended to the `User-Agent` (`deck-api-rust/<version> <suffix>`), e.g. `my-app/1.2`.
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Sends API calls with `client` (for proxies, custom TLS roots, ...). The key, user agent
    /// and total timeout are still added per request; `client`'s own connect and read timeouts
    /// apply instead of this builder's. Storage downloads always use a separate plain client.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// The retry policy (default [`RetryConfig::default`]; [`RetryConfig::disabled`] turns
    /// retries off).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The client-side rate limit every request to the Deck API waits on, shared by all clones
    /// of the built client (default [`RateLimit::default`]: Deck's documented 200 requests per
    /// 10 s; [`RateLimit::off`] turns it off). Give each service of an organization its share,
    /// e.g. `RateLimit::per(100, Duration::from_secs(10))`; it also adapts when 429s show that
    /// others spend the budget. See [`rate_limit`](crate::rate_limit).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Validates the settings and builds the client. Fails with [`ErrorKind::Config`] naming
    /// the setting at fault (e.g. `DECK_API_KEY`) when the key is missing, empty or not a valid
    /// header value, the base URL is not an absolute http(s) URL, or the user agent suffix is
    /// invalid.
    ///
    /// [`ErrorKind::Config`]: crate::ErrorKind::Config
    pub fn build(self) -> Result<Deck> {
        let auth = self.auth_header()?;
        let base = BaseUrl::parse(&self.base_url, self.base_url_source)?;
        let user_agent = self.user_agent()?;

        let api_http = match self.http_client.clone() {
            Some(client) => client,
            None => self
                .client_builder(user_agent.clone())
                .build()
                .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?,
        };
        let storage_http = self
            .client_builder(user_agent.clone())
            .build()
            .map_err(|e| Error::config(format!("cannot build the storage HTTP client: {e}")))?;

        let executor = Arc::new(DeckExecutor {
            boundary: KeyBoundary::new(base.clone(), auth),
            user_agent,
            timeout: self.timeout,
            call_timeout: self.call_timeout,
            max_response_body: self.max_response_body,
            retry: self.retry.clone(),
            limiter: Limiter::new(self.rate_limit.clone()),
        });
        Ok(Deck::from_parts(
            base,
            api_http,
            storage_http,
            executor,
            self.retry,
        ))
    }

    fn client_builder(&self, user_agent: HeaderValue) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
    }

    fn auth_header(&self) -> Result<HeaderValue> {
        let source = self.api_key_source;
        let key = self.api_key.as_ref().ok_or_else(|| {
            Error::config(format!(
                "no API key: set {API_KEY_ENV} or call DeckBuilder::api_key"
            ))
        })?;
        let key = key.expose_secret().trim();
        if key.is_empty() {
            return Err(Error::config(format!(
                "{source} is empty: set it to your Deck secret key (sk_live_...)"
            )));
        }
        if !key.is_ascii() {
            return Err(Error::config(format!(
                "{source} contains non-ASCII characters; a Deck key is plain ASCII (sk_live_...)"
            )));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::config(format!(
                "{source} contains whitespace or control characters; a Deck key is one word (sk_live_...)"
            )));
        }
        let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            Error::config(format!(
                "{source} contains characters not allowed in an HTTP header"
            ))
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn user_agent(&self) -> Result<HeaderValue> {
        let agent = match self.user_agent_suffix.as_deref().map(str::trim) {
            Some(suffix) if !suffix.is_empty() => format!("{USER_AGENT} {suffix}"),
            _ => USER_AGENT.to_owned(),
        };
        HeaderValue::from_str(&agent).map_err(|_| {
            Error::config("user_agent_suffix contains characters not allowed in an HTTP header")
        })
    }
}

impl fmt::Debug for DeckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeckBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("timeout", &self.timeout)
            .field("call_timeout", &self.call_timeout)
            .field("max_response_body", &self.max_response_body)
            .field("user_agent_suffix", &self.user_agent_suffix)
            .field("http_client", &self.http_client.as_ref().map(|_| "custom"))
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}
