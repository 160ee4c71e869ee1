//! The Deck API v2 client for Rust.
//!
//! `deck-api` is generated from the OpenAPI document; this crate is the layer users touch.
//!
//! # Quick start
//!
//! ```no_run
//! use deck_api_ext::Deck;
//!
//! # async fn demo() -> deck_api_ext::Result<()> {
//! // DECK_API_KEY is required; DECK_BASE_URL optionally points elsewhere.
//! let deck = Deck::from_env()?;
//! let page = deck
//!     .send("listTaskRunStorage", deck.api().list_task_run_storage().run_id("trun_123").send())
//!     .await?
//!     .into_inner();
//! for item in &page.data {
//!     println!("{} {}", item.id, item.file_name);
//! }
//! # Ok(()) }
//! ```
//!
//! Every call is authenticated, traced (a `deck.request` span) and retried on 429/5xx and
//! connection failures ([`RetryConfig`]); failures are one [`Error`] type with the HTTP status,
//! Deck's error code and the `request_id` to quote to support.
#![deny(missing_docs)]

pub use deck_api as api;

// Client core: setup, auth, errors, retries, tracing.
pub mod client;
pub mod config;
pub mod error;
pub mod retry;
mod trace;

pub use client::Deck;
pub use config::DeckBuilder;
pub use error::{ApiErrorDetail, Error, ErrorKind, Result};
pub use retry::RetryConfig;

// Pagination for every list endpoint.
pub mod paginate;
pub use paginate::{Page, Paginator};

// Storage: items, downloads, bulk pull; typed extraction; task storage config.
pub mod extraction;
pub mod storage;
pub mod task_config;
pub use storage::StorageItem;

// Webhook signature verification.
#[cfg(feature = "webhooks")]
pub mod webhook;

// The fake Deck server for tests and demos.
#[cfg(feature = "fake")]
pub mod fake;

/// The README's Rust samples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
