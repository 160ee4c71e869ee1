//! The fake server itself: authentication, request IDs, the request log, seeding errors, and
//! stopping.

use crate::support::{Harness, Reply};
use deck_api_ext::fake::{
    AuthorizationSeen, Content, FakeDeck, ItemSeed, Origin, REDACTED, RunSeed, SeedError, TaskSeed,
    demo,
};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn base_urls_look_like_deck() {
    let fake = FakeDeck::start().await.unwrap();
    assert_eq!(fake.base_url(), format!("http://{}/v2", fake.api_addr()));
    assert_eq!(
        fake.storage_base_url(),
        format!("http://{}", fake.storage_addr())
    );
    assert_ne!(fake.api_addr(), fake.storage_addr());
    assert!(fake.api_addr().ip().is_loopback());
    assert_eq!(fake.api_key(), deck_api_ext::fake::DEFAULT_API_KEY);
    let debug = format!("{fake:?}");
    assert!(!debug.contains(fake.api_key()), "{debug}");
}

#[tokio::test]
async fn the_api_requires_the_bearer_key() {
    let fake = FakeDeck::builder()
        .api_key("sk_test_custom")
        .start()
        .await
        .unwrap();
    let h = Harness::with(fake);
    let url = h.url("/tasks/task_x");
    let cases = [
        (None, 401),
        (Some("Bearer sk_test_wrong"), 401),
        (Some("Basic sk_test_custom"), 401),
        (Some("sk_test_custom"), 401),
        (Some("Bearer sk_test_custom"), 404),
        (Some("bearer sk_test_custom"), 404),
    ];
    for (auth, status) in cases {
        let mut request = h.http.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let reply = Reply::read(request.send().await.unwrap()).await;
        assert_eq!(reply.status, status, "{auth:?}");
        if status == 401 {
            let error = reply.error();
            assert_eq!(error.errors[0].code, "api_key_invalid");
            assert!(
                !reply.text().contains("sk_test"),
                "never echoes keys: {}",
                reply.text()
            );
        }
    }
    // The storage origin needs no key.
    let id = h
        .fake
        .add_run(RunSeed::new("trun_a").item(ItemSeed::new("a", "text/plain", "a")))
        .unwrap()
        .item_ids
        .remove(0);
    assert_eq!(
        h.fetch(&h.fake.signed_url(&id).unwrap(), &[]).await.status,
        200
    );
}

#[tokio::test]
async fn request_ids_are_sequential_and_in_every_json_body() {
    let h = Harness::demo().await;
    let first = h.get(&format!("/tasks/{}", demo::TASK)).await;
    let second = h.get("/tasks/task_missing").await;
    let third = h.get("/nowhere").await;
    let unauthenticated = Reply::read(h.http.get(h.url("/tasks")).send().await.unwrap()).await;
    let ids: Vec<_> = [&first, &second, &third, &unauthenticated]
        .iter()
        .map(|r| r.json()["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["req_000001", "req_000002", "req_000003", "req_000004"]
    );
}

#[tokio::test]
async fn requests_are_recorded_without_the_key() {
    let h = Harness::demo().await;
    let body = json!({ "name": "n", "agent_id": "agt_1" });
    h.send(
        Method::POST,
        "/tasks",
        Some(&body),
        &[("Idempotency-Key", "k1")],
    )
    .await;
    h.get(&format!(
        "/task-runs/{}/storage?limit=2&cursor=",
        demo::STATEMENTS_RUN
    ))
    .await;
    let url = h.fake.signed_url(demo::STATEMENT_JAN_2025).unwrap();
    h.fetch(&url, &[("Range", "bytes=0-3")]).await;

    let requests = h.fake.requests();
    assert_eq!(requests.len(), 3);
    let post = &requests[0];
    assert_eq!(
        (post.origin, post.method.as_str(), post.path.as_str()),
        (Origin::Api, "POST", "/v2/tasks")
    );
    assert_eq!(post.authorization, AuthorizationSeen::AcceptedKey);
    assert_eq!(post.header("authorization"), Some(REDACTED));
    assert_eq!(post.header("idempotency-key"), Some("k1"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&post.body).unwrap(),
        body
    );
    assert_eq!(post.status, Some(201));
    assert_eq!(post.request_id.as_deref(), Some("req_000001"));

    let list = &requests[1];
    assert_eq!(list.query_param("limit").as_deref(), Some("2"));
    assert_eq!(list.query_param("cursor").as_deref(), Some(""));
    assert_eq!(list.status, Some(200));

    let download = &requests[2];
    assert_eq!(download.origin, Origin::Storage);
    assert_eq!(download.authorization, AuthorizationSeen::Absent);
    assert_eq!(download.header("range"), Some("bytes=0-3"));
    assert_eq!(download.status, Some(206));
    assert!(download.path.starts_with("/files/"));

    let everything = format!("{requests:?}");
    assert!(!everything.contains(h.fake.api_key()));

    h.fake.clear_requests();
    assert!(h.fake.requests().is_empty());
}

#[tokio::test]
async fn seeding_refuses_duplicates_and_bad_ids() {
    let fake = FakeDeck::start().await.unwrap();
    let run = || RunSeed::new("trun_x").item(ItemSeed::new("a", "text/plain", Content::bytes("a")));
    let seeded = fake.add_run(run()).unwrap();
    assert_eq!(seeded.run_id, "trun_x");
    assert_eq!(seeded.item_ids, ["stor_x_0001"]);
    assert_eq!(
        fake.add_run(run()),
        Err(SeedError::DuplicateRun("trun_x".into()))
    );
    let clash = RunSeed::new("trun_y").item(ItemSeed::new("a", "t", "a").id("stor_x_0001"));
    let err = fake.add_run(clash).unwrap_err();
    assert_eq!(err, SeedError::DuplicateItem("stor_x_0001".into()));
    assert!(err.to_string().contains("stor_x_0001"));
    assert!(
        fake.item_ids("trun_y").is_none(),
        "nothing stored on failure"
    );
    assert_eq!(
        fake.add_run(RunSeed::new("")),
        Err(SeedError::InvalidId(String::new()))
    );
    fake.add_task(TaskSeed::new("task_1", "One")).unwrap();
    assert_eq!(
        fake.add_task(TaskSeed::new("task_1", "Again")),
        Err(SeedError::DuplicateTask("task_1".into()))
    );
}

#[tokio::test]
async fn seeded_items_render_as_configured() {
    let h = Harness::start().await;
    h.fake
        .add_run(
            RunSeed::new("trun_r").items([
                ItemSeed::new("a.pdf", "application/pdf", Content::generated(1234, 1))
                    .file_size_as_string()
                    .object("storage")
                    .purpose("attachment")
                    .metadata(serde_json::Value::Null)
                    .extraction(json!({ "k": 1 }))
                    .created_at("2024-01-01T00:00:00Z"),
                ItemSeed::new("b.pdf", "application/pdf", "bb")
                    .declared_file_size(999)
                    .without_purpose()
                    .without_result()
                    .without_url(),
            ]),
        )
        .unwrap();
    let items = h.list_all("trun_r").await;
    assert_eq!(items[0]["file_size"], json!("1234"));
    assert_eq!(items[0]["object"], "storage");
    assert_eq!(items[0]["purpose"], "attachment");
    assert_eq!(items[0]["metadata"], serde_json::Value::Null);
    assert_eq!(items[0]["extraction"], json!({ "k": 1 }));
    assert_eq!(items[0]["created_at"], "2024-01-01T00:00:00Z");
    assert_eq!(items[0]["fetch_date"], "2024-01-01T00:00:00Z");
    assert_eq!(items[0]["task_run_id"], "trun_r");
    assert_eq!(items[1]["file_size"], json!(999));
    assert!(items[1].get("purpose").is_none());
    assert!(items[1].get("result").is_none());
    assert_eq!(items[1]["url"], serde_json::Value::Null);
    assert_eq!(items[1]["created_at"], "2025-01-15T09:30:05Z");
}

#[tokio::test]
async fn the_demo_statement_is_the_guides_utility_bill() {
    let h = Harness::demo().await;
    let reply = h
        .get(&format!("/storage/{}", demo::STATEMENT_JAN_2025))
        .await;
    let item = reply.json();
    assert_eq!(item["file_name"], "statement_jan_2025.pdf");
    assert_eq!(item["extraction"], demo::utility_bill_extraction());
    assert_eq!(item["extraction"]["amount_due"], json!(8247.41));
    let bytes = h.fetch(item["url"].as_str().unwrap(), &[]).await.body;
    assert!(bytes.starts_with(b"%PDF-1.7"));
    assert!(bytes.ends_with(b"%%EOF\n"));

    let string_size = h
        .get(&format!("/storage/{}", demo::STRING_SIZE_STATEMENT))
        .await
        .json();
    assert!(string_size["file_size"].is_string());
    let failed = h
        .get(&format!("/storage/{}", demo::FAILED_EXTRACTION_STATEMENT))
        .await
        .json();
    assert_eq!(
        (failed["result"].clone(), failed["extraction"].clone()),
        (json!("failure"), json!(null))
    );

    let names: Vec<String> = h
        .list_all(demo::EDGE_CASES_RUN)
        .await
        .iter()
        .map(|i| i["file_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), demo::EDGE_CASES_COUNT);
    for hostile in ["../evil.pdf", "a/b.csv", "", "CON", "nul\0byte.txt"] {
        assert!(names.iter().any(|n| n == hostile), "{hostile:?}");
    }
    assert_eq!(names.iter().filter(|n| *n == "receipt.pdf").count(), 2);
}

#[tokio::test]
async fn the_builder_validates_the_key() {
    for bad in ["", "sk test", "sk_\u{e9}"] {
        let err = FakeDeck::builder().api_key(bad).start().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
}

/// Polls until connecting to `addr` is refused (bounded), proving the listener is closed.
async fn refuses_connections(addr: std::net::SocketAddr) -> bool {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn dropping_the_fake_stops_both_listeners() {
    let h = Harness::demo().await;
    // Hold a keep-alive connection open in the client's pool.
    assert_eq!(h.get(&format!("/tasks/{}", demo::TASK)).await.status, 200);
    let (api, storage) = (h.fake.api_addr(), h.fake.storage_addr());
    let http = h.http.clone();
    drop(h);
    assert!(refuses_connections(api).await, "API port still open");
    assert!(
        refuses_connections(storage).await,
        "storage port still open"
    );
    // The pooled connection is closed too: the request fails instead of being served.
    let after = http
        .get(format!("http://{api}/v2/tasks/{}", demo::TASK))
        .send()
        .await;
    assert!(after.is_err(), "{after:?}");
}

#[tokio::test]
async fn shutdown_waits_for_listeners_and_cuts_downloads() {
    let h = Harness::demo().await;
    let url = h.fake.signed_url(demo::LARGE_FILE).unwrap();
    let response = h.http.get(&url).send().await.unwrap();
    let (api, storage) = (h.fake.api_addr(), h.fake.storage_addr());
    let Harness { fake, .. } = h;
    tokio::time::timeout(Duration::from_secs(10), fake.shutdown())
        .await
        .expect("shutdown finishes although a download was in flight");
    assert!(tokio::net::TcpStream::connect(api).await.is_err());
    assert!(tokio::net::TcpStream::connect(storage).await.is_err());
    let body = response.bytes().await;
    assert!(
        body.is_err(),
        "the in-flight download was cut, not completed"
    );
}
