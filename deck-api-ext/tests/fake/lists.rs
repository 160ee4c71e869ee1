//! Every list operation of the spec, called through the generated builders and
//! `deck_api_ext`'s `.paginate()`, follows the fake's cursors across three pages or more and
//! re-sends its filters (array filters as repeated keys) and `limit` with every page; the
//! assertions read the requests the fake recorded.

use crate::support::Harness;
use deck_api_ext::fake::{Content, FakeDeck, ItemSeed, Origin, RunSeed, TaskSeed};
use deck_api_ext::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn deck_for(fake: &FakeDeck) -> Deck {
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .build()
        .expect("a client for the fake")
}

/// Creates a resource over plain HTTP (what is under test here is listing).
async fn create(h: &Harness, path: &str, body: Value) -> String {
    let reply = h.send(Method::POST, path, Some(&body), &[]).await;
    assert!(reply.status == 201, "{path}: {}", reply.text());
    reply.json()["id"].as_str().unwrap().to_owned()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn decoded(query: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://x.invalid/?{query}")).unwrap();
    url.query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

/// Checks the `GET` requests the fake received on `path`: at least three pages, every one
/// with exactly `limit` and `filters` (repeated keys kept), the first without a cursor and
/// every later one with a new cursor. Returns the number of pages.
fn assert_pages(fake: &FakeDeck, path: &str, filters: &[(&str, &str)]) -> usize {
    let requests: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api && r.method == "GET" && r.path == path)
        .collect();
    assert!(
        requests.len() >= 3,
        "{path}: {} page(s): {requests:#?}",
        requests.len()
    );
    let mut expected = owned(filters);
    expected.sort();
    let mut cursors = Vec::new();
    for (n, request) in requests.iter().enumerate() {
        let mut pairs = decoded(request.query.as_deref().unwrap_or_default());
        let cursor: Vec<_> = pairs
            .iter()
            .filter(|(k, _)| k == "cursor")
            .cloned()
            .collect();
        pairs.retain(|(k, _)| k != "cursor");
        pairs.sort();
        assert_eq!(
            pairs,
            expected,
            "{path}: page {} re-sends its parameters",
            n + 1
        );
        if n == 0 {
            assert!(cursor.is_empty(), "{path}: page 1 has no cursor");
        } else {
            assert_eq!(cursor.len(), 1, "{path}: page {} has one cursor", n + 1);
            assert!(
                !cursors.contains(&cursor[0].1),
                "{path}: a new cursor each page"
            );
            cursors.push(cursor[0].1.clone());
        }
    }
    requests.len()
}

fn ids<T: serde::Serialize>(items: &[T]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            serde_json::to_value(item).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn list_agents_follows_cursors() {
    let h = Harness::start().await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(create(&h, "/agents", json!({ "name": format!("agent {i}") })).await);
    }
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_agents()
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), made, "creation order");
    assert_eq!(assert_pages(&h.fake, "/v2/agents", &[("limit", "2")]), 3);
}

#[tokio::test]
async fn list_sources_follows_cursors() {
    let h = Harness::start().await;
    let mut made = Vec::new();
    for i in 0..5 {
        let body =
            json!({ "type": "website", "website": { "url": format!("https://s{i}.example") } });
        made.push(create(&h, "/sources", body).await);
    }
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_sources()
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), made);
    assert_eq!(assert_pages(&h.fake, "/v2/sources", &[("limit", "2")]), 3);
}

#[tokio::test]
async fn list_credentials_follows_cursors_with_its_filters() {
    let h = Harness::start().await;
    let mut expected = Vec::new();
    for (source, external, wanted) in [
        ("src_a", "ext_1", true),
        ("src_b", "ext_1", true),
        ("src_c", "ext_1", false),
        ("src_a", "ext_2", false),
        ("src_b", "ext_1", true),
        ("src_a", "ext_1", true),
        ("src_b", "ext_1", true),
    ] {
        let body = json!({
            "source_id": source,
            "auth_method": "username_password",
            "auth_credentials": { "username": "u", "password": "p" },
            "external_id": external,
        });
        let id = create(&h, "/credentials", body).await;
        if wanted {
            expected.push(id);
        }
    }
    // A deleted credential is still listed, with status `deleted`.
    let deleted = h
        .send(
            Method::DELETE,
            &format!("/credentials/{}", expected[1]),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200);

    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_credentials()
        .source_id(vec!["src_a".to_owned(), "src_b".to_owned()])
        .status(vec!["unverified".to_owned(), "deleted".to_owned()])
        .external_id("ext_1")
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), expected);
    assert_eq!(
        assert_pages(
            &h.fake,
            "/v2/credentials",
            &[
                ("limit", "2"),
                ("source_id", "src_a"),
                ("source_id", "src_b"),
                ("status", "unverified"),
                ("status", "deleted"),
                ("external_id", "ext_1"),
            ],
        ),
        3
    );
}

#[tokio::test]
async fn list_tasks_follows_cursors_with_its_filters() {
    let h = Harness::start().await;
    // Seeded tasks are `live`; tasks created through the API start `learning`.
    h.fake
        .add_task(TaskSeed::new("task_live", "Live").agent_id("agt_x"))
        .unwrap();
    let mut expected = Vec::new();
    for i in 0..7 {
        let agent = if i % 3 == 2 { "agt_y" } else { "agt_x" };
        let id = create(
            &h,
            "/tasks",
            json!({ "name": format!("t{i}"), "agent_id": agent }),
        )
        .await;
        if agent == "agt_x" {
            expected.push(id);
        }
    }
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_tasks()
        .agent_id("agt_x")
        .status("learning")
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), expected);
    assert_eq!(
        assert_pages(
            &h.fake,
            "/v2/tasks",
            &[
                ("limit", "2"),
                ("agent_id", "agt_x"),
                ("status", "learning")
            ],
        ),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn list_task_runs_follows_cursors_with_every_filter() {
    let h = Harness::start().await;
    h.fake
        .add_task(TaskSeed::new("task_a", "A").agent_id("agt_a"))
        .unwrap();
    h.fake
        .add_task(TaskSeed::new("task_b", "B").agent_id("agt_b"))
        .unwrap();
    let mut expected = Vec::new();
    for (task, credential, source, wanted) in [
        ("task_a", "cred_1", "src_1", true),
        ("task_a", "cred_1", "src_2", true),
        ("task_a", "cred_2", "src_1", false),
        ("task_b", "cred_1", "src_1", false),
        ("task_a", "cred_1", "src_3", false),
        ("task_a", "cred_1", "src_1", true),
        ("task_a", "cred_1", "src_2", true),
        ("task_a", "cred_1", "src_1", true),
        ("task_a", "cred_1", "src_2", true),
    ] {
        let body = json!({ "credential_id": credential, "source_id": source });
        let id = create(&h, &format!("/tasks/{task}/run"), body).await;
        if wanted {
            expected.push(id);
        }
    }
    tokio::time::advance(Duration::from_secs(3)).await;
    // Still queued: filtered out by status.
    create(
        &h,
        "/tasks/task_a/run",
        json!({ "credential_id": "cred_1", "source_id": "src_1" }),
    )
    .await;
    expected.reverse(); // newest first

    let after: chrono::DateTime<chrono::Utc> = "2025-01-15T09:29:00Z".parse().unwrap();
    let before: chrono::DateTime<chrono::Utc> = "2025-01-15T10:00:00Z".parse().unwrap();
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_task_runs()
        .status(vec!["completed".to_owned(), "canceled".to_owned()])
        .source_id(vec!["src_1".to_owned(), "src_2".to_owned()])
        .outcome(vec!["success".to_owned(), "unknown".to_owned()])
        .agent_id("agt_a")
        .credential_id("cred_1")
        .task_id("task_a")
        .created_after(after)
        .created_before(before)
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), expected);
    let pages = assert_pages(
        &h.fake,
        "/v2/task-runs",
        &[
            ("limit", "2"),
            ("status", "completed"),
            ("status", "canceled"),
            ("source_id", "src_1"),
            ("source_id", "src_2"),
            ("outcome", "success"),
            ("outcome", "unknown"),
            ("agent_id", "agt_a"),
            ("credential_id", "cred_1"),
            ("task_id", "task_a"),
            ("created_after", "2025-01-15T09:29:00Z"),
            ("created_before", "2025-01-15T10:00:00Z"),
        ],
    );
    assert_eq!(pages, 3);

    // `workflow_id` is sent too; no run of the fake belongs to a workflow.
    let none = deck
        .api()
        .list_task_runs()
        .workflow_id("wflo_1")
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert!(none.is_empty());
    let last = h.fake.requests().pop().unwrap();
    assert_eq!(last.query_param("workflow_id").as_deref(), Some("wflo_1"));
}

#[tokio::test]
async fn list_task_run_storage_follows_cursors() {
    let h = Harness::start().await;
    let items =
        (0..5).map(|i| ItemSeed::new(format!("f{i}.txt"), "text/plain", Content::bytes("x")));
    let seeded = h
        .fake
        .add_run(RunSeed::new("trun_five").items(items))
        .unwrap();
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_task_run_storage()
        .run_id("trun_five")
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), seeded.item_ids);
    assert_eq!(
        assert_pages(
            &h.fake,
            "/v2/task-runs/trun_five/storage",
            &[("limit", "2")]
        ),
        3
    );
}

#[tokio::test]
async fn list_events_follows_cursors_with_its_filters() {
    let h = Harness::start().await;
    let mut expected = Vec::new();
    for i in 0..8 {
        let id = create(&h, "/agents", json!({ "name": format!("a{i}") })).await;
        expected.push(("agent.created".to_owned(), id));
        if i % 3 == 0 {
            let body = json!({ "type": "website", "website": { "url": "https://x.example" } });
            let id = create(&h, "/sources", body).await;
            expected.push(("source.created".to_owned(), id));
        }
        // Another type, filtered out.
        let agent = expected.last().unwrap().1.clone();
        if agent.starts_with("agt_") {
            let reply = h
                .send(
                    Method::PATCH,
                    &format!("/agents/{agent}"),
                    Some(&json!({ "description": "x" })),
                    &[],
                )
                .await;
            assert_eq!(reply.status, 200);
        }
    }
    expected.reverse(); // newest first

    let after: chrono::DateTime<chrono::Utc> = "2025-01-15T09:00:00Z".parse().unwrap();
    let before: chrono::DateTime<chrono::Utc> = "2025-01-16T00:00:00Z".parse().unwrap();
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_events()
        .type_(vec![
            "agent.created".to_owned(),
            "source.created".to_owned(),
        ])
        .created_after(after)
        .created_before(before)
        .limit(4)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    let got: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            let data = e.data.as_ref().unwrap();
            (e.type_.clone(), data["id"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        assert_pages(
            &h.fake,
            "/v2/events",
            &[
                ("limit", "4"),
                ("type", "agent.created"),
                ("type", "source.created"),
                ("created_after", "2025-01-15T09:00:00Z"),
                ("created_before", "2025-01-16T00:00:00Z"),
            ],
        ),
        3
    );
}

#[tokio::test]
async fn list_event_destinations_follows_cursors_with_its_filter() {
    let h = Harness::start().await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let body = json!({
            "name": format!("hook {i}"),
            "type": "webhook",
            "webhook": { "url": format!("https://hooks.example/{i}") },
        });
        let id = create(&h, "/event-destinations", body).await;
        if i % 3 == 1 {
            let reply = h
                .send(
                    Method::PATCH,
                    &format!("/event-destinations/{id}"),
                    Some(&json!({ "status": "inactive" })),
                    &[],
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        } else {
            expected.push(id);
        }
    }
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_event_destinations()
        .status("active")
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&all), expected);
    assert_eq!(
        assert_pages(
            &h.fake,
            "/v2/event-destinations",
            &[("limit", "2"), ("status", "active")],
        ),
        3
    );
}

#[tokio::test]
async fn list_event_deliveries_follows_cursors_with_its_filters() {
    let h = Harness::start().await;
    let body = json!({ "name": "all", "webhook": { "url": "https://hooks.example/all" } });
    let destination = create(&h, "/event-destinations", body).await;
    let mut agents = Vec::new();
    for i in 0..5 {
        agents.push(create(&h, "/agents", json!({ "name": format!("a{i}") })).await);
        // Other types, filtered out.
        let body = json!({ "type": "website", "website": { "url": "https://x.example" } });
        create(&h, "/sources", body).await;
    }
    let deck = deck_for(&h.fake);
    let all = deck
        .api()
        .list_event_deliveries()
        .destination_id(&destination)
        .status("success")
        .type_("agent.created")
        .limit(2)
        .paginate()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    let path = format!("/v2/event-destinations/{destination}/event-deliveries");
    // Each delivery names its event, newest first.
    let mut delivered_agents = Vec::new();
    for delivery in &all {
        assert_eq!(delivery.event_type.as_deref(), Some("agent.created"));
        assert_eq!(
            delivery.event_destination_id.as_deref(),
            Some(destination.as_str())
        );
        let event = h
            .get(&format!("/events/{}", delivery.event_id))
            .await
            .json();
        delivered_agents.push(event["data"]["id"].as_str().unwrap().to_owned());
    }
    agents.reverse();
    assert_eq!(delivered_agents, agents);
    assert_eq!(
        assert_pages(
            &h.fake,
            &path,
            &[
                ("limit", "2"),
                ("status", "success"),
                ("type", "agent.created")
            ],
        ),
        3
    );
}
