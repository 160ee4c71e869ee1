//! The fake Deck server's own tests: faults, pagination, the server itself, agreement with the
//! spec, the storage origin, the run lifecycle, every list endpoint, and coverage of
//! `spec/catalogue.json`. Built only with the `fake` feature (`required-features` in
//! Cargo.toml).

mod support;

mod coverage;
mod faults;
mod lifecycle;
mod lists;
mod pagination;
mod resources;
mod server;
mod spec;
mod storage_origin;
