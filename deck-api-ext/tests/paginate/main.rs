//! Pagination: `.paginate()` on the generated list operation against the fake Deck server and guards against a scripted list
//! endpoint (both with the `fake` feature), and properties over arbitrary listings.

#[cfg(feature = "fake")]
mod support;

mod fake;
mod guards;
mod proptest;
