//! The client against a scripted local server: setup, errors, retries, secrets in logs, and
//! arbitrary responses (proptest).

mod support;

mod config;
mod errors;
mod hostile;
mod patch_fields;
mod proptest;
mod rate_limit;
mod retry;
mod secrets;
mod secrets_fields;
