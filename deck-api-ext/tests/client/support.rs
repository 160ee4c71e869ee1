//! A scripted HTTP/1.1 server on 127.0.0.1 for the client tests: it answers each request with
//! the next scripted [`Reply`] and records what it received.
#![allow(dead_code)] // each test file uses a different part

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use deck_api_ext::{Deck, DeckBuilder, RetryConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The API key every test client uses; tests assert it never shows up in output.
pub const KEY: &str = "sk_live_TESTKEY_9f8e7d6c5b4a";

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sends `Retry-After` as the HTTP date this many seconds after the moment of replying.
    pub retry_after_date_in: Option<u64>,
    /// Never answers: holds the connection open.
    pub hang: bool,
    /// Echoes the request: every `{body}` in the reply body becomes the request body, escaped
    /// as the inside of a JSON string (`{raw}`: as received).
    pub echo: bool,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            retry_after_date_in: None,
            hang: false,
            echo: false,
        }
    }

    pub fn json(status: u16, body: &str) -> Self {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes())
    }

    pub fn hang() -> Self {
        Reply {
            hang: true,
            ..Reply::status(200)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// See [`Reply::echo`].
    pub fn echoing(mut self) -> Self {
        self.echo = true;
        self
    }

    pub fn retry_after_date_in(mut self, seconds: u64) -> Self {
        self.retry_after_date_in = Some(seconds);
        self
    }
}

/// What the server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    replies: VecDeque<Reply>,
    received: Vec<Received>,
}

/// The server; it runs until the test's runtime stops.
#[derive(Clone)]
pub struct Server {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub async fn start(replies: impl IntoIterator<Item = Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            replies: replies.into_iter().collect(),
            received: Vec::new(),
        }));
        let server = Server { url, state };
        let accept = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server = accept.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        });
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replaces the remaining script.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        let mut state = self.state.lock().unwrap();
        state.replies = replies.into_iter().collect();
        state.received.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some(received) = read_request(&mut stream).await else {
            return;
        };
        let request_body = received.body.clone();
        let reply = {
            let mut state = self.state.lock().unwrap();
            state.received.push(received);
            state.replies.pop_front()
        };
        let mut reply = reply.unwrap_or_else(|| {
            Reply::status(418).body(b"the test server has no scripted reply left")
        });
        if reply.echo {
            let raw = String::from_utf8_lossy(&request_body).into_owned();
            let quoted = serde_json::to_string(&raw).unwrap();
            let escaped = &quoted[1..quoted.len() - 1];
            let text = String::from_utf8_lossy(&reply.body)
                .replace("{body}", escaped)
                .replace("{raw}", &raw);
            reply.body = text.into_bytes();
        }
        if reply.hang {
            // Hold the connection open until the client gives up.
            let mut sink = [0u8; 1];
            let _ = stream.read(&mut sink).await;
            std::future::pending::<()>().await;
        }
        let mut head = format!(
            "HTTP/1.1 {} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(seconds) = reply.retry_after_date_in {
            let at = SystemTime::now() + Duration::from_secs(seconds);
            head.push_str(&format!("retry-after: {}\r\n", httpdate::fmt_http_date(at)));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&reply.body).await;
        let _ = stream.shutdown().await;
    }
}

pub async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        target,
        headers,
        body,
    })
}

/// A URL on 127.0.0.1 where nothing listens (connections are refused).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A builder for `base_url` with the test key and deterministic retries: full backoff ceiling
/// (jitter 1.0), 500 ms initial.
pub fn builder(base_url: &str) -> DeckBuilder {
    Deck::builder()
        .api_key(KEY)
        .base_url(base_url)
        .retry(RetryConfig::default().with_jitter(|| 1.0))
}

pub fn deck(base_url: &str) -> Deck {
    builder(base_url).build().unwrap()
}

/// A client for `base_url` with the test key and `retry` exactly as given (its own jitter).
pub fn deck_with(base_url: &str, retry: RetryConfig) -> Deck {
    builder(base_url).retry(retry).build().unwrap()
}

/// A minimal valid `GET /task-runs/{id}` body.
pub const TASK_RUN: &str = r#"{"id":"trun_1","object":"task_run","status":"completed","created_at":"2026-01-02T03:04:05Z","request_id":"req_ok"}"#;

/// A valid one-item `listTaskRunStorage` page.
pub const STORAGE_PAGE: &str = r#"{"data":[{"id":"stor_1","object":"storage","file_name":"a.pdf","file_size":12,"file_type":"application/pdf","created_at":"2026-01-02T03:04:05Z","extraction":null,"metadata":null,"url":"https://files.example.com/a.pdf?X-Amz-Signature=abc"}],"has_more":false,"next_cursor":null,"request_id":"req_page"}"#;
