//! Generated client for the Deck API v2.
//!
//! `generated.rs` is written by `cargo xtask regen` from `spec/` and never edited by hand.
//! `hooks.rs` and `operation.rs` are the small hand-written pieces the orphan rule forces to live in this crate: the
//! progenitor `ClientHooks` implementation that hands every request to a pluggable executor
//! (`deck-api-ext` installs one with authentication-safe retries and tracing).

#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;
pub mod hooks;
pub mod operation;

pub use generated::*;
pub use hooks::{ClientState, Execute};
pub use operation::{List, Operation};
