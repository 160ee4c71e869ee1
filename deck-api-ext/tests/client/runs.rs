//! Starting runs and waiting for them, in paused tokio time: `run_task` (idempotent through the
//! generated builder), the single-run wait (backoff, outcomes, deadline, failures) against a
//! scripted server, and the many-run watch (one feed, overlap, de-duplication, sweep,
//! fallback, deadlines, cancellation) against a model of Deck's runs and events.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use deck_api_ext::prelude::*;
use deck_api_ext::run_wait::RunOutcome;
use deck_api_ext::run_watch::WatchMode;
use deck_api_ext::{RetryConfig, RunPhase};
use serde_json::json;
use tokio::time::Instant;

use crate::run_model::Model;
use crate::support::{Reply, Server, deck, deck_with};

fn run_body(id: &str, status: &str) -> String {
    json!({
        "id": id,
        "object": "task_run",
        "status": status,
        "result": null,
        "created_at": "2026-01-02T03:04:05Z",
        "request_id": "req_run",
    })
    .to_string()
}

fn run_reply(status: &str) -> Reply {
    Reply::json(200, &run_body("trun_1", status))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---- run_task ----

#[tokio::test(start_paused = true)]
async fn run_task_posts_the_body_once_per_call_with_one_idempotency_key_across_retries() {
    let server = Server::start([
        Reply::json(
            503,
            r#"{"errors":[{"type":"api","code":"unavailable","message":"busy"}]}"#,
        ),
        Reply::json(201, &run_body("trun_new", "queued")),
    ])
    .await;
    let deck = deck(server.url());
    let run = deck
        .run_task("task_1")
        .body_map(|b| {
            b.credential_id("cred_1".to_owned())
                .input(json!({"month": "2025-01"}))
                .session_id("sess_1".to_owned())
        })
        .call()
        .await
        .unwrap();
    assert_eq!(run.id, "trun_new");
    assert!(run.status.phase() == RunPhase::Active);
    let received = server.received();
    assert_eq!(received.len(), 2, "the 503 was retried once");
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/tasks/task_1/run");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"credential_id": "cred_1", "input": {"month": "2025-01"}, "session_id": "sess_1"})
        );
    }
    let keys: Vec<_> = received
        .iter()
        .map(|r| {
            r.header("idempotency-key")
                .expect("a generated key")
                .to_owned()
        })
        .collect();
    assert_eq!(keys[0], keys[1], "the retry reuses the call's key");

    // A second logical call gets a new key; a key of one's own is sent as given.
    server.script([
        Reply::json(201, &run_body("trun_2", "queued")),
        Reply::json(201, &run_body("trun_3", "queued")),
    ]);
    deck.run_task("task_1").call().await.unwrap();
    deck.run_task("task_1")
        .idempotency_key("order_42_run")
        .call()
        .await
        .unwrap();
    let received = server.received();
    assert_ne!(received[0].header("idempotency-key").unwrap(), keys[0]);
    assert_eq!(received[0].body, b"{}", "no body fields unless set");
    assert_eq!(received[1].header("idempotency-key"), Some("order_42_run"));
}

#[tokio::test(start_paused = true)]
async fn run_task_refuses_an_empty_task_id_before_sending() {
    let server = Server::start([]).await;
    let error = deck(server.url()).run_task("").call().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.operation(), Some("runTask"));
    assert!(server.received().is_empty());
}

// ---- one run ----

#[tokio::test(start_paused = true)]
async fn wait_polls_with_backoff_until_a_terminal_status() {
    let server = Server::start([
        run_reply("queued"),
        run_reply("running"),
        run_reply("canceling"),
        run_reply("cancelling"),
        run_reply("canceled"),
    ])
    .await;
    let deck = deck(server.url());
    let start = Instant::now();
    let outcome = deck
        .wait_for_run("trun_1")
        .poll_interval(secs(1), secs(3))
        .with_jitter(|| 1.0)
        .await
        .unwrap();
    // Waits 1 + 2 + 3 + 3 s: the ceiling doubles up to the cap.
    let elapsed = start.elapsed();
    assert!(elapsed >= secs(9) && elapsed < secs(10), "{elapsed:?}");
    assert!(outcome.is_finished());
    assert_eq!(outcome.run_id(), "trun_1");
    assert!(outcome.run().status.is_terminal());
    let received = server.received();
    assert_eq!(received.len(), 5);
    assert!(received.iter().all(|r| r.target == "/task-runs/trun_1"));
}

#[tokio::test(start_paused = true)]
async fn on_poll_sees_every_fetched_run_the_last_included() {
    let server = Server::start([
        run_reply("queued"),
        run_reply("running"),
        run_reply("running"),
        run_reply("completed"),
    ])
    .await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let outcome = deck(server.url())
        .wait_for_run("trun_1")
        .on_poll(move |run| record.lock().unwrap().push(run.status.name().into_owned()))
        .await
        .unwrap();
    assert!(outcome.is_finished());
    assert_eq!(
        *seen.lock().unwrap(),
        ["queued", "running", "running", "completed"]
    );
}

#[tokio::test(start_paused = true)]
async fn wait_waits_at_least_half_the_ceiling() {
    let server = Server::start([run_reply("running"), run_reply("completed")]).await;
    let start = Instant::now();
    deck(server.url())
        .wait_for_run("trun_1")
        .poll_interval(secs(4), secs(4))
        .with_jitter(|| 0.0)
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed >= secs(2) && elapsed < secs(3), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn interaction_and_review_end_the_wait_as_distinct_outcomes() {
    let mut asking: serde_json::Value =
        serde_json::from_str(&run_body("trun_1", "interaction_required")).unwrap();
    asking["interaction"] = json!({"type": "mfa", "fields": [{"name": "code"}]});
    let server = Server::start([
        run_reply("running"),
        Reply::json(200, &asking.to_string()),
        run_reply("review_required"),
    ])
    .await;
    let deck = deck(server.url());
    match deck.wait_for_run("trun_1").await.unwrap() {
        RunOutcome::NeedsInput(run) => {
            assert_eq!(run.interaction.unwrap()["fields"][0]["name"], "code");
        }
        other => panic!("expected NeedsInput, got {other:?}"),
    }
    let outcome = deck.wait_for_run("trun_1").await.unwrap();
    assert!(matches!(outcome, RunOutcome::NeedsReview(_)), "{outcome:?}");
    assert!(!outcome.is_finished());
}

#[tokio::test(start_paused = true)]
async fn an_unknown_status_keeps_waiting_and_the_deadline_names_run_and_status() {
    let server = Server::start(
        std::iter::once(run_reply("queued"))
            .chain(std::iter::repeat_n(run_reply("paused_by_owner"), 30)),
    )
    .await;
    let start = Instant::now();
    let error = deck(server.url())
        .wait_for_run("trun_1")
        .timeout(secs(20))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(elapsed >= secs(20) && elapsed < secs(21), "{elapsed:?}");
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.run_id(), Some("trun_1"));
    assert_eq!(error.operation(), Some("getTaskRun"));
    let text = error.to_string();
    assert!(text.starts_with("getTaskRun: run trun_1: "), "{text}");
    assert!(text.contains("last status \"paused_by_owner\""), "{text}");
    assert!(text.contains("20s"), "{text}");
    // Polls every 0.5–5 s over 20 s: bounded, never a busy loop.
    let polls = server.received().len();
    assert!((4..=40).contains(&polls), "{polls}");
}

#[tokio::test(start_paused = true)]
async fn a_run_that_does_not_exist_ends_the_wait_at_once() {
    let server = Server::start([Reply::json(
        404,
        r#"{"errors":[{"type":"request","code":"task_run_not_found","message":"No task run."}],"request_id":"req_404"}"#,
    )])
    .await;
    let error = deck(server.url())
        .wait_for_run("trun_gone")
        .await
        .unwrap_err();
    assert!(error.is_not_found());
    assert_eq!(error.run_id(), Some("trun_gone"));
    assert!(
        error
            .to_string()
            .starts_with("getTaskRun: run trun_gone: HTTP 404"),
        "{error}"
    );
    assert_eq!(server.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retryable_poll_failures_are_tolerated_until_the_deadline_which_quotes_them() {
    let unavailable = || {
        Reply::json(
            503,
            r#"{"errors":[{"type":"api","code":"unavailable","message":"busy"}]}"#,
        )
    };
    let server = Server::start([unavailable(), run_reply("completed")]).await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    let outcome = deck.wait_for_run("trun_1").await.unwrap();
    assert!(outcome.is_finished());
    assert_eq!(server.received().len(), 2);

    server.script(std::iter::repeat_n(unavailable(), 40));
    let error = deck
        .wait_for_run("trun_1")
        .timeout(secs(15))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    let text = error.to_string();
    assert!(text.contains("no status received yet"), "{text}");
    assert!(text.contains("the last poll failed"), "{text}");
    let source = std::error::Error::source(&error).expect("the last failure");
    assert!(source.to_string().contains("HTTP 503"), "{source}");
}

#[tokio::test(start_paused = true)]
async fn include_storage_asks_for_the_items_and_converts_them() {
    let mut done: serde_json::Value =
        serde_json::from_str(&run_body("trun_1", "completed")).unwrap();
    done["storage"] = json!([{
        "id": "stor_1", "object": "storage", "file_name": "jan.pdf", "file_type": "application/pdf",
        "file_size": "2048", "created_at": "2026-01-02T03:05:00Z", "extraction": {"total": 12.5}
    }]);
    let server = Server::start([Reply::json(200, &done.to_string())]).await;
    let outcome = deck(server.url())
        .wait_for_run("trun_1")
        .include_storage()
        .await
        .unwrap();
    assert_eq!(
        server.received()[0].target,
        "/task-runs/trun_1?include=storage"
    );
    let items = outcome.storage_items().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].file_size, 2048);
    assert_eq!(items[0].file_name, "jan.pdf");
}

#[tokio::test(start_paused = true)]
async fn an_answer_about_another_run_is_refused() {
    let server = Server::start([Reply::json(200, &run_body("trun_other", "completed"))]).await;
    let error = deck(server.url()).wait_for_run("trun_1").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(error.json_path(), Some("id"));
    assert_eq!(error.run_id(), Some("trun_1"));
    assert!(error.to_string().contains("trun_other"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn dropping_a_wait_stops_polling() {
    let server = Server::start(std::iter::repeat_n(run_reply("running"), 50)).await;
    let deck = deck(server.url());
    let wait = deck.wait_for_run("trun_1").poll_interval(secs(1), secs(1));
    assert!(tokio::time::timeout(secs(5), wait).await.is_err());
    let sent = server.received().len();
    tokio::time::sleep(secs(30)).await;
    assert_eq!(server.received().len(), sent, "nothing after the drop");
    assert!((4..=11).contains(&sent), "{sent}");
}

// ---- many runs ----

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Collects every outcome with the tokio instant it arrived.
async fn collect(
    watch: &mut deck_api_ext::RunWatch,
) -> Vec<(Instant, deck_api_ext::Result<RunOutcome>)> {
    let mut out = Vec::new();
    while let Some(outcome) = watch.next().await {
        out.push((Instant::now(), outcome));
    }
    out
}

fn fetch_runs(model: &Model, ids: &[&str]) -> Vec<deck_api_ext::api::types::GetTaskRunResponse> {
    ids.iter()
        .map(|id| serde_json::from_value(model.run_json(id)).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_watch_reads_one_feed_and_confirms_each_finish_once_within_an_interval() {
    let model = Model::start().await;
    let steps: Vec<(&str, Vec<(Duration, &str)>)> = vec![
        ("trun_a", vec![(ms(500), "running"), (secs(3), "completed")]),
        ("trun_b", vec![(ms(700), "running"), (secs(9), "failed")]),
        (
            "trun_c",
            vec![
                (secs(1), "running"),
                (secs(2), "canceling"),
                (secs(1), "canceled"),
            ],
        ),
        (
            "trun_d",
            vec![(secs(1), "running"), (secs(6), "interaction_required")],
        ),
        (
            "trun_e",
            vec![(secs(2), "running"), (secs(13), "review_required")],
        ),
        (
            "trun_f",
            vec![(secs(1), "running"), (ms(17_300), "completed")],
        ),
    ];
    let mut finish_at = HashMap::new();
    for (id, run_steps) in &steps {
        model.add_run(id, run_steps);
        let total: Duration = run_steps.iter().map(|(d, _)| *d).sum();
        finish_at.insert(id.to_string(), model.started() + total);
    }
    let ids: Vec<&str> = steps.iter().map(|(id, _)| *id).collect();
    let runs = fetch_runs(&model, &ids);
    let deck = deck(model.url());
    let mut watch = deck
        .watch_runs()
        .interval(secs(2))
        .sweep_interval(Duration::MAX)
        .with_runs(&runs);
    let outcomes = collect(&mut watch).await;
    assert_eq!(outcomes.len(), 6);
    let mut kinds = HashMap::new();
    for (at, outcome) in &outcomes {
        let outcome = outcome.as_ref().unwrap();
        let id = outcome.run_id().to_owned();
        let finished = finish_at[&id];
        assert!(*at >= finished, "{id} reported before it finished");
        assert!(
            *at - finished <= secs(2),
            "{id} seen {:?} after finishing: more than one interval",
            *at - finished
        );
        kinds.insert(id, outcome.run().status.phase());
    }
    assert_eq!(kinds["trun_c"], RunPhase::Terminal);
    assert_eq!(kinds["trun_d"], RunPhase::NeedsInput);
    assert_eq!(kinds["trun_e"], RunPhase::NeedsReview);
    // One getTaskRun per run; the feed once per round over ~19 s.
    assert_eq!(model.count("/task-runs/"), 6, "one confirmation per run");
    let feed = model.count("/events");
    assert!((9..=12).contains(&feed), "{feed} feed requests");
    for request in model
        .requests()
        .iter()
        .filter(|r| r.target.starts_with("/events"))
    {
        for wanted in [
            "type=task_run.completed",
            "type=task_run.failed",
            "type=task_run.canceled",
            "type=task_run.interaction_required",
            "type=task_run.review_required",
            "limit=100",
            "created_after=",
        ] {
            assert!(
                request.target.contains(wanted),
                "{} lacks {wanted}",
                request.target
            );
        }
        assert!(
            !request.target.contains("cursor="),
            "one page per round here"
        );
    }
    assert!(watch.is_empty());
    assert_eq!(watch.mode(), WatchMode::Events);
}

#[tokio::test(start_paused = true)]
async fn the_feed_costs_the_same_for_ten_runs_as_for_one_hundred() {
    async fn feed_requests(n: usize) -> (usize, usize) {
        let model = Model::start().await;
        let mut ids = Vec::new();
        for i in 0..n {
            let id = format!("trun_{i:03}");
            // Finishing spread over 20 s.
            let after = ms(500 + (i as u64 * 19_500) / n as u64);
            model.add_run(&id, &[(ms(200), "running"), (after, "completed")]);
            ids.push(id);
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let runs = fetch_runs(&model, &ids);
        let deck = crate::support::builder(model.url())
            .rate_limit(deck_api_ext::RateLimit::off())
            .build()
            .unwrap();
        let mut watch = deck
            .watch_runs()
            .sweep_interval(Duration::MAX)
            .with_runs(&runs);
        let outcomes = collect(&mut watch).await;
        assert_eq!(outcomes.len(), n);
        assert!(
            outcomes
                .iter()
                .all(|(_, o)| o.as_ref().unwrap().is_finished())
        );
        (model.count("/events"), model.count("/task-runs/"))
    }
    let (feed_10, confirms_10) = feed_requests(10).await;
    let (feed_100, confirms_100) = feed_requests(100).await;
    assert_eq!((confirms_10, confirms_100), (10, 100));
    assert!(
        feed_100 <= feed_10 + 1,
        "{feed_10} vs {feed_100}: the feed must not grow with N"
    );
}

#[tokio::test(start_paused = true)]
async fn events_that_show_up_late_are_caught_within_the_overlap_and_missed_without_it() {
    async fn watch_with_overlap(overlap: Duration) -> Vec<deck_api_ext::Result<RunOutcome>> {
        let model = Model::start().await;
        // trun_late finishes at 5 s, but its events show up 8 s late; trun_early's finish at
        // 7 s moves the low-water mark past 5 s first.
        model.add_run_with(
            "trun_late",
            &[(secs(1), "running"), (secs(4), "completed")],
            secs(8),
            vec![],
        );
        model.add_run(
            "trun_early",
            &[(secs(1), "running"), (secs(6), "completed")],
        );
        let runs = fetch_runs(&model, &["trun_late", "trun_early"]);
        let deck = deck(model.url());
        let mut watch = deck
            .watch_runs()
            .interval(secs(2))
            .overlap(overlap)
            .sweep_interval(Duration::MAX)
            .timeout(secs(40))
            .with_runs(&runs);
        collect(&mut watch)
            .await
            .into_iter()
            .map(|(_, o)| o)
            .collect()
    }
    let caught = watch_with_overlap(secs(30)).await;
    assert_eq!(caught.len(), 2);
    assert!(
        caught
            .iter()
            .all(|o| o.as_ref().is_ok_and(|o| o.is_finished()))
    );

    let missed = watch_with_overlap(ms(500)).await;
    let late = missed
        .iter()
        .find(|o| o.as_ref().err().and_then(|e| e.run_id()) == Some("trun_late"))
        .expect("without the overlap the late event is never read");
    let error = late.as_ref().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    // The feed carries no progress events: the last status seen is the one the run was added with.
    assert!(
        error.to_string().contains("last status \"queued\""),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn re_read_events_are_not_confirmed_twice() {
    let model = Model::start().await;
    // Asks for input at 3 s, is answered elsewhere at 4 s, completes at 20 s.
    model.add_run(
        "trun_x",
        &[
            (secs(1), "running"),
            (secs(2), "interaction_required"),
            (secs(1), "running"),
            (secs(16), "completed"),
        ],
    );
    let runs = fetch_runs(&model, &["trun_x"]);
    let deck = deck(model.url());
    let mut watch = deck
        .watch_runs()
        .interval(secs(2))
        .sweep_interval(Duration::MAX)
        .with_runs(&runs);
    // The round at 4 s reads the interaction event, the confirmation says `running` again.
    let outcome = watch.next().await.unwrap().unwrap();
    assert!(outcome.is_finished());
    // One confirmation for the interaction event (re-read by every later round within the
    // 30 s overlap), one for the completion.
    assert_eq!(model.count("/task-runs/"), 2);
    assert!(watch.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_finish_whose_event_never_shows_up_is_found_by_the_sweep() {
    let model = Model::start().await;
    let lost = Duration::from_secs(365 * 24 * 3600);
    model.add_run_with(
        "trun_lost",
        &[(secs(1), "running"), (secs(3), "completed")],
        lost,
        vec![],
    );
    model.add_run(
        "trun_seen",
        &[(secs(1), "running"), (secs(50), "completed")],
    );
    let runs = fetch_runs(&model, &["trun_lost", "trun_seen"]);
    let deck = deck(model.url());
    let start = Instant::now();
    let mut watch = deck
        .watch_runs()
        .interval(secs(2))
        .sweep_interval(secs(10))
        .with_runs(&runs);
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.run_id(), "trun_lost");
    let found_after = start.elapsed();
    // Sweeps at 10 s (stalest first: never-checked runs, by id), then at 20 s.
    assert!(found_after <= secs(22), "{found_after:?}");
    let second = watch.next().await.unwrap().unwrap();
    assert_eq!(second.run_id(), "trun_seen");
}

#[tokio::test(start_paused = true)]
async fn without_the_feed_the_watch_polls_each_run() {
    let model = Model::start().await;
    model.fail_events(404);
    model.add_run("trun_1", &[(secs(1), "running"), (secs(5), "completed")]);
    model.add_run("trun_2", &[(secs(1), "running"), (secs(9), "failed")]);
    let runs = fetch_runs(&model, &["trun_1", "trun_2"]);
    let deck = deck(model.url());
    let mut watch = deck.watch_runs().interval(secs(2)).with_runs(&runs);
    let outcomes = collect(&mut watch).await;
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| o.as_ref().unwrap().is_finished())
    );
    assert_eq!(watch.mode(), WatchMode::Polling);
    assert_eq!(
        model.count("/events"),
        1,
        "one failed feed request, then polling"
    );
    let polls = model.count("/task-runs/");
    // Both runs every 2 s until 6 s, trun_2 until 10 s.
    assert!((7..=10).contains(&polls), "{polls}");

    // Chosen up front: no feed request at all.
    let model = Model::start().await;
    model.add_run("trun_3", &[(secs(1), "completed")]);
    let runs = fetch_runs(&model, &["trun_3"]);
    let mut watch = crate::support::deck(model.url())
        .watch_runs()
        .per_run_polling()
        .with_runs(&runs);
    assert!(watch.next().await.unwrap().unwrap().is_finished());
    assert_eq!(model.count("/events"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_retryable_feed_failure_only_delays_the_next_round() {
    let model = Model::start().await;
    model.fail_events(503);
    model.add_run("trun_1", &[(secs(1), "running"), (secs(3), "completed")]);
    let runs = fetch_runs(&model, &["trun_1"]);
    let deck = deck_with(model.url(), RetryConfig::disabled());
    let mut watch = deck
        .watch_runs()
        .interval(secs(2))
        .with_jitter(|| 1.0)
        .with_runs(&runs);
    let pending = tokio::time::timeout(secs(7), watch.next()).await;
    assert!(pending.is_err(), "nothing is known while the feed fails");
    assert_eq!(watch.mode(), WatchMode::Events);
    // Rounds at 0, 2 (backoff ceiling 2 s), 6 s (ceiling 4 s).
    assert_eq!(model.count("/events"), 3);
    model.fail_events_off();
    let outcome = watch.next().await.unwrap().unwrap();
    assert!(outcome.is_finished());
}

#[tokio::test(start_paused = true)]
async fn each_run_has_its_deadline_and_a_failed_confirmation_names_its_run() {
    let model = Model::start().await;
    model.add_run("trun_done", &[(secs(1), "running"), (secs(2), "completed")]);
    model.add_run("trun_stuck", &[(secs(1), "running")]);
    let runs = fetch_runs(&model, &["trun_done", "trun_stuck"]);
    let deck = deck(model.url());
    let start = Instant::now();
    let mut watch = deck.watch_runs().timeout(secs(30)).with_runs(&runs);
    watch.add_id("trun_missing");
    let outcomes = collect(&mut watch).await;
    assert_eq!(outcomes.len(), 3);
    let missing = outcomes[0].1.as_ref().unwrap_err();
    assert!(missing.is_not_found());
    assert_eq!(missing.run_id(), Some("trun_missing"));
    assert_eq!(outcomes[1].1.as_ref().unwrap().run_id(), "trun_done");
    let (at, stuck) = &outcomes[2];
    let stuck = stuck.as_ref().unwrap_err();
    assert_eq!(stuck.run_id(), Some("trun_stuck"));
    assert_eq!(stuck.kind(), ErrorKind::Timeout);
    assert!(
        stuck.to_string().contains("last status \"queued\""),
        "{stuck}"
    );
    assert_eq!(*at - start, secs(30));
    // The sweep at 30 s may race the deadline; either way, a handful of requests.
    assert!(model.requests().len() <= 20, "{}", model.requests().len());
}

#[tokio::test(start_paused = true)]
async fn a_run_added_by_id_is_confirmed_first_and_the_feed_starts_at_its_creation() {
    let model = Model::start().await;
    model.add_run("trun_1", &[(secs(1), "running"), (secs(5), "completed")]);
    tokio::time::sleep(secs(2)).await;
    let deck = deck(model.url());
    let mut watch = deck.watch_runs().interval(secs(2));
    watch.add_id("trun_1");
    assert_eq!(watch.pending().collect::<Vec<_>>(), vec!["trun_1"]);
    let outcome = watch.next().await.unwrap().unwrap();
    assert!(outcome.is_finished());
    let requests = model.requests();
    assert!(
        requests[0].target.starts_with("/task-runs/trun_1"),
        "{}",
        requests[0].target
    );
    assert!(
        requests[1].target.starts_with("/events?"),
        "{}",
        requests[1].target
    );
    // created_after = the run's last change (`running` at 09:30:01) minus the 30 s overlap.
    assert!(
        requests[1]
            .target
            .contains("created_after=2025-01-15T09%3A29%3A31"),
        "{}",
        requests[1].target
    );
    assert_eq!(
        model.count("/task-runs/"),
        2,
        "the first look and the confirmation"
    );
}

#[tokio::test(start_paused = true)]
async fn a_re_added_run_after_its_interaction_is_seen_to_finish() {
    let model = Model::start().await;
    model.add_run(
        "trun_mfa",
        &[(secs(1), "running"), (secs(2), "interaction_required")],
    );
    let runs = fetch_runs(&model, &["trun_mfa"]);
    let deck = deck(model.url());
    let mut watch = deck.watch_runs().interval(secs(2)).with_runs(&runs);
    let asked = watch.next().await.unwrap().unwrap();
    assert!(matches!(asked, RunOutcome::NeedsInput(_)));
    assert!(watch.is_empty());
    // The caller answers; the run resumes and completes 3 s later.
    tokio::time::sleep(secs(5)).await;
    model.then(
        "trun_mfa",
        &[(Duration::ZERO, "running"), (secs(3), "completed")],
    );
    let resumed: deck_api_ext::api::types::GetTaskRunResponse =
        serde_json::from_value(model.run_json("trun_mfa")).unwrap();
    watch.add(&resumed);
    let done = watch.next().await.unwrap().unwrap();
    assert!(done.is_finished());
    assert!(done.run().status.is_terminal());
}

#[tokio::test(start_paused = true)]
async fn dropping_next_midway_loses_no_outcome_and_reports_none_twice() {
    let model = Model::start().await;
    let mut ids = Vec::new();
    for i in 0..12u64 {
        let id = format!("trun_{i:02}");
        model.add_run(
            &id,
            &[(ms(100), "running"), (ms(700 * i + 300), "completed")],
        );
        ids.push(id);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let runs = fetch_runs(&model, &refs);
    let deck = deck(model.url());
    let mut watch = deck.watch_runs().interval(ms(500)).with_runs(&runs);
    let mut reported = Vec::new();
    let mut drops = 0;
    while !watch.is_empty() {
        // Cut every call short after a few milliseconds: mid-request, mid-round, mid-sleep.
        match tokio::time::timeout(ms(3), watch.next()).await {
            Ok(Some(outcome)) => reported.push(outcome.unwrap().run_id().to_owned()),
            Ok(None) => break,
            Err(_) => drops += 1,
        }
        assert!(drops < 10_000, "no progress");
    }
    while let Some(outcome) = watch.next().await {
        reported.push(outcome.unwrap().run_id().to_owned());
    }
    assert!(drops > 10, "the test must drop calls: {drops}");
    let unique: HashSet<_> = reported.iter().collect();
    assert_eq!(unique.len(), reported.len(), "reported twice: {reported:?}");
    assert_eq!(reported.len(), 12, "{reported:?}");
}
