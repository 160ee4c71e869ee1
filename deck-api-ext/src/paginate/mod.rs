//! Pagination for every Deck list endpoint.
//!
//! Deck's list endpoints share one cursor scheme: query parameters `limit` (1–100, default 20)
//! and `cursor`, and the envelope `{"data": [...], "has_more", "next_cursor", "request_id"}`.
//! `cargo xtask regen` detects that shape in the spec and gives every such generated builder
//! `.paginate()` ([`ListExt`](crate::ListExt)), so a new list endpoint needs no code here:
//!
//! ```no_run
//! # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
//! use deck_api_ext::prelude::*;
//! use futures_util::TryStreamExt;
//!
//! let mut items = deck
//!     .api()
//!     .list_task_run_storage()
//!     .run_id("trun_123")
//!     .limit(100)
//!     .paginate()
//!     .items();
//! while let Some(item) = items.try_next().await? {
//!     println!("{} {}", item.id, item.file_name);
//! }
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! * **Lazy**: nothing is sent until the stream is first polled.
//! * **Validated first**: a parameter the builder refused, a `limit` outside the operation's
//!   documented bounds or an empty resume cursor is an
//!   [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) error, yielded before any
//!   request.
//! * **Filters are re-sent** with every page, next to `cursor` (Deck requires the same filters
//!   for a cursor): every parameter set on the builder is kept; a `cursor` set there is where
//!   the listing starts, a `limit` the page size.
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
//! # Pages from anywhere else
//!
//! [`Paginator::from_fn`] paginates anything that fetches one page for a [`PageRequest`] (a
//! cache, a test double), with the same guards.

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

use crate::error::{Error, Result};
pub use http::ListParams;
use http::{RequestList, take_query};
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
    /// A generated list operation's request.
    Request(Box<RequestList<T>>),
    /// A caller-supplied fetcher.
    Fn(Fetch<T>),
}

impl<T> Clone for Source<T> {
    fn clone(&self) -> Self {
        match self {
            Source::Request(list) => Source::Request(Box::new((**list).clone())),
            Source::Fn(fetch) => Source::Fn(Arc::clone(fetch)),
        }
    }
}

/// A paginated listing, not yet started: configure it, then consume it as a stream of
/// [`pages`](Self::pages) or [`items`](Self::items), or [`collect`](Self::collect_items) it.
///
/// Built by `.paginate()` on a generated list builder ([`ListExt`](crate::ListExt)), or by
/// [`Paginator::from_fn`] around any fetcher. Cloning gives an independent listing with the same
/// settings.
pub struct Paginator<T> {
    operation_id: &'static str,
    source: Source<T>,
    limit: Option<u32>,
    limit_range: (i64, i64),
    /// A problem found while building the listing (a parameter the builder refused).
    invalid: Option<String>,
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
            limit_range: self.limit_range,
            invalid: self.invalid.clone(),
            cursor: self.cursor.clone(),
            prefetch: self.prefetch,
            max_items: self.max_items,
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> Paginator<T> {
    /// A paginator over a generated list operation's built `request` (see
    /// [`ListExt`](crate::ListExt)): `limit` and `cursor` in its query become the page size and
    /// the starting cursor; everything else is sent with every page.
    pub(crate) fn from_request(
        operation_id: &'static str,
        api: deck_api::Client,
        request: Result<reqwest::Request>,
        params: ListParams,
        keys: crate::error::Keys,
    ) -> Self {
        let mut request = match request {
            Ok(request) => request,
            Err(error) => {
                // Reported by the stream before any request (an `Error` is not `Clone`).
                let mut failed = Paginator::from_fn(operation_id, move |_| {
                    std::future::ready(Err(Error::pagination(operation_id, "not started")))
                });
                failed.invalid = Some(error.message().to_owned());
                return failed;
            }
        };
        let limit = take_query(request.url_mut(), params.limit);
        let cursor = take_query(request.url_mut(), params.cursor);
        let mut paginator = Paginator::with_source(
            operation_id,
            Source::Request(Box::new(RequestList {
                api,
                request,
                params,
                decode: crate::error::decode_json_with::<Page<T>>,
                keys,
            })),
        );
        paginator.limit_range = params.limit_range.unwrap_or((1, i64::from(MAX_LIMIT)));
        paginator.cursor = cursor;
        if let Some(limit) = limit {
            match limit.parse::<u32>() {
                Ok(n) => paginator.limit = Some(n),
                Err(_) => {
                    let (low, high) = paginator.limit_range;
                    paginator.invalid = Some(format!(
                        "limit must be between {low} and {high}, got {limit}"
                    ));
                }
            }
        }
        paginator
    }
}

impl<T: Send + 'static> Paginator<T> {
    /// A paginator whose pages come from `fetch`: called once per page with the cursor and page
    /// size to ask for, it returns the page ([`Page::new`]). `operation_id` names the listing in
    /// errors. For generated list operations use `.paginate()` ([`ListExt`](crate::ListExt))
    /// instead; everything else (guards, prefetch, `max_items`, resuming) applies here too.
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
            limit_range: (1, i64::from(MAX_LIMIT)),
            invalid: None,
            cursor: None,
            prefetch: DEFAULT_PREFETCH,
            max_items: None,
        }
    }

    /// Items per page, within the operation's documented bounds (1–[`MAX_LIMIT`] for Deck's
    /// lists; Deck's default is 20). Any other value makes the stream yield an
    /// [`ErrorKind::InvalidRequest`](crate::ErrorKind::InvalidRequest) error naming `limit`,
    /// before any request.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
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
        let (fetch, redactor) = match self.source {
            Source::Request(list) => {
                let redactor = crate::call::executor_of(&list.api)
                    .map(|executor| executor.boundary.redactor().clone());
                (list.into_fetch(self.operation_id), redactor)
            }
            Source::Fn(fetch) => (fetch, None),
        };
        PageStream::new(Plan {
            operation_id: self.operation_id,
            fetch,
            redactor,
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
        if let Some(message) = &self.invalid {
            return Err(Error::invalid_request(op, message.clone()));
        }
        let (low, high) = self.limit_range;
        if let Some(limit) = self.limit
            && !(low..=high).contains(&i64::from(limit))
        {
            return Err(Error::invalid_request(
                op,
                format!("limit must be between {low} and {high}, got {limit}"),
            ));
        }
        if self.cursor.as_deref() == Some("") {
            return Err(Error::invalid_request(
                op,
                "resume_from: the cursor is empty",
            ));
        }
        Ok(())
    }
}

impl<T> fmt::Debug for Paginator<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Paginator");
        d.field("operation_id", &self.operation_id);
        match &self.source {
            Source::Request(list) => d.field("path", &list.request.url().path()),
            Source::Fn(_) => d.field("source", &"from_fn"),
        };
        d.field("limit", &self.limit)
            .field("cursor", &self.cursor)
            .field("prefetch", &self.prefetch)
            .field("max_items", &self.max_items)
            .finish()
    }
}
