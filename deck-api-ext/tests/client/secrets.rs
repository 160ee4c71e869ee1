//! The API key goes to the base URL only and never into `Debug`, `Display`, errors or logs; query
//! strings never reach logs. Traces carry the documented span fields.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use crate::support::{KEY, Reply, STORAGE_PAGE, Server, TASK_RUN, builder, deck, refused_url};
use deck_api_ext::RetryConfig;
use deck_api_ext::prelude::*;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Collects formatted tracing output.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures all tracing output of the current thread (the test's runtime) until the guard drops.
///
/// tracing caches each callsite's interest globally. While exactly one subscriber is registered,
/// it computes that interest from the *current thread's* subscriber, so a callsite first reached
/// by a parallel test without one would stay disabled for good. A second, never-dropped
/// subscriber keeps tracing on its all-subscribers path; capturing tests also run one at a time.
pub(crate) fn capture() -> (Captured, Guards) {
    static KEEP_MULTI_DISPATCH: OnceLock<tracing::Dispatch> = OnceLock::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    KEEP_MULTI_DISPATCH
        .get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (captured, Guards(guard, serial))
}

/// Uninstalls the subscriber, then lets the next capturing test run (fields drop in order).
pub(crate) struct Guards(
    #[allow(dead_code)] tracing::subscriber::DefaultGuard,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

#[tokio::test(start_paused = true)]
async fn the_key_is_absent_from_every_log_line_debug_and_display() {
    let (logs, _guard) = capture();
    let server = Server::start([
        Reply::json(429, r#"{"errors":[{"type":"rate_limit","code":"rate_limit_exceeded","message":"Too many requests."}],"request_id":"req_429"}"#)
            .header("retry-after", "1"),
        Reply::json(200, TASK_RUN),
        Reply::json(404, r#"{"errors":[{"type":"request","code":"not_found","message":"nope"}],"request_id":"req_404"}"#),
        Reply::json(400, r#"{"title":"bad","errors":{"limit":["too big"]}}"#),
        Reply::status(401),
        Reply::json(200, &STORAGE_PAGE.replace(r#""file_size":12"#, r#""file_size":"x""#)),
    ])
    .await;
    let deck = deck(server.url());
    let mut shown = vec![format!("{deck:?}"), format!("{:?}", builder(server.url()))];

    deck.api()
        .get_task_run()
        .run_id("trun_1")
        .call()
        .await
        .unwrap();
    for _ in 0..3 {
        let err = deck
            .api()
            .get_task_run()
            .run_id("trun_1")
            .call()
            .await
            .unwrap_err();
        shown.push(format!("{err} {err:?}"));
    }
    let err = deck
        .api()
        .list_task_run_storage()
        .run_id("trun_1")
        .cursor("cur_secretcursor")
        .call()
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));

    let refused = refused_url().await;
    let offline = crate::support::deck_with(&refused, RetryConfig::default().with_max_attempts(2));
    let err = offline
        .api()
        .get_task_run()
        .run_id("trun_1")
        .call()
        .await
        .unwrap_err();
    shown.push(format!("{err} {err:?}"));

    let config_errors = [
        Deck::builder()
            .api_key(format!("{KEY}\n{KEY}"))
            .build()
            .unwrap_err(),
        Deck::builder()
            .api_key(KEY)
            .base_url(format!("https://{KEY}@x.example"))
            .build()
            .unwrap_err(),
        Deck::builder()
            .api_key(KEY)
            .base_url(KEY)
            .build()
            .unwrap_err(),
        Deck::builder()
            .api_key(KEY)
            .user_agent_suffix("a\nb")
            .build()
            .unwrap_err(),
    ];
    for err in &config_errors {
        shown.push(format!("{err} {err:?}"));
    }

    let logs = logs.text();
    assert!(!logs.is_empty());
    for text in shown.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(!text.contains("TESTKEY"), "part of the key leaked: {text}");
    }
    assert!(
        !logs.contains("secretcursor"),
        "a query string was logged: {logs}"
    );
    assert!(shown[0].contains("[redacted]") && shown[1].contains("[redacted]"));
}

#[tokio::test(start_paused = true)]
async fn spans_carry_operation_method_path_status_attempt_duration_and_request_id() {
    let (logs, _guard) = capture();
    let server = Server::start([
        Reply::status(503),
        Reply::json(404, r#"{"errors":[{"type":"request","code":"task_run_not_found","message":"Task run not found."}],"request_id":"req_abc"}"#),
    ])
    .await;
    let deck = deck(server.url());
    deck.api()
        .get_task_run()
        .run_id("trun_1")
        .call()
        .await
        .unwrap_err();
    let logs = logs.text();
    let close = logs
        .lines()
        .find(|l| l.contains("close"))
        .unwrap_or_else(|| panic!("no span close line: {logs}"));
    for field in [
        "deck.request",
        "operation=getTaskRun",
        "method=GET",
        "path=\"/task-runs/trun_1\"",
        "status=404",
        "attempt=2",
        "duration_ms=",
        "request_id=\"req_abc\"",
    ] {
        assert!(close.contains(field), "{field} missing from {close}");
    }
    let retries: Vec<_> = logs
        .lines()
        .filter(|l| l.contains("retrying Deck request"))
        .collect();
    assert_eq!(retries.len(), 1, "{logs}");
    assert!(
        retries[0].contains("status=503") && retries[0].contains("delay_ms=500"),
        "{}",
        retries[0]
    );
}

#[tokio::test]
async fn the_key_goes_to_the_base_url_only() {
    let api = Server::start([Reply::json(200, "{}")]).await;
    let other = Server::start([Reply::json(200, "{}")]).await;
    let deck = builder(&format!("{}/v2/", api.url()))
        .user_agent_suffix("my-app/1.0")
        .build()
        .unwrap();

    // A generated operation goes to the API, authenticated. (Which URLs carry the key is decided
    // in one place, `key_boundary.rs`, whose unit tests cover other hosts and look-alike paths.)
    deck.api()
        .get_task()
        .task_id("task_1")
        .call_as::<serde_json::Value>(CallOptions::new())
        .await
        .unwrap();
    // The storage client never authenticates.
    deck.storage_http()
        .get(format!("{}/file.pdf?sig=1", other.url()))
        .send()
        .await
        .unwrap();

    let api_requests = api.received();
    assert_eq!(api_requests[0].target, "/v2/tasks/task_1");
    assert_eq!(
        api_requests[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let agent = format!("deck-api-rust/{} my-app/1.0", env!("CARGO_PKG_VERSION"));
    assert_eq!(api_requests[0].header("user-agent"), Some(agent.as_str()));
    assert_eq!(api_requests.len(), 1);
    for request in other.received() {
        assert_eq!(request.header("authorization"), None, "{request:?}");
        assert_eq!(request.header("user-agent"), Some(agent.as_str()));
    }
}

#[tokio::test]
async fn a_caller_supplied_http_client_still_authenticates_per_request() {
    let api = Server::start([Reply::json(200, TASK_RUN)]).await;
    let deck = builder(api.url())
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    deck.api()
        .get_task_run()
        .run_id("trun_1")
        .call()
        .await
        .unwrap();
    let received = api.received();
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(
        received[0]
            .header("user-agent")
            .unwrap()
            .starts_with("deck-api-rust/")
    );
}

#[tokio::test]
async fn a_trailing_slash_base_url_produces_no_double_slash() {
    let server = Server::start([Reply::json(200, TASK_RUN)]).await;
    let deck = builder(&format!("{}/v2///", server.url())).build().unwrap();
    assert_eq!(deck.base_url(), format!("{}/v2", server.url()));
    deck.api()
        .get_task_run()
        .run_id("trun_1")
        .call()
        .await
        .unwrap();
    assert_eq!(server.received()[0].target, "/v2/task-runs/trun_1");
}

/// Item 5: a server (or a proxy echoing `Authorization`) that sends the key back in an error
/// message, a validation message, a raw non-JSON body, a request id header or a value of a
/// successful body: the key reaches no `Display`, `Debug`, accessor or trace.
#[tokio::test(start_paused = true)]
async fn a_key_echoed_by_the_server_is_redacted_everywhere() {
    let (logs, _guard) = capture();
    let echo = format!("Bearer {KEY}");
    let server = Server::start([
        Reply::json(
            401,
            &format!(r#"{{"errors":[{{"type":"auth","code":"bad_key_{KEY}","message":"rejected {echo}","field":"{KEY}"}}],"request_id":"req_{KEY}"}}"#),
        ),
        Reply::json(
            400,
            &format!(r#"{{"title":"Invalid {KEY}","errors":{{"{KEY}":["header {echo} is invalid"]}},"traceId":"t"}}"#),
        ),
        Reply::status(502)
            .header("content-type", "text/plain")
            .body(format!("upstream said: Authorization: {echo}\n").repeat(60).as_bytes()),
        Reply::status(404)
            .header("x-request-id", &format!("req-{KEY}"))
            .body(b"<html>not here</html>"),
        Reply::json(200, &format!(r#"{{"n":"{KEY}"}}"#)),
    ])
    .await;
    let deck = crate::support::deck_with(server.url(), RetryConfig::disabled());
    let mut shown = Vec::new();
    let mut errors = Vec::new();
    for _ in 0..4 {
        let err = deck
            .api()
            .get_task_run()
            .run_id("trun_1")
            .call()
            .await
            .unwrap_err();
        errors.push(err);
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Probe {
        n: u64,
    }
    let err = deck
        .api()
        .get_task_run()
        .run_id("trun_1")
        .call_as::<Probe>(CallOptions::new())
        .await
        .unwrap_err();
    errors.push(err);
    for err in &errors {
        let mut text = format!("{err} {err:?} {}", err.message());
        text.push_str(err.request_id().unwrap_or(""));
        text.push_str(err.raw_body().unwrap_or(""));
        text.push_str(&format!("{:?} {:?}", err.errors(), err.validation()));
        assert!(text.contains("[redacted]"), "{text}");
        shown.push(text);
    }
    assert_eq!(errors[3].request_id(), Some("req-[redacted]"));
    let logs = logs.text();
    for text in shown.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains("TESTKEY"), "the key leaked: {text}");
    }
}
