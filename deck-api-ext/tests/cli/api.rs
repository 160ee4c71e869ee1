//! `deck tasks`, `deck runs` and `deck events`: on the demo server (no key) and against a fake
//! started in the test, whose recorded requests show what was sent. Objects are printed as the
//! API sent them; lists follow every page.

use std::time::Duration;

use crate::support::{KEY, Run, deck, fake_builder};
use deck_api_ext::Deck;
use deck_api_ext::fake::{FakeDeck, Origin, RecordedRequest, RunPlan, TaskSeed, demo};
use deck_api_ext::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The run the demo server adds with its history (the first run minted by a fresh fake).
const HISTORY_RUN: &str = "trun_000001";

/// A client of `fake`, for the test to act on it while `deck` runs.
fn client(fake: &FakeDeck) -> Deck {
    Deck::builder()
        .api_key(KEY)
        .base_url(fake.base_url())
        .build()
        .unwrap()
}

/// The API requests `fake` recorded for `method` on paths starting with `path`.
fn requests(fake: &FakeDeck, method: &str, path: &str) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api && r.method == method && r.path.starts_with(path))
        .collect()
}

/// A field of a printed object, as a string.
fn field<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> &'a str {
    object[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key}: {object:?}"))
}

/// The demo notice plus nothing else on stderr.
fn only_the_notice(run: &Run) {
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{run:#?}");
    assert!(
        lines[0].starts_with("deck: DECK_API_KEY is not set"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn demo_events_show_a_finished_run_and_its_files() {
    let run = deck(&["events", "list"]).run().await;
    assert_eq!(run.code, 0, "{run:#?}");
    only_the_notice(&run);
    let events = run.json_lines();
    // Newest first, as the API lists them: the run's transitions around its 45 files.
    let types: Vec<&str> = events.iter().map(|e| field(e, "type")).collect();
    let mut expected = vec!["task_run.completed"];
    expected.extend(["storage.created"; demo::STATEMENTS_COUNT]);
    expected.extend(["task_run.running", "task_run.queued"]);
    assert_eq!(types, expected);
    for event in &events {
        let data = event["data"].as_object().unwrap();
        let run_id = match field(event, "type") {
            "storage.created" => field(data, "task_run_id"),
            _ => field(data, "id"),
        };
        assert_eq!(run_id, HISTORY_RUN, "{event:?}");
        assert_eq!(field(event, "object"), "event");
    }
    let statuses: Vec<&str> = [0, 46, 47]
        .iter()
        .map(|&i| field(events[i]["data"].as_object().unwrap(), "status"))
        .collect();
    assert_eq!(statuses, ["completed", "running", "queued"]);

    // Filters: types (repeated and comma-separated), and a time window.
    let run = deck(&[
        "events",
        "list",
        "--type",
        "task_run.queued,task_run.completed",
        "--type",
        "task_run.failed",
    ])
    .run()
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let types: Vec<String> = run
        .json_lines()
        .iter()
        .map(|e| field(e, "type").to_owned())
        .collect();
    assert_eq!(types, ["task_run.completed", "task_run.queued"]);
    // Created after the queued event and before the run completed: the running event.
    let queued_at = field(&events[47], "created_at").to_owned();
    let completed_at =
        chrono::DateTime::parse_from_rfc3339(field(&events[0], "created_at")).unwrap();
    let before_completion = (completed_at - chrono::TimeDelta::milliseconds(100)).to_rfc3339();
    let run = deck(&[
        "events",
        "list",
        "--since",
        &queued_at,
        "--until",
        &before_completion,
    ])
    .run()
    .await;
    let types: Vec<String> = run
        .json_lines()
        .iter()
        .map(|e| field(e, "type").to_owned())
        .collect();
    assert_eq!(types, ["task_run.running"], "{run:#?}");
}

#[tokio::test]
async fn demo_tasks_and_runs_are_listed_and_shown_as_sent() {
    let reference = crate::support::demo_fake().await;
    let api = client(&reference);
    let tasks = deck(&["tasks", "list", "--limit", "1"]).run().await;
    assert_eq!(tasks.code, 0, "{tasks:#?}");
    only_the_notice(&tasks);
    let ids: Vec<String> = tasks
        .json_lines()
        .iter()
        .map(|t| field(t, "id").to_owned())
        .collect();
    assert_eq!(ids, [demo::TASK, demo::STATEMENTS_TASK], "two pages of one");

    // `get` prints the body as sent: the same text as the API's, but for the request id.
    let got = deck(&["tasks", "get", demo::STATEMENTS_TASK]).run().await;
    assert_eq!(got.code, 0, "{got:#?}");
    let sent = reqwest::Client::new()
        .get(format!(
            "{}/tasks/{}",
            reference.base_url(),
            demo::STATEMENTS_TASK
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let without_request_id = |text: &str| text.split(",\"request_id\"").next().unwrap().to_owned();
    assert_eq!(
        without_request_id(got.stdout.trim_end()),
        without_request_id(&sent)
    );
    assert_eq!(got.stdout.lines().count(), 1);

    // The history run is the one run of the demo task.
    let runs = deck(&[
        "runs",
        "list",
        "--task",
        demo::STATEMENTS_TASK,
        "--status",
        "completed",
    ])
    .run()
    .await;
    assert_eq!(runs.code, 0, "{runs:#?}");
    let listed = runs.json_lines();
    assert_eq!(listed.len(), 1, "{runs:#?}");
    assert_eq!(field(&listed[0], "id"), HISTORY_RUN);
    assert_eq!(field(&listed[0], "result"), "success");
    let every = deck(&["runs", "list", "--limit", "2"]).run().await;
    assert_eq!(every.json_lines().len(), demo::runs().len() + 1);

    let run = deck(&["runs", "get", HISTORY_RUN, "--include", "storage"])
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let shown = &run.json_lines()[0];
    assert_eq!(
        shown["storage"].as_array().unwrap().len(),
        demo::STATEMENTS_COUNT
    );
    assert_eq!(
        shown["output"],
        json!({ "bill_count": demo::STATEMENTS_COUNT })
    );
    let seeded = api
        .api()
        .get_task_run()
        .run_id(demo::FAILED_RUN)
        .call()
        .await
        .unwrap();
    let run = deck(&["runs", "get", demo::FAILED_RUN]).run().await;
    let shown = &run.json_lines()[0];
    assert_eq!(json!(field(shown, "status")), json!(seeded.status));
    assert_eq!(shown["errors"][0]["code"], "source_unavailable");
    assert!(
        shown.get("storage").is_none(),
        "sections only when asked for"
    );
}

#[tokio::test]
async fn tasks_run_sends_the_body_and_key_and_prints_the_new_run() {
    let fake = fake_builder().start().await.unwrap();
    fake.add_task(TaskSeed::new("task_bills", "Bills").run_plan(RunPlan::new()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, r#"{"month": "2025-01", "accounts": [1, 2]}"#).unwrap();
    let run = deck(&[
        "tasks",
        "run",
        "task_bills",
        "--credential",
        "cred_1",
        "--source",
        "src_1",
        "--idempotency-key",
        "nightly-2025-01",
    ])
    .arg(format!("--input=@{}", input.display()))
    .against(&fake)
    .run()
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stderr, "");
    let printed = &run.json_lines()[0];
    assert_eq!(field(printed, "status"), "queued");
    assert_eq!(field(printed, "task_id"), "task_bills");
    let sent = requests(&fake, "POST", "/v2/tasks/task_bills/run");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("idempotency-key"), Some("nightly-2025-01"));
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "credential_id": "cred_1",
            "source_id": "src_1",
            "input": { "month": "2025-01", "accounts": [1, 2] }
        })
    );

    // The same key again: Deck answers with the same run instead of starting another.
    let again = deck(&[
        "tasks",
        "run",
        "task_bills",
        "--credential",
        "cred_1",
        "--source",
        "src_1",
        "--idempotency-key",
        "nightly-2025-01",
    ])
    .arg(format!("--input=@{}", input.display()))
    .against(&fake)
    .run()
    .await;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(field(&again.json_lines()[0], "id"), field(printed, "id"));

    // Inline input, no key: one is generated.
    let inline = deck(&["tasks", "run", "task_bills", "--input", "[1,\"two\"]"])
        .against(&fake)
        .run()
        .await;
    assert_eq!(inline.code, 0, "{inline:#?}");
    let sent = requests(&fake, "POST", "/v2/tasks/task_bills/run");
    let last = sent.last().unwrap();
    assert!(
        last.header("idempotency-key")
            .is_some_and(|k| !k.is_empty())
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&last.body).unwrap(),
        json!({ "input": [1, "two"] })
    );

    let missing = deck(&["tasks", "run", "task_nope"])
        .against(&fake)
        .run()
        .await;
    assert_eq!(missing.code, 1, "{missing:#?}");
    let line = missing.one_line();
    assert!(
        line.starts_with("deck: error: runTask: HTTP 404 Not Found: task_not_found: ")
            && line.contains("(request_id req_"),
        "{line}"
    );
}

#[tokio::test]
async fn runs_answer_resumes_a_run_and_cancel_stops_one() {
    let fake = fake_builder().start().await.unwrap();
    let quick = Duration::from_millis(50);
    fake.add_task(
        TaskSeed::new("task_mfa", "Needs a code").run_plan(
            RunPlan::new()
                .queued_for(quick)
                .running_for(quick)
                .asks(json!({ "type": "mfa", "fields": [{ "name": "code", "type": "string" }] })),
        ),
    )
    .unwrap();
    fake.add_task(
        TaskSeed::new("task_slow", "Slow")
            .run_plan(RunPlan::new().queued_for(Duration::from_secs(600))),
    )
    .unwrap();
    let api = client(&fake);
    let body = deck_api_ext::api::types::RunTaskRequest::builder;
    let run = api
        .api()
        .run_task()
        .task_id("task_mfa")
        .body(body())
        .call()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = api
            .api()
            .get_task_run()
            .run_id(&run.id)
            .call()
            .await
            .unwrap();
        if json!(now.status) == json!("interaction_required") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(quick).await;
    }

    let answered = deck(&["runs", "answer", &run.id, "--input", r#"{"code":"123456"}"#])
        .against(&fake)
        .run()
        .await;
    assert_eq!(answered.code, 0, "{answered:#?}");
    let printed = &answered.json_lines()[0];
    assert_eq!(
        (field(printed, "id"), field(printed, "status")),
        (run.id.as_str(), "running")
    );
    let sent = requests(
        &fake,
        "POST",
        &format!("/v2/task-runs/{}/interaction", run.id),
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&sent[0].body).unwrap(),
        json!({ "input": { "code": "123456" } })
    );
    // Not waiting any more: Deck's 409 in one line.
    let twice = deck(&["runs", "answer", &run.id, "--input", "{}"])
        .against(&fake)
        .run()
        .await;
    assert_eq!(twice.code, 1, "{twice:#?}");
    assert!(
        twice
            .one_line()
            .contains("HTTP 409 Conflict: task_run_not_awaiting_interaction"),
        "{twice:#?}"
    );

    let slow = api
        .api()
        .run_task()
        .task_id("task_slow")
        .body(body())
        .call()
        .await
        .unwrap();
    let canceled = deck(&["runs", "cancel", &slow.id])
        .against(&fake)
        .run()
        .await;
    assert_eq!(canceled.code, 0, "{canceled:#?}");
    let printed = &canceled.json_lines()[0];
    assert_eq!(
        (field(printed, "id"), field(printed, "status")),
        (slow.id.as_str(), "canceling")
    );
    assert_eq!(requests(&fake, "POST", "/v2/task-runs/").len(), 3);
}

#[tokio::test]
async fn runs_list_sends_every_filter_with_every_page() {
    let fake = fake_builder().start().await.unwrap();
    let run = deck(&[
        "runs",
        "list",
        "--status",
        "queued,running",
        "--status",
        "interaction_required",
        "--outcome",
        "failure",
        "--task",
        "task_1",
        "--agent",
        "agt_1",
        "--credential",
        "cred_1",
        "--source",
        "src_1,src_2",
        "--workflow",
        "wflo_1",
        "--since",
        "2025-01-15",
        "--until",
        "2025-01-16T10:00:00+01:00",
        "--limit",
        "5",
    ])
    .against(&fake)
    .run()
    .await;
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:#?}");
    let sent = requests(&fake, "GET", "/v2/task-runs");
    assert_eq!(sent.len(), 1);
    let query = sent[0].query.clone().unwrap();
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    insta::assert_snapshot!(pairs.join("\n"), @r"
    agent_id=agt_1
    created_after=2025-01-15T00%3A00%3A00Z
    created_before=2025-01-16T09%3A00%3A00Z
    credential_id=cred_1
    limit=5
    outcome=failure
    source_id=src_1
    source_id=src_2
    status=interaction_required
    status=queued
    status=running
    task_id=task_1
    workflow_id=wflo_1
    ");
}

/// Reads the next line of `deck`'s stdout as a JSON object, within a few seconds.
async fn next_event(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> serde_json::Map<String, Value> {
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
        .await
        .expect("an event within 15 s")
        .unwrap()
        .expect("deck is still running");
    match serde_json::from_str(&line) {
        Ok(Value::Object(map)) => map,
        other => panic!("not an object: {line:?} {other:?}"),
    }
}

#[cfg(unix)]
#[tokio::test]
async fn events_tail_prints_the_latest_then_each_new_event_once_until_interrupted() {
    let fake = fake_builder().start().await.unwrap();
    let quick = Duration::from_millis(50);
    fake.add_task(
        TaskSeed::new("task_quick", "Quick")
            .run_plan(RunPlan::new().queued_for(quick).running_for(quick)),
    )
    .unwrap();
    let api = client(&fake);
    let start = || {
        let body = deck_api_ext::api::types::RunTaskRequest::builder();
        api.api().run_task().task_id("task_quick").body(body).call()
    };
    let first = start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut child = deck(&["events", "tail", "-n", "2", "--interval", "1s"])
        .against(&fake)
        .spawn();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The last two events, oldest first.
    for expected in ["task_run.running", "task_run.completed"] {
        let event = next_event(&mut lines).await;
        assert_eq!(field(&event, "type"), expected);
        assert_eq!(field(event["data"].as_object().unwrap(), "id"), first.id);
    }
    // A new run: each of its events once, in order, while earlier ones stay printed once.
    let second = start().await.unwrap();
    for expected in ["task_run.queued", "task_run.running", "task_run.completed"] {
        let event = next_event(&mut lines).await;
        assert_eq!(field(&event, "type"), expected, "{event:?}");
        assert_eq!(field(event["data"].as_object().unwrap(), "id"), second.id);
    }
    // A few more rounds re-read the overlap: nothing is printed twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let pid = child.id().expect("deck is running") as libc::pid_t;
    // SAFETY: `kill` only sends a signal to the child this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(130));
    let rest = lines.next_line().await.unwrap();
    assert_eq!(rest, None, "nothing after the new run's events");
    let rounds = requests(&fake, "GET", "/v2/events");
    assert!(rounds.len() >= 4, "{rounds:#?}");
    let later = rounds[1].query.clone().unwrap_or_default();
    assert!(later.contains("created_after="), "{later}");
}

#[tokio::test]
async fn events_tail_since_starts_at_that_time() {
    let mut child = deck(&[
        "events",
        "tail",
        "--since",
        "2025-01-15T09:20:00.999Z",
        "--type",
        "task_run.completed,task_run.queued",
    ])
    .spawn();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let event = next_event(&mut lines).await;
    assert_eq!(field(&event, "type"), "task_run.completed");
    child.kill().await.unwrap();
    assert_eq!(
        lines.next_line().await.unwrap(),
        None,
        "queued is before --since"
    );
}
