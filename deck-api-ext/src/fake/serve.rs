//! Binding the two listeners on `127.0.0.1:0`, serving them on the current tokio runtime, and
//! stopping them.
//!
//! Stopping sends one signal: both accept loops end (the ports refuse connections from then
//! on), idle keep-alive connections close, in-flight downloads and injected latencies are cut
//! short, and the serve tasks finish once the last connection has closed.

use super::shared::Shared;
use super::{api, deliveries, storage_origin};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The settings a fake starts with.
pub(crate) struct Settings {
    pub(crate) api_key: String,
    pub(crate) secret: u64,
    pub(crate) url_ttl: Duration,
    pub(crate) rate_limit: Option<(u32, Duration)>,
}

/// Two running listeners, the webhook dispatcher, and what is needed to stop them.
pub(crate) struct Running {
    pub(crate) shared: Arc<Shared>,
    pub(crate) api_addr: SocketAddr,
    pub(crate) storage_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Binds both listeners and spawns their servers on the current runtime.
    pub(crate) async fn start(settings: Settings) -> io::Result<Self> {
        let localhost = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let api_listener = TcpListener::bind(localhost).await?;
        let storage_listener = TcpListener::bind(localhost).await?;
        let api_addr = api_listener.local_addr()?;
        let storage_addr = storage_listener.local_addr()?;

        let (shutdown, signal) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            settings.api_key,
            settings.secret,
            settings.url_ttl,
            format!("http://{storage_addr}"),
            signal,
            settings.rate_limit,
        ));
        let tasks = vec![
            spawn(api_listener, api::router(shared.clone()), shared.clone()),
            spawn(
                storage_listener,
                storage_origin::router(shared.clone()),
                shared.clone(),
            ),
            tokio::spawn(deliveries::dispatch(shared.clone())),
        ];
        Ok(Self {
            shared,
            api_addr,
            storage_addr,
            shutdown,
            tasks,
        })
    }

    /// Tells both servers to stop; returns at once.
    pub(crate) fn signal_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Stops both servers and waits until they have closed their listeners and connections.
    pub(crate) async fn shutdown(mut self) {
        self.signal_shutdown();
        for task in std::mem::take(&mut self.tasks) {
            // A server task only ends by finishing or by its runtime going away.
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.signal_shutdown();
    }
}

fn spawn(listener: TcpListener, router: axum::Router, shared: Arc<Shared>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move { shared.shutting_down().await };
        // `serve` only returns errors from the listener, which `TcpListener` retries itself.
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await;
    })
}
