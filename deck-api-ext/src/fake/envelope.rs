//! Deck's response bodies: JSON with a `request_id`, the error envelope
//! `{errors:[{type,code,message,field?}], request_id}`, and the ASP.NET-style 400
//! `ValidationErrorResponse` (`{type,title,status,errors:{field:[…]},traceId}`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The request ID the front door gave a request, as a request extension.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) String);

/// A JSON response; `request_id` is appended to an object body.
pub(crate) fn json(status: StatusCode, request_id: &str, mut body: Value) -> Response {
    if let Value::Object(map) = &mut body {
        map.insert(
            "request_id".to_owned(),
            Value::String(request_id.to_owned()),
        );
    }
    raw_json(
        status,
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/json; charset=utf-8",
    )
}

fn raw_json(status: StatusCode, body: Vec<u8>, content_type: &'static str) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// One entry of the error envelope.
pub(crate) struct ApiError<'a> {
    pub(crate) kind: &'a str,
    pub(crate) code: &'a str,
    pub(crate) message: String,
    pub(crate) field: Option<&'a str>,
}

impl<'a> ApiError<'a> {
    pub(crate) fn new(kind: &'a str, code: &'a str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn field(mut self, field: &'a str) -> Self {
        self.field = Some(field);
        self
    }

    /// The envelope response with this single error.
    pub(crate) fn respond(self, status: StatusCode, request_id: &str) -> Response {
        errors(status, request_id, vec![self])
    }

    fn entry(self) -> Value {
        let mut entry = Map::new();
        entry.insert("type".to_owned(), self.kind.into());
        entry.insert("code".to_owned(), self.code.into());
        entry.insert("message".to_owned(), self.message.into());
        if let Some(field) = self.field {
            entry.insert("field".to_owned(), field.into());
        }
        Value::Object(entry)
    }
}

/// The envelope response with these errors, in order.
pub(crate) fn errors(status: StatusCode, request_id: &str, errors: Vec<ApiError<'_>>) -> Response {
    let entries: Vec<Value> = errors.into_iter().map(ApiError::entry).collect();
    json(status, request_id, json!({ "errors": entries }))
}

/// The 400 `ValidationErrorResponse`, as ASP.NET renders `ValidationProblemDetails`
/// (`application/problem+json`), plus Deck's `request_id`.
pub(crate) fn validation(request_id: &str, errors: BTreeMap<String, Vec<String>>) -> Response {
    let body = json!({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors,
        "traceId": trace_id(request_id),
        "request_id": request_id,
    });
    raw_json(
        StatusCode::BAD_REQUEST,
        serde_json::to_vec(&body).unwrap_or_default(),
        "application/problem+json; charset=utf-8",
    )
}

/// A W3C `traceparent`-shaped ID derived from the request ID (as ASP.NET reports `traceId`).
fn trace_id(request_id: &str) -> String {
    let n: u64 = request_id
        .trim_start_matches("req_")
        .parse()
        .unwrap_or_default();
    format!("00-{n:032x}-{n:016x}-00")
}

/// A one-field validation failure.
pub(crate) fn invalid_field(request_id: &str, field: &str, message: impl Into<String>) -> Response {
    validation(
        request_id,
        BTreeMap::from([(field.to_owned(), vec![message.into()])]),
    )
}

/// The envelope Deck would send with `status` for a fault: `rate_limit_exceeded` for 429,
/// `api`/`internal_error` for 500, `api`/`service_unavailable` for other 5xx, and a generic
/// request error otherwise.
pub(crate) fn for_status(status: StatusCode, request_id: &str) -> Response {
    let error = match status.as_u16() {
        429 => ApiError::new("rate_limit", "rate_limit_exceeded", "Too many requests."),
        500 => ApiError::new("api", "internal_error", "An internal error occurred."),
        501..=599 => ApiError::new(
            "api",
            "service_unavailable",
            "The service is temporarily unavailable.",
        ),
        401 => ApiError::new("auth", "api_key_invalid", "Invalid API key."),
        403 => ApiError::new(
            "auth",
            "forbidden",
            "This API key cannot perform this action.",
        ),
        404 => ApiError::new(
            "request",
            "not_found",
            "The requested resource does not exist.",
        ),
        409 => ApiError::new(
            "request",
            "conflict",
            "The request conflicts with the current state.",
        ),
        _ => ApiError::new(
            "request",
            "request_failed",
            format!("The request failed with status {status}."),
        ),
    };
    error.respond(status, request_id)
}

/// An HTML error page as a proxy in front of Deck would send (no JSON, no `request_id`).
pub(crate) fn gateway_html(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let code = status.as_u16();
    let body = format!(
        "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n\
         <body><center><h1>{code} {reason}</h1></center><hr><center>fake-gateway</center></body></html>\n"
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_follow_request_ids() {
        assert_eq!(
            trace_id("req_000012"),
            format!("00-{:032x}-{:016x}-00", 12, 12)
        );
    }
}
