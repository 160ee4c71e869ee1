//! Storage: items and their shapes, the endpoints, downloads, bulk pulls and task storage
//! configuration against the fake Deck server (feature `fake`), and typed extraction (feature
//! `schema`).

#[cfg(feature = "fake")]
mod support;

mod api;
mod download;
mod extraction;
mod hostile;
mod items;
mod pull;
mod task_config;
