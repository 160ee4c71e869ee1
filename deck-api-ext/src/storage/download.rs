//! Streaming, resumable downloads of one storage item from its pre-signed URL: see [`Download`].

use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::backoff::Backoff;

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use tokio::fs::File;
use tokio::io::{AsyncSeekExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::time::Instant;

use super::part_file::PartFile;
use super::{PresignedUrl, StorageItem};
use crate::client::Deck;
use crate::error::{Error, Result};

/// The progress of one download, reported after every chunk written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes of the file written so far.
    pub bytes_done: u64,
    /// The file's size (`file_size`).
    pub total: u64,
    /// Bytes written since the previous report.
    pub delta: u64,
    /// Bytes written earlier and thrown away by this report, because the download restarted
    /// from byte 0 (the file changed on the storage host, or it could not be resumed safely);
    /// `bytes_done` then counts again from 0. Usually 0.
    pub discarded: u64,
}

/// A progress callback; called from the downloading task, so keep it quick.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Retry and progress settings for downloads.
#[derive(Clone)]
pub struct DownloadOptions {
    max_attempts: u32,
    max_total_attempts: u32,
    speed_limit: u64,
    speed_time: Duration,
    backoff: Backoff,
    progress: Option<ProgressFn>,
}

/// Default of [`DownloadOptions::with_max_total_attempts`].
pub const DEFAULT_MAX_TOTAL_ATTEMPTS: u32 = 30;
/// Default low-speed limit in bytes per second ([`DownloadOptions::with_speed_limit`]).
pub const DEFAULT_SPEED_LIMIT: u64 = 1024;
/// Default low-speed period ([`DownloadOptions::with_speed_limit`]).
pub const DEFAULT_SPEED_TIME: Duration = Duration::from_secs(30);

impl Default for DownloadOptions {
    /// 5 attempts without progress, 30 attempts in all, a low-speed limit of 1 KiB/s over 30 s,
    /// backoff from 250 ms doubling up to 8 s, no progress callback.
    fn default() -> Self {
        DownloadOptions {
            max_attempts: 5,
            max_total_attempts: DEFAULT_MAX_TOTAL_ATTEMPTS,
            speed_limit: DEFAULT_SPEED_LIMIT,
            speed_time: DEFAULT_SPEED_TIME,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(8)),
            progress: None,
        }
    }
}

impl DownloadOptions {
    /// How many attempts in a row may fail without delivering new bytes before the download
    /// gives up (at least 1; 1 means a failure without progress is final). An attempt that made
    /// progress (at least the [speed limit](Self::with_speed_limit)) resets this count, within
    /// the [total cap](Self::with_max_total_attempts).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// How many requests one download may make to the storage host in all, progress or not
    /// (default [`DEFAULT_MAX_TOTAL_ATTEMPTS`], at least 1): a host that sends a few new bytes
    /// per connection cannot keep a download reconnecting forever.
    pub fn with_max_total_attempts(mut self, attempts: u32) -> Self {
        self.max_total_attempts = attempts.max(1);
        self
    }

    /// The low-speed limit, as curl's `--speed-limit`/`--speed-time`: an attempt whose body
    /// arrives slower than `bytes_per_second` on average over a period of `period` fails (and
    /// counts as an attempt without progress, however many bytes it delivered). Defaults:
    /// [`DEFAULT_SPEED_LIMIT`] bytes/s over [`DEFAULT_SPEED_TIME`]. `0` bytes/s or a zero
    /// period turns the check off; the read-idle timeout still applies. Measured with
    /// `tokio::time`, so paused test time drives it.
    pub fn with_speed_limit(mut self, bytes_per_second: u64, period: Duration) -> Self {
        self.speed_limit = bytes_per_second;
        self.speed_time = period;
        self
    }

    /// The backoff ceiling before the first retry without progress, doubled for each further
    /// one up to `max`; the wait is uniformly random below the ceiling (full jitter, the same
    /// backoff as API retries).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff.initial = initial;
        self.backoff.max = max.max(initial);
        self
    }

    /// Replaces the jitter source (default `fastrand::f64`): numbers in `[0, 1)`, clamped. For
    /// deterministic tests, `|| 1.0` waits the whole ceiling.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.backoff.jitter = Arc::new(jitter);
        self
    }

    /// Calls `progress` after every chunk written.
    pub fn with_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    pub(crate) fn without_progress(mut self) -> Self {
        self.progress = None;
        self
    }

    /// The attempt limit; see [`with_max_attempts`](Self::with_max_attempts).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The total attempt cap; see [`with_max_total_attempts`](Self::with_max_total_attempts).
    pub fn max_total_attempts(&self) -> u32 {
        self.max_total_attempts
    }

    /// The low-speed limit in bytes per second; see [`with_speed_limit`](Self::with_speed_limit).
    pub fn speed_limit(&self) -> u64 {
        self.speed_limit
    }

    /// The low-speed period; see [`with_speed_limit`](Self::with_speed_limit).
    pub fn speed_time(&self) -> Duration {
        self.speed_time
    }

    /// Whether the low-speed check is on.
    fn speed_check(&self) -> Option<(u64, Duration)> {
        (self.speed_limit > 0 && !self.speed_time.is_zero())
            .then_some((self.speed_limit, self.speed_time))
    }

    fn backoff(&self, failures: u32) -> Duration {
        self.backoff.delay(failures)
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("max_attempts", &self.max_attempts)
            .field("max_total_attempts", &self.max_total_attempts)
            .field("speed_limit", &self.speed_limit)
            .field("speed_time", &self.speed_time)
            .field("initial_backoff", &self.backoff.initial)
            .field("max_backoff", &self.backoff.max)
            .field("progress", &self.progress.as_ref().map(|_| "Fn(Progress)"))
            .finish()
    }
}

/// What a finished download did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Bytes of the file written (its `file_size`).
    pub bytes: u64,
    /// HTTP requests made to the storage host.
    pub attempts: u32,
    /// Attempts that continued where the previous one stopped (`206 Partial Content`).
    pub resumed: u32,
    /// Attempts after a drop that the server answered with the whole file (it ignored `Range`,
    /// or the file changed), whether the bytes already written were skipped (same strong
    /// `ETag`: the same file) or discarded ([`restarted_from_zero`](Self::restarted_from_zero)).
    pub restarted: u32,
    /// Times the bytes already written were discarded and the download started again from
    /// byte 0: the file changed on the storage host (a `200` to an `If-Range` request, or
    /// another validator), or the storage host sent no validator to resume safely with.
    pub restarted_from_zero: u32,
    /// Whether the storage host sent neither a strong `ETag` nor `Last-Modified`, so a
    /// dropped connection could not be resumed and restarted from byte 0 instead.
    pub unvalidated: bool,
    /// Whether the item was fetched again for a fresh URL (expired or missing URL).
    pub url_refreshed: bool,
}

/// A download of one storage item, ready to run: configure it, then call
/// [`to_writer`](Self::to_writer) or [`to_path`](Self::to_path).
///
/// - **Separate client.** Requests go through [`Deck::storage_http`]: a plain HTTP client that
///   never sends the Deck `Authorization` header (the URL is on another host and carries its own
///   signature), with connect and read-idle timeouts ([`DeckBuilder::connect_timeout`],
///   [`DeckBuilder::read_timeout`]) but no total timeout, so large files can take as long as
///   they need while a stalled connection is still detected.
/// - **Streaming.** The body is written chunk by chunk; the file is never held in memory.
/// - **Resume.** When the connection drops, the next attempt asks for the rest with
///   `Range: bytes=N-` and `If-Range` (the first response's strong `ETag`, else its
///   `Last-Modified`), so the rest comes from the same version of the file. A `206` must carry
///   that validator; a `200` with the same strong `ETag` is the same file with `Range` ignored
///   (the bytes already written are skipped); any other answer means the file changed, and the
///   download restarts from byte 0, discarding what was written. A first response without a
///   validator is never resumed: a drop restarts from byte 0 ([`Downloaded::unvalidated`],
///   [`Downloaded::restarted_from_zero`], a `tracing` warning). Two versions are never spliced.
/// - **Bounded attempts.** At most [`DownloadOptions::max_attempts`] attempts in a row may fail
///   without delivering new bytes (with exponential backoff between them); an attempt that made
///   progress is retried at once, and [`DownloadOptions::max_total_attempts`] caps the requests
///   of one download in all. A download therefore always ends.
/// - **Low-speed limit.** A body arriving slower than [`DownloadOptions::speed_limit`] bytes/s
///   over [`DownloadOptions::speed_time`] fails the attempt, as an attempt without progress, so
///   a host trickling bytes cannot hold a download open.
/// - **Permanent failures fail at once.** A URL that does not parse or is not http(s), a
///   request that cannot be built, and any 4xx but 403 (expired URL), 408 and 429 are final at
///   the first attempt; errors name the storage id and file, never the URL.
/// - **Expired URLs.** Pre-signed URLs are time-limited. A 403 from the storage host, or an item
///   whose `url` is `null`, triggers one fetch of the item (`GET /storage/{id}`) for a fresh URL.
/// - **Exact length.** The result must be exactly `file_size` bytes: a body longer than that is
///   an error, a shorter one is resumed. Sizes come from servers and are untrusted: every sum
///   and comparison of them is checked or saturating, never overflowing.
/// - **Atomic files.** [`Download::to_path`] writes to a temporary file beside the target,
///   flushes and syncs it, and renames it over the target only when complete and of length
///   `file_size`; on failure (or cancellation) no file is left at the target and the temporary
///   file is removed.
///
/// [`DeckBuilder::connect_timeout`]: crate::DeckBuilder::connect_timeout
/// [`DeckBuilder::read_timeout`]: crate::DeckBuilder::read_timeout
///
/// ```no_run
/// # async fn demo(deck: deck_api_ext::Deck, item: deck_api_ext::storage::StorageItem) -> deck_api_ext::Result<()> {
/// let done = deck
///     .download(&item)
///     .on_progress(|p| eprintln!("{}/{} bytes", p.bytes_done, p.total))
///     .to_path("statement.pdf")
///     .await?;
/// println!("{} bytes", done.bytes);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a download does nothing until to_writer or to_path is awaited"]
pub struct Download {
    deck: Deck,
    item: StorageItem,
    options: DownloadOptions,
}

impl Deck {
    /// A download of `item`'s file from its pre-signed URL.
    ///
    /// The URL is time-limited; when it has expired (or is `null`), the item is fetched once
    /// more for a fresh one. Files are deleted by Deck 90 days after capture.
    pub fn download(&self, item: &StorageItem) -> Download {
        Download {
            deck: self.clone(),
            item: item.clone(),
            options: DownloadOptions::default(),
        }
    }
}

impl Download {
    /// Replaces the retry and progress settings.
    pub fn options(mut self, options: DownloadOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the attempt limit; see [`DownloadOptions::with_max_attempts`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.options = self.options.with_max_attempts(attempts);
        self
    }

    /// Calls `progress` after every chunk written.
    pub fn on_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.options = self.options.with_progress(progress);
        self
    }

    /// Streams the file into `writer` (flushed at the end). On failure, `writer` may hold part
    /// of the file; use [`to_path`](Self::to_path) for all-or-nothing files. A writer cannot be
    /// rewound, so where [`to_path`](Self::to_path) restarts from byte 0 (the file changed on
    /// the storage host after a drop, or it sent no validator to resume with), this fails.
    pub async fn to_writer<W>(self, writer: &mut W) -> Result<Downloaded>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let context = self.context();
        let mut sink = Plain(writer);
        let done = self.run(&mut sink).await?;
        sink.0
            .flush()
            .await
            .map_err(|e| Error::io(format!("writing {context}"), e))?;
        Ok(done)
    }

    /// Downloads the file to `path`, atomically: through a temporary file in the same
    /// directory, renamed over `path` only when complete and exactly `file_size` bytes long.
    /// On failure no file is left at `path` (an existing one is untouched) and the temporary
    /// file is removed. The directory must exist. An existing `path` is replaced, never written
    /// through: a symlink there is replaced by the file, its target left alone.
    pub async fn to_path(self, path: impl AsRef<Path>) -> Result<Downloaded> {
        let expected = self.item.file_size;
        let mut part = PartFile::create(path.as_ref()).await?;
        let done = self.run(part.writer()).await?;
        part.commit(expected).await?;
        Ok(done)
    }

    /// How errors name this download: the storage id and file name, never the URL.
    fn context(&self) -> String {
        format!(
            "downloading storage item {} ({:?})",
            self.item.id, self.item.file_name
        )
    }

    async fn run<S: Sink + ?Sized>(mut self, sink: &mut S) -> Result<Downloaded> {
        let context = self.context();
        let total = self.item.file_size;
        let mut done = Downloaded::default();
        let mut state = State::default();
        let mut failures = 0u32;
        loop {
            let Some(url) = self.item.url.clone() else {
                self.refresh(&mut done, &context, "Deck sent no download URL (url: null)")
                    .await?;
                continue;
            };
            check_url(&url, &context)?;
            if done.attempts >= self.options.max_total_attempts {
                return Err(Error::download(
                    context,
                    format!(
                        "giving up after {} attempt(s) in all ({} of {total} bytes written)",
                        done.attempts, state.written
                    ),
                ));
            }
            done.attempts += 1;
            let before = state.written;
            match self
                .attempt(&url, sink, &mut state, &mut done, &context)
                .await?
            {
                Attempt::Complete => {
                    done.bytes = state.written;
                    return Ok(done);
                }
                Attempt::Expired(status) => {
                    let reason = format!(
                        "the storage host refused the download URL (HTTP {}; expired?)",
                        status.as_u16()
                    );
                    self.refresh(&mut done, &context, &reason).await?;
                }
                Attempt::Failed { error, slow } => {
                    let written = state.written;
                    if written > before && !slow {
                        failures = 0;
                        tracing::debug!(
                            storage_id = %self.item.id,
                            bytes_done = written,
                            total,
                            error = %error,
                            "download interrupted; resuming"
                        );
                        continue;
                    }
                    failures += 1;
                    if failures >= self.options.max_attempts {
                        return Err(Error::download(
                            context,
                            format!(
                                "giving up after {failures} attempt(s) without progress \
                                 ({written} of {total} bytes written): {error}"
                            ),
                        ));
                    }
                    let wait = self.options.backoff(failures);
                    tracing::debug!(
                        storage_id = %self.item.id,
                        bytes_done = written,
                        total,
                        wait_ms = wait.as_millis() as u64,
                        error = %error,
                        "download attempt failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Fetches the item again for a fresh URL, at most once per download.
    async fn refresh(&mut self, done: &mut Downloaded, context: &str, reason: &str) -> Result<()> {
        if done.url_refreshed {
            return Err(Error::download(
                context,
                format!("{reason}, also after fetching a fresh URL"),
            ));
        }
        done.url_refreshed = true;
        tracing::debug!(storage_id = %self.item.id, reason, "fetching a fresh download URL");
        let fresh = self.deck.get_storage_item(&self.item.id).await?;
        if fresh.file_size != self.item.file_size {
            return Err(Error::download(
                context,
                format!(
                    "file_size changed from {} to {} while downloading",
                    self.item.file_size, fresh.file_size
                ),
            ));
        }
        self.item.url = fresh.url;
        Ok(())
    }

    /// Throws away everything written (the file changed, or cannot be resumed safely), so the
    /// download starts again from byte 0. Fails when the sink cannot be rewound.
    async fn discard<S: Sink + ?Sized>(
        &self,
        sink: &mut S,
        state: &mut State,
        done: &mut Downloaded,
        context: &str,
        why: &str,
    ) -> Result<()> {
        let discarded = state.written;
        let rewound = sink
            .rewind()
            .await
            .map_err(|e| Error::io(format!("writing {context}"), e))?;
        if !rewound {
            return Err(Error::download(
                context,
                format!(
                    "{why} after {discarded} bytes were written, and a writer cannot be rewound \
                     to start again (download to a path instead)"
                ),
            ));
        }
        tracing::warn!(
            storage_id = %self.item.id,
            discarded,
            reason = why,
            "download restarted from byte 0"
        );
        state.written = 0;
        state.validator = None;
        done.restarted_from_zero += 1;
        if let Some(progress) = &self.options.progress {
            progress(Progress {
                bytes_done: 0,
                total: self.item.file_size,
                delta: 0,
                discarded,
            });
        }
        Ok(())
    }

    /// One request to the storage host. `Err` is final; `Ok(Attempt::Failed)` may be retried.
    async fn attempt<S: Sink + ?Sized>(
        &self,
        url: &PresignedUrl,
        sink: &mut S,
        state: &mut State,
        done: &mut Downloaded,
        context: &str,
    ) -> Result<Attempt> {
        let total = self.item.file_size;
        if state.written > 0 && state.validator.is_none() {
            // Nothing to check a resumed body against: never splice, start over.
            self.discard(
                sink,
                state,
                done,
                context,
                "the storage host sent no ETag or Last-Modified to resume with",
            )
            .await?;
        }
        let mut request = self.deck.storage_http().get(url.expose());
        if let (true, Some(validator)) = (state.written > 0, &state.validator) {
            request = request
                .header(RANGE, format!("bytes={}-", state.written))
                .header(IF_RANGE, validator.header_value());
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_builder() => {
                return Err(Error::download(
                    context,
                    format!("the request cannot be built: {}", transport(e)),
                ));
            }
            Err(e) => return Ok(Attempt::failed(transport(e))),
        };
        let status = response.status();
        let received = Validator::of(&response);
        let mut skip = 0u64;
        match status {
            StatusCode::OK => {
                if let Some(len) = header_u64(&response, CONTENT_LENGTH)
                    && len != total
                {
                    return Err(Error::download(
                        context,
                        format!("the storage host sends {len} bytes, but file_size is {total}"),
                    ));
                }
                if state.written > 0 {
                    done.restarted += 1;
                    let same = matches!(
                        (&state.validator, &received),
                        (Some(Validator::ETag(ours)), Some(Validator::ETag(theirs))) if ours == theirs
                    );
                    if same {
                        // The same file (same strong ETag), Range ignored: skip what is written.
                        skip = state.written;
                    } else {
                        self.discard(
                            sink,
                            state,
                            done,
                            context,
                            "the file changed on the storage host (200 to an If-Range request)",
                        )
                        .await?;
                    }
                }
                if state.written == 0 {
                    done.unvalidated = received.is_none();
                    state.validator = received;
                }
            }
            StatusCode::PARTIAL_CONTENT => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                let written = state.written;
                match range {
                    Some((start, length))
                        if written > 0 && start == written && length.is_none_or(|l| l == total) => {
                    }
                    _ => {
                        return Err(Error::download(
                            context,
                            format!(
                                "the storage host answered a request for bytes {written}- with \
                                 Content-Range {:?}",
                                response.headers().get(CONTENT_RANGE)
                            ),
                        ));
                    }
                }
                if !state
                    .validator
                    .as_ref()
                    .is_some_and(|v| v.matches(&response))
                {
                    self.discard(
                        sink,
                        state,
                        done,
                        context,
                        "the file changed on the storage host (206 with another validator)",
                    )
                    .await?;
                    return Ok(Attempt::failed(
                        "the resumed body belongs to a changed file".to_owned(),
                    ));
                }
                done.resumed += 1;
            }
            StatusCode::RANGE_NOT_SATISFIABLE if state.written == total => {
                return Ok(Attempt::Complete);
            }
            StatusCode::FORBIDDEN => return Ok(Attempt::Expired(status)),
            s if s == StatusCode::REQUEST_TIMEOUT
                || s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error() =>
            {
                return Ok(Attempt::failed(format!(
                    "the storage host answered HTTP {}",
                    s.as_u16()
                )));
            }
            s => {
                return Err(Error::download(
                    context,
                    format!("the storage host answered HTTP {s}"),
                ));
            }
        }

        let speed = self.options.speed_check();
        let mut window_start = Instant::now();
        let mut window_bytes = 0u64;
        loop {
            let next = match speed.and_then(|(_, period)| window_start.checked_add(period)) {
                Some(deadline) => tokio::time::timeout_at(deadline, response.chunk())
                    .await
                    .ok(),
                None => Some(response.chunk().await),
            };
            let chunk = match next {
                None => None,
                Some(Ok(Some(chunk))) => Some(chunk),
                Some(Ok(None)) => break,
                Some(Err(e)) => return Ok(Attempt::failed(transport(e))),
            };
            if let Some(chunk) = &chunk {
                window_bytes = window_bytes.saturating_add(chunk.len() as u64);
            }
            if let Some((limit, period)) = speed {
                let now = Instant::now();
                if now.duration_since(window_start) >= period {
                    let required = limit as f64 * period.as_secs_f64();
                    if (window_bytes as f64) < required {
                        return Ok(Attempt::Failed {
                            error: format!(
                                "the transfer was slower than {limit} bytes/s for {} s \
                                 ({window_bytes} bytes)",
                                period.as_secs_f64()
                            ),
                            slow: true,
                        });
                    }
                    window_start = now;
                    window_bytes = 0;
                }
            }
            let Some(chunk) = chunk else { continue };
            let mut data = &chunk[..];
            if skip > 0 {
                let n = skip.min(data.len() as u64) as usize;
                data = &data[n..];
                skip -= n as u64;
            }
            if data.is_empty() {
                continue;
            }
            let len = data.len() as u64;
            // `written <= total` always holds, so the subtraction cannot overflow.
            if len > total - state.written {
                return Err(Error::download(
                    context,
                    format!("the storage host sent more than file_size ({total}) bytes"),
                ));
            }
            sink.write_all(data)
                .await
                .map_err(|e| Error::io(format!("writing {context}"), e))?;
            state.written += len;
            if let Some(progress) = &self.options.progress {
                progress(Progress {
                    bytes_done: state.written,
                    total,
                    delta: len,
                    discarded: 0,
                });
            }
        }
        let written = state.written;
        if written == total {
            Ok(Attempt::Complete)
        } else {
            Ok(Attempt::failed(format!(
                "the connection closed after {written} of {total} bytes"
            )))
        }
    }
}

/// Where a download writes: a file that can be rewound, or a caller's writer that cannot.
pub(crate) trait Sink: AsyncWrite + Unpin {
    /// Discards everything written so far and continues at byte 0; `Ok(false)` when this sink
    /// cannot.
    fn rewind(&mut self) -> BoxFuture<'_, io::Result<bool>>;
}

impl Sink for BufWriter<File> {
    fn rewind(&mut self) -> BoxFuture<'_, io::Result<bool>> {
        Box::pin(async move {
            self.flush().await?;
            let file = self.get_mut();
            file.set_len(0).await?;
            file.seek(io::SeekFrom::Start(0)).await?;
            Ok(true)
        })
    }
}

/// A caller's writer: written through, never rewound.
struct Plain<'a, W: ?Sized>(&'a mut W);

impl<W: AsyncWrite + Unpin + ?Sized> AsyncWrite for Plain<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Sink for Plain<'_, W> {
    fn rewind(&mut self) -> BoxFuture<'_, io::Result<bool>> {
        Box::pin(std::future::ready(Ok(false)))
    }
}

/// What one download has written, and what identifies the file those bytes came from.
#[derive(Default)]
struct State {
    written: u64,
    validator: Option<Validator>,
}

/// What identifies the version of the file whose bytes are written, sent as `If-Range`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Validator {
    /// A strong `ETag` (weak ones cannot be used with `If-Range`).
    ETag(String),
    /// `Last-Modified`, when there is no strong `ETag`.
    LastModified(String),
}

impl Validator {
    /// The validator of a response: its strong `ETag`, else its `Last-Modified`.
    fn of(response: &reqwest::Response) -> Option<Validator> {
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        header(ETAG)
            .filter(|tag| tag.starts_with('"'))
            .map(Validator::ETag)
            .or_else(|| header(LAST_MODIFIED).map(Validator::LastModified))
    }

    fn header_value(&self) -> &str {
        match self {
            Validator::ETag(v) | Validator::LastModified(v) => v,
        }
    }

    /// Whether a `206` carries this same validator (so it is a part of the same file).
    fn matches(&self, response: &reqwest::Response) -> bool {
        let name = match self {
            Validator::ETag(_) => ETAG,
            Validator::LastModified(_) => LAST_MODIFIED,
        };
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == self.header_value())
    }
}

/// Refuses, before any request, a download URL that can never work: one that does not parse,
/// or whose scheme is not http or https. The error names the file and at most the scheme, never
/// the URL (its query string is a credential).
fn check_url(url: &PresignedUrl, context: &str) -> Result<()> {
    match reqwest::Url::parse(url.expose()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        Ok(parsed) => Err(Error::download(
            context,
            format!(
                "the download URL has scheme {:?}; only http and https are supported",
                parsed.scheme()
            ),
        )),
        Err(e) => Err(Error::download(
            context,
            format!("the download URL is not a valid URL ({e})"),
        )),
    }
}

/// How one attempt ended.
enum Attempt {
    /// All `file_size` bytes are written.
    Complete,
    /// The storage host refused the URL (403): fetch a fresh one.
    Expired(StatusCode),
    /// A retryable failure, described; `slow` when it fell below the low-speed limit (which
    /// counts as an attempt without progress).
    Failed { error: String, slow: bool },
}

impl Attempt {
    fn failed(error: String) -> Self {
        Attempt::Failed { error, slow: false }
    }
}

/// Describes a transport failure without the URL's query string (its signature).
fn transport(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the body"
    } else {
        "the request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

fn header_u64(response: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<u64> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Parses `bytes START-END/LENGTH` (or `/*`) into the start and, when given, the full length.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, length) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let length = match length.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    Some((start, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            parse_content_range("bytes 100-199/200"),
            Some((100, Some(200)))
        );
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, None)));
        assert_eq!(parse_content_range("bytes */200"), None);
        assert_eq!(parse_content_range("bytes 5-4/200"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let options = DownloadOptions::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(300))
            .with_jitter(|| 1.0);
        assert_eq!(options.backoff(1), Duration::from_millis(100));
        assert_eq!(options.backoff(2), Duration::from_millis(200));
        assert_eq!(options.backoff(3), Duration::from_millis(300));
        let half = options.with_jitter(|| 0.5);
        assert_eq!(half.backoff(2), Duration::from_millis(100));
        assert_eq!(
            DownloadOptions::default()
                .with_max_attempts(0)
                .max_attempts(),
            1
        );
    }

    #[test]
    fn options_debug_is_readable() {
        let options = DownloadOptions::default().with_progress(|_| {});
        assert_eq!(
            format!("{options:?}"),
            "DownloadOptions { max_attempts: 5, max_total_attempts: 30, speed_limit: 1024, speed_time: 30s, initial_backoff: 250ms, max_backoff: 8s, progress: Some(\"Fn(Progress)\") }"
        );
    }
}
