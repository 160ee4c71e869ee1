//! The typed call surface: every generated operation is called the same way, and every cursor
//! list paginates from its builder.
//!
//! ```no_run
//! use deck_api_ext::prelude::*;
//! use futures_util::TryStreamExt;
//!
//! # async fn demo(deck: Deck) -> Result<(), Error> {
//! let run = deck.api().get_task_run().run_id("trun_1").include("storage").call().await?;
//! let item = deck.api().get_storage_item().storage_id("stor_1").call().await?;
//! let mut items = deck.api().list_task_run_storage().run_id("trun_1").limit(100).paginate().items();
//! while let Some(item) = items.try_next().await? {
//!     println!("{}", item.id);
//! }
//! # Ok(()) }
//! ```
//!
//! [`CallExt`] and [`ListExt`] are implemented for every builder that `cargo xtask regen` marks
//! with [`Operation`] / [`List`] (see `deck_api::operation`): nothing here names an operation.
//! Errors carry the spec's operationId, the HTTP status, Deck's error entries and `request_id`;
//! never the values of the operation's secret fields (`Operation::SENSITIVE_PATHS`, passed to the
//! executor), even when a server echoes them.

use std::future::Future;
use std::time::Duration;

use deck_api::ClientInfo;
use deck_api::operation::{List, Operation, ResponseBody, SensitivePaths};
use progenitor_client::ResponseValue;
use serde::de::DeserializeOwned;

use crate::error::{Error, Keys, Result, decode_json, decode_json_with};
use crate::executor::{DeckExecutor, Reply};
use crate::paginate::Paginator;

/// Per-call settings for [`CallExt::call_with`] and friends.
///
/// ```
/// use std::time::Duration;
/// use deck_api_ext::CallOptions;
///
/// let options = CallOptions::new().timeout(Duration::from_secs(5));
/// assert_eq!(options.deadline(), Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    timeout: Option<Duration>,
}

impl CallOptions {
    /// The client's defaults.
    pub fn new() -> Self {
        CallOptions::default()
    }

    /// A deadline for the whole call: every attempt, every backoff wait and the reading of the
    /// response. Replaces the client-wide [`DeckBuilder::call_timeout`](crate::DeckBuilder::call_timeout)
    /// for this call. When it passes, the call fails with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) and nothing more is sent.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The deadline set with [`timeout`](Self::timeout).
    pub fn deadline(&self) -> Option<Duration> {
        self.timeout
    }
}

/// The executor behind a generated client built by [`Deck`](crate::Deck).
pub(crate) fn executor_of(api: &deck_api::Client) -> Option<&DeckExecutor> {
    let any: &dyn std::any::Any = &**api.inner().executor();
    any.downcast_ref::<DeckExecutor>()
}

/// Builds and sends one generated operation; the body is read whole (capped).
pub(crate) async fn send_operation<'a, O: Operation<'a>>(
    op: O,
    options: &CallOptions,
) -> Result<Reply> {
    let api = op.client();
    let request = op
        .into_request()
        .map_err(|e| Error::from_build(O::OPERATION_ID, e))?;
    send(api, O::OPERATION_ID, O::SENSITIVE_PATHS, request, options).await
}

/// Sends a request built by the generated builder of `operation` (the spec's operationId, whose
/// secret fields are looked up in `deck_api::OPERATIONS`) through the client's executor.
pub(crate) async fn send_request(
    api: &deck_api::Client,
    operation: &'static str,
    request: reqwest::Request,
    options: &CallOptions,
) -> Result<Reply> {
    let sensitive = deck_api::sensitive::sensitive_paths(operation);
    send(api, operation, sensitive, request, options).await
}

async fn send(
    api: &deck_api::Client,
    operation: &'static str,
    sensitive: SensitivePaths,
    request: reqwest::Request,
    options: &CallOptions,
) -> Result<Reply> {
    let executor = executor_of(api).ok_or_else(|| {
        Error::config(
            "this deck_api::Client was not built by deck_api_ext::Deck; use Deck::api() (or the generated send())",
        )
    })?;
    executor
        .call(api.client(), request, operation, sensitive, options.timeout)
        .await
}

fn decode_reply<T: DeserializeOwned>(
    operation: &'static str,
    body: ResponseBody,
    reply: &Reply,
    keys: Keys,
) -> Result<T> {
    let decoded = match body {
        ResponseBody::Json => require_object(operation, &reply.body)
            .and_then(|()| decode_json_with(operation, &reply.body, keys)),
        ResponseBody::Empty => decode_json(operation, b"null"),
    };
    decoded.map_err(|e| reply.scrub(e))
}

/// Every Deck response with a JSON body is an object (the spec declares no other): an array or a
/// scalar is a decode error naming the operation, whatever type it is decoded into (serde's
/// derived structs would take an array as their fields in order, and `call_as` with
/// `serde_json::Value` anything at all).
fn require_object(operation: &'static str, body: &[u8]) -> Result<()> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok(());
    }
    let what = match first {
        None => "empty",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "not JSON",
    };
    Err(Error::decode(
        operation,
        String::new(),
        format!("expected a JSON object, the body is {what}"),
        Some(body),
    ))
}

/// `.call()` for every generated operation. In the [`prelude`](crate::prelude).
pub trait CallExt<'a>: Operation<'a> {
    /// Sends the operation (authenticated, retried, traced, within the client's deadline) and
    /// decodes the response body; failures are this crate's [`Error`], naming the operation as
    /// the spec spells it.
    fn call(self) -> impl Future<Output = Result<Self::Response>> + Send + 'a {
        self.call_with(CallOptions::new())
    }

    /// [`call`](Self::call) with per-call [`CallOptions`] (e.g. a deadline).
    fn call_with(
        self,
        options: CallOptions,
    ) -> impl Future<Output = Result<Self::Response>> + Send + 'a {
        async move {
            let reply = send_operation(self, &options).await?;
            decode_reply(Self::OPERATION_ID, Self::BODY, &reply, Keys::Read)
        }
    }

    /// [`call_with`](Self::call_with), keeping the HTTP status and headers.
    fn call_full(
        self,
        options: CallOptions,
    ) -> impl Future<Output = Result<ResponseValue<Self::Response>>> + Send + 'a {
        async move {
            let reply = send_operation(self, &options).await?;
            let value = decode_reply(Self::OPERATION_ID, Self::BODY, &reply, Keys::Read)?;
            Ok(ResponseValue::new(value, reply.status, reply.headers))
        }
    }

    /// [`call_with`](Self::call_with), decoding the body into the caller's type instead of the
    /// generated one (e.g. `Box<serde_json::value::RawValue>` to keep it exactly as sent).
    fn call_as<T: DeserializeOwned + Send + 'static>(
        self,
        options: CallOptions,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        async move {
            let reply = send_operation(self, &options).await?;
            decode_reply(Self::OPERATION_ID, Self::BODY, &reply, Keys::All)
        }
    }
}

impl<'a, O: Operation<'a>> CallExt<'a> for O {}

/// `.paginate()` for every cursor-list operation. In the [`prelude`](crate::prelude).
pub trait ListExt<'a>: List<'a> {
    /// Every page of the listing, as a [`Paginator`] over the generated item type. The builder's
    /// own parameters (path, filters, `limit`, a starting `cursor`) are sent with every page.
    fn paginate(self) -> Paginator<Self::Item> {
        paginator(self, Keys::Read)
    }

    /// [`paginate`](Self::paginate), decoding each item of `data` into the caller's type. Every
    /// object of every page is checked for repeated keys (the type may keep raw JSON).
    fn paginate_as<T: DeserializeOwned + Send + 'static>(self) -> Paginator<T> {
        paginator(self, Keys::All)
    }
}

fn paginator<'a, L: List<'a>, T: DeserializeOwned + Send + 'static>(
    list: L,
    keys: Keys,
) -> Paginator<T> {
    {
        let api = list.client().clone();
        let request = list
            .into_request()
            .map_err(|e| Error::from_build(L::OPERATION_ID, e));
        Paginator::from_request(
            L::OPERATION_ID,
            api,
            request,
            crate::paginate::ListParams {
                limit: L::LIMIT_PARAM,
                cursor: L::CURSOR_PARAM,
                limit_range: L::LIMIT_RANGE,
            },
            keys,
        )
    }
}

impl<'a, L: List<'a>> ListExt<'a> for L {}
