//! Reading what a server sends, once for the whole crate: request ids, `Retry-After`, bodies read
//! with a cap, and the root cause of a transport failure. A leaf: it depends on nothing else in the
//! crate, so errors, retries and downloads can all use it.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;

/// Response headers that may carry a request id (Deck documents it in the body; proxies and
/// future API versions may add a header).
const REQUEST_ID_HEADERS: [&str; 2] = ["x-request-id", "request-id"];

/// The most bytes of an error body that are read: enough for any envelope Deck sends.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request id from the response headers, when the server sends one.
pub(crate) fn header_request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// How long `Retry-After` in `headers` asks to wait, relative to `now`; `None` when absent or
/// malformed. A date in the past means no wait.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a transport failure happened before a response and may not recur: connect errors,
/// timeouts, and requests that failed while being sent (e.g. a pooled connection closed).
pub(crate) fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || (error.is_request() && !error.is_builder())
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyFailure {
    /// It is longer than the cap (checked against `Content-Length` first, then while streaming).
    TooLarge { cap: usize },
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// Reads the whole body of `response`, failing as soon as it exceeds `cap` bytes: memory stays
/// proportional to the cap, not to what the server sends.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Bytes, BodyFailure> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(BodyFailure::TooLarge { cap });
    }
    let first = match response.chunk().await.map_err(BodyFailure::Transport)? {
        None => return Ok(Bytes::new()),
        Some(chunk) => chunk,
    };
    if first.len() > cap {
        return Err(BodyFailure::TooLarge { cap });
    }
    // The common case, a body in one chunk, is returned without copying.
    let second = match response.chunk().await.map_err(BodyFailure::Transport)? {
        None => return Ok(first),
        Some(chunk) => chunk,
    };
    let hint = declared.map_or(0, |n| n as usize).min(cap);
    let mut body = BytesMut::with_capacity(hint.max(first.len() + second.len()));
    body.extend_from_slice(&first);
    let mut next = Some(second);
    while let Some(chunk) = next {
        if body.len() + chunk.len() > cap {
            return Err(BodyFailure::TooLarge { cap });
        }
        body.extend_from_slice(&chunk);
        next = response.chunk().await.map_err(BodyFailure::Transport)?;
    }
    Ok(body.freeze())
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of an error body, keeping what arrived if the
/// connection fails; the second value says whether anything was cut.
pub(crate) async fn read_error_body(mut response: reqwest::Response) -> (Bytes, bool) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    return (Bytes::from(body), true);
                }
            }
            Ok(None) => return (Bytes::from(body), false),
            Err(_) => return (Bytes::from(body), true),
        }
    }
}

/// One line for a transport failure: what failed, where (the URL without its query string), and
/// the innermost cause, e.g. `cannot connect to http://127.0.0.1:9/tasks: Connection refused (os
/// error 111)`.
pub(crate) fn transport_message(error: &reqwest::Error) -> String {
    let url = error
        .url()
        .map(|u| {
            let mut u = u.clone();
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        })
        .unwrap_or_else(|| "the server".to_owned());
    if error.is_timeout() {
        return format!("request to {url} timed out");
    }
    let what = if error.is_connect() {
        format!("cannot connect to {url}")
    } else if error.is_body() || error.is_decode() {
        format!("reading the response from {url} failed")
    } else if error.is_redirect() {
        format!("redirect from {url} failed")
    } else {
        format!("request to {url} failed")
    };
    format!("{what}: {}", root_cause(error))
}

/// The innermost source of `error`, as text (the error itself when it has none).
pub(crate) fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        headers.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(42)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        headers.insert("retry-after", HeaderValue::from_str(&earlier).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    fn response(chunks: Vec<&'static [u8]>) -> reqwest::Response {
        let stream = futures_util::stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c))),
        );
        let body = reqwest::Body::wrap_stream(stream);
        reqwest::Response::from(http::Response::new(body))
    }

    #[tokio::test]
    async fn bodies_are_read_whole_up_to_the_cap() {
        let body = read_body(response(vec![b"ab", b"cd", b"e"]), 5)
            .await
            .unwrap();
        assert_eq!(&body[..], b"abcde");
        let body = read_body(response(vec![b"abc"]), 5).await.unwrap();
        assert_eq!(&body[..], b"abc");
        assert!(matches!(
            read_body(response(vec![b"abc", b"def"]), 5).await,
            Err(BodyFailure::TooLarge { cap: 5 })
        ));
        assert!(matches!(
            read_body(response(vec![b"abcdef"]), 5).await,
            Err(BodyFailure::TooLarge { cap: 5 })
        ));
    }
}
