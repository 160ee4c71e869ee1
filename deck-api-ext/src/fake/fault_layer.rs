//! Applies the faults armed for a route to a request: delays it, answers instead of the
//! handler, hands a response-shaping fault to the handler, or damages the handler's response.

use super::envelope::{self, RequestId};
use super::faults::{Fault, Route};
use super::shared::Shared;
use super::storage_origin;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::Arc;

/// The state of the fault middleware of one route.
#[derive(Clone)]
pub(crate) struct FaultScope {
    pub(crate) shared: Arc<Shared>,
    pub(crate) route: Route,
}

/// A fault the handler itself must apply (`ExpiredUrl`, `RepeatCursor`,
/// `HasMoreWithoutCursor`, `IgnoreRange`), as a request extension.
#[derive(Clone, Debug)]
pub(crate) struct ActiveFault(pub(crate) Fault);

pub(crate) async fn layer(
    State(scope): State<FaultScope>,
    mut request: Request,
    next: Next,
) -> Response {
    let firing = scope.shared.faults.fire(scope.route);
    if let Some(delay) = firing.latency {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = scope.shared.shutting_down() => {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "fake Deck is shutting down");
            }
        }
    }
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    match firing.action {
        None => next.run(request).await,
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = if scope.route.is_api() {
                envelope::for_status(status, &request_id)
            } else {
                storage_origin::error_for_status(status, &request_id)
            };
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Some(Fault::GatewayHtml { status }) => {
            envelope::gateway_html(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
        }
        Some(Fault::CutBody { after_bytes }) => cut_body(next.run(request).await, after_bytes),
        Some(Fault::MalformedJson) => malformed(next.run(request).await).await,
        Some(Fault::EndlessBody) => endless_json(),
        Some(other) => {
            request.extensions_mut().insert(ActiveFault(other));
            next.run(request).await
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

/// Keeps the status, headers and `Content-Length`, sends `after_bytes` bytes of the body, then
/// fails the body so that the server closes the connection mid-body. A body no longer than
/// `after_bytes` is sent whole.
fn cut_body(response: Response, after_bytes: u64) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(len) = axum::body::HttpBody::size_hint(&body).exact() {
        parts
            .headers
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(len));
    }
    let stream = body.into_data_stream();
    let cut = futures_util::stream::unfold(
        (stream, after_bytes, false),
        |(mut stream, left, done)| async move {
            if done {
                return None;
            }
            if left == 0 {
                // Let the server flush what it has sent, then break the connection.
                tokio::task::yield_now().await;
                return Some((
                    Err(std::io::Error::other("fake Deck: cut body")),
                    (stream, 0, true),
                ));
            }
            match stream.next().await {
                Some(Ok(mut chunk)) => {
                    let keep = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                    chunk.truncate(keep);
                    Some((
                        Ok::<Bytes, std::io::Error>(chunk),
                        (stream, left - keep as u64, false),
                    ))
                }
                Some(Err(e)) => Some((Err(std::io::Error::other(e)), (stream, 0, true))),
                None => None,
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(cut))
}

/// Sends the first half of the body with a matching `Content-Length`: a complete HTTP
/// response whose JSON does not parse.
async fn malformed(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.status = StatusCode::OK;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(half))
}

/// A `200` JSON list page that never ends: the start of the envelope, then the same storage item
/// over and over in 64 KiB chunks, without `Content-Length`, until the client hangs up.
fn endless_json() -> Response {
    const ITEM: &[u8] =
        br#"{"id":"stor_endless","object":"storage","file_name":"x.bin","file_size":1},"#;
    let chunk: Bytes = ITEM.repeat(64 * 1024 / ITEM.len()).into();
    let head = Bytes::from_static(br#"{"object":"list","data":["#);
    let stream = futures_util::stream::once(std::future::ready(head))
        .chain(futures_util::stream::repeat(chunk))
        .map(Ok::<Bytes, std::io::Error>);
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
