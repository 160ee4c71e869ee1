//! The storage origin: a second listener that serves file bytes behind pre-signed URLs, the way
//! an object store does (S3-style XML errors, `Range`, `ETag`, `Accept-Ranges`). It needs no
//! `Authorization` header, and records whether one was sent anyway.

use super::envelope::RequestId;
use super::fault_layer::{self, ActiveFault, FaultScope};
use super::faults::{Fault, Route};
use super::front;
use super::range::{self, RangeAnswer};
use super::record::query_pairs;
use super::shared::{Shared, UrlCheck};
use super::signing;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::get;
use futures_util::StreamExt;
use std::sync::Arc;

/// `Last-Modified` of every file (the fake's files never change).
const LAST_MODIFIED: &str = "Wed, 15 Jan 2025 09:30:00 GMT";

/// The storage origin's router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let scope = FaultScope {
        shared: shared.clone(),
        route: Route::StorageDownload,
    };
    Router::new()
        .route(
            "/files/{storage_id}",
            get(download).route_layer(from_fn_with_state(scope, fault_layer::layer)),
        )
        .fallback(no_such_key)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(shared.clone(), front::storage))
        .with_state(shared)
}

/// An S3-style XML error.
pub(crate) fn xml_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

/// The error an object store answers with `status` (for injected status faults).
pub(crate) fn error_for_status(status: StatusCode, request_id: &str) -> Response {
    let (code, message) = match status.as_u16() {
        403 => ("AccessDenied", "Access Denied"),
        404 => ("NoSuchKey", "The specified key does not exist."),
        429 | 503 => ("SlowDown", "Please reduce your request rate."),
        500 => (
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        _ => ("ServiceError", "The request failed."),
    };
    xml_error(status, code, message, request_id)
}

async fn no_such_key(Extension(RequestId(rid)): Extension<RequestId>) -> Response {
    error_for_status(StatusCode::NOT_FOUND, &rid)
}

async fn method_not_allowed(Extension(RequestId(rid)): Extension<RequestId>) -> Response {
    xml_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        &rid,
    )
}

fn expired(rid: &str) -> Response {
    xml_error(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        "Request has expired",
        rid,
    )
}

async fn download(
    State(shared): State<Arc<Shared>>,
    Extension(RequestId(rid)): Extension<RequestId>,
    fault: Option<Extension<ActiveFault>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(id)) = path else {
        return error_for_status(StatusCode::NOT_FOUND, &rid);
    };
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    match shared.check_url(&id, param("expires"), param("nonce"), param("sig")) {
        UrlCheck::Valid => {}
        UrlCheck::Expired => return expired(&rid),
        UrlCheck::Missing => {
            return xml_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Query-string authentication requires the expires, nonce and sig parameters",
                &rid,
            );
        }
        UrlCheck::BadSignature => {
            return xml_error(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                &rid,
            );
        }
    }
    let fault = fault.map(|Extension(ActiveFault(f))| f);
    if fault == Some(Fault::ExpiredUrl) {
        return expired(&rid);
    }
    let Some((content, file_type)) = shared
        .store()
        .item(&id)
        .map(|item| (item.seed.content.clone(), item.seed.file_type.clone()))
    else {
        return error_for_status(StatusCode::NOT_FOUND, &rid);
    };

    let len = content.len();
    let etag = format!(
        "\"{}\"",
        signing::tag(shared.secret, &["etag", &id, &len.to_string()])
    );
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let if_range_matches = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == etag || v == LAST_MODIFIED);
    let answer = if fault == Some(Fault::IgnoreRange) || !if_range_matches {
        RangeAnswer::Full
    } else {
        range::resolve(range_header, len)
    };

    let (status, bytes) = match answer {
        RangeAnswer::Full => (StatusCode::OK, 0..len),
        RangeAnswer::Partial(r) => (StatusCode::PARTIAL_CONTENT, r),
        RangeAnswer::Unsatisfiable => {
            let mut response = xml_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range is not satisfiable",
                &rid,
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return response;
        }
    };

    let stopping = shared.clone();
    let body = content
        .stream(bytes.clone())
        .map(Ok::<_, std::io::Error>)
        .take_until(async move { stopping.shutting_down().await });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(bytes.end - bytes.start),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file_type)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_static(LAST_MODIFIED),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {}-{}/{len}", bytes.start, bytes.end - 1);
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    response
}
