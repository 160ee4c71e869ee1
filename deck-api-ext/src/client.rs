//! [`Deck`]: the client handle. It wraps the generated [`deck_api::Client`] (every operation of
//! the API) with authentication, retries and tracing, and keeps a separate plain HTTP client for
//! pre-signed storage URLs.

use std::fmt;
use std::sync::Arc;

use deck_api::hooks::Execute;

use crate::config::DeckBuilder;
use crate::error::Result;
use crate::executor::DeckExecutor;
use crate::key_boundary::BaseUrl;
use crate::retry::RetryConfig;

/// The Deck API client. Cheap to clone (one `Arc`), `Send + Sync`: build it once and share it.
///
/// ```no_run
/// # async fn demo() -> deck_api_ext::Result<()> {
/// use deck_api_ext::prelude::*;
///
/// let deck = Deck::from_env()?; // DECK_API_KEY, optional DECK_BASE_URL
/// let run = deck.api().get_task_run().run_id("trun_123").call().await?;
/// println!("{}", run.id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Deck {
    inner: Arc<Inner>,
}

struct Inner {
    api: deck_api::Client,
    base: BaseUrl,
    storage_http: reqwest::Client,
    retry: RetryConfig,
}

impl Deck {
    /// A client configured from the environment: `DECK_API_KEY` (required, non-empty) and
    /// `DECK_BASE_URL` (optional). See [`DeckBuilder::from_env`] to adjust settings first.
    pub fn from_env() -> Result<Deck> {
        DeckBuilder::from_env()?.build()
    }

    /// A builder with the defaults; set at least [`DeckBuilder::api_key`].
    pub fn builder() -> DeckBuilder {
        DeckBuilder::new()
    }

    pub(crate) fn from_parts(
        base: BaseUrl,
        http: reqwest::Client,
        storage_http: reqwest::Client,
        executor: Arc<DeckExecutor>,
        retry: RetryConfig,
    ) -> Deck {
        let state = deck_api::ClientState::new(executor as Arc<dyn Execute>);
        let api = deck_api::Client::new_with_client(base.as_str(), http, state);
        Deck {
            inner: Arc::new(Inner {
                api,
                base,
                storage_http,
                retry,
            }),
        }
    }

    /// The generated client: every API operation, as a builder that ends in `.call()`
    /// ([`CallExt`](crate::CallExt)) or, for lists, `.paginate()` ([`ListExt`](crate::ListExt)):
    /// `deck.api().get_task_run().run_id(id).call().await?`. Its requests are authenticated,
    /// retried, traced and bounded by this client. progenitor's own `.send()` stays reachable as
    /// a raw escape hatch (same authentication and retries, progenitor's error type).
    pub fn api(&self) -> &deck_api::Client {
        &self.inner.api
    }

    /// The base URL, without trailing slash (e.g. `https://api.deck.co/v2`).
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The retry policy.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// A plain HTTP client for pre-signed storage download URLs: it never sends the API key and
    /// has connect and read timeouts but no total timeout (large files take long). It does not
    /// retry either; downloads handle that themselves.
    pub fn storage_http(&self) -> &reqwest::Client {
        &self.inner.storage_http
    }
}

impl fmt::Debug for Deck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deck")
            .field("base_url", &self.base_url())
            .field("api_key", &"[redacted]")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn deck_and_error_are_send_sync() {
        assert_send_sync::<Deck>();
        fn error_bounds<E: std::error::Error + Send + Sync + 'static>() {}
        error_bounds::<crate::Error>();
    }
}
