//! The one error type against a local server: Deck's two error shapes, bodiless and undecodable
//! responses, decode failures with JSON paths, transport failures; `Display` snapshots.

use std::time::Duration;

use crate::support::{Reply, STORAGE_PAGE, Server, deck_with, refused_url};
use deck_api_ext::RetryConfig;
use deck_api_ext::prelude::*;

fn no_retry(server: &Server) -> Deck {
    deck_with(server.url(), RetryConfig::disabled())
}

async fn get_run(deck: &Deck) -> deck_api_ext::Result<String> {
    let run = deck.api().get_task_run().run_id("trun_1").call().await?;
    Ok(run.id)
}

async fn list_storage(deck: &Deck) -> deck_api_ext::Result<usize> {
    let page = deck
        .api()
        .list_task_run_storage()
        .run_id("trun_1")
        .call()
        .await?;
    Ok(page.data.len())
}

async fn error_for(reply: Reply) -> Error {
    let server = Server::start([reply]).await;
    get_run(&no_retry(&server)).await.unwrap_err()
}

const VALIDATION: &str = r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,"errors":{"name":["The name field is required."],"storage.extraction_schema":["Must be an object.","Too deep."]},"traceId":"00-4bf92f3577b34da6-00"}"#;
const NOT_FOUND: &str = r#"{"errors":[{"type":"request","code":"task_run_not_found","message":"Task run not found."}],"request_id":"req_404"}"#;
const UNAUTHORIZED: &str = r#"{"errors":[{"type":"request","code":"api_key_invalid","message":"The API key is invalid."}],"request_id":"req_401"}"#;
const TWO_ERRORS: &str = r#"{"errors":[{"type":"request","code":"input_missing","field":"name","message":"`name` is required and cannot be empty."},{"type":"request","code":"input_invalid","field":"agent_id","message":"Unknown agent."}],"request_id":"req_422"}"#;

#[tokio::test]
async fn a_validation_body_yields_the_field_map() {
    let err = error_for(Reply::json(400, VALIDATION)).await;
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    let fields = err.validation().expect("a validation map");
    assert_eq!(fields["name"], ["The name field is required."]);
    assert_eq!(
        fields["storage.extraction_schema"],
        ["Must be an object.", "Too deep."]
    );
    assert_eq!(err.request_id(), Some("00-4bf92f3577b34da6-00"));
    assert_eq!(err.message(), "One or more validation errors occurred.");
    assert!(err.raw_body().is_none());
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn not_found_yields_code_and_request_id() {
    let err = error_for(Reply::json(404, NOT_FOUND)).await;
    assert!(err.is_not_found());
    assert_eq!(err.code(), Some("task_run_not_found"));
    assert_eq!(err.request_id(), Some("req_404"));
    assert_eq!(err.message(), "Task run not found.");
    assert_eq!(err.operation(), Some("getTaskRun"));
    let detail = &err.errors()[0];
    assert_eq!(detail.error_type, "request");
    assert_eq!(detail.field, None);
}

#[tokio::test]
async fn unauthorized_with_an_envelope_surfaces_code_and_request_id() {
    let err = error_for(Reply::json(401, UNAUTHORIZED)).await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(err.code(), Some("api_key_invalid"));
    assert_eq!(err.request_id(), Some("req_401"));
}

#[tokio::test]
async fn bodiless_unauthorized_and_forbidden_give_the_status() {
    for status in [401u16, 403] {
        let err = error_for(Reply::status(status)).await;
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(err.code(), None);
        assert_eq!(err.request_id(), None);
        assert!(err.raw_body().is_none());
        assert!(err.errors().is_empty());
    }
}

#[tokio::test]
async fn every_entry_of_the_errors_array_is_kept() {
    let err = error_for(Reply::json(422, TWO_ERRORS)).await;
    let codes: Vec<_> = err.errors().iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["input_missing", "input_invalid"]);
    let fields: Vec<_> = err.errors().iter().map(|e| e.field.as_deref()).collect();
    assert_eq!(fields, [Some("name"), Some("agent_id")]);
    assert_eq!(err.code(), Some("input_missing"));
}

#[tokio::test]
async fn rate_limit_exposes_retry_after() {
    let err = error_for(
        Reply::json(
            429,
            r#"{"errors":[{"type":"rate_limit","code":"rate_limit_exceeded","message":"Too many requests."}],"request_id":"req_429"}"#,
        )
        .header("retry-after", "7"),
    )
    .await;
    assert!(err.is_rate_limited());
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn an_undecodable_error_body_is_kept_truncated() {
    let html = format!("<html><body>{}</body></html>", "Bad gateway. ".repeat(200));
    let err = error_for(Reply::status(502).body(html.as_bytes())).await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    let raw = err.raw_body().expect("the raw body");
    assert!(raw.starts_with("<html><body>Bad gateway."));
    assert!(raw.len() < html.len());
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_request_id_header_is_used_when_the_body_has_none() {
    let err = error_for(Reply::status(503).header("x-request-id", "req_hdr")).await;
    assert_eq!(err.request_id(), Some("req_hdr"));
}

#[tokio::test]
async fn an_undecodable_success_body_names_the_json_path() {
    let bad = STORAGE_PAGE.replace(r#""file_size":12"#, r#""file_size":"12 KB""#);
    let server = Server::start([Reply::json(200, &bad)]).await;
    let err = list_storage(&no_retry(&server)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("data[0].file_size"));
    assert!(
        err.to_string()
            .starts_with("listTaskRunStorage: response body at data[0].file_size: ")
    );
    assert!(err.raw_body().unwrap().contains("12 KB"));
}

#[tokio::test]
async fn a_missing_field_names_its_parent_path() {
    let bad = STORAGE_PAGE.replace(r#""file_name":"a.pdf","#, "");
    let server = Server::start([Reply::json(200, &bad)]).await;
    let err = list_storage(&no_retry(&server)).await.unwrap_err();
    assert_eq!(err.json_path(), Some("data[0]"));
    assert!(err.message().contains("missing field `file_name`"), "{err}");
}

#[tokio::test]
async fn new_fields_and_enum_values_decode() {
    let newer = STORAGE_PAGE.replace(
        r#""object":"storage","#,
        r#""object":"storage","purpose":"thumbnail","brand_new":{"x":[1]},"#,
    );
    let server = Server::start([Reply::json(200, &newer)]).await;
    assert_eq!(list_storage(&no_retry(&server)).await.unwrap(), 1);
}

#[tokio::test]
async fn typed_variants_get_the_same_errors_and_the_full_response() {
    let server = Server::start([
        Reply::json(404, NOT_FOUND),
        Reply::json(200, r#"{"data":[{"file_size":"x"}]}"#),
        Reply::json(200, STORAGE_PAGE),
    ])
    .await;
    let deck = no_retry(&server);
    let list = || deck.api().list_task_run_storage().run_id("trun_1").limit(5);
    let err = list()
        .call_as::<serde_json::Value>(CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("task_run_not_found"));
    assert_eq!(err.request_id(), Some("req_404"));
    assert_eq!(err.operation(), Some("listTaskRunStorage"));

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Page {
        data: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        file_size: u64,
    }
    let err = list()
        .call_as::<Page>(CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.json_path(), Some("data[0].file_size"));

    let full = list().call_full(CallOptions::new()).await.unwrap();
    assert_eq!(full.status().as_u16(), 200);
    assert_eq!(full.headers()["content-type"], "application/json");
    assert_eq!(full.into_inner().data.len(), 1);
}

#[tokio::test]
async fn transport_errors_keep_no_query_string() {
    let url = refused_url().await;
    let deck = deck_with(&url, RetryConfig::disabled());
    let err = deck
        .api()
        .list_task_run_storage()
        .run_id("trun_1")
        .cursor("s3cr3tsig")
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("s3cr3tsig"), "{shown}");
    assert!(shown.contains("/task-runs/trun_1/storage"), "{shown}");
}
