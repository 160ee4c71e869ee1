//! Pagination for every Deck list endpoint.
//!
//! Deck's list endpoints share one cursor scheme: query parameters `limit` (1–100, default 20)
//! and `cursor`, and the envelope `{"data": [...], "has_more", "next_cursor", "request_id"}`.
//! One [`Paginator`] serves them all; a new list endpoint is one line:
//!
//! ```no_run
//! # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
//! use futures_util::TryStreamExt;
//!
//! #[derive(serde::Deserialize)]
//! struct Task {
//!     id: String,
//! }
//!
//! let mut tasks = deck
//!     .paginate::<Task>("listTasks", "/tasks")
//!     .filter("agent_id", "agent_123")
//!     .limit(100)
//!     .items();
//! while let Some(task) = tasks.try_next().await? {
//!     println!("{}", task.id);
//! }
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! * **Lazy**: nothing is sent until the stream is first polled.
//! * **Validated first**: a `limit` outside 1–100, an empty resume cursor or a filter named
//!   `limit`/`cursor` is an [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest)
//!   error, yielded before any request.
//! * **Filters are re-sent** with every page, next to `cursor` (Deck requires the same filters
//!   for a cursor).
//! * `has_more: false` ends the listing. `has_more: true` with a null or empty `next_cursor`,
//!   a `next_cursor` already used in this listing (exactly within the last [`RECENT_CURSORS`]
//!   pages, eventually for longer loops, so memory stays constant), and more than
//!   [`MAX_CONSECUTIVE_EMPTY_PAGES`] empty pages in a row are
//!   [`ErrorKind::Pagination`](crate::ErrorKind::Pagination) errors: the page that carried the
//!   bad cursor is still delivered, then the error, so no item is lost and nothing loops. An
//!   empty page with `has_more: true` is followed.
//! * **The first error ends the stream**: it is yielded once, then the stream returns `None`.
//!   [`PageStream::resume_cursor`] / [`ItemStream::resume_cursor`] then give the cursor a new
//!   paginator can [`resume_from`](Paginator::resume_from). Deck answers a stale cursor with
//!   400 `cursor_invalid`; start from the first page then.
//! * **Prefetch** ([`Paginator::prefetch`], off by default): while the caller works on a page,
//!   the next one is fetched on a tokio task; never more than one page ahead, and dropping the
//!   stream cancels it. Measured (`BENCHMARKS.md`): about half the wall time for a consumer
//!   that spends 1 ms per page, about 3% more CPU for one that does nothing per page.
//!
//! Pre-signed download URLs in storage items expire: prefer streaming to collecting a long
//! listing before downloading.
//!
//! # Pages from a generated operation
//!
//! [`Paginator::from_fn`] paginates anything that fetches one page for a [`PageRequest`], for
//! example the generated `listTaskRunStorage` operation:
//!
//! ```no_run
//! # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
//! use deck_api_ext::api::types::ListStorageItemResponse;
//! use deck_api_ext::paginate::{Page, PageRequest, Paginator};
//!
//! let run_id = "trun_123".to_owned();
//! let files = Paginator::<ListStorageItemResponse>::from_fn(
//!     "listTaskRunStorage",
//!     move |request: PageRequest| {
//!         let (deck, run_id) = (deck.clone(), run_id.clone());
//!         async move {
//!             let mut call = deck.api().list_task_run_storage().run_id(run_id);
//!             if let Some(cursor) = request.cursor {
//!                 call = call.cursor(cursor);
//!             }
//!             if let Some(limit) = request.limit {
//!                 call = call.limit(limit);
//!             }
//!             let page = deck.send("listTaskRunStorage", call.send()).await?;
//!             Ok(Page::from(page.into_inner()))
//!         }
//!     },
//! )
//! .limit(100)
//! .collect_items(1_000)
//! .await?;
//! # Ok(()) }
//! ```

mod guard;
mod history;
mod http;
mod page;
mod stream;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;

pub use guard::MAX_CONSECUTIVE_EMPTY_PAGES;
pub use history::RECENT_CURSORS;
pub use page::{Page, PageRequest};
pub use stream::{ItemStream, PageStream};

use crate::client::Deck;
use crate::error::{Error, Result};
use http::HttpList;
use stream::{Fetch, Plan};

/// The largest page Deck serves.
pub const MAX_LIMIT: u32 = 100;

/// Whether [`Paginator::prefetch`] is on unless set: no. Measured (`BENCHMARKS.md`), prefetch
/// halves the wall time of a consumer that spends 1 ms per page but costs a consumer that does
/// nothing per page about 3% more CPU (up to 10% in noisy runs: the fetch runs on its own task),
/// sends a request that may never be used, and changes when requests reach the server; so it is
/// opt-in, for consumers that do I/O per page.
pub const DEFAULT_PREFETCH: bool = false;

/// Where pages come from.
enum Source<T> {
    /// `GET path` on the Deck API, with query filters.
    Http(HttpList<T>),
    /// A caller-supplied fetcher.
    Fn(Fetch<T>),
}

impl<T> Clone for Source<T> {
    fn clone(&self) -> Self {
        match self {
            Source::Http(list) => Source::Http(list.clone()),
            Source::Fn(fetch) => Source::Fn(Arc::clone(fetch)),
        }
    }
}

/// A paginated listing, not yet started: configure it, then consume it as a stream of
/// [`pages`](Self::pages) or [`items`](Self::items), or [`collect`](Self::collect_items) it.
///
/// Built by [`Deck::paginate`] for a list endpoint, or by [`Paginator::from_fn`] around any
/// fetcher. Cloning gives an independent listing with the same settings.
pub struct Paginator<T> {
    operation_id: &'static str,
    source: Source<T>,
    limit: Option<u32>,
    filter_keys: Vec<String>,
    cursor: Option<String>,
    prefetch: bool,
    max_items: Option<u64>,
}

impl<T> Clone for Paginator<T> {
    fn clone(&self) -> Self {
        Paginator {
            operation_id: self.operation_id,
            source: self.source.clone(),
            limit: self.limit,
            filter_keys: self.filter_keys.clone(),
            cursor: self.cursor.clone(),
            prefetch: self.prefetch,
            max_items: self.max_items,
        }
    }
}

impl Deck {
    /// A paginator over the Deck list endpoint at `path` (under the base URL, segments already
    /// percent-encoded, e.g. `/tasks` or `/task-runs/trun_1/storage`), decoding each item of
    /// `data` as `T`. `operation_id` is the spec's operationId (`listTasks`), used in errors and
    /// traces. Add filters with [`Paginator::filter`].
    pub fn paginate<T>(&self, operation_id: &'static str, path: impl Into<String>) -> Paginator<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        Paginator::with_source(
            operation_id,
            Source::Http(HttpList {
                deck: self.clone(),
                path: path.into(),
                filters: Vec::new(),
                decode: http::decode_page::<T>,
            }),
        )
    }
}

impl<T: Send + 'static> Paginator<T> {
    /// A paginator whose pages come from `fetch`: called once per page with the cursor and page
    /// size to ask for, it returns the page (see [`Page::from`] for the generated list
    /// responses). `operation_id` names the listing in errors.
    ///
    /// Query filters cannot be added to such a paginator with [`filter`](Self::filter) (the
    /// fetcher sends its own); everything else applies.
    pub fn from_fn<F, Fut>(operation_id: &'static str, fetch: F) -> Self
    where
        F: Fn(PageRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Page<T>>> + Send + 'static,
    {
        let fetch: Fetch<T> = Arc::new(move |request| Box::pin(fetch(request)));
        Paginator::with_source(operation_id, Source::Fn(fetch))
    }

    fn with_source(operation_id: &'static str, source: Source<T>) -> Self {
        Paginator {
            operation_id,
            source,
            limit: None,
            filter_keys: Vec::new(),
            cursor: None,
            prefetch: DEFAULT_PREFETCH,
            max_items: None,
        }
    }

    /// Items per page, 1–[`MAX_LIMIT`] (Deck's default is 20). Any other value makes the stream
    /// yield an [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) error naming
    /// `limit`, before any request.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Adds the query filter `key=value`, sent with every page. Filters cannot be named `limit`
    /// or `cursor` (use [`limit`](Self::limit) and [`resume_from`](Self::resume_from)), nor be
    /// added to a [`from_fn`](Self::from_fn) paginator; either makes the stream yield an
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) error before any request.
    #[must_use]
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        if let Source::Http(list) = &mut self.source {
            list.filters.push((key.clone(), value.into()));
        }
        self.filter_keys.push(key);
        self
    }

    /// Starts after a cursor saved from an earlier listing (a page's `next_cursor`, or a
    /// stream's `resume_cursor`) instead of at the first page. Cursors are only valid with the
    /// same endpoint and filters.
    #[must_use]
    pub fn resume_from(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Whether to fetch the next page while the caller consumes the current one (at most one page
    /// ahead, on a tokio task, so it progresses however long the caller spends on a page; without
    /// a tokio runtime pages are fetched in line). Off by default ([`DEFAULT_PREFETCH`]): turn it
    /// on when the caller does I/O per page (downloads, database writes). The price: a little CPU
    /// per page, and a stream dropped before its end has sent one request more than it used.
    #[must_use]
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// Stops after `max_items` items: the last request asks for no more than are still wanted,
    /// and the stream ends there (a later listing can continue from its `resume_cursor`).
    #[must_use]
    pub fn max_items(mut self, max_items: u64) -> Self {
        self.max_items = Some(max_items);
        self
    }

    /// The operation this paginator lists.
    pub fn operation_id(&self) -> &'static str {
        self.operation_id
    }

    /// The cursor the listing starts from; `None` for the first page.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The pages, as a lazy `Stream`; see the [module docs](self) for the semantics.
    pub fn pages(self) -> PageStream<T> {
        let invalid = self.check().err();
        let fetch = match self.source {
            Source::Http(list) => list.into_fetch(self.operation_id),
            Source::Fn(fetch) => fetch,
        };
        PageStream::new(Plan {
            operation_id: self.operation_id,
            fetch,
            limit: self.limit,
            cursor: self.cursor,
            prefetch: self.prefetch,
            max_items: self.max_items,
            invalid,
        })
    }

    /// The items of every page, in order, as a lazy `Stream`.
    pub fn items(self) -> ItemStream<T> {
        ItemStream::new(self.pages())
    }

    /// Collects every item. The whole listing is held in memory: prefer
    /// [`collect_items`](Self::collect_items) with a cap, or the streams.
    pub async fn try_collect_all(self) -> Result<Vec<T>> {
        self.items().try_collect().await
    }

    /// Collects at most `cap` items (and any [`max_items`](Self::max_items) set earlier), without
    /// requesting more than needed.
    pub async fn collect_items(self, cap: usize) -> Result<Vec<T>> {
        let cap = u64::try_from(cap).unwrap_or(u64::MAX);
        let max = self.max_items.map_or(cap, |m| m.min(cap));
        self.max_items(max).try_collect_all().await
    }

    /// Checks the settings before any request.
    fn check(&self) -> Result<()> {
        let op = self.operation_id;
        if let Some(limit) = self.limit
            && !(1..=MAX_LIMIT).contains(&limit)
        {
            return Err(Error::invalid_request(
                op,
                format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
            ));
        }
        if self.cursor.as_deref() == Some("") {
            return Err(Error::invalid_request(
                op,
                "resume_from: the cursor is empty",
            ));
        }
        for key in &self.filter_keys {
            if matches!(self.source, Source::Fn(_)) {
                return Err(Error::invalid_request(
                    op,
                    format!(
                        "filter `{key}`: a from_fn paginator sends its own query; \
                         apply the filter in its fetcher"
                    ),
                ));
            }
            if key.is_empty() {
                return Err(Error::invalid_request(op, "filter: the name is empty"));
            }
            if key == "limit" || key == "cursor" {
                return Err(Error::invalid_request(
                    op,
                    format!(
                        "filter `{key}`: set it with {}() instead",
                        if key == "limit" {
                            "limit"
                        } else {
                            "resume_from"
                        }
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl<T> fmt::Debug for Paginator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Paginator");
        d.field("operation_id", &self.operation_id);
        match &self.source {
            Source::Http(list) => d.field("path", &list.path).field("filters", &list.filters),
            Source::Fn(_) => d.field("source", &"from_fn"),
        };
        d.field("limit", &self.limit)
            .field("cursor", &self.cursor)
            .field("prefetch", &self.prefetch)
            .field("max_items", &self.max_items)
            .finish()
    }
}
