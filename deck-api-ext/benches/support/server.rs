//! The fake Deck server on its own thread (with its own current-thread runtime), so the
//! client's thread CPU time excludes the server's work.

use std::sync::mpsc;
use std::thread::JoinHandle;

use std::time::Duration;

use deck_api_ext::fake::{FakeDeck, Fault, Route, RunSeed};
use tokio::sync::oneshot;

/// A running fake; stopped and joined on drop.
pub struct FakeServer {
    /// `http://127.0.0.1:PORT/v2`.
    pub base_url: String,
    /// The key the fake accepts.
    pub api_key: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts a fake seeded with `runs` on a thread named `fake-deck`.
    #[allow(dead_code)] // each bench binary compiles this module; not every one calls both
    pub fn start(runs: Vec<RunSeed>) -> FakeServer {
        Self::start_with_latency(runs, None)
    }

    /// Like [`start`](Self::start), adding `latency` to every API and storage request.
    #[allow(dead_code)]
    pub fn start_with_latency(runs: Vec<RunSeed>, latency: Option<Duration>) -> FakeServer {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-deck".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let fake = FakeDeck::start().await.expect("start the fake Deck server");
                    for run in runs {
                        fake.add_run(run).expect("seed the fake Deck server");
                    }
                    if let Some(latency) = latency {
                        for route in [Route::AnyApi, Route::StorageDownload] {
                            fake.inject(route, Fault::Latency(latency), usize::MAX);
                        }
                    }
                    ready_tx
                        .send((fake.base_url(), fake.api_key().to_owned()))
                        .expect("report the fake's address");
                    let _ = stop_rx.await;
                    // Dropping stops the listeners without waiting for the client's idle
                    // keep-alive connections.
                    drop(fake);
                });
            })
            .expect("spawn the server thread");
        let (base_url, api_key) = ready_rx.recv().expect("the fake Deck server did not start");
        FakeServer {
            base_url,
            api_key,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
