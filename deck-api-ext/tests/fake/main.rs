//! The fake Deck server's own tests: faults, pagination, the server itself, agreement with the
//! spec, and the storage origin. Built only with the `fake` feature (`required-features` in
//! Cargo.toml).

mod support;

mod faults;
mod pagination;
mod server;
mod spec;
mod storage_origin;
