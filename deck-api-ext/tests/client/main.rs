//! The client against a scripted local server: setup, errors, retries, secrets in logs,
//! arbitrary responses (proptest), and starting and waiting for task runs (against a model of
//! Deck's runs and events feed).

mod support;

mod config;
mod errors;
mod hostile;
mod patch_fields;
mod proptest;
mod rate_limit;
mod retry;
mod run_model;
mod runs;
mod secrets;
mod secrets_fields;
