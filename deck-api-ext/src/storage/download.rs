//! Streaming, resumable downloads of one storage item from its pre-signed URL: see [`Download`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use tokio::io::{AsyncWrite, AsyncWriteExt};

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
}

/// A progress callback; called from the downloading task, so keep it quick.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Retry and progress settings for downloads.
#[derive(Clone)]
pub struct DownloadOptions {
    max_attempts: u32,
    backoff: Backoff,
    progress: Option<ProgressFn>,
}

impl Default for DownloadOptions {
    /// 5 attempts without progress, backoff from 250 ms doubling up to 8 s, no progress callback.
    fn default() -> Self {
        DownloadOptions {
            max_attempts: 5,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(8)),
            progress: None,
        }
    }
}

impl DownloadOptions {
    /// How many attempts in a row may fail without delivering new bytes before the download
    /// gives up (at least 1; 1 means a failure without progress is final). Attempts that made
    /// progress are always retried.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
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

    fn backoff(&self, failures: u32) -> Duration {
        self.backoff.delay(failures)
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("max_attempts", &self.max_attempts)
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
    /// Attempts after a drop that the server answered with the whole file (it ignored `Range`).
    pub restarted: u32,
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
///   `Range: bytes=N-`. A server that ignores the range (answers 200 with the whole file) is
///   handled as a restart: the bytes already written are skipped in the new body.
/// - **Bounded attempts.** At most [`DownloadOptions::max_attempts`] attempts in a row may fail
///   without delivering new bytes (with exponential backoff between them); an attempt that made
///   progress is retried at once. A download therefore always ends.
/// - **Expired URLs.** Pre-signed URLs are time-limited. A 403 from the storage host, or an item
///   whose `url` is `null`, triggers one fetch of the item (`GET /storage/{id}`) for a fresh URL.
/// - **Exact length.** The result must be exactly `file_size` bytes: a body longer than that is
///   an error, a shorter one is resumed.
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
    /// of the file; use [`to_path`](Self::to_path) for all-or-nothing files.
    pub async fn to_writer<W>(self, writer: &mut W) -> Result<Downloaded>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let context = self.context();
        let done = self.run(writer).await?;
        writer
            .flush()
            .await
            .map_err(|e| Error::io(format!("writing {context}"), e))?;
        Ok(done)
    }

    /// Downloads the file to `path`, atomically: through a temporary file in the same
    /// directory, renamed over `path` only when complete and exactly `file_size` bytes long.
    /// On failure no file is left at `path` (an existing one is untouched) and the temporary
    /// file is removed. The directory must exist.
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

    async fn run<W>(mut self, writer: &mut W) -> Result<Downloaded>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let context = self.context();
        let total = self.item.file_size;
        let mut done = Downloaded::default();
        let mut written = 0u64;
        let mut failures = 0u32;
        loop {
            let Some(url) = self.item.url.clone() else {
                self.refresh(&mut done, &context, "Deck sent no download URL (url: null)")
                    .await?;
                continue;
            };
            done.attempts += 1;
            let before = written;
            match self
                .attempt(&url, writer, &mut written, &mut done, &context)
                .await?
            {
                Attempt::Complete => {
                    done.bytes = written;
                    return Ok(done);
                }
                Attempt::Expired(status) => {
                    let reason = format!(
                        "the storage host refused the download URL (HTTP {}; expired?)",
                        status.as_u16()
                    );
                    self.refresh(&mut done, &context, &reason).await?;
                }
                Attempt::Failed(error) => {
                    if written > before {
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

    /// One request to the storage host. `Err` is final; `Ok(Attempt::Failed)` may be retried.
    async fn attempt<W>(
        &self,
        url: &PresignedUrl,
        writer: &mut W,
        written: &mut u64,
        done: &mut Downloaded,
        context: &str,
    ) -> Result<Attempt>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let total = self.item.file_size;
        let mut request = self.deck.storage_http().get(url.expose());
        if *written > 0 {
            request = request.header(RANGE, format!("bytes={written}-"));
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Ok(Attempt::Failed(transport(e))),
        };
        let status = response.status();
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
                if *written > 0 {
                    // The server ignored the range: restart, skipping what is already written.
                    done.restarted += 1;
                    skip = *written;
                }
            }
            StatusCode::PARTIAL_CONTENT => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                match range {
                    Some((start, length))
                        if start == *written && length.is_none_or(|l| l == total) =>
                    {
                        done.resumed += 1;
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
            }
            StatusCode::RANGE_NOT_SATISFIABLE if *written == total => {
                return Ok(Attempt::Complete);
            }
            StatusCode::FORBIDDEN => return Ok(Attempt::Expired(status)),
            s if s == StatusCode::REQUEST_TIMEOUT
                || s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error() =>
            {
                return Ok(Attempt::Failed(format!(
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

        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Ok(Attempt::Failed(transport(e))),
            };
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
            if *written + len > total {
                return Err(Error::download(
                    context,
                    format!("the storage host sent more than file_size ({total}) bytes"),
                ));
            }
            writer
                .write_all(data)
                .await
                .map_err(|e| Error::io(format!("writing {context}"), e))?;
            *written += len;
            if let Some(progress) = &self.options.progress {
                progress(Progress {
                    bytes_done: *written,
                    total,
                    delta: len,
                });
            }
        }
        if *written == total {
            Ok(Attempt::Complete)
        } else {
            Ok(Attempt::Failed(format!(
                "the connection closed after {written} of {total} bytes"
            )))
        }
    }
}

/// How one attempt ended.
enum Attempt {
    /// All `file_size` bytes are written.
    Complete,
    /// The storage host refused the URL (403): fetch a fresh one.
    Expired(StatusCode),
    /// A retryable failure, described.
    Failed(String),
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
            "DownloadOptions { max_attempts: 5, initial_backoff: 250ms, max_backoff: 8s, progress: Some(\"Fn(Progress)\") }"
        );
    }
}
