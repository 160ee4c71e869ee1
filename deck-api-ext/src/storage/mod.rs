//! Storage: the files task runs capture, their downloads, and bulk pulls.
//!
//! When storage is enabled on a task ([`StorageConfig`](crate::task_config::StorageConfig)),
//! Deck captures the files the agent collects (receipts, statements, reports, ...) and, with
//! extraction on, structured data from them. This module adds to [`Deck`](crate::Deck):
//!
//! | Method | Does |
//! |---|---|
//! | [`Deck::list_storage`](crate::Deck::list_storage) | a run's items, lazily across pages |
//! | [`Deck::get_storage_item`](crate::Deck::get_storage_item) | one item, with a fresh download URL |
//! | [`Deck::delete_storage_item`](crate::Deck::delete_storage_item) | permanent deletion |
//! | [`Deck::download`](crate::Deck::download) | one file, streamed to a writer or atomically to a path |
//! | [`Deck::pull_run`](crate::Deck::pull_run) | every file of a run into a directory |
//!
//! and [`StorageItem::extraction_as`] (in [`extraction`](crate::extraction)) decodes extracted
//! data into your type.
//!
//! **Retention.** Deck deletes every file 90 days after capture (sooner on some plans); download
//! what you need to keep.
//!
//! **URLs are time-limited.** Each item's `url` is pre-signed and expires. Collecting many pages
//! before downloading can let the first items' URLs expire; downloads handle that by fetching the
//! item once more for a fresh URL (one extra request per expired item), but streaming the listing
//! into downloads avoids it.

mod api;
mod download;
mod file_size;
mod item;
pub mod names;
mod part_file;
mod pull;
mod url;

pub use download::{
    DEFAULT_MAX_TOTAL_ATTEMPTS, DEFAULT_SPEED_LIMIT, DEFAULT_SPEED_TIME, Download, DownloadOptions,
    Downloaded, Progress, ProgressFn,
};
pub use file_size::{ExactSize, FileSizeError, parse_decimal as parse_file_size};
pub use item::{DeletedStorageItem, ExtractionResult, Purpose, StorageItem};
pub use pull::{
    DEFAULT_CONCURRENCY, FileOutcome, PullEvent, PullFailure, PullProgressFn, PullRun, PullSummary,
    PulledFile,
};
pub use url::PresignedUrl;
