//! The `deck` program, run as a subprocess: help and usage errors, demo mode on the built-in fake
//! Deck server, and a Deck-compatible server started in the test. Built only with the `cli`
//! feature (`required-features` in Cargo.toml), like the binary itself.

mod support;

mod api;
mod demo;
mod follow;
mod help;
mod hostile;
mod remote;
mod webhook;
