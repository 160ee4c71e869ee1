//! The benchmark harness shared by every bench target: the fake Deck server on its own thread,
//! thread CPU time, a counting allocator, interleaved repetitions and the results table.
//!
//! Each bench binary is `harness = false`: it builds its cases, hands them to [`run_interleaved`]
//! and prints [`Table`]s. The client side runs on the bench's main thread (a current-thread
//! tokio runtime) and the server on other threads, so [`thread_cpu_time`] counts the client only.

#![allow(dead_code)]

pub mod alloc;
pub mod args;
pub mod measure;
pub mod server;
pub mod table;
