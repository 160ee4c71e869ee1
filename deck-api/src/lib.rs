//! Generated client for the Deck API v2.
//!
//! `generated.rs` is written by `cargo xtask regen` from `spec/` and never edited by hand.
//! `hooks.rs` is the small hand-written piece the orphan rule forces to live in this crate: the
//! progenitor `ClientHooks` implementation that hands every request to a pluggable executor
//! (`deck-api-ext` installs one with authentication-safe retries and tracing).

#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;
pub mod hooks;

pub use generated::*;
pub use hooks::{ClientState, Execute};
