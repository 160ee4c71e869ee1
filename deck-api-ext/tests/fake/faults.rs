//! Faults on the fake's API routes: what each does, that each fires its number of times, and
//! that hits are counted.

use crate::support::Harness;
use deck_api_ext::fake::{FakeDeck, Fault, Route, demo};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

fn run_path() -> String {
    format!("/task-runs/{}", demo::EMPTY_RUN)
}

#[tokio::test]
async fn status_faults_answer_deck_errors_with_or_without_retry_after() {
    let h = Harness::demo().await;
    let with = h
        .fake
        .inject(Route::GetTaskRun, Fault::rate_limited(Some("3")), 1);
    let without = h
        .fake
        .inject(Route::GetTaskRun, Fault::rate_limited(None), 1);

    let first = h.get(&run_path()).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("3"));
    let error = first.error();
    assert_eq!(error.errors[0].type_, "rate_limit");
    assert_eq!(error.errors[0].code, "rate_limit_exceeded");

    let second = h.get(&run_path()).await;
    assert_eq!(second.status, 429);
    assert_eq!(second.header("retry-after"), None);

    assert_eq!(h.get(&run_path()).await.status, 200);
    assert_eq!((with.hits(), with.remaining()), (1, 0));
    assert_eq!((without.hits(), without.remaining()), (1, 0));
    assert_eq!(h.fake.fault_hits(Route::GetTaskRun), 2);

    // An HTTP-date Retry-After is sent verbatim.
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    h.fake.inject(
        Route::GetTaskRun,
        Fault::Status {
            status: 503,
            retry_after: Some(date.into()),
        },
        1,
    );
    let unavailable = h.get(&run_path()).await;
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.header("retry-after"), Some(date));
    assert_eq!(unavailable.error().errors[0].type_, "api");
}

#[tokio::test]
async fn any_api_faults_cover_every_api_route_but_not_storage() {
    let h = Harness::demo().await;
    let outage = h.fake.inject(Route::AnyApi, Fault::status(500), 3);
    assert_eq!(h.get(&run_path()).await.status, 500);
    assert_eq!(h.get(&format!("/tasks/{}", demo::TASK)).await.status, 500);
    let url = h.fake.signed_url(demo::STATEMENT_JAN_2025).unwrap();
    assert_eq!(h.fetch(&url, &[]).await.status, 200);
    assert_eq!(
        h.get(&format!("/storage/{}", demo::STATEMENT_JAN_2025))
            .await
            .status,
        500
    );
    assert_eq!(h.get(&run_path()).await.status, 200);
    assert_eq!(outage.hits(), 3);
    assert_eq!(h.fake.fault_hits(Route::AnyApi), 3);
    assert_eq!(h.fake.fault_hits(Route::GetTaskRun), 0);
}

#[tokio::test]
async fn gateway_html_has_no_json_and_no_request_id() {
    let h = Harness::demo().await;
    h.fake
        .inject(Route::ListStorage, Fault::GatewayHtml { status: 502 }, 1);
    let reply = h
        .get(&format!("/task-runs/{}/storage", demo::STATEMENTS_RUN))
        .await;
    assert_eq!(reply.status, 502);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(reply.text().contains("502 Bad Gateway"));
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
}

#[tokio::test]
async fn malformed_json_is_a_complete_response_that_does_not_parse() {
    let h = Harness::demo().await;
    h.fake.inject(Route::GetTask, Fault::MalformedJson, 1);
    let reply = h.get(&format!("/tasks/{}", demo::TASK)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        reply.header("content-length"),
        Some(reply.body.len().to_string().as_str())
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    assert!(reply.text().starts_with('{'));

    // The generated client reports it as an invalid payload, not a transport error.
    h.fake.inject(Route::GetTask, Fault::MalformedJson, 1);
    let client = deck_api_ext::api::Client::new_with_client(
        &h.fake.base_url(),
        reqwest::Client::builder()
            .default_headers(
                [(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", h.fake.api_key()).parse().unwrap(),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap(),
        deck_api_ext::api::ClientState::default(),
    );
    let result = client.get_task().task_id(demo::TASK).send().await;
    assert!(
        matches!(
            result,
            Err(progenitor_client::Error::InvalidResponsePayload(..))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn cut_body_on_the_api_breaks_the_json_mid_way() {
    let h = Harness::demo().await;
    h.fake
        .inject(Route::ListStorage, Fault::CutBody { after_bytes: 100 }, 1);
    let response = h
        .http
        .get(h.url(&format!("/task-runs/{}/storage", demo::STATEMENTS_RUN)))
        .bearer_auth(h.fake.api_key())
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(response.status(), 200);
    let declared = response.content_length().expect("Content-Length is sent");
    assert!(declared > 100);
    let mut body = response.bytes_stream();
    let mut got = 0;
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => got += c.len(),
            Err(_) => failed = true,
        }
    }
    assert!(failed);
    assert_eq!(got, 100);
}

#[tokio::test]
async fn a_cut_create_is_replayed_by_its_idempotency_key() {
    let h = Harness::start().await;
    let body = json!({ "name": "n", "agent_id": "agt_1" });
    h.fake
        .inject(Route::CreateTask, Fault::CutBody { after_bytes: 10 }, 1);
    let cut = h
        .http
        .post(h.url("/tasks"))
        .bearer_auth(h.fake.api_key())
        .header("Idempotency-Key", "create-1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    assert!(cut.is_err(), "the body was cut");

    // The task was created before the connection broke; the retry gets the same task back.
    let retry = h
        .send(
            Method::POST,
            "/tasks",
            Some(&body),
            &[("Idempotency-Key", "create-1")],
        )
        .await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.json()["id"], "task_000001");
    let fresh = h.send(Method::POST, "/tasks", Some(&body), &[]).await;
    assert_eq!(fresh.json()["id"], "task_000002");

    // Same key, different parameters: 409.
    let other = json!({ "name": "other", "agent_id": "agt_1" });
    let conflict = h
        .send(
            Method::POST,
            "/tasks",
            Some(&other),
            &[("Idempotency-Key", "create-1")],
        )
        .await;
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.code(), "idempotency_error");

    // Errors are not cached: a failed request with a key can be retried.
    h.fake.inject(Route::CreateTask, Fault::status(500), 1);
    let failed = h
        .send(
            Method::POST,
            "/tasks",
            Some(&body),
            &[("Idempotency-Key", "create-2")],
        )
        .await;
    assert_eq!(failed.status, 500);
    let retried = h
        .send(
            Method::POST,
            "/tasks",
            Some(&body),
            &[("Idempotency-Key", "create-2")],
        )
        .await;
    assert_eq!(
        (retried.status, retried.json()["id"].clone()),
        (201, json!("task_000003"))
    );
}

#[tokio::test(start_paused = true)]
async fn latency_delays_in_virtual_time_and_combines_with_other_faults() {
    let h = Harness::demo().await;
    h.fake.inject(
        Route::GetTaskRun,
        Fault::Latency(Duration::from_secs(30)),
        1,
    );
    h.fake.inject(Route::GetTaskRun, Fault::status(503), 1);
    let started = tokio::time::Instant::now();
    let reply = h.get(&run_path()).await;
    assert_eq!(
        reply.status, 503,
        "latency and a status fire on the same request"
    );
    assert!(started.elapsed() >= Duration::from_secs(30));
    let started = tokio::time::Instant::now();
    assert_eq!(h.get(&run_path()).await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn disarm_and_clear() {
    let h = Harness::demo().await;
    let a = h
        .fake
        .inject(Route::GetTaskRun, Fault::status(500), usize::MAX);
    assert_eq!(h.get(&run_path()).await.status, 500);
    a.disarm();
    assert_eq!(h.get(&run_path()).await.status, 200);
    h.fake.inject(Route::GetTaskRun, Fault::status(500), 5);
    h.fake.clear_faults();
    assert_eq!(h.get(&run_path()).await.status, 200);
    assert_eq!(a.hits(), 1);
    assert_eq!(a.route(), Route::GetTaskRun);
    assert_eq!(a.fault(), &Fault::status(500));
}

#[tokio::test]
#[should_panic(expected = "applies to Route::StorageDownload only, not to Route::ListStorage")]
async fn a_fault_on_a_route_it_cannot_apply_to_is_a_test_bug() {
    let fake = FakeDeck::start().await.unwrap();
    fake.inject(Route::ListStorage, Fault::IgnoreRange, 1);
}

#[tokio::test]
#[should_panic(expected = "is not an HTTP status code")]
async fn an_invalid_status_is_a_test_bug() {
    let fake = FakeDeck::start().await.unwrap();
    fake.inject(Route::GetTask, Fault::status(42), 1);
}

#[tokio::test(start_paused = true)]
async fn latency_drives_client_timeouts_in_virtual_time() {
    use deck_api_ext::{Deck, ErrorKind, RetryConfig};
    let fake = FakeDeck::demo().await.unwrap();
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .read_timeout(Duration::from_secs(5))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    // Paused time advances while the runtime waits on the fake's sockets, yet ordinary requests
    // do not time out spuriously...
    for _ in 0..20 {
        deck.get_storage_item(demo::STATEMENT_JAN_2025)
            .await
            .unwrap();
    }
    // ...and an injected minute of latency trips the 5 s read timeout without waiting a minute.
    fake.inject(
        Route::GetStorageItem,
        Fault::Latency(Duration::from_secs(60)),
        1,
    );
    let started = std::time::Instant::now();
    let error = deck
        .get_storage_item(demo::STATEMENT_JAN_2025)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "virtual, not real, time"
    );
}
