//! The Deck API v2 client for Rust.
//!
//! `deck-api` is generated from the OpenAPI document; this crate is the layer users touch.
#![deny(missing_docs)]

pub use deck_api as api;

// Client core: setup, auth, errors, retries, tracing.
pub mod client;
pub mod config;
pub mod error;
pub mod retry;
mod trace;

// Pagination for every list endpoint.
pub mod paginate;

// Storage: items, downloads, bulk pull; typed extraction; task storage config.
pub mod extraction;
pub mod storage;
pub mod task_config;

// Webhook signature verification.
#[cfg(feature = "webhooks")]
pub mod webhook;

// The fake Deck server for tests and demos.
#[cfg(feature = "fake")]
pub mod fake;
