//! Retries against a local server, in paused tokio time: which responses and methods are retried,
//! backoff, `Retry-After`, the attempt and total-delay caps, idempotency keys.

use std::time::Duration;

use crate::support::{Reply, STORAGE_PAGE, Server, TASK_RUN, deck, deck_with, refused_url};
use deck_api_ext::RetryConfig;
use deck_api_ext::api::types::CreateTaskRequest;
use deck_api_ext::prelude::*;
use tokio::time::Instant;

const RATE_LIMITED: &str = r#"{"errors":[{"type":"rate_limit","code":"rate_limit_exceeded","message":"Too many requests."}],"request_id":"req_429"}"#;
const SERVER_ERROR: &str = r#"{"errors":[{"type":"api","code":"api_error","message":"Platform error"}],"request_id":"req_500"}"#;

fn create_body() -> CreateTaskRequest {
    CreateTaskRequest::builder()
        .agent_id("agt_1")
        .name("pull statements")
        .try_into()
        .unwrap()
}

async fn get_run(deck: &Deck) -> deck_api_ext::Result<String> {
    let run = deck.api().get_task_run().run_id("trun_1").call().await?;
    Ok(run.id)
}

#[tokio::test(start_paused = true)]
async fn rate_limit_with_retry_after_then_success_waits_at_least_the_hint() {
    let server = Server::start([
        Reply::json(429, RATE_LIMITED).header("retry-after", "1"),
        Reply::json(200, TASK_RUN),
    ])
    .await;
    let deck = deck(server.url());
    let start = Instant::now();
    assert_eq!(get_run(&deck).await.unwrap(), "trun_1");
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.received().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn two_server_errors_then_success_back_off_exponentially() {
    let server = Server::start([
        Reply::json(500, SERVER_ERROR),
        Reply::json(500, SERVER_ERROR),
        Reply::json(200, TASK_RUN),
    ])
    .await;
    let deck = deck(server.url());
    let start = Instant::now();
    assert_eq!(get_run(&deck).await.unwrap(), "trun_1");
    // Jitter 1.0: the full ceilings, 500 ms then 1 s.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_millis(1600),
        "{elapsed:?}"
    );
    assert_eq!(server.received().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn jitter_scales_the_backoff() {
    let server = Server::start([
        Reply::status(502),
        Reply::status(504),
        Reply::json(200, TASK_RUN),
    ])
    .await;
    let deck = deck_with(server.url(), RetryConfig::default().with_jitter(|| 0.25));
    let start = Instant::now();
    get_run(&deck).await.unwrap();
    let elapsed = start.elapsed();
    // 0.25 × 500 ms + 0.25 × 1 s.
    assert!(
        elapsed >= Duration::from_millis(375) && elapsed < Duration::from_millis(450),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_http_date_is_honoured() {
    let server = Server::start([
        Reply::json(503, SERVER_ERROR).retry_after_date_in(2),
        Reply::json(200, TASK_RUN),
    ])
    .await;
    let deck = deck(server.url());
    let start = Instant::now();
    get_run(&deck).await.unwrap();
    // The date has one-second precision: 2 s from now is more than 1 s and at most 2 s away.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed <= Duration::from_millis(2100),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_capped() {
    let server = Server::start([
        Reply::json(429, RATE_LIMITED).header("retry-after", "3600"),
        Reply::json(200, TASK_RUN),
    ])
    .await;
    let retry = RetryConfig::default().with_retry_after_cap(Duration::from_secs(2));
    let deck = deck_with(server.url(), retry);
    let start = Instant::now();
    get_run(&deck).await.unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_millis(2100),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_the_total_delay_budget_is_not_made() {
    let server = Server::start([
        Reply::json(429, RATE_LIMITED).header("retry-after", "5"),
        Reply::json(200, TASK_RUN),
    ])
    .await;
    let retry = RetryConfig::default().with_max_total_delay(Duration::from_secs(3));
    let deck = deck_with(server.url(), retry);
    let start = Instant::now();
    let err = get_run(&deck).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(err.is_rate_limited());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(err.code(), Some("rate_limit_exceeded"));
    assert_eq!(server.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn total_delay_budget_bounds_backoff() {
    let server = Server::start(std::iter::repeat_n(Reply::status(503), 10)).await;
    let retry = RetryConfig::default()
        .with_jitter(|| 1.0)
        .with_max_attempts(10)
        .with_initial_backoff(Duration::from_secs(1))
        .with_max_total_delay(Duration::from_millis(3500));
    let deck = deck_with(server.url(), retry);
    let start = Instant::now();
    let err = get_run(&deck).await.unwrap_err();
    // Waits 1 s and 2 s; the next (4 s) would exceed the 3.5 s budget.
    assert_eq!(server.received().len(), 3);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_millis(3100),
        "{elapsed:?}"
    );
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn attempts_are_capped() {
    let server = Server::start(std::iter::repeat_n(Reply::json(500, SERVER_ERROR), 10)).await;
    let deck = deck_with(
        server.url(),
        RetryConfig::default()
            .with_jitter(|| 0.0)
            .with_max_attempts(3),
    );
    let err = get_run(&deck).await.unwrap_err();
    assert_eq!(server.received().len(), 3);
    assert_eq!(err.code(), Some("api_error"));
    assert_eq!(err.request_id(), Some("req_500"));
}

#[tokio::test(start_paused = true)]
async fn default_config_makes_four_attempts() {
    let server = Server::start(std::iter::repeat_n(Reply::status(503), 10)).await;
    let deck = deck(server.url());
    get_run(&deck).await.unwrap_err();
    assert_eq!(server.received().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn retries_can_be_disabled() {
    let server = Server::start([Reply::status(503), Reply::json(200, TASK_RUN)]).await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    let err = get_run(&deck).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried() {
    for status in [400, 401, 403, 404, 409, 422] {
        let server = Server::start([Reply::status(status), Reply::json(200, TASK_RUN)]).await;
        let err = get_run(&deck(server.url())).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert!(!err.is_retryable());
        assert_eq!(server.received().len(), 1, "status {status}");
    }
}

#[tokio::test(start_paused = true)]
async fn post_without_idempotency_key_is_not_retried_on_503() {
    let server = Server::start([Reply::status(503), Reply::json(201, "{}")]).await;
    let deck = deck_with(
        server.url(),
        RetryConfig::default().with_auto_idempotency_keys(false),
    );
    let err = deck
        .api()
        .create_task()
        .body(create_body())
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.operation(), Some("createTask"));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].header("idempotency-key"), None);
}

#[tokio::test(start_paused = true)]
async fn post_gets_one_generated_key_reused_by_every_attempt() {
    let server = Server::start([Reply::status(503), Reply::status(502), Reply::status(500)]).await;
    let deck = deck_with(server.url(), RetryConfig::default().with_max_attempts(3));
    deck.api()
        .create_task()
        .body(create_body())
        .call()
        .await
        .unwrap_err();
    let keys: Vec<_> = server
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 3);
    let first = keys[0].clone().expect("a generated key");
    assert_eq!(first.len(), 36);
    assert!(keys.iter().all(|k| k.as_deref() == Some(first.as_str())));

    // The next logical call gets a new key.
    server.script([Reply::status(400)]);
    deck.api()
        .create_task()
        .body(create_body())
        .call()
        .await
        .unwrap_err();
    let next = server.received()[0]
        .header("idempotency-key")
        .map(str::to_owned);
    assert!(next.is_some() && next.as_deref() != Some(first.as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_chosen_key_is_sent_and_makes_the_post_retryable() {
    let server = Server::start([Reply::status(503), Reply::json(400, "{}")]).await;
    let deck = deck_with(
        server.url(),
        RetryConfig::default().with_auto_idempotency_keys(false),
    );
    // The key travels with the request itself (no task-local): a spawned call keeps it.
    tokio::spawn(async move {
        deck.api()
            .create_task()
            .idempotency_key("user_456_create_task_789")
            .body(create_body())
            .call()
            .await
    })
    .await
    .unwrap()
    .unwrap_err();
    let received = server.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!(
            r.header("idempotency-key"),
            Some("user_456_create_task_789")
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_chosen_key_on_a_patch_is_kept_across_retries() {
    let server = Server::start([Reply::status(503), Reply::json(200, "{}")]).await;
    let deck = deck_with(server.url(), RetryConfig::default());
    deck.api()
        .update_task()
        .task_id("task_1")
        .idempotency_key("k-1")
        .body(deck_api_ext::api::types::UpdateTaskRequest::builder())
        .call_as::<serde_json::Value>(CallOptions::new())
        .await
        .unwrap();
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .all(|r| r.header("idempotency-key") == Some("k-1"))
    );
}

#[tokio::test(start_paused = true)]
async fn bad_idempotency_keys_are_refused_before_any_request() {
    let server = Server::start([Reply::json(201, "{}")]).await;
    let deck = deck(server.url());
    for key in [String::new(), "k".repeat(257)] {
        let err = deck
            .api()
            .create_task()
            .idempotency_key(key.as_str())
            .body(create_body())
            .call()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.operation(), Some("createTask"));
        assert!(err.to_string().contains("idempotency_key"), "{err}");
    }
    let long_enough = "k".repeat(256);
    assert!(
        deck.api()
            .create_task()
            .idempotency_key(long_enough.as_str())
            .body(create_body())
            .build_request()
            .is_ok()
    );
    assert!(server.received().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_call_deadline_bounds_every_attempt_and_wait() {
    let server = Server::start([Reply::hang(), Reply::hang(), Reply::hang()]).await;
    let deck = crate::support::builder(server.url())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = deck
        .api()
        .get_task_run()
        .run_id("trun_1")
        .call_with(CallOptions::new().timeout(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.operation(), Some("getTaskRun"));
    assert!(err.to_string().contains("deadline of 3s"), "{err}");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(3) && elapsed < Duration::from_millis(3100));

    // The client-wide default applies when the call sets none.
    let deck = crate::support::builder(server.url())
        .timeout(Duration::from_secs(30))
        .call_timeout(Duration::from_secs(45))
        .build()
        .unwrap();
    server.script([Reply::hang(), Reply::hang(), Reply::hang()]);
    let start = Instant::now();
    let err = deck
        .api()
        .get_task_run()
        .run_id("trun_1")
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        start.elapsed() >= Duration::from_secs(45)
            && start.elapsed() < Duration::from_millis(45_100)
    );
}

#[tokio::test(start_paused = true)]
async fn delete_is_retried_freely() {
    let server = Server::start([
        Reply::status(503),
        Reply::json(200, r#"{"id":"stor_1","object":"storage","deleted":true}"#),
    ])
    .await;
    let deck = deck_with(
        server.url(),
        RetryConfig::default().with_auto_idempotency_keys(false),
    );
    let deleted = deck
        .api()
        .delete_storage_item()
        .storage_id("stor_1")
        .call()
        .await
        .unwrap();
    assert!(deleted.deleted);
    assert_eq!(server.received().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn connection_refused_is_retried_then_reported() {
    let url = refused_url().await;
    let deck = deck(&url);
    let start = Instant::now();
    let err = get_run(&deck).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(err.is_retryable());
    assert_eq!(err.status(), None);
    assert_eq!(err.operation(), Some("getTaskRun"));
    // Four attempts: waits of 0.5 s, 1 s and 2 s (jitter 1.0).
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(3500) && elapsed < Duration::from_millis(3600),
        "{elapsed:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_stalled_response_times_out_per_attempt_and_is_retried() {
    let server = Server::start([Reply::hang(), Reply::json(200, STORAGE_PAGE)]).await;
    let deck = crate::support::builder(server.url())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let start = Instant::now();
    let page = deck
        .api()
        .list_task_run_storage()
        .run_id("trun_1")
        .call()
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(5500) && elapsed < Duration::from_millis(5600),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_without_retries_is_a_timeout_error() {
    let server = Server::start([Reply::hang()]).await;
    let deck = crate::support::builder(server.url())
        .timeout(Duration::from_secs(2))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = get_run(&deck).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_retryable());
    let shown = err.to_string();
    assert!(
        shown.starts_with("getTaskRun: request to http://127.0.0.1:"),
        "{shown}"
    );
    assert!(shown.ends_with("/task-runs/trun_1 timed out"), "{shown}");
}
