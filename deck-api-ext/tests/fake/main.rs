//! The fake Deck server's own tests: faults, pagination, the server itself, agreement with the
//! spec, the storage origin, the run lifecycle, every list endpoint, coverage of
//! `spec/catalogue.json`, the client's run waits end to end against the lifecycle, and webhook
//! deliveries received by the crate's example. Built only with the `fake` feature (`required-features` in
//! Cargo.toml).

mod support;

mod coverage;
mod faults;
mod lifecycle;
mod lists;
mod pagination;
mod resources;
mod runs;
mod server;
mod spec;
mod storage_origin;
mod webhooks;
