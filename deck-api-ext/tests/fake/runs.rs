//! Task runs against the fake's lifecycle, through the client (`run_task`, `wait_for_run`,
//! `RunWatch`), in paused time: the end-to-end path from a task whose storage config comes from a
//! Rust type to decoded extractions and downloaded files, cancel, interaction, review, and many
//! runs on one events feed.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use deck_api_ext::api::types::GetTaskRunResponse;
use deck_api_ext::fake::{FakeDeck, RunPlan, TaskSeed};
use deck_api_ext::prelude::*;
use deck_api_ext::run_watch::WatchMode;
use deck_api_ext::{RateLimit, RunPhase};
use serde_json::json;
use tokio::time::Instant;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn client(fake: &FakeDeck) -> Deck {
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .build()
        .unwrap()
}

async fn start(deck: &Deck, task_id: &str) -> GetTaskRunResponse {
    deck.run_task(task_id).call().await.unwrap()
}

#[cfg(feature = "schema")]
mod end_to_end {
    use super::*;
    use deck_api_ext::api::types::{SubmitInteractionRequest, UpdateTaskRequest};
    use deck_api_ext::extraction::Extraction;
    use deck_api_ext::fake::ItemSeed;
    use deck_api_ext::run_wait::RunOutcome;
    use deck_api_ext::task_config::{StorageConfig, extraction_schema_for};
    use serde::Deserialize;

    /// What the task extracts from each bill.
    #[derive(Debug, PartialEq, Deserialize, schemars::JsonSchema)]
    struct Bill {
        account: String,
        total_cents: u64,
        due: String,
    }

    const JAN: &str = "%PDF-1.7 january bill";
    const FEB: &str = "%PDF-1.7 february bill, a little longer";

    #[tokio::test(start_paused = true)]
    async fn a_task_with_typed_extraction_runs_is_awaited_pulled_and_decoded() {
        let fake = FakeDeck::start().await.unwrap();
        fake.add_task(
            TaskSeed::new("task_bills", "Utility bills")
                .agent_id("agt_bills")
                .run_plan(
                    RunPlan::new()
                        .running_for(secs(20))
                        .items([
                            ItemSeed::new("jan.pdf", "application/pdf", JAN).extraction(
                                json!({"account": "A-1", "total_cents": 4250, "due": "2025-02-01"}),
                            ),
                            ItemSeed::new("feb.pdf", "application/pdf", FEB).extraction(
                                json!({"account": "A-1", "total_cents": 3975, "due": "2025-03-01", "currency": "EUR"}),
                            ),
                        ])
                        .output(json!({"bills": 2})),
                ),
        )
        .unwrap();
        fake.add_task(
            TaskSeed::new("task_mfa", "Needs a code")
                .agent_id("agt_bills")
                .run_plan(
                    RunPlan::new().asks(
                        json!({"type": "mfa", "fields": [{"name": "code", "type": "string"}]}),
                    ),
                ),
        )
        .unwrap();
        fake.add_task(
            TaskSeed::new("task_review", "Needs a review")
                .agent_id("agt_bills")
                .run_plan(RunPlan::new().needs_review()),
        )
        .unwrap();
        let deck = client(&fake);

        // The task's storage config, with the extraction schema generated from `Bill`.
        let storage = StorageConfig::enabled()
            .extraction(true)
            .extraction_schema_for::<Bill>()
            .unwrap();
        let task = deck
            .api()
            .update_task()
            .task_id("task_bills")
            .body(UpdateTaskRequest::builder().storage(storage))
            .call()
            .await
            .unwrap();
        let stored = serde_json::to_value(&task.storage).unwrap();
        assert_eq!(stored["extraction"], true, "{stored}");
        assert_eq!(
            stored["extraction_schema"],
            extraction_schema_for::<Bill>().unwrap()
        );

        // Run it and wait, with its storage items.
        let run = deck
            .run_task("task_bills")
            .body_map(|b| b.input(json!({"month": "2025-02"})))
            .call()
            .await
            .unwrap();
        assert_eq!(run.status.phase(), RunPhase::Active);
        let started = Instant::now();
        let outcome = deck.wait_for_run(&run.id).include_storage().await.unwrap();
        let waited = started.elapsed();
        // queued 1 s + running 20 s; polls 1, 2, 4, 5, 5, … s apart: seen within 5 s.
        assert!(waited >= secs(21) && waited <= secs(26), "{waited:?}");
        let RunOutcome::Finished(done) = &outcome else {
            panic!("expected Finished, got {outcome:?}");
        };
        assert!(done.status.is_terminal());
        assert_eq!(done.status.name(), "completed");
        assert_eq!(done.result.as_deref(), Some("success"));
        assert_eq!(done.output, Some(json!({"bills": 2})));
        let items = outcome.storage_items().unwrap();
        assert_eq!(items.len(), 2);

        // Decode each extraction into the Rust type (an extra field is ignored).
        let mut bills = BTreeMap::new();
        for item in deck.list_storage(&run.id).try_collect_all().await.unwrap() {
            match item.extraction_as::<Bill>().unwrap() {
                Extraction::Decoded(bill) => {
                    bills.insert(item.file_name.clone(), bill);
                }
                other => panic!("{}: {other:?}", item.file_name),
            }
        }
        assert_eq!(
            bills["feb.pdf"],
            Bill {
                account: "A-1".into(),
                total_cents: 3975,
                due: "2025-03-01".into()
            }
        );
        assert_eq!(bills["jan.pdf"].total_cents, 4250);
        for item in &items {
            assert!(
                item.extraction_as::<Bill>().unwrap().is_decoded(),
                "{}",
                item.file_name
            );
        }

        // Cancel another run: `canceling`, then `canceled`.
        let second = start(&deck, "task_bills").await;
        let canceling = deck
            .api()
            .cancel_task_run()
            .run_id(&second.id)
            .call()
            .await
            .unwrap();
        assert!(canceling.status.is_canceling(), "{:?}", canceling.status);
        let canceled = deck.wait_for_run(&second.id).await.unwrap();
        assert!(canceled.is_finished());
        assert_eq!(canceled.run().status.name(), "canceled");

        // Answer an interaction and see the run complete.
        let asking = start(&deck, "task_mfa").await;
        let RunOutcome::NeedsInput(paused) = deck.wait_for_run(&asking.id).await.unwrap() else {
            panic!("expected NeedsInput");
        };
        assert_eq!(paused.interaction.as_ref().unwrap()["type"], "mfa");
        let body = SubmitInteractionRequest::builder().input(json!({"code": "123456"}));
        let resumed = deck
            .api()
            .submit_task_run_interaction()
            .run_id(&asking.id)
            .body(body)
            .call()
            .await
            .unwrap();
        assert_eq!(resumed.status.phase(), RunPhase::Active);
        let answered = deck.wait_for_run(&asking.id).await.unwrap();
        assert!(answered.is_finished());
        assert_eq!(answered.run().status.name(), "completed");

        // A review ends the wait too (no approval endpoint exists).
        let review = start(&deck, "task_review").await;
        let outcome = deck.wait_for_run(&review.id).await.unwrap();
        assert!(matches!(outcome, RunOutcome::NeedsReview(_)), "{outcome:?}");

        // Download the files (real time: downloads measure their speed on the clock).
        tokio::time::resume();
        let dir = tempfile::tempdir().unwrap();
        let summary = deck.pull_run(&run.id, dir.path()).await.unwrap();
        assert!(summary.is_complete(), "{summary}");
        assert_eq!(summary.downloaded.len(), 2);
        assert_eq!(
            std::fs::read(dir.path().join("jan.pdf")).unwrap(),
            JAN.as_bytes()
        );
        assert_eq!(
            std::fs::read(dir.path().join("feb.pdf")).unwrap(),
            FEB.as_bytes()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn many_runs_are_watched_on_the_fakes_events_feed() {
    let fake = FakeDeck::start().await.unwrap();
    let plans = [
        ("task_quick", RunPlan::new().running_for(secs(3))),
        ("task_slow", RunPlan::new().running_for(secs(25))),
        (
            "task_fails",
            RunPlan::new()
                .running_for(secs(7))
                .fails("timeout", "Too slow."),
        ),
        (
            "task_asks",
            RunPlan::new()
                .running_for(secs(5))
                .asks(json!({"type": "mfa"})),
        ),
        (
            "task_review",
            RunPlan::new().running_for(secs(11)).needs_review(),
        ),
        (
            "task_cancel",
            RunPlan::new().running_for(secs(60)).canceling_for(secs(2)),
        ),
    ];
    for (id, plan) in &plans {
        fake.add_task(
            TaskSeed::new(*id, *id)
                .agent_id("agt_watch")
                .run_plan(plan.clone()),
        )
        .unwrap();
    }
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .rate_limit(RateLimit::off())
        .build()
        .unwrap();
    let mut runs = Vec::new();
    for (id, _) in &plans {
        // Three runs of each task.
        for _ in 0..3 {
            runs.push(start(&deck, id).await);
        }
    }
    let to_cancel: Vec<String> = runs
        .iter()
        .filter(|r| r.task_id.as_deref() == Some("task_cancel"))
        .map(|r| r.id.clone())
        .collect();
    fake.clear_requests();
    let started = Instant::now();
    let mut watch = deck.watch_runs().with_runs(&runs);
    let mut seen = HashSet::new();
    let mut phases = BTreeMap::<String, Vec<RunPhase>>::new();
    let mut canceled_yet = false;
    while let Some(outcome) = watch.next().await {
        let outcome = outcome.unwrap();
        assert!(seen.insert(outcome.run_id().to_owned()), "reported twice");
        let task = outcome.run().task_id.clone().unwrap();
        phases
            .entry(task)
            .or_default()
            .push(outcome.run().status.phase());
        // Once the quick runs are done, cancel the long ones (their cancel is seen too).
        if !canceled_yet {
            canceled_yet = true;
            for id in &to_cancel {
                deck.api()
                    .cancel_task_run()
                    .run_id(id)
                    .call()
                    .await
                    .unwrap();
            }
        }
    }
    assert_eq!(seen.len(), 18);
    assert_eq!(phases["task_quick"], [RunPhase::Terminal; 3]);
    assert_eq!(phases["task_slow"], [RunPhase::Terminal; 3]);
    assert_eq!(phases["task_fails"], [RunPhase::Terminal; 3]);
    assert_eq!(phases["task_asks"], [RunPhase::NeedsInput; 3]);
    assert_eq!(phases["task_review"], [RunPhase::NeedsReview; 3]);
    assert_eq!(phases["task_cancel"], [RunPhase::Terminal; 3]);
    assert_eq!(watch.mode(), WatchMode::Events);
    // The slow runs end at 26 s: about 14 rounds of the feed, one confirmation per run, a
    // sweep at 30 s at most, and the three cancels.
    let elapsed = started.elapsed();
    assert!(elapsed <= secs(29), "{elapsed:?}");
    let requests = fake.requests();
    let feed = requests.iter().filter(|r| r.path == "/v2/events").count();
    let confirmations = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/v2/task-runs/"))
        .count();
    assert!((12..=16).contains(&feed), "{feed}");
    assert_eq!(confirmations, 18, "one getTaskRun per run");
}

#[tokio::test(start_paused = true)]
async fn the_demo_task_runs_to_the_demo_statements() {
    let fake = FakeDeck::builder().demo_data().start().await.unwrap();
    let deck = client(&fake);
    let run = start(&deck, "task_demo_statements").await;
    let outcome = deck.wait_for_run(&run.id).include_storage().await.unwrap();
    assert!(outcome.is_finished());
    let items = outcome.storage_items().unwrap();
    assert!(!items.is_empty());
    let listed = deck.list_storage(&run.id).try_collect_all().await.unwrap();
    assert_eq!(listed.len(), items.len());
}
