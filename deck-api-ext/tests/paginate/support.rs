//! A scripted list endpoint on 127.0.0.1 for the pagination guard tests: each cursor (or none,
//! for the first page) maps to a canned response, and every request's query is recorded.
//!
//! The fake Deck server covers the realistic cases; this one serves the malformed listings the
//! fake has no knob for (empty pages, a cursor repeated several pages later, bad bodies).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use deck_api_ext::{Deck, RetryConfig};
use serde_json::{Value, json};

/// One canned answer.
#[derive(Clone)]
pub struct Answer {
    status: u16,
    body: String,
}

/// A page body: items `{"id": ...}` for `ids`, `has_more`, `next_cursor`.
pub fn page(ids: &[&str], has_more: bool, next_cursor: Option<&str>) -> Answer {
    let data: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
    let request_id = format!("req_{}", ids.first().copied().unwrap_or("empty"));
    body(
        200,
        json!({ "data": data, "has_more": has_more, "next_cursor": next_cursor, "request_id": request_id }),
    )
}

/// Any JSON body with `status`.
pub fn body(status: u16, value: Value) -> Answer {
    Answer {
        status,
        body: value.to_string(),
    }
}

/// A raw (possibly invalid) body with status 200.
pub fn raw(text: &str) -> Answer {
    Answer {
        status: 200,
        body: text.to_owned(),
    }
}

#[derive(Default)]
struct Script {
    answers: HashMap<Option<String>, Answer>,
    queries: Mutex<Vec<String>>,
    paths: Mutex<Vec<String>>,
}

/// The running scripted server.
pub struct Scripted {
    addr: SocketAddr,
    script: Arc<Script>,
}

impl Scripted {
    /// Serves `answers`: `(None, first page)`, `(Some(cursor), page after cursor)`.
    pub async fn start(answers: Vec<(Option<&str>, Answer)>) -> Scripted {
        let script = Arc::new(Script {
            answers: answers
                .into_iter()
                .map(|(cursor, answer)| (cursor.map(str::to_owned), answer))
                .collect(),
            queries: Mutex::new(Vec::new()),
            paths: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Scripted { addr, script }
    }

    /// A client for this server, without retries (so an error status is seen once).
    pub fn deck(&self) -> Deck {
        Deck::builder()
            .api_key("sk_test_scripted")
            .base_url(format!("http://{}/v2", self.addr))
            .retry(RetryConfig::disabled())
            .build()
            .unwrap()
    }

    /// The raw query strings received so far, in order.
    pub fn queries(&self) -> Vec<String> {
        self.script.queries.lock().unwrap().clone()
    }

    /// The (still percent-encoded) paths of the requests received so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.script.paths.lock().unwrap().clone()
    }

    /// The `cursor` parameter of each request received so far (`None` for the first page).
    pub fn cursors(&self) -> Vec<Option<String>> {
        self.queries()
            .iter()
            .map(|q| {
                url_pairs(q)
                    .into_iter()
                    .find(|(k, _)| k == "cursor")
                    .map(|(_, v)| v)
            })
            .collect()
    }
}

async fn serve(
    State(script): State<Arc<Script>>,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
) -> Response {
    script.paths.lock().unwrap().push(uri.path().to_owned());
    let query = query.unwrap_or_default();
    script.queries.lock().unwrap().push(query.clone());
    let cursor = url_pairs(&query)
        .into_iter()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v);
    match script.answers.get(&cursor) {
        Some(answer) => (
            StatusCode::from_u16(answer.status).unwrap(),
            [("content-type", "application/json")],
            answer.body.clone(),
        )
            .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            json!({
                "errors": [{"type": "request", "code": "cursor_invalid", "message": "bad cursor"}],
                "request_id": "req_bad_cursor"
            })
            .to_string(),
        )
            .into_response(),
    }
}

/// `a=1&b=x%20y` → `[("a", "1"), ("b", "x y")]`.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The items the scripted pages carry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Item {
    pub id: String,
}

/// Item ids, for comparing with what a stream yielded.
pub fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}
