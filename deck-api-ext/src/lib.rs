//! Placeholder.
pub use deck_api as api;
