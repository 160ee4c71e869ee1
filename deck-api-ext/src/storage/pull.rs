//! Bulk pull: every file of a task run into a directory; see [`PullRun`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;

use super::names::assign_names;
use super::{DownloadOptions, Downloaded, Progress, StorageItem};
use crate::client::Deck;
use crate::error::{Error, Result};

/// Files downloaded at the same time by default.
pub const DEFAULT_CONCURRENCY: usize = 8;

const OPERATION: &str = "pullRun";

/// What happens during a pull, for progress displays. Borrowed data: copy what you keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullEvent<'a> {
    /// The run is listed: `files` items, `bytes` in total.
    Listed {
        /// Number of items in the run.
        files: usize,
        /// Sum of their `file_size`s (saturating at `u64::MAX`: sizes are untrusted).
        bytes: u64,
    },
    /// A file's download starts.
    Started {
        /// The storage item.
        storage_id: &'a str,
        /// Where it goes.
        path: &'a Path,
        /// Its size.
        size: u64,
    },
    /// Bytes of a file were written.
    Progress {
        /// The storage item.
        storage_id: &'a str,
        /// Its progress (`delta` is the increment since the last report).
        progress: Progress,
    },
    /// A file is done: downloaded, skipped (already complete) or failed.
    Finished {
        /// The storage item.
        storage_id: &'a str,
        /// Where it went.
        path: &'a Path,
        /// How it ended.
        outcome: FileOutcome,
    },
}

/// How one file of a pull ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileOutcome {
    /// Downloaded.
    Downloaded,
    /// Already present and complete.
    Skipped,
    /// Failed; the [`PullSummary`] has the error.
    Failed,
}

/// A pull progress callback; called from the downloading tasks, so keep it quick.
pub type PullProgressFn = Arc<dyn Fn(PullEvent<'_>) + Send + Sync>;

/// A file of a pull that is in the target directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PulledFile {
    /// The storage item.
    pub storage_id: String,
    /// Its local path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A file of a pull that failed.
#[derive(Debug)]
#[non_exhaustive]
pub struct PullFailure {
    /// The storage item.
    pub storage_id: String,
    /// Where it would have gone (nothing is there unless it was before).
    pub path: PathBuf,
    /// Why it failed.
    pub error: Error,
}

/// The result of a pull, in the run's listing order.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct PullSummary {
    /// Files downloaded by this pull.
    pub downloaded: Vec<PulledFile>,
    /// Files already present and complete, left as they were.
    pub skipped: Vec<PulledFile>,
    /// Files that failed.
    pub failed: Vec<PullFailure>,
    /// Bytes downloaded by this pull (saturating at `u64::MAX`).
    pub bytes: u64,
}

impl PullSummary {
    /// Whether every file is in the directory (nothing failed).
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

impl fmt::Display for PullSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} downloaded ({} bytes), {} skipped, {} failed",
            self.downloaded.len(),
            self.bytes,
            self.skipped.len(),
            self.failed.len()
        )?;
        for failure in &self.failed {
            write!(f, "\n  {}: {}", failure.storage_id, failure.error)?;
        }
        Ok(())
    }
}

/// A pull of a task run's files into a directory, ready to run: configure it, then `.await` it.
///
/// 1. The run's items are listed (all pages) first, so names can be assigned over the whole run
///    and the progress total is known. URLs that expire meanwhile are refreshed per file.
/// 2. Each item gets a local name from its `file_name`, sanitised so nothing is written outside
///    the directory, and disambiguated within the run (see [`assign_names`]).
/// 3. Regular files (not symlinks) already present with exactly `file_size` bytes are skipped;
///    others, symlinks included (replaced, never followed), are downloaded
///    ([`Download::to_path`]: atomic, resumable), at most [`DEFAULT_CONCURRENCY`] at a time.
/// 4. One file's failure does not stop the others: the [`PullSummary`] lists what was downloaded,
///    skipped and failed.
///
/// [`Download::to_path`]: super::Download::to_path
///
/// ```no_run
/// # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
/// let summary = deck.pull_run("trun_a1b2c3d4", "deck-files").concurrency(4).await?;
/// println!("{summary}");
/// # Ok(()) }
/// ```
#[must_use = "a pull does nothing until awaited"]
pub struct PullRun {
    deck: Deck,
    run_id: String,
    dir: PathBuf,
    concurrency: usize,
    options: DownloadOptions,
    progress: Option<PullProgressFn>,
}

impl Deck {
    /// Downloads every file of task run `run_id` into `dir` (created if missing). Awaiting the
    /// returned [`PullRun`] gives a [`PullSummary`]; it fails as a whole only when the run cannot
    /// be listed or `dir` cannot be created. Files are deleted by Deck 90 days after capture.
    pub fn pull_run(&self, run_id: &str, dir: impl AsRef<Path>) -> PullRun {
        PullRun {
            deck: self.clone(),
            run_id: run_id.to_owned(),
            dir: dir.as_ref().to_path_buf(),
            concurrency: DEFAULT_CONCURRENCY,
            options: DownloadOptions::default(),
            progress: None,
        }
    }
}

impl PullRun {
    /// How many files download at the same time (default [`DEFAULT_CONCURRENCY`]; at least 1,
    /// or the pull fails with an invalid-request error).
    pub fn concurrency(mut self, files: usize) -> Self {
        self.concurrency = files;
        self
    }

    /// Retry settings for each file. A progress callback set in `options` is not used: per-file
    /// progress arrives as [`PullEvent::Progress`] through [`on_progress`](Self::on_progress).
    pub fn options(mut self, options: DownloadOptions) -> Self {
        self.options = options;
        self
    }

    /// Calls `progress` with every [`PullEvent`].
    pub fn on_progress(mut self, progress: impl Fn(PullEvent<'_>) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    async fn run(self) -> Result<PullSummary> {
        if self.concurrency == 0 {
            return Err(Error::invalid_request(
                OPERATION,
                "concurrency must be at least 1",
            ));
        }
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", self.dir.display()), e))?;
        let items = self
            .deck
            .list_storage(&self.run_id)
            .limit(crate::paginate::MAX_LIMIT)
            .try_collect_all()
            .await?;
        let names = assign_names(items.iter().map(|i| (i.id.as_str(), i.file_name.as_str())));
        self.emit(PullEvent::Listed {
            files: items.len(),
            // Sizes are untrusted: saturate rather than overflow.
            bytes: items
                .iter()
                .fold(0u64, |sum, i| sum.saturating_add(i.file_size)),
        });

        let this = &self;
        let mut results: Vec<(usize, StorageItem, PathBuf, Result<Option<Downloaded>>)> =
            stream::iter(items.into_iter().zip(names).enumerate())
                .map(|(index, (item, name))| async move {
                    let path = this.dir.join(name);
                    let result = this.pull_one(&item, &path).await;
                    (index, item, path, result)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        results.sort_by_key(|(index, ..)| *index);

        let mut summary = PullSummary::default();
        for (_, item, path, result) in results {
            match result {
                Ok(Some(done)) => {
                    summary.bytes = summary.bytes.saturating_add(done.bytes);
                    summary.downloaded.push(PulledFile {
                        storage_id: item.id,
                        path,
                        bytes: done.bytes,
                    });
                }
                Ok(None) => summary.skipped.push(PulledFile {
                    storage_id: item.id,
                    path,
                    bytes: item.file_size,
                }),
                Err(error) => summary.failed.push(PullFailure {
                    storage_id: item.id,
                    path,
                    error,
                }),
            }
        }
        Ok(summary)
    }

    /// Downloads one item to `path`, or skips it (`Ok(None)`) when already complete.
    async fn pull_one(&self, item: &StorageItem, path: &Path) -> Result<Option<Downloaded>> {
        let result = self.fetch_one(item, path).await;
        let outcome = match &result {
            Ok(Some(_)) => FileOutcome::Downloaded,
            Ok(None) => FileOutcome::Skipped,
            Err(_) => FileOutcome::Failed,
        };
        self.emit(PullEvent::Finished {
            storage_id: &item.id,
            path,
            outcome,
        });
        result
    }

    async fn fetch_one(&self, item: &StorageItem, path: &Path) -> Result<Option<Downloaded>> {
        // `symlink_metadata`: a symlink, wherever it points, is never a complete file; it is
        // replaced by the download (the rename replaces the link, never its target).
        match tokio::fs::symlink_metadata(path).await {
            Ok(meta) if meta.is_file() && meta.len() == item.file_size => return Ok(None),
            Ok(meta) if !meta.is_file() && !meta.is_symlink() => {
                return Err(Error::download(
                    format!("downloading storage item {}", item.id),
                    format!("{} exists and is not a file", path.display()),
                ));
            }
            _ => {}
        }
        self.emit(PullEvent::Started {
            storage_id: &item.id,
            path,
            size: item.file_size,
        });
        let mut options = self.options.clone().without_progress();
        if let Some(progress) = &self.progress {
            let (progress, id) = (Arc::clone(progress), item.id.clone());
            options = options.with_progress(move |p| {
                progress(PullEvent::Progress {
                    storage_id: &id,
                    progress: p,
                })
            });
        }
        self.deck
            .download(item)
            .options(options)
            .to_path(path)
            .await
            .map(Some)
    }

    fn emit(&self, event: PullEvent<'_>) {
        if let Some(progress) = &self.progress {
            progress(event);
        }
    }
}

impl IntoFuture for PullRun {
    type Output = Result<PullSummary>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<PullSummary>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl fmt::Debug for PullRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullRun")
            .field("run_id", &self.run_id)
            .field("dir", &self.dir)
            .field("concurrency", &self.concurrency)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
