//! The run lifecycle in paused time: transitions at their planned instants on the fake's
//! virtual clock (`2025-01-15T09:30:00Z` + tokio time since start), one event per transition,
//! failure, interaction, review, cancel, storage items at completion, sessions, and the demo
//! task end to end.

use crate::support::{Harness, Reply};
use deck_api_ext::fake::{Content, FakeDeck, ItemSeed, RunPlan, TaskSeed, demo};
use deck_api_ext::prelude::*;
use futures_util::TryStreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

async fn start_with(task: TaskSeed) -> Harness {
    let h = Harness::start().await;
    h.fake.add_task(task).unwrap();
    h
}

async fn run_task(h: &Harness, task_id: &str, body: Value) -> Value {
    let reply = h
        .send(
            Method::POST,
            &format!("/tasks/{task_id}/run"),
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

async fn get_run(h: &Harness, run_id: &str) -> Value {
    let reply = h.get(&format!("/task-runs/{run_id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

async fn post(h: &Harness, path: &str, body: Option<Value>) -> Reply {
    h.send(Method::POST, path, body.as_ref(), &[]).await
}

/// `(type, created_at, data.status)` of the events `query` selects, as listed (newest first).
async fn events(h: &Harness, query: &str) -> Vec<(String, String, String)> {
    let reply = h.get(&format!("/events?limit=100&{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["has_more"], false);
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["created_at"].as_str().unwrap().to_owned(),
                e["data"]["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Events of one run, oldest first, as `(type, created_at)`.
async fn run_events(h: &Harness, run_id: &str) -> Vec<(String, String)> {
    let reply = h.get("/events?limit=100").await;
    let mut out: Vec<(String, String)> = reply.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["id"] == run_id || e["data"]["task_run_id"] == run_id)
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["created_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.reverse();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn advance(ms: u64) {
    tokio::time::advance(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn the_default_plan_queues_runs_then_completes_on_the_virtual_clock() {
    let h = start_with(TaskSeed::new("task_bills", "Bills").agent_id("agt_bills")).await;
    let run = run_task(
        &h,
        "task_bills",
        json!({ "credential_id": "cred_1", "source_id": "src_1", "input": { "month": "jan" } }),
    )
    .await;
    let id = run["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("trun_"), "{id}");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["result"], Value::Null);
    assert_eq!(run["created_at"], "2025-01-15T09:30:00.000Z");
    assert_eq!(run["task_id"], "task_bills");
    assert_eq!(run["agent_id"], "agt_bills");
    assert_eq!(run["credential_id"], "cred_1");
    assert_eq!(run["source_id"], "src_1");
    assert!(run["session_id"].as_str().unwrap().starts_with("sess_"));
    assert_eq!(run["runtime_ms"], Value::Null);
    assert!(run.get("input").is_none(), "input only with include=input");

    advance(1_500).await;
    let running = get_run(&h, &id).await;
    assert_eq!(running["status"], "running");
    assert_eq!(running["updated_at"], "2025-01-15T09:30:01.000Z");
    assert_eq!(running["runtime_ms"], 500);

    advance(1_500).await;
    let done = h
        .get(&format!("/task-runs/{id}?include=input"))
        .await
        .json();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["result"], "success");
    assert_eq!(done["runtime_ms"], 2_000);
    assert_eq!(done["input"], json!({ "month": "jan" }));
    assert_eq!(done["updated_at"], "2025-01-15T09:30:03.000Z");

    // One event per transition, at the transition's instant, newest first.
    assert_eq!(
        events(
            &h,
            "type=task_run.queued&type=task_run.running&type=task_run.completed"
        )
        .await,
        [
            (
                "task_run.completed".to_owned(),
                "2025-01-15T09:30:03.000Z".to_owned(),
                "completed".to_owned()
            ),
            (
                "task_run.running".to_owned(),
                "2025-01-15T09:30:01.000Z".to_owned(),
                "running".to_owned()
            ),
            (
                "task_run.queued".to_owned(),
                "2025-01-15T09:30:00.000Z".to_owned(),
                "queued".to_owned()
            ),
        ]
    );
    // The event data is the run summary, never input or output.
    let listed = h.get("/events?type=task_run.completed").await.json();
    let event = &listed["data"][0];
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    let data = event["data"].as_object().unwrap();
    assert_eq!(
        data.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "id",
            "object",
            "status",
            "result",
            "task_id",
            "agent_id",
            "credential_id",
            "source_id",
            "session_id",
            "workflow_id",
            "runtime_ms",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(data["result"], "success");
    assert_eq!(data["runtime_ms"], 2_000);
    // Deck writes the REST view's nulls as "" in events.
    assert_eq!(data["workflow_id"], "");
    assert_eq!(data["credential_id"], "cred_1");
    let queued = h.get("/events?type=task_run.queued").await.json();
    assert_eq!(queued["data"][0]["data"]["result"], "");
    assert_eq!(queued["data"][0]["data"]["runtime_ms"], "");
    let fetched = h
        .get(&format!("/events/{}", event["id"].as_str().unwrap()))
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()["data"], event["data"]);

    // `created_after` / `created_before` are strict.
    let between = events(
        &h,
        "created_after=2025-01-15T09:30:00.000Z&created_before=2025-01-15T09:30:03Z",
    )
    .await;
    assert_eq!(between.len(), 1, "{between:?}");
    assert_eq!(between[0].0, "task_run.running");
}

#[tokio::test(start_paused = true)]
async fn transitions_happen_at_their_planned_instant_whenever_observed() {
    let plan = RunPlan::new()
        .queued_for(Duration::from_millis(1_250))
        .running_for(Duration::from_millis(750));
    let h = start_with(TaskSeed::new("task_t", "T").run_plan(plan)).await;
    advance(10).await;
    let id = run_task(&h, "task_t", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Observed only an hour later.
    advance(3_600_000).await;
    assert_eq!(
        run_events(&h, &id).await,
        pairs(&[
            ("task_run.queued", "2025-01-15T09:30:00.010Z"),
            ("task_run.running", "2025-01-15T09:30:01.260Z"),
            ("task_run.completed", "2025-01-15T09:30:02.010Z"),
        ])
    );
    let run = get_run(&h, &id).await;
    assert_eq!(run["created_at"], "2025-01-15T09:30:00.010Z");
    assert_eq!(run["runtime_ms"], 750);
}

#[tokio::test(start_paused = true)]
async fn a_failing_plan_ends_failed_with_a_task_error() {
    let plan = RunPlan::new().fails(
        "timeout",
        "Task execution exceeded the timeout of 30 minutes.",
    );
    let h = start_with(TaskSeed::new("task_f", "F").run_plan(plan.output(json!({ "x": 1 })))).await;
    let id = run_task(&h, "task_f", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(3_000).await;
    let run = get_run(&h, &id).await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["result"], "failure");
    assert_eq!(run["output"], Value::Null, "a failed run has no output");
    assert_eq!(
        run["errors"],
        json!([{
            "type": "task",
            "code": "timeout",
            "message": "Task execution exceeded the timeout of 30 minutes."
        }])
    );
    assert_eq!(
        run_events(&h, &id).await.last().unwrap(),
        &(
            "task_run.failed".to_owned(),
            "2025-01-15T09:30:03.000Z".to_owned()
        )
    );
}

#[tokio::test(start_paused = true)]
async fn an_interaction_pauses_the_run_until_input_arrives() {
    let question = json!({
        "type": "mfa",
        "message": "Enter the 6-digit code sent to your phone",
        "fields": [{ "name": "code", "type": "string", "label": "Verification code" }]
    });
    let plan = RunPlan::new()
        .asks(question.clone())
        .output(json!({ "ok": true }));
    let h = start_with(TaskSeed::new("task_i", "I").run_plan(plan)).await;
    let id = run_task(&h, "task_i", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/task-runs/{id}/interaction");

    // Not waiting for input yet: 409 with Deck's envelope.
    let early = post(&h, &path, Some(json!({ "input": { "code": "1" } }))).await;
    assert_eq!(early.status, 409, "{}", early.text());
    assert_eq!(early.code(), "task_run_not_awaiting_interaction");

    advance(3_000).await;
    let waiting = get_run(&h, &id).await;
    assert_eq!(waiting["status"], "interaction_required");
    assert_eq!(waiting["interaction"], question);
    // It waits as long as it takes.
    advance(600_000).await;
    assert_eq!(get_run(&h, &id).await["status"], "interaction_required");

    let missing = post(&h, &path, Some(json!({}))).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error().errors[0].field.as_deref(), Some("input"));

    let resumed = post(&h, &path, Some(json!({ "input": { "code": "123456" } }))).await;
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    let resumed = resumed.json();
    assert_eq!(resumed["status"], "running");
    assert_eq!(resumed["interaction"], Value::Null);

    advance(2_000).await;
    let done = get_run(&h, &id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"], json!({ "ok": true }));
    assert_eq!(
        run_events(&h, &id).await,
        pairs(&[
            ("task_run.queued", "2025-01-15T09:30:00.000Z"),
            ("task_run.running", "2025-01-15T09:30:01.000Z"),
            ("task_run.interaction_required", "2025-01-15T09:30:03.000Z"),
            ("task_run.running", "2025-01-15T09:40:03.000Z"),
            ("task_run.completed", "2025-01-15T09:40:05.000Z"),
        ])
    );
    let again = post(&h, &path, Some(json!({ "input": { "code": "1" } }))).await;
    assert_eq!(again.status, 409);
}

#[tokio::test(start_paused = true)]
async fn a_run_needing_review_stays_there() {
    let plan = RunPlan::new()
        .needs_review()
        .items([ItemSeed::new("a", "text/plain", "a")]);
    let h = start_with(TaskSeed::new("task_r", "R").run_plan(plan)).await;
    let id = run_task(&h, "task_r", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(3_000).await;
    assert_eq!(get_run(&h, &id).await["status"], "review_required");
    advance(86_400_000).await;
    let run = get_run(&h, &id).await;
    assert_eq!(run["status"], "review_required");
    assert_eq!(run["result"], Value::Null);
    assert_eq!(
        h.fake.item_ids(&id).unwrap().len(),
        0,
        "no items before completion"
    );
    let types: Vec<String> = run_events(&h, &id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        types,
        [
            "task_run.queued",
            "task_run.running",
            "task_run.review_required"
        ]
    );
    // It can still be canceled.
    assert_eq!(
        post(&h, &format!("/task-runs/{id}/cancel"), None)
            .await
            .status,
        200
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_goes_through_canceling_and_is_refused_once_finished() {
    let plan = RunPlan::new().canceling_for(Duration::from_millis(400));
    let h = start_with(TaskSeed::new("task_c", "C").run_plan(plan)).await;
    let id = run_task(&h, "task_c", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel = format!("/task-runs/{id}/cancel");
    advance(1_500).await;

    let canceling = post(&h, &cancel, None).await;
    assert_eq!(canceling.status, 200, "{}", canceling.text());
    let canceling = canceling.json();
    assert_eq!(canceling["status"], "canceling");
    assert_eq!(canceling["canceled_at"], Value::Null);
    // Again while canceling: nothing changes.
    let again = post(&h, &cancel, None).await.json();
    assert_eq!(again["status"], "canceling");
    assert_eq!(again["updated_at"], canceling["updated_at"]);

    advance(400).await;
    let canceled = get_run(&h, &id).await;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["canceled_at"], "2025-01-15T09:30:01.900Z");
    assert_eq!(canceled["result"], Value::Null);
    // The planned completion never happens.
    advance(10_000).await;
    assert_eq!(get_run(&h, &id).await["status"], "canceled");
    assert_eq!(
        run_events(&h, &id).await,
        pairs(&[
            ("task_run.queued", "2025-01-15T09:30:00.000Z"),
            ("task_run.running", "2025-01-15T09:30:01.000Z"),
            ("task_run.canceling", "2025-01-15T09:30:01.500Z"),
            ("task_run.canceled", "2025-01-15T09:30:01.900Z"),
        ])
    );

    let refused = post(&h, &cancel, None).await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    let error = refused.error();
    assert_eq!(error.errors[0].code, "task_run_not_cancelable");
    assert_eq!(error.errors[0].type_, "request");
    assert!(error.request_id.starts_with("req_"));

    // A completed run cannot be canceled either; an unknown one is a 404.
    let done = run_task(&h, "task_c", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(3_000).await;
    assert_eq!(
        post(&h, &format!("/task-runs/{done}/cancel"), None)
            .await
            .status,
        409
    );
    let unknown = post(&h, "/task-runs/trun_nope/cancel", None).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "task_run_not_found".into())
    );
}

#[tokio::test(start_paused = true)]
async fn storage_items_appear_when_the_run_completes() {
    let plan = RunPlan::new().items([
        ItemSeed::new("jan.pdf", "application/pdf", Content::bytes("%PDF-1.7 jan")),
        ItemSeed::new("feb.pdf", "application/pdf", Content::bytes("%PDF-1.7 feb")),
        ItemSeed::new("scan.png", "image/png", Content::generated(4096, 9)).id("stor_mine"),
    ]);
    let h = start_with(TaskSeed::new("task_s", "S").run_plan(plan)).await;
    let id = run_task(&h, "task_s", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(2_999).await;
    assert!(
        h.list_all(&id).await.is_empty(),
        "nothing before completion"
    );

    advance(1).await;
    let items = h.list_all(&id).await;
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    let stem = id.trim_start_matches("trun_");
    assert_eq!(
        ids,
        [
            format!("stor_{stem}_0001"),
            format!("stor_{stem}_0002"),
            "stor_mine".to_owned()
        ]
    );
    for item in &items {
        assert_eq!(item["created_at"], "2025-01-15T09:30:03.000Z");
        assert_eq!(item["task_run_id"], id.as_str());
    }
    let with_storage = h
        .get(&format!("/task-runs/{id}?include=storage"))
        .await
        .json();
    assert_eq!(with_storage["storage"].as_array().unwrap().len(), 3);
    // The files download.
    let url = h.item_url(ids[0]).await;
    assert_eq!(&h.fetch(&url, &[]).await.body[..], b"%PDF-1.7 jan");

    // One storage.created per item, before task_run.completed.
    assert_eq!(
        run_events(&h, &id).await[2..],
        pairs(&[
            ("storage.created", "2025-01-15T09:30:03.000Z"),
            ("storage.created", "2025-01-15T09:30:03.000Z"),
            ("storage.created", "2025-01-15T09:30:03.000Z"),
            ("task_run.completed", "2025-01-15T09:30:03.000Z"),
        ])
    );
    let created = h.get("/events?type=storage.created&limit=1").await.json();
    assert_eq!(
        created["data"][0]["data"],
        json!({
            "id": "stor_mine",
            "object": "storage_item",
            "file_name": "scan.png",
            "file_type": "image/png",
            "file_size": 4096,
            "purpose": "output",
            "task_run_id": id,
            "created_at": "2025-01-15T09:30:03.000Z"
        })
    );

    // A second run of the same task gets its own item IDs (the explicit one is taken).
    let second = run_task(&h, "task_s", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    advance(3_000).await;
    let second_ids = h.fake.item_ids(&second).unwrap();
    let stem2 = second.trim_start_matches("trun_");
    assert_eq!(second_ids[2], format!("stor_{stem2}_0003"));

    advance(500).await;
    let deleted = h
        .send(Method::DELETE, &format!("/storage/{}", ids[1]), None, &[])
        .await;
    assert_eq!(deleted.status, 200);
    let gone = events(&h, "type=storage.deleted").await;
    assert_eq!(
        gone,
        [(
            "storage.deleted".to_owned(),
            "2025-01-15T09:30:06.500Z".to_owned(),
            String::new()
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn ending_a_session_cancels_its_unfinished_runs() {
    let slow = RunPlan::new().running_for(Duration::from_secs(60));
    let h = start_with(TaskSeed::new("task_slow", "Slow").run_plan(slow)).await;
    let first = run_task(&h, "task_slow", json!({})).await;
    let session = first["session_id"].as_str().unwrap().to_owned();
    let second = run_task(&h, "task_slow", json!({ "session_id": session })).await;
    assert_eq!(second["session_id"], session.as_str());
    // A run in another session is not affected.
    let other = run_task(&h, "task_slow", json!({})).await;
    assert_ne!(other["session_id"], session.as_str());

    let view = h.get(&format!("/sessions/{session}")).await.json();
    assert_eq!(view["status"], "queued");
    assert_eq!(view["object"], "session");
    assert_eq!(view["task_runs"].as_array().unwrap().len(), 2);
    advance(1_000).await;
    assert_eq!(
        h.get(&format!("/sessions/{session}")).await.json()["status"],
        "running"
    );

    let ended = post(&h, &format!("/sessions/{session}/end"), None).await;
    assert_eq!(ended.status, 200, "{}", ended.text());
    assert_eq!(ended.json()["status"], "completing");
    for run in [&first, &second] {
        assert_eq!(
            get_run(&h, run["id"].as_str().unwrap()).await["status"],
            "canceling"
        );
    }
    advance(1_000).await;
    for run in [&first, &second] {
        assert_eq!(
            get_run(&h, run["id"].as_str().unwrap()).await["status"],
            "canceled"
        );
    }
    assert_eq!(
        get_run(&h, other["id"].as_str().unwrap()).await["status"],
        "running"
    );
    let view = h.get(&format!("/sessions/{session}")).await.json();
    assert_eq!(view["status"], "completed");
    assert_eq!(view["runtime_ms"], 1_000);

    // An ended session takes no more runs; ending it again changes nothing.
    let refused = h
        .send(
            Method::POST,
            "/tasks/task_slow/run",
            Some(&json!({ "session_id": session })),
            &[],
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (409, "session_ended".into())
    );
    assert_eq!(
        post(&h, &format!("/sessions/{session}/end"), None)
            .await
            .status,
        200
    );
    let unknown = h
        .send(
            Method::POST,
            "/tasks/task_slow/run",
            Some(&json!({ "session_id": "sess_nope" })),
            &[],
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "session_not_found".into())
    );
    assert_eq!(h.get("/sessions/sess_nope").await.status, 404);
    assert_eq!(post(&h, "/sessions/sess_nope/end", None).await.status, 404);
    let no_task = h
        .send(Method::POST, "/tasks/task_nope/run", Some(&json!({})), &[])
        .await;
    assert_eq!(
        (no_task.status, no_task.code()),
        (404, "task_not_found".into())
    );
}

#[tokio::test(start_paused = true)]
async fn the_demo_task_runs_end_to_end_through_the_client() {
    let fake = FakeDeck::demo().await.unwrap();
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .build()
        .unwrap();
    let agent = deck
        .api()
        .get_agent()
        .agent_id(demo::AGENT)
        .call()
        .await
        .unwrap();
    assert!(agent.tasks.iter().any(|t| t.id == demo::STATEMENTS_TASK));

    let run = deck
        .api()
        .run_task()
        .task_id(demo::STATEMENTS_TASK)
        .body(deck_api_ext::api::types::RunTaskRequest::builder())
        .call()
        .await
        .unwrap();
    assert_eq!(run.agent_id.as_deref(), Some(demo::AGENT));
    tokio::time::advance(Duration::from_secs(3)).await;
    let done = deck
        .api()
        .get_task_run()
        .run_id(&run.id)
        .call()
        .await
        .unwrap();
    assert_eq!(done.result.as_deref(), Some("success"));
    assert_eq!(
        done.output,
        Some(json!({ "bill_count": demo::STATEMENTS_COUNT }))
    );

    let items: Vec<_> = deck
        .list_storage(&run.id)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items.len(), demo::STATEMENTS_COUNT);
    let seeded: Vec<_> = deck
        .list_storage(demo::STATEMENTS_RUN)
        .items()
        .try_collect()
        .await
        .unwrap();
    for (captured, seeded) in items.iter().zip(&seeded) {
        assert_eq!(captured.file_name, seeded.file_name);
        assert_eq!(fake.content(&captured.id), fake.content(&seeded.id));
    }
    let mut file = Vec::new();
    deck.download(&items[0]).to_writer(&mut file).await.unwrap();
    assert!(file.starts_with(b"%PDF-1.7"));
}
