//! Generated client for the Deck API v2.
//!
//! `generated.rs` is written by `cargo xtask regen` from `spec/` and never edited by hand.
//! `hooks.rs` and `operation.rs` are the small hand-written pieces the orphan rule forces to live in this crate: the
//! progenitor `ClientHooks` implementation that hands every request to a pluggable executor
//! (`deck-api-ext` installs one with authentication-safe retries and tracing). `patch.rs`
//! ([`Patch`], the three states of an update field) and `sensitive.rs` (the redacted `Debug`
//! and the secret paths of each operation) are the hand-written types the generated code uses.

#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;
pub mod hooks;
pub mod operation;
pub mod patch;
pub mod sensitive;

pub use generated::*;
pub use hooks::{ClientState, Execute};
pub use operation::{List, Operation};
pub use patch::Patch;
