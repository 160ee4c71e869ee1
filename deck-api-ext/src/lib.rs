//! The Deck API v2 client for Rust.
//!
//! `deck-api` is generated from the OpenAPI document; this crate is the layer users touch.
//!
//! # Quick start
//!
//! ```no_run
//! use deck_api_ext::prelude::*;
//!
//! # async fn demo() -> deck_api_ext::Result<()> {
//! // DECK_API_KEY is required; DECK_BASE_URL optionally points elsewhere.
//! let deck = Deck::from_env()?;
//! let run = deck.api().get_task_run().run_id("trun_123").include("storage").call().await?;
//! let files = deck
//!     .api()
//!     .list_task_run_storage()
//!     .run_id("trun_123")
//!     .limit(100)
//!     .paginate()
//!     .collect_items(1_000)
//!     .await?;
//! println!("{:?}: {} files", run.status, files.len());
//! # Ok(()) }
//! ```
//!
//! Every generated operation is called the same way ([`CallExt`], [`ListExt`]): authenticated,
//! traced (a `deck.request` span), retried on 429/5xx and connection failures ([`RetryConfig`]),
//! bounded by a deadline and a body cap; failures are one [`Error`] type with the operation, the
//! HTTP status, Deck's error code and the `request_id` to quote to support.
//!
//! # Version policy
//!
//! Deck adds response fields and enum values without notice; every generated struct and enum is
//! `#[non_exhaustive]` and enums are open (`Other(String)`), so those additions are minor
//! releases here too. A removed or renamed operation, parameter or field, a changed type, or a
//! newly required request parameter is a major release: `cargo xtask regen` prints each change as
//! `breaking:` or `additive:` (see `deck-api/API.md`).
#![deny(missing_docs)]

pub use deck_api as api;

// Client core: setup, the key boundary, the executor, errors, retries, tracing.
mod backoff;
pub mod call;
pub mod client;
pub mod config;
mod duplicate_keys;
pub mod error;
mod executor;
mod key_boundary;
pub mod rate_limit;
mod response;
pub mod retry;
mod trace;

pub use call::{CallExt, CallOptions, ListExt};
pub use client::Deck;
pub use config::DeckBuilder;
pub use error::{ApiErrorDetail, Error, ErrorKind, Result};
pub use rate_limit::RateLimit;
pub use retry::RetryConfig;

/// What most users import: `use deck_api_ext::prelude::*;`.
pub mod prelude {
    pub use crate::call::{CallExt, CallOptions, ListExt};
    pub use crate::client::Deck;
    pub use crate::error::{Error, ErrorKind, Result};
    pub use crate::run_status::RunStatusExt;
}

// Pagination for every list endpoint.
pub mod paginate;
pub use paginate::{Page, Paginator};

// Storage: items, downloads, bulk pull; typed extraction; task storage config.
pub mod extraction;
pub mod storage;
pub mod task_config;
pub use storage::StorageItem;

// Task runs: open statuses, start and await one run, watch many on one feed.
pub mod run_status;
pub mod run_wait;
pub mod run_watch;
pub use run_status::{RunPhase, RunStatusExt};
pub use run_wait::{RunOutcome, RunWait};
pub use run_watch::RunWatch;

// Typed events (GET /events, webhook deliveries) and webhook verification and signing.
pub mod events;
pub use events::{Event, EventData, EventType};
#[cfg(feature = "webhooks")]
pub mod webhook;

// The fake Deck server for tests and demos.
#[cfg(feature = "fake")]
pub mod fake;

/// The README's Rust samples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
