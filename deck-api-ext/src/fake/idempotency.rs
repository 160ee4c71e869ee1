//! `Idempotency-Key` on `POST`, `PATCH` and `DELETE`, as Deck documents it: the same key with
//! the same request replays the first successful response; the same key with different
//! parameters is `409 idempotency_error`; a key over 256 characters is `400
//! idempotency_key_error`; error responses are not cached. (Deck's 24-hour key expiry is not
//! modelled: keys live as long as the fake.)

use super::envelope::{ApiError, RequestId};
use super::shared::Shared;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

const MAX_KEY_LEN: usize = 256;

#[derive(Clone, Debug)]
struct Cached {
    fingerprint: (String, String, Bytes),
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Successful responses by idempotency key.
#[derive(Debug, Default)]
pub(crate) struct Idempotency {
    cache: Mutex<HashMap<String, Cached>>,
}

impl Idempotency {
    fn get(&self, key: &str) -> Option<Cached> {
        self.lock().get(key).cloned()
    }

    fn put(&self, key: String, cached: Cached) {
        self.lock().insert(key, cached);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Middleware for the mutating routes (inside the fault layer, so a cut response of a
/// successful request is replayed on retry, as a real server would).
pub(crate) async fn layer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = request
        .headers()
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    else {
        return next.run(request).await;
    };
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    if key.chars().count() > MAX_KEY_LEN {
        return ApiError::new(
            "idempotency",
            "idempotency_key_error",
            "Idempotency key must be at most 256 characters",
        )
        .respond(StatusCode::BAD_REQUEST, &request_id);
    }

    let (parts, body) = request.into_parts();
    // The front door already buffered the body, so this cannot hit the limit.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let fingerprint = (
        parts.method.to_string(),
        parts.uri.path().to_owned(),
        body.clone(),
    );

    if let Some(cached) = shared.idempotency.get(&key) {
        if cached.fingerprint != fingerprint {
            return ApiError::new(
                "idempotency",
                "idempotency_error",
                "Idempotency key has already been used with different parameters.",
            )
            .respond(StatusCode::CONFLICT, &request_id);
        }
        let mut response = Response::new(Body::from(cached.body));
        *response.status_mut() = cached.status;
        *response.headers_mut() = cached.headers;
        return response;
    }

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    shared.idempotency.put(
        key,
        Cached {
            fingerprint,
            status: parts.status,
            headers: parts.headers.clone(),
            body: body.clone(),
        },
    );
    Response::from_parts(parts, Body::from(body))
}
