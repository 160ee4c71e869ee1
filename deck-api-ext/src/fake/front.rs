//! The front door of each listener: every request gets a request ID and is recorded; API
//! requests must carry `Authorization: Bearer <key>`.

use super::envelope::{ApiError, RequestId};
use super::record::{AuthorizationSeen, Origin, RecordedRequest, classify_authorization};
use super::shared::Shared;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Request bodies larger than this are refused (`413`); Deck's bodies are small JSON.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// API listener: request ID, recording, API key check.
pub(crate) async fn api(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = shared.next_api_request_id();
    let (mut parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await.ok();
    let recorded = RecordedRequest::new(
        Origin::Api,
        &parts,
        body.clone().unwrap_or_default(),
        &shared.api_key,
        Some(request_id.clone()),
    );
    let ticket = shared.recorder.record(recorded);

    let over_limit = shared.rate_window.as_ref().is_some_and(|w| !w.admit());
    let response = match (body, classify_authorization(&parts, &shared.api_key)) {
        _ if over_limit => ApiError::new("rate_limit", "rate_limit_exceeded", "Too many requests.")
            .respond(StatusCode::TOO_MANY_REQUESTS, &request_id),
        (None, _) => ApiError::new(
            "request",
            "body_too_large",
            format!("The request body must be at most {MAX_BODY} bytes."),
        )
        .respond(StatusCode::PAYLOAD_TOO_LARGE, &request_id),
        (Some(_), AuthorizationSeen::Absent) => ApiError::new(
            "auth",
            "api_key_invalid",
            "No API key provided. Send `Authorization: Bearer <your secret key>`.",
        )
        .respond(StatusCode::UNAUTHORIZED, &request_id),
        (Some(_), AuthorizationSeen::Other) => {
            ApiError::new("auth", "api_key_invalid", "Invalid API key provided.")
                .respond(StatusCode::UNAUTHORIZED, &request_id)
        }
        (Some(body), AuthorizationSeen::AcceptedKey) => {
            parts.extensions.insert(RequestId(request_id));
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
    };
    shared
        .recorder
        .set_status(ticket, response.status().as_u16());
    response
}

/// Storage origin: request ID (`x-amz-request-id`) and recording, including whether the
/// request carried any `Authorization` header (it never should).
pub(crate) async fn storage(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = shared.next_storage_request_id();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let ticket = shared.recorder.record(RecordedRequest::new(
        Origin::Storage,
        &parts,
        body,
        &shared.api_key,
        None,
    ));
    request = Request::from_parts(parts, Body::empty());
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    shared
        .recorder
        .set_status(ticket, response.status().as_u16());
    response
}
