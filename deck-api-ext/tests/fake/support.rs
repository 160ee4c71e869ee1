//! Helpers for the fake server's own tests: a plain HTTP client that talks to a [`FakeDeck`]
//! and decodes replies with `serde_path_to_error`, so a mismatch names its JSON path.
#![allow(dead_code)] // each test file uses a different part

use bytes::Bytes;
use deck_api_ext::api::types::{ErrorResponse, ValidationErrorResponse};
use deck_api_ext::fake::FakeDeck;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A fake and a client with no retries.
pub struct Harness {
    pub fake: FakeDeck,
    pub http: reqwest::Client,
}

/// A reply, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(FakeDeck::start().await.expect("fake starts"))
    }

    pub async fn demo() -> Self {
        Self::with(FakeDeck::demo().await.expect("fake starts"))
    }

    pub fn with(fake: FakeDeck) -> Self {
        Self {
            fake,
            http: reqwest::Client::new(),
        }
    }

    /// `base_url` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }

    /// An authenticated `GET`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    /// An authenticated request with an optional JSON body and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.fake.api_key());
        if let Some(json) = json {
            request = request.json(json);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.expect("request reaches the fake")).await
    }

    /// A raw body (for malformed JSON).
    pub async fn send_raw(&self, method: Method, path: &str, body: &'static str) -> Reply {
        let request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.fake.api_key())
            .header("content-type", "application/json")
            .body(body);
        Reply::read(request.send().await.expect("request reaches the fake")).await
    }

    /// A `GET` of an absolute URL (the storage origin) with extra headers and no credentials.
    pub async fn fetch(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.http.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.expect("request reaches the fake")).await
    }

    /// The first page of a run's items (`limit` 100), as JSON.
    pub async fn list_all(&self, run_id: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/task-runs/{run_id}/storage?limit=100"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["data"].as_array().cloned().unwrap_or_default()
    }

    /// The `url` of a storage item, from `GET /storage/{id}`.
    pub async fn item_url(&self, storage_id: &str) -> String {
        let reply = self.get(&format!("/storage/{storage_id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["url"]
            .as_str()
            .expect("url is a string")
            .to_owned()
    }
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body reads completely");
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Decodes the body as `T`, panicking with the JSON path that failed.
    pub fn decode<T: DeserializeOwned>(&self) -> T {
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut de).unwrap_or_else(|e| {
            panic!(
                "status {}: body does not decode as {} at `{}`: {}\n{}",
                self.status,
                std::any::type_name::<T>(),
                e.path(),
                e.inner(),
                self.text()
            )
        })
    }

    /// The body as Deck's error envelope.
    pub fn error(&self) -> ErrorResponse {
        self.decode()
    }

    /// The first error's `code`.
    pub fn code(&self) -> String {
        let error = self.error();
        assert!(!error.errors.is_empty(), "empty errors: {}", self.text());
        error.errors[0].code.clone()
    }

    /// The body as the 400 validation shape.
    pub fn validation(&self) -> ValidationErrorResponse {
        assert_eq!(self.status, 400, "{}", self.text());
        self.decode()
    }
}
