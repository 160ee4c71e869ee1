//! The fake's list endpoint: opaque, validated cursors and `limit` bounds.

use crate::support::Harness;
use deck_api_ext::fake::{Content, FakeDeck, Fault, ItemSeed, Route, RunSeed, demo};
use reqwest::Method;
use serde_json::Value;

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn page(h: &Harness, run: &str, query: &str) -> Value {
    let reply = h.get(&format!("/task-runs/{run}/storage?{query}")).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text());
    reply.json()
}

/// Every item of a run, following `next_cursor` with page size `limit`.
async fn walk(h: &Harness, run: &str, limit: usize) -> (Vec<String>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit={limit}&cursor={c}"),
            None => format!("limit={limit}"),
        };
        let body = page(h, run, &query).await;
        pages += 1;
        all.extend(ids(&body));
        match (
            body["has_more"].as_bool().unwrap(),
            body["next_cursor"].as_str(),
        ) {
            (true, Some(next)) => cursor = Some(next.to_owned()),
            (false, None) => return (all, pages),
            other => panic!("inconsistent page: {other:?}"),
        }
    }
}

#[tokio::test]
async fn pages_cover_the_run_once_in_order() {
    let h = Harness::demo().await;
    let expected = h.fake.item_ids(demo::STATEMENTS_RUN).unwrap();
    assert_eq!(expected.len(), demo::STATEMENTS_COUNT);
    for (limit, pages) in [(20, 3), (1, 45), (7, 7), (45, 1), (100, 1)] {
        let (got, n) = walk(&h, demo::STATEMENTS_RUN, limit).await;
        assert_eq!(got, expected, "limit {limit}");
        assert_eq!(n, pages, "limit {limit}");
    }
}

#[tokio::test]
async fn limit_defaults_to_20_and_accepts_decimal_strings() {
    let h = Harness::demo().await;
    let run = demo::STATEMENTS_RUN;
    assert_eq!(ids(&page(&h, run, "").await).len(), 20);
    assert_eq!(ids(&page(&h, run, "limit=").await).len(), 20);
    assert_eq!(ids(&page(&h, run, "limit=5").await).len(), 5);
    assert_eq!(ids(&page(&h, run, "limit=%205%20").await).len(), 5);
    assert_eq!(ids(&page(&h, run, "limit=%2B3").await).len(), 3);
    assert_eq!(ids(&page(&h, run, "limit=100").await).len(), 45);
    assert_eq!(ids(&page(&h, run, "limit=1").await).len(), 1);

    for bad in ["0", "101", "-1", "1.0", "ten", "2147483648"] {
        let reply = h
            .get(&format!("/task-runs/{run}/storage?limit={bad}"))
            .await;
        let validation = reply.validation();
        let messages = &validation.errors["limit"];
        assert_eq!(messages.len(), 1, "{bad}");
        assert!(!messages[0].is_empty());
    }
    let out_of_range = h.get(&format!("/task-runs/{run}/storage?limit=0")).await;
    assert_eq!(
        out_of_range.validation().errors["limit"],
        ["The field limit must be between 1 and 100."]
    );
}

#[tokio::test]
async fn cursors_are_opaque_and_bound_to_their_run() {
    let h = Harness::demo().await;
    let first = page(&h, demo::STATEMENTS_RUN, "limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    assert!(!cursor.contains(demo::STATEMENTS_RUN), "opaque: {cursor}");
    assert!(
        cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "URL-safe: {cursor}"
    );

    // The same position gives the same cursor: cursors are deterministic.
    let again = page(&h, demo::STATEMENTS_RUN, "limit=2").await;
    assert_eq!(again["next_cursor"], first["next_cursor"]);

    // Reused on another run (even one with a matching position): rejected.
    let foreign = h
        .get(&format!(
            "/task-runs/{}/storage?cursor={cursor}",
            demo::EDGE_CASES_RUN
        ))
        .await;
    assert_eq!(
        (foreign.status, foreign.code()),
        (400, "cursor_invalid".to_owned())
    );

    // Edited by one character, truncated, or made up: rejected.
    let mut edited = cursor.clone().into_bytes();
    let last = edited.len() - 3;
    edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
    let edited = String::from_utf8(edited).unwrap();
    for bad in [
        edited.as_str(),
        &cursor[..cursor.len() - 4],
        "eyJpZCI6ImFnZW50X2RlZiJ9",
        "%00",
    ] {
        let reply = h
            .get(&format!(
                "/task-runs/{}/storage?cursor={bad}",
                demo::STATEMENTS_RUN
            ))
            .await;
        assert_eq!(reply.status, 400, "{bad}");
        let error = reply.error();
        assert_eq!(error.errors[0].code, "cursor_invalid");
        assert_eq!(error.errors[0].field.as_deref(), Some("cursor"));
    }

    // A cursor from another fake with a different secret: rejected.
    let other = Harness::with(
        FakeDeck::builder()
            .demo_data()
            .secret(99)
            .start()
            .await
            .unwrap(),
    );
    let reply = other
        .get(&format!(
            "/task-runs/{}/storage?cursor={cursor}",
            demo::STATEMENTS_RUN
        ))
        .await;
    assert_eq!(reply.code(), "cursor_invalid");

    // An empty cursor means "first page".
    assert_eq!(
        ids(&page(&h, demo::STATEMENTS_RUN, "cursor=&limit=2").await),
        ids(&first)
    );
}

#[tokio::test]
async fn deleting_between_pages_neither_skips_nor_repeats() {
    let h = Harness::start().await;
    let items = (0..6).map(|i| ItemSeed::new(format!("f{i}"), "text/plain", Content::bytes("x")));
    let seeded = h.fake.add_run(RunSeed::new("trun_d").items(items)).unwrap();
    let first = page(&h, "trun_d", "limit=3").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // Delete the last item of page 1 and the first of page 2.
    for id in [&seeded.item_ids[2], &seeded.item_ids[3]] {
        let reply = h
            .send(Method::DELETE, &format!("/storage/{id}"), None, &[])
            .await;
        assert_eq!(reply.status, 200);
    }
    let second = page(&h, "trun_d", &format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&second), &seeded.item_ids[4..]);
    assert_eq!(second["has_more"], false);
}

#[tokio::test]
async fn repeat_cursor_and_has_more_without_cursor_faults() {
    let h = Harness::demo().await;
    let run = demo::STATEMENTS_RUN;

    let repeat = h.fake.inject(Route::ListStorage, Fault::RepeatCursor, 2);
    let first = page(&h, run, "").await;
    assert_eq!(first["has_more"], true);
    let c0 = first["next_cursor"].as_str().unwrap().to_owned();
    // The cursor of a first page points back to the first page.
    let looped = page(&h, run, &format!("cursor={c0}")).await;
    assert_eq!(ids(&looped), ids(&first));
    assert_eq!(looped["next_cursor"].as_str(), Some(c0.as_str()));
    assert_eq!(repeat.hits(), 2);
    // Disarmed after two firings: the same cursor now moves on.
    let moved = page(&h, run, &format!("cursor={c0}")).await;
    assert_ne!(moved["next_cursor"].as_str(), Some(c0.as_str()));

    h.fake
        .inject(Route::ListStorage, Fault::HasMoreWithoutCursor, 1);
    let last_page = page(&h, demo::EMPTY_RUN, "").await;
    assert_eq!(last_page["has_more"], true);
    assert_eq!(last_page["next_cursor"], Value::Null);
    assert_eq!(h.fake.fault_hits(Route::ListStorage), 3);
}
