//! Resource behaviour beyond the shapes `spec.rs` checks: the events resource changes emit,
//! PATCH semantics (absent keeps, `null` clears a nullable field), idempotency keys and faults
//! on the new routes.

use crate::support::Harness;
use deck_api_ext::RetryConfig;
use deck_api_ext::fake::{Fault, Route, TaskSeed};
use deck_api_ext::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// `(type, data.id)` of every event, oldest first.
async fn all_events(h: &Harness) -> Vec<(String, String)> {
    let body = h.get("/events?limit=100").await.json();
    let mut out: Vec<(String, String)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.reverse();
    out
}

async fn send(h: &Harness, method: Method, path: &str, body: Option<Value>) -> Value {
    let reply = h.send(method, path, body.as_ref(), &[]).await;
    assert!(reply.status < 300, "{path}: {}", reply.text());
    reply.json()
}

#[tokio::test]
async fn resource_changes_emit_events() {
    let h = Harness::start().await;
    let agent = send(&h, Method::POST, "/agents", Some(json!({ "name": "A" }))).await;
    let agent = agent["id"].as_str().unwrap().to_owned();
    send(
        &h,
        Method::PATCH,
        &format!("/agents/{agent}"),
        Some(json!({ "name": "B" })),
    )
    .await;
    let source = send(
        &h,
        Method::POST,
        "/sources",
        Some(json!({ "type": "website", "website": { "url": "https://s" } })),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let credential = send(
        &h,
        Method::POST,
        "/credentials",
        Some(json!({ "source_id": source })),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let task = send(
        &h,
        Method::POST,
        "/tasks",
        Some(json!({ "name": "T", "agent_id": agent })),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(&h, Method::POST, &format!("/tasks/{task}/reset"), None).await;
    send(
        &h,
        Method::PATCH,
        &format!("/tasks/{task}"),
        Some(json!({ "prompt": "p" })),
    )
    .await;
    let destination = send(
        &h,
        Method::POST,
        "/event-destinations",
        Some(json!({ "name": "D", "webhook": { "url": "https://h" } })),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        &h,
        Method::PATCH,
        &format!("/event-destinations/{destination}"),
        Some(json!({ "name": "E" })),
    )
    .await;
    for path in [
        format!("/credentials/{credential}"),
        format!("/tasks/{task}"),
        format!("/sources/{source}"),
        format!("/agents/{agent}"),
        format!("/event-destinations/{destination}"),
    ] {
        send(&h, Method::DELETE, &path, None).await;
    }
    // Deleting a deleted credential again changes nothing (and emits nothing).
    send(
        &h,
        Method::DELETE,
        &format!("/credentials/{credential}"),
        None,
    )
    .await;

    let expected: Vec<(String, String)> = [
        ("agent.created", &agent),
        ("agent.updated", &agent),
        ("source.created", &source),
        ("credential.created", &credential),
        ("task.created", &task),
        ("task.reset", &task),
        ("task.updated", &task),
        ("event_destination.created", &destination),
        ("event_destination.updated", &destination),
        ("credential.deleted", &credential),
        ("task.deleted", &task),
        ("source.deleted", &source),
        ("agent.deleted", &agent),
        ("event_destination.deleted", &destination),
    ]
    .iter()
    .map(|(t, id)| ((*t).to_owned(), (*id).clone()))
    .collect();
    assert_eq!(all_events(&h).await, expected);

    // An event's data is the resource as it was; `updated_at` moves forward.
    let updated = h.get("/events?type=agent.updated").await.json();
    let data = &updated["data"][0]["data"];
    assert_eq!(data["name"], "B");
    assert!(data["updated_at"].as_str().unwrap() > data["created_at"].as_str().unwrap());
}

#[tokio::test]
async fn patch_keeps_absent_fields_and_clears_nullable_ones_sent_as_null() {
    let h = Harness::start().await;
    h.fake
        .add_task(
            TaskSeed::new("task_p", "Named")
                .prompt("Do it")
                .input_schema(json!({ "type": "object" })),
        )
        .unwrap();
    let path = "/tasks/task_p";
    let kept = send(&h, Method::PATCH, path, Some(json!({}))).await;
    assert_eq!(kept["prompt"], "Do it");
    // `null` clears nullable fields and leaves non-nullable ones.
    let cleared = send(
        &h,
        Method::PATCH,
        path,
        Some(json!({ "prompt": null, "input_schema": null, "name": null, "extraction": null })),
    )
    .await;
    assert_eq!(cleared["prompt"], Value::Null);
    assert_eq!(cleared["input_schema"], Value::Null);
    assert_eq!(cleared["name"], "Named");
    assert_eq!(cleared["extraction"], false);
    let settings = send(
        &h,
        Method::PATCH,
        path,
        Some(json!({ "settings": { "timeout_seconds": 60 } })),
    )
    .await;
    assert_eq!(settings["settings"], json!({ "timeout_seconds": 60 }));
    let empty = h
        .send(Method::PATCH, path, Some(&json!({ "name": " " })), &[])
        .await;
    assert_eq!(empty.status, 400);
}

#[tokio::test]
async fn a_retried_run_with_the_same_idempotency_key_creates_one_run() {
    let h = Harness::start().await;
    h.fake.add_task(TaskSeed::new("task_once", "Once")).unwrap();
    let key = [("Idempotency-Key", "run-once-1")];
    let body = json!({ "input": { "n": 1 } });
    let first = h
        .send(Method::POST, "/tasks/task_once/run", Some(&body), &key)
        .await;
    let again = h
        .send(Method::POST, "/tasks/task_once/run", Some(&body), &key)
        .await;
    assert_eq!(first.status, 201);
    assert_eq!(first.body, again.body, "the first response, replayed");
    let runs = h.get("/task-runs").await.json();
    assert_eq!(runs["data"].as_array().unwrap().len(), 1);
    let other = h
        .send(
            Method::POST,
            "/tasks/task_once/run",
            Some(&json!({ "input": { "n": 2 } })),
            &key,
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (409, "idempotency_error".into())
    );
}

#[tokio::test]
async fn faults_apply_to_the_new_routes() {
    let h = Harness::start().await;
    for i in 0..3 {
        send(
            &h,
            Method::POST,
            "/agents",
            Some(json!({ "name": format!("a{i}") })),
        )
        .await;
    }
    let deck = Deck::builder()
        .api_key(h.fake.api_key())
        .base_url(h.fake.base_url())
        .retry(RetryConfig::default().with_initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();

    // A repeated cursor on the events list: the paginator stops with an error, not a loop.
    let repeat = h.fake.inject(Route::ListEvents, Fault::RepeatCursor, 5);
    let err = deck
        .api()
        .list_events()
        .limit(1)
        .paginate()
        .try_collect_all()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("listEvents"), "{err}");
    assert!(repeat.hits() >= 2);

    // A 503 on runTask is retried (the client sends an idempotency key).
    h.fake.add_task(TaskSeed::new("task_r", "R")).unwrap();
    let outage = h.fake.inject(Route::RunTask, Fault::status(503), 1);
    let run = deck
        .api()
        .run_task()
        .task_id("task_r")
        .body(deck_api_ext::api::types::RunTaskRequest::builder())
        .call()
        .await
        .unwrap();
    assert_eq!(outage.hits(), 1);
    assert_eq!(run.task_id.as_deref(), Some("task_r"));
    assert_eq!(h.fake.fault_hits(Route::RunTask), 1);
}
