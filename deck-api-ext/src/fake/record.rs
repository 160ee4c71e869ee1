//! The log of requests the fake received, for tests to assert on.
//!
//! `Authorization` values are never stored: the header is kept with the value [`REDACTED`] and
//! [`RecordedRequest::authorization`] says whether it carried the key the fake accepts.

use axum::http::request::Parts;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The value recorded in place of an `Authorization` header.
pub const REDACTED: &str = "<redacted>";

/// Which listener received a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The Deck API (`base_url`).
    Api,
    /// The storage origin that serves pre-signed downloads (`storage_base_url`).
    Storage,
}

/// What a request's `Authorization` header held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorizationSeen {
    /// No `Authorization` header.
    Absent,
    /// `Bearer <the key the fake accepts>`.
    AcceptedKey,
    /// Some other value.
    Other,
}

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Which listener received it.
    pub origin: Origin,
    /// The HTTP method (`GET`, `POST`, …).
    pub method: String,
    /// The path, percent-encoded as sent (`/v2/task-runs/trun_x/storage`).
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    /// Headers in arrival order, names lowercase; `authorization` is [`REDACTED`].
    pub headers: Vec<(String, String)>,
    /// What the `Authorization` header held.
    pub authorization: AuthorizationSeen,
    /// The request body (empty for `GET`).
    pub body: Bytes,
    /// The status the fake answered with (`None` while the response is being produced).
    pub status: Option<u16>,
    /// The `request_id` the fake gave the request (API requests only).
    pub request_id: Option<String>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_pairs(self.query.as_deref()?)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub(crate) fn new(
        origin: Origin,
        parts: &Parts,
        body: Bytes,
        api_key: &str,
        request_id: Option<String>,
    ) -> Self {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if name == axum::http::header::AUTHORIZATION {
                    REDACTED.to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        Self {
            origin,
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers,
            authorization: classify_authorization(parts, api_key),
            body,
            status: None,
            request_id,
        }
    }
}

/// Classifies the `Authorization` header against the accepted key without copying it.
pub(crate) fn classify_authorization(parts: &Parts, api_key: &str) -> AuthorizationSeen {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return AuthorizationSeen::Absent;
    };
    let value = value.as_bytes();
    let scheme = b"bearer ";
    let accepted = value.len() == scheme.len() + api_key.len()
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
        && &value[scheme.len()..] == api_key.as_bytes();
    if accepted {
        AuthorizationSeen::AcceptedKey
    } else {
        AuthorizationSeen::Other
    }
}

/// Decoded `name=value` pairs of a query string.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    let Ok(url) = reqwest::Url::parse(&format!("http://fake.invalid/?{query}")) else {
        return Vec::new();
    };
    url.query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

/// The request log of one fake.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    log: Mutex<Vec<(u64, RecordedRequest)>>,
    next: AtomicU64,
    storage_saw_authorization: AtomicBool,
}

impl Recorder {
    /// Appends a request; returns the ticket to attach its status with.
    pub(crate) fn record(&self, request: RecordedRequest) -> u64 {
        if request.origin == Origin::Storage && request.authorization != AuthorizationSeen::Absent {
            self.storage_saw_authorization.store(true, Ordering::SeqCst);
        }
        let ticket = self.next.fetch_add(1, Ordering::SeqCst);
        self.lock().push((ticket, request));
        ticket
    }

    pub(crate) fn set_status(&self, ticket: u64, status: u16) {
        if let Some((_, request)) = self.lock().iter_mut().rev().find(|(t, _)| *t == ticket) {
            request.status = Some(status);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        self.lock().iter().map(|(_, r)| r.clone()).collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn storage_saw_authorization(&self) -> bool {
        self.storage_saw_authorization.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, RecordedRequest)>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = Request::builder().uri("/v2/x?limit=5&cursor=a%2Bb");
        if let Some(a) = auth {
            b = b.header("Authorization", a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn never_stores_the_authorization_value() {
        let r = RecordedRequest::new(
            Origin::Api,
            &parts(Some("Bearer sk_k")),
            Bytes::new(),
            "sk_k",
            None,
        );
        assert_eq!(r.authorization, AuthorizationSeen::AcceptedKey);
        assert_eq!(r.header("Authorization"), Some(REDACTED));
        assert!(!format!("{r:?}").contains("sk_k"));
        assert_eq!(r.query_param("cursor").as_deref(), Some("a+b"));
        assert_eq!(r.query_param("limit").as_deref(), Some("5"));
    }

    #[test]
    fn classifies_authorization() {
        assert_eq!(
            classify_authorization(&parts(None), "k"),
            AuthorizationSeen::Absent
        );
        assert_eq!(
            classify_authorization(&parts(Some("bearer k")), "k"),
            AuthorizationSeen::AcceptedKey
        );
        assert_eq!(
            classify_authorization(&parts(Some("Bearer k2")), "k"),
            AuthorizationSeen::Other
        );
        assert_eq!(
            classify_authorization(&parts(Some("Basic k")), "k"),
            AuthorizationSeen::Other
        );
    }

    #[test]
    fn storage_authorization_is_flagged() {
        let rec = Recorder::default();
        rec.record(RecordedRequest::new(
            Origin::Api,
            &parts(Some("Bearer k")),
            Bytes::new(),
            "k",
            None,
        ));
        assert!(!rec.storage_saw_authorization());
        let t = rec.record(RecordedRequest::new(
            Origin::Storage,
            &parts(Some("x")),
            Bytes::new(),
            "k",
            None,
        ));
        assert!(rec.storage_saw_authorization());
        rec.set_status(t, 403);
        assert_eq!(rec.snapshot()[1].status, Some(403));
    }
}
