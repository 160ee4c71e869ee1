//! The page and item streams: the pagination state machine, with optional one-page prefetch.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::{FusedStream, Stream};
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

use super::guard::{Guard, Next};
use super::page::{Page, PageRequest};
use crate::error::{Error, Result};
use crate::key_boundary::Redactor;

/// Fetches one page; shared by the stream and, with prefetch, the task fetching ahead.
pub(crate) type Fetch<T> =
    Arc<dyn Fn(PageRequest) -> BoxFuture<'static, Result<Page<T>>> + Send + Sync>;

/// Deck's page size when a request leaves `limit` out.
pub(crate) const DEFAULT_LIMIT: u32 = 20;

/// Everything a [`PageStream`] starts from, checked by the paginator.
pub(crate) struct Plan<T> {
    pub(crate) operation_id: &'static str,
    pub(crate) fetch: Fetch<T>,
    /// Removes the API key from pagination errors, which quote a cursor the server sent.
    pub(crate) redactor: Option<Redactor>,
    pub(crate) limit: Option<u32>,
    pub(crate) cursor: Option<String>,
    pub(crate) prefetch: bool,
    pub(crate) max_items: Option<u64>,
    /// A problem found before any request; the stream yields it and ends.
    pub(crate) invalid: Option<Error>,
}

enum State<T> {
    /// No request in flight; the next poll fetches the page after `PageStream::cursor`.
    Ready,
    /// A request driven by polling this stream.
    Fetching(BoxFuture<'static, Result<Page<T>>>),
    /// A request running ahead on its own task (prefetch).
    Prefetching(AbortOnDrop<Result<Page<T>>>),
    /// An error to yield before ending.
    Failing(Error),
    /// Nothing more to yield.
    Done,
}

/// A stream of the pages of one listing, from [`Paginator::pages`](super::Paginator::pages).
///
/// Lazy (nothing is sent before the first poll), `Send` and `Unpin`. It yields each page as
/// Deck returned it (empty pages included), then ends after the page whose `has_more` is false
/// or once `max_items` items were delivered. When it yields an error it ends:
/// [`resume_cursor`](Self::resume_cursor) then says where a new paginator can pick up.
pub struct PageStream<T> {
    operation_id: &'static str,
    fetch: Fetch<T>,
    limit: Option<u32>,
    prefetch: bool,
    /// Items still allowed by `max_items`.
    remaining: Option<u64>,
    redactor: Option<Redactor>,
    guard: Guard,
    /// The cursor of the next page to fetch (or the one in flight); `None` for the first page.
    cursor: Option<String>,
    /// The cursor the last delivered page was fetched with.
    delivered_from: Option<String>,
    state: State<T>,
}

impl<T: Send + 'static> PageStream<T> {
    pub(crate) fn new(plan: Plan<T>) -> Self {
        let state = match plan.invalid {
            Some(error) => State::Failing(error),
            None if plan.max_items == Some(0) => State::Done,
            None => State::Ready,
        };
        PageStream {
            operation_id: plan.operation_id,
            fetch: plan.fetch,
            limit: plan.limit,
            prefetch: plan.prefetch,
            remaining: plan.max_items,
            redactor: plan.redactor,
            guard: Guard::starting_at(plan.cursor.as_deref()),
            cursor: plan.cursor,
            delivered_from: None,
            state,
        }
    }

    /// Where a new paginator should resume ([`Paginator::resume_from`](super::Paginator::resume_from))
    /// to get the pages this stream has not delivered: the cursor of the page that failed or is
    /// next. `None` means "from the first page": before any page was delivered (unless the
    /// listing itself resumed from a cursor), after a missing or repeated `next_cursor` (the
    /// listing is inconsistent; only starting over is safe), and once the listing is complete.
    pub fn resume_cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The operation this stream lists.
    pub fn operation_id(&self) -> &'static str {
        self.operation_id
    }

    /// The request for the page after `self.cursor`, with `limit` lowered to what `max_items`
    /// still allows.
    fn request(&self) -> PageRequest {
        let limit = match self.remaining {
            Some(remaining) if remaining < u64::from(self.limit.unwrap_or(DEFAULT_LIMIT)) => {
                // `remaining` is below a `u32` here, so the conversion cannot fail.
                Some(u32::try_from(remaining).unwrap_or(u32::MAX))
            }
            _ => self.limit,
        };
        PageRequest::new(self.cursor.clone(), limit)
    }

    fn start(&mut self) -> State<T> {
        let future = (self.fetch)(self.request());
        if self.prefetch
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            return State::Prefetching(AbortOnDrop(runtime.spawn(future)));
        }
        State::Fetching(future)
    }

    /// Takes a fetched page: applies `max_items`, runs the guard, starts the prefetch, and
    /// returns what to yield.
    fn settle(&mut self, fetched: Result<Page<T>>) -> Result<Page<T>> {
        let mut page = match fetched {
            Ok(page) => page,
            Err(error) => {
                self.state = State::Done;
                return Err(error);
            }
        };
        tracing::debug!(
            operation = self.operation_id,
            items = page.data.len(),
            has_more = page.has_more,
            "Deck page received"
        );
        self.delivered_from = self.cursor.take();
        let mut truncated = false;
        if let Some(remaining) = self.remaining.as_mut() {
            let len = page.data.len() as u64;
            if len > *remaining {
                // A fetcher that ignored the lowered `limit` returned more than allowed.
                page.data
                    .truncate(usize::try_from(*remaining).unwrap_or(usize::MAX));
                truncated = true;
            }
            *remaining = remaining.saturating_sub(len);
            if *remaining == 0 {
                // The cap is reached: resume after this page, or at it if it was cut short.
                self.cursor = if truncated {
                    self.delivered_from.clone()
                } else {
                    page.has_more
                        .then(|| page.cursor().map(str::to_owned))
                        .flatten()
                };
                self.state = State::Done;
                return Ok(page);
            }
        }
        match self
            .guard
            .next(page.data.len(), page.has_more, page.next_cursor.as_deref())
        {
            Next::End => self.state = State::Done,
            Next::Fetch(cursor) => {
                self.cursor = Some(cursor);
                self.state = if self.prefetch {
                    self.start()
                } else {
                    State::Ready
                };
            }
            Next::Fail { message, resume } => {
                self.cursor = resume;
                let error = Error::pagination(self.operation_id, message);
                self.state = State::Failing(match &self.redactor {
                    Some(redactor) => redactor.scrub(error),
                    None => error,
                });
            }
        }
        Ok(page)
    }
}

impl<T: Send + 'static> Stream for PageStream<T> {
    type Item = Result<Page<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Ready => this.state = this.start(),
                State::Fetching(mut future) => match future.as_mut().poll(cx) {
                    Poll::Ready(fetched) => return Poll::Ready(Some(this.settle(fetched))),
                    Poll::Pending => {
                        this.state = State::Fetching(future);
                        return Poll::Pending;
                    }
                },
                State::Prefetching(mut task) => match Pin::new(&mut task.0).poll(cx) {
                    Poll::Ready(joined) => {
                        let fetched = match joined {
                            Ok(fetched) => fetched,
                            // The fetcher panicked: re-raise the panic where the stream is polled.
                            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                            Err(_) => Err(Error::pagination(
                                this.operation_id,
                                "the prefetch task was cancelled (is the runtime shutting down?)",
                            )),
                        };
                        return Poll::Ready(Some(this.settle(fetched)));
                    }
                    Poll::Pending => {
                        this.state = State::Prefetching(task);
                        return Poll::Pending;
                    }
                },
                State::Failing(error) => return Poll::Ready(Some(Err(error))),
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

// The streams never pin their fields (items are moved out of plain `Vec`s), so they are `Unpin`
// whatever `T` is.
impl<T> Unpin for PageStream<T> {}
impl<T> Unpin for ItemStream<T> {}

impl<T: Send + 'static> FusedStream for PageStream<T> {
    fn is_terminated(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl<T> std::fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Ready => "ready",
            State::Fetching(_) => "fetching",
            State::Prefetching(_) => "prefetching",
            State::Failing(_) => "failing",
            State::Done => "done",
        };
        f.debug_struct("PageStream")
            .field("operation_id", &self.operation_id)
            .field("limit", &self.limit)
            .field("prefetch", &self.prefetch)
            .field("remaining", &self.remaining)
            .field("cursor", &self.cursor)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// A stream of the items of one listing, from [`Paginator::items`](super::Paginator::items):
/// the pages' `data`, in order, with empty pages skipped.
///
/// Lazy, `Send` and `Unpin`; it holds at most one page (plus, with prefetch, the next one being
/// fetched). When it yields an error it ends; [`resume_cursor`](Self::resume_cursor) says where
/// to resume.
pub struct ItemStream<T> {
    pages: PageStream<T>,
    buffer: std::vec::IntoIter<T>,
}

impl<T: Send + 'static> ItemStream<T> {
    pub(crate) fn new(pages: PageStream<T>) -> Self {
        ItemStream {
            pages,
            buffer: Vec::new().into_iter(),
        }
    }

    /// Where a new paginator should resume so that no item is lost: while items of a page are
    /// still unread, the cursor that page was fetched with (resuming repeats its items already
    /// read), otherwise [`PageStream::resume_cursor`].
    pub fn resume_cursor(&self) -> Option<&str> {
        if self.buffer.len() > 0 {
            self.pages.delivered_from.as_deref()
        } else {
            self.pages.resume_cursor()
        }
    }

    /// The operation this stream lists.
    pub fn operation_id(&self) -> &'static str {
        self.pages.operation_id
    }
}

impl<T: Send + 'static> Stream for ItemStream<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffer.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            // Free the drained page's allocation before the next one arrives.
            this.buffer = Vec::new().into_iter();
            match ready!(Pin::new(&mut this.pages).poll_next(cx)) {
                Some(Ok(page)) => this.buffer = page.data.into_iter(),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => return Poll::Ready(None),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.buffer.len();
        if self.pages.is_terminated() {
            (buffered, Some(buffered))
        } else {
            (buffered, None)
        }
    }
}

impl<T: Send + 'static> FusedStream for ItemStream<T> {
    fn is_terminated(&self) -> bool {
        self.buffer.len() == 0 && self.pages.is_terminated()
    }
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemStream")
            .field("pages", &self.pages)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

/// A spawned fetch that is cancelled when the stream is dropped, so an abandoned stream leaves
/// no request running.
struct AbortOnDrop<R>(JoinHandle<R>);

impl<R> Drop for AbortOnDrop<R> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
