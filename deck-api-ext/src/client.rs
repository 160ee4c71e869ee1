//! [`Deck`]: the client handle. It wraps the generated [`deck_api::Client`] (every operation of
//! the API) with authentication, retries and tracing, and keeps a separate plain HTTP client for
//! pre-signed storage URLs.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use deck_api::hooks::Execute;
use progenitor_client::{ByteStream, ClientInfo, ResponseValue};
use reqwest::header::{ACCEPT, HeaderValue};
use serde::de::DeserializeOwned;

use crate::config::{BaseUrl, DeckBuilder};
use crate::error::{Error, Result, decode_json};
use crate::retry::{DeckExecutor, RetryConfig};

/// The Deck API client. Cheap to clone (one `Arc`), `Send + Sync`: build it once and share it.
///
/// ```no_run
/// # async fn demo() -> deck_api_ext::Result<()> {
/// use deck_api_ext::Deck;
///
/// let deck = Deck::from_env()?; // DECK_API_KEY, optional DECK_BASE_URL
/// let run = deck
///     .send("getTaskRun", deck.api().get_task_run().run_id("trun_123").send())
///     .await?
///     .into_inner();
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
    http: reqwest::Client,
    storage_http: reqwest::Client,
    executor: Arc<DeckExecutor>,
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
        let state = deck_api::ClientState::new(executor.clone() as Arc<dyn Execute>);
        let api = deck_api::Client::new_with_client(base.as_str(), http.clone(), state);
        Deck {
            inner: Arc::new(Inner {
                api,
                base,
                http,
                storage_http,
                executor,
                retry,
            }),
        }
    }

    /// The generated client: every API operation, e.g.
    /// `deck.api().list_task_run_storage().run_id(id).send()`. Its requests are authenticated,
    /// retried and traced by this client. Pass the returned future to [`send`](Self::send) to get
    /// this crate's [`Error`].
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

    /// Awaits a generated operation and converts its error into this crate's [`Error`].
    ///
    /// `operation` is the spec's operationId (`"listTaskRunStorage"`; snake_case is accepted and
    /// converted), used in error messages. Error bodies are decoded (code, message, field,
    /// request id, validation map); a 2xx body that does not match `T` gives an
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) error naming the JSON path that failed.
    ///
    /// ```no_run
    /// # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
    /// let page = deck
    ///     .send("listTaskRunStorage", deck.api().list_task_run_storage().run_id("trun_1").send())
    ///     .await?;
    /// println!("{} items", page.data.len());
    /// # Ok(()) }
    /// ```
    pub async fn send<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<ResponseValue<T>, progenitor_client::Error<ByteStream>>>,
    ) -> Result<ResponseValue<T>> {
        match call.await {
            Ok(value) => Ok(value),
            Err(progenitor_client::Error::InvalidResponsePayload(body, error)) => {
                // Decode again, tracking the path, to say where the body went wrong.
                Err(match decode_json::<T>(operation, &body) {
                    Err(with_path) => with_path,
                    Ok(_) => {
                        Error::from_progenitor(
                            operation,
                            progenitor_client::Error::InvalidResponsePayload(body, error),
                        )
                        .await
                    }
                })
            }
            Err(error) => Err(Error::from_progenitor(operation, error).await),
        }
    }

    /// A request builder for `path` under the base URL (`path` starts with `/`, its segments
    /// already percent-encoded, e.g. with [`progenitor_client::encode_path`]), with
    /// `Accept: application/json` and the `api-version` header the generated client sends.
    /// Send the built request with [`execute_raw`](Self::execute_raw) or
    /// [`execute_json`](Self::execute_json); the key is added there.
    pub fn request_builder(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let separator = if path.starts_with('/') { "" } else { "/" };
        let url = format!("{}{separator}{path}", self.base_url());
        self.inner
            .http
            .request(method, url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header("api-version", deck_api::Client::api_version())
    }

    /// Sends a hand-built request through the same executor as the generated operations
    /// (authentication for base-URL requests, retries, tracing). A non-2xx response becomes an
    /// [`ErrorKind::Api`](crate::ErrorKind::Api) error with its decoded body; transport failures
    /// become `Transport`/`Timeout` errors. `operation` names the call in errors and traces.
    pub async fn execute_raw(
        &self,
        operation: &'static str,
        request: reqwest::Request,
    ) -> Result<reqwest::Response> {
        let response = self
            .inner
            .executor
            .execute(&self.inner.http, request, operation)
            .await
            .map_err(|e| Error::transport(operation, e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(Error::from_response(operation, response).await)
        }
    }

    /// [`execute_raw`](Self::execute_raw), then decodes the JSON body as `T`; a mismatch names
    /// the JSON path (`data[3].file_size`).
    pub async fn execute_json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        request: reqwest::Request,
    ) -> Result<T> {
        let response = self.execute_raw(operation, request).await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport(operation, e))?;
        decode_json(operation, &body)
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
        error_bounds::<Error>();
    }

    #[test]
    fn request_builder_joins_paths() {
        let deck = Deck::builder()
            .api_key("sk_test")
            .base_url("http://127.0.0.1:9/v2/")
            .build()
            .unwrap();
        let request = deck
            .request_builder(reqwest::Method::GET, "/task-runs/trun_1/storage")
            .build()
            .unwrap();
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/v2/task-runs/trun_1/storage"
        );
        let request = deck
            .request_builder(reqwest::Method::GET, "tasks")
            .build()
            .unwrap();
        assert_eq!(request.url().as_str(), "http://127.0.0.1:9/v2/tasks");
        assert_eq!(request.headers()[ACCEPT], "application/json");
    }
}
