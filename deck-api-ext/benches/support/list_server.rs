//! A synthetic Deck list endpoint: `GET /v2/task-runs/{run_id}/storage?limit&cursor` serving
//! storage items shaped like the fake's (and Deck's), rendered on the fly in O(page size).
//!
//! The pagination benchmark uses it by default because the fake Deck server clones its whole
//! run on every page request (O(run size) per page: about 35 ms a page at 20,000 items, 350 ms
//! at 200,000), which would swamp the client time being measured. `--server fake` runs the same
//! sections against the fake instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The key the synthetic server accepts.
pub const API_KEY: &str = "sk_test_bench";

/// A running synthetic list server; stopped and joined on drop.
pub struct ListServer {
    /// `http://127.0.0.1:PORT/v2`.
    pub base_url: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Runs {
    /// run id → number of items.
    items: HashMap<String, u64>,
    origin: String,
}

impl ListServer {
    /// Serves `runs` (run id, item count) on a thread named `list-server`.
    pub fn start(runs: &[(&str, u64)]) -> ListServer {
        let items: HashMap<String, u64> =
            runs.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("list-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind 127.0.0.1");
                    let addr = listener.local_addr().expect("local address");
                    let state = Arc::new(Runs {
                        items,
                        origin: format!("http://{addr}"),
                    });
                    let app = axum::Router::new()
                        .route("/v2/task-runs/{run_id}/storage", axum::routing::get(list))
                        .with_state(state);
                    ready_tx
                        .send(format!("http://{addr}/v2"))
                        .expect("report the address");
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop_rx.await;
                        })
                        .await;
                });
            })
            .expect("spawn the server thread");
        let base_url = ready_rx.recv().expect("the list server did not start");
        ListServer {
            base_url,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for ListServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn error(status: StatusCode, code: &str) -> Response {
    let body = json!({
        "errors": [{"type": "request", "code": code, "message": code}],
        "request_id": "req_bench_error"
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn list(
    State(runs): State<Arc<Runs>>,
    Path(run_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {API_KEY}"));
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "api_key_invalid");
    }
    let Some(&total) = runs.items.get(&run_id) else {
        return error(StatusCode::NOT_FOUND, "task_run_not_found");
    };
    let (mut limit, mut offset) = (20u64, 0u64);
    for pair in query.as_deref().unwrap_or_default().split('&') {
        match pair.split_once('=') {
            Some(("limit", v)) => match v.parse() {
                Ok(n) if (1..=100).contains(&n) => limit = n,
                _ => return error(StatusCode::BAD_REQUEST, "limit_invalid"),
            },
            Some(("cursor", v)) => match v.strip_prefix("o").and_then(|n| n.parse().ok()) {
                Some(n) if n <= total => offset = n,
                _ => return error(StatusCode::BAD_REQUEST, "cursor_invalid"),
            },
            _ => {}
        }
    }
    let end = (offset + limit).min(total);
    let data: Vec<Value> = (offset..end)
        .map(|i| item(&runs.origin, &run_id, i))
        .collect();
    let has_more = end < total;
    let body = json!({
        "data": data,
        "has_more": has_more,
        "next_cursor": has_more.then(|| format!("o{end}")),
        "request_id": format!("req_{run_id}_{offset}"),
    });
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// Item `i` of `run_id`, with the fields (and order) the fake serves.
fn item(origin: &str, run_id: &str, i: u64) -> Value {
    let id = format!("stor_{run_id}_{i:06}");
    let seconds = i * 5;
    let at = format!(
        "2025-01-{:02}T{:02}:{:02}:{:02}Z",
        15 + seconds / 86_400 % 14,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60
    );
    json!({
        "id": id,
        "object": "storage_item",
        "file_name": format!("invoice-{i:06}.pdf"),
        "file_type": "application/pdf",
        "file_size": 2048 + i % 4096,
        "url": format!("{origin}/files/{id}?expires=1736935200&nonce={i}&sig=5f2b9c0e4d7a1b3c8e6f0a2d4c6b8e1f"),
        "metadata": {},
        "fetch_date": at,
        "extraction": null,
        "purpose": "output",
        "result": "success",
        "task_run_id": run_id,
        "created_at": at,
    })
}
