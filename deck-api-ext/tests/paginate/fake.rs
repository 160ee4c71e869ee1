//! `.paginate()` on the generated list operation and `Paginator::from_fn` against the fake Deck
//! server: the happy path with the builder's parameters re-sent, the fake's cursor faults, an error on page 2, limit validation, resuming,
//! laziness, prefetch and `max_items`, asserting on the requests the fake recorded.
#![cfg(feature = "fake")]

use std::time::Duration;

use deck_api_ext::RetryConfig;
use deck_api_ext::api::types::ListStorageItemResponse;
use deck_api_ext::fake::{
    Content, FakeDeck, Fault, ItemSeed, Origin, RecordedRequest, Route, RunSeed,
};
use deck_api_ext::paginate::{Page, PageRequest, Paginator};
use deck_api_ext::prelude::*;
use futures_util::{StreamExt, TryStreamExt};

const RUN: &str = "trun_paginate";
const OP: &str = "listTaskRunStorage";

/// A fake holding `RUN` with `items` storage items.
async fn fake_with(items: usize) -> FakeDeck {
    let fake = FakeDeck::start().await.unwrap();
    fake.add_run(RunSeed::new(RUN).items((0..items).map(|i| {
        ItemSeed::new(
            format!("f{i}.pdf"),
            "application/pdf",
            Content::bytes(format!("%PDF {i}")),
        )
    })))
    .unwrap();
    fake
}

fn deck(fake: &FakeDeck, retry: RetryConfig) -> Deck {
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .retry(retry)
        .build()
        .unwrap()
}

fn list(deck: &Deck) -> Paginator<ListStorageItemResponse> {
    deck.api().list_task_run_storage().run_id(RUN).paginate()
}

/// The list requests the fake received, in order.
fn list_requests(fake: &FakeDeck) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api && r.path == format!("/v2/task-runs/{RUN}/storage"))
        .collect()
}

fn ids(items: &[ListStorageItemResponse]) -> Vec<String> {
    items.iter().map(|i| i.id.clone()).collect()
}

#[tokio::test]
async fn three_pages_with_the_limit_re_sent_on_every_page_and_no_prefetch_by_default() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::default());
    let pages: Vec<Page<ListStorageItemResponse>> = deck
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .limit(10)
        .paginate()
        .pages()
        .try_collect()
        .await
        .unwrap();

    let sizes: Vec<usize> = pages.iter().map(|p| p.data.len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let all: Vec<ListStorageItemResponse> = pages.iter().flat_map(|p| p.data.clone()).collect();
    assert_eq!(
        ids(&all),
        fake.item_ids(RUN).unwrap(),
        "every item once, in order"
    );
    assert_eq!(
        pages.iter().map(|p| p.has_more).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert!(pages[2].next_cursor.is_none());

    let requests = list_requests(&fake);
    assert_eq!(requests.len(), 3);
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.query_param("limit").as_deref(),
            Some("10"),
            "request {i}"
        );
        // Each page carries the request_id of the request that returned it.
        assert_eq!(pages[i].request_id, request.request_id, "request {i}");
    }
    assert_eq!(requests[0].query_param("cursor"), None);
    assert_eq!(requests[1].query_param("cursor"), pages[0].next_cursor);
    assert_eq!(requests[2].query_param("cursor"), pages[1].next_cursor);
}

#[tokio::test]
async fn a_repeated_cursor_stops_after_the_page_that_carried_it() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::default());
    // Without prefetch, page 2 is requested only after the fault is armed.
    let mut items = list(&deck).limit(10).prefetch(false).items();
    let first = items.next().await.unwrap().unwrap();
    // Page 1 is read; page 2 will answer with next_cursor equal to its own cursor.
    let repeat = fake.inject(Route::ListStorage, Fault::RepeatCursor, 1);
    let mut got = vec![first];
    let error = loop {
        match items.next().await.expect("the stream ends with an error") {
            Ok(item) => got.push(item),
            Err(error) => break error,
        }
    };
    assert_eq!(got.len(), 20, "pages 1 and 2 are delivered");
    assert_eq!(repeat.hits(), 1);
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert_eq!(error.operation(), Some(OP));
    assert!(error.to_string().contains("was already used"), "{error}");
    assert!(items.next().await.is_none(), "the error ends the stream");
    assert_eq!(
        list_requests(&fake).len(),
        2,
        "the repeated cursor is not requested"
    );
}

#[tokio::test]
async fn has_more_without_a_cursor_is_an_error_not_an_end() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::default());
    fake.inject(Route::ListStorage, Fault::HasMoreWithoutCursor, 1);
    let mut pages = list(&deck).limit(10).pages();
    let page = pages.next().await.unwrap().unwrap();
    assert!(page.has_more && page.next_cursor.is_none());
    assert_eq!(page.data.len(), 10, "the page itself is delivered");
    let error = pages.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert_eq!(
        error.to_string(),
        "listTaskRunStorage: pagination error: has_more is true but next_cursor is null; \
         the listing cannot continue"
    );
    assert!(pages.next().await.is_none());
    assert_eq!(pages.resume_cursor(), None, "only starting over is safe");
    assert_eq!(list_requests(&fake).len(), 1);
}

#[tokio::test]
async fn an_error_on_page_2_is_yielded_once_then_the_listing_resumes_from_its_cursor() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::disabled());
    let mut pages = list(&deck).limit(10).prefetch(false).pages();
    let first = pages.next().await.unwrap().unwrap();
    fake.inject(Route::ListStorage, Fault::status(500), 1);

    let error = pages.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(500));
    assert!(pages.next().await.is_none(), "yielded once, then the end");
    assert!(pages.next().await.is_none());
    assert_eq!(list_requests(&fake).len(), 2);

    // The failed page's cursor is where a new listing picks up: nothing lost, nothing repeated.
    let resume = pages
        .resume_cursor()
        .expect("a cursor to resume from")
        .to_owned();
    assert_eq!(Some(&resume), first.next_cursor.as_ref());
    let rest = list(&deck)
        .limit(10)
        .resume_from(resume.clone())
        .try_collect_all()
        .await
        .unwrap();
    let mut all = first.data;
    all.extend(rest);
    assert_eq!(ids(&all), fake.item_ids(RUN).unwrap());
    assert_eq!(list_requests(&fake)[2].query_param("cursor"), Some(resume));
}

#[tokio::test]
async fn a_transient_500_is_retried_inside_the_listing() {
    let fake = fake_with(25).await;
    let deck = deck(
        &fake,
        RetryConfig::default().with_initial_backoff(Duration::from_millis(1)),
    );
    let mut items = list(&deck).limit(10).prefetch(false).items();
    items.next().await.unwrap().unwrap();
    let fault = fake.inject(Route::ListStorage, Fault::status(500), 1);
    let rest: Vec<ListStorageItemResponse> = items.try_collect().await.unwrap();
    assert_eq!(rest.len(), 24);
    assert_eq!(fault.hits(), 1);
    assert_eq!(list_requests(&fake).len(), 4, "page 2 was sent twice");
}

#[tokio::test]
async fn limit_0_and_101_are_rejected_without_a_request() {
    let fake = fake_with(3).await;
    let deck = deck(&fake, RetryConfig::default());
    for limit in [0, 101] {
        let error = list(&deck)
            .limit(limit)
            .try_collect_all()
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert_eq!(
            error.to_string(),
            format!(
                "listTaskRunStorage: invalid request: limit must be between 1 and 100, got {limit}"
            )
        );
        let mut pages = list(&deck).limit(limit).pages();
        assert!(pages.next().await.unwrap().is_err());
        assert!(pages.next().await.is_none());
    }
    assert!(fake.requests().is_empty(), "no request was sent");
    // The bounds themselves are accepted.
    for limit in [1, 100] {
        assert_eq!(
            list(&deck)
                .limit(limit)
                .try_collect_all()
                .await
                .unwrap()
                .len(),
            3
        );
    }
}

#[tokio::test]
async fn resumes_from_a_saved_cursor() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::default());
    let first = list(&deck)
        .limit(10)
        .prefetch(false)
        .pages()
        .next()
        .await
        .unwrap()
        .unwrap();
    let saved = first.next_cursor.clone().unwrap();

    let paginator = list(&deck).limit(10).resume_from(saved.clone());
    assert_eq!(paginator.cursor(), Some(saved.as_str()));
    let rest = paginator.try_collect_all().await.unwrap();
    assert_eq!(ids(&rest), fake.item_ids(RUN).unwrap()[10..]);
    let requests = list_requests(&fake);
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].query_param("cursor"), Some(saved));
}

#[tokio::test]
async fn nothing_is_sent_until_the_stream_is_polled() {
    let fake = fake_with(5).await;
    let deck = deck(&fake, RetryConfig::default());
    let paginator = list(&deck).limit(2).prefetch(true);
    let mut items = paginator.clone().items();
    let _pages = paginator.pages();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(fake.requests().is_empty(), "building streams sends nothing");
    items.next().await.unwrap().unwrap();
    assert!(!list_requests(&fake).is_empty());
}

#[tokio::test]
async fn prefetch_stays_one_page_ahead_of_the_item_consumer() {
    let fake = fake_with(30).await;
    let deck = deck(&fake, RetryConfig::default());
    let mut items = list(&deck).limit(10).prefetch(true).items();
    for expected_requests in 1..=3 {
        // Read one item of the page, then "work": the next page arrives, no further one.
        items.next().await.unwrap().unwrap();
        let ahead = (expected_requests + 1).min(3);
        wait_for_list_requests(&fake, ahead).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(
            list_requests(&fake).len(),
            ahead,
            "page {expected_requests}"
        );
        for _ in 0..9 {
            items.next().await.unwrap().unwrap();
        }
    }
    assert!(items.next().await.is_none());
    assert_eq!(list_requests(&fake).len(), 3);
}

async fn wait_for_list_requests(fake: &FakeDeck, n: usize) {
    for _ in 0..500 {
        if list_requests(fake).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!(
        "expected {n} list requests, saw {}",
        list_requests(fake).len()
    );
}

#[tokio::test]
async fn max_items_asks_only_for_what_is_missing_and_can_be_continued() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::default());
    let mut items = list(&deck).limit(10).max_items(15).items();
    let mut first = Vec::new();
    while let Some(item) = items.try_next().await.unwrap() {
        first.push(item);
    }
    assert_eq!(first.len(), 15);
    let limits: Vec<Option<String>> = list_requests(&fake)
        .iter()
        .map(|r| r.query_param("limit"))
        .collect();
    assert_eq!(limits, [Some("10".into()), Some("5".into())]);

    let resume = items.resume_cursor().expect("more to read").to_owned();
    let rest = list(&deck)
        .limit(10)
        .resume_from(resume)
        .try_collect_all()
        .await
        .unwrap();
    first.extend(rest);
    assert_eq!(ids(&first), fake.item_ids(RUN).unwrap());

    let capped = list(&deck).limit(100).collect_items(7).await.unwrap();
    assert_eq!(ids(&capped), fake.item_ids(RUN).unwrap()[..7]);
    assert_eq!(
        list_requests(&fake)
            .last()
            .unwrap()
            .query_param("limit")
            .as_deref(),
        Some("7")
    );
}

#[tokio::test]
async fn a_cursor_from_another_server_is_cursor_invalid() {
    let fake = fake_with(5).await;
    let deck = deck(&fake, RetryConfig::default());
    let error = list(&deck)
        .resume_from("eyJub3QiOiJ2YWxpZCJ9")
        .try_collect_all()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.code(), Some("cursor_invalid"));
}

#[tokio::test]
async fn from_fn_over_the_generated_operation() {
    let fake = fake_with(25).await;
    let deck = deck(&fake, RetryConfig::default());
    let api = deck.clone();
    let paginator = Paginator::from_fn(OP, move |request: PageRequest| {
        let deck = api.clone();
        async move {
            let mut call = deck.api().list_task_run_storage().run_id(RUN);
            if let Some(cursor) = request.cursor {
                call = call.cursor(cursor);
            }
            if let Some(limit) = request.limit {
                call = call.limit(limit);
            }
            let page = call.call().await?;
            Ok(Page::new(page.data, page.has_more, page.next_cursor))
        }
    })
    .limit(10)
    .prefetch(false);
    let items = paginator.clone().try_collect_all().await.unwrap();
    assert_eq!(ids(&items), fake.item_ids(RUN).unwrap());
    assert_eq!(list_requests(&fake).len(), 3);

    // The generated path gets the same guards.
    fake.clear_requests();
    let mut stream = paginator.items();
    stream.next().await.unwrap().unwrap();
    fake.inject(Route::ListStorage, Fault::HasMoreWithoutCursor, 1);
    let error = loop {
        match stream.next().await.unwrap() {
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert_eq!(list_requests(&fake).len(), 2);
}

#[tokio::test]
async fn a_dropped_prefetching_stream_sends_at_most_one_page_more() {
    let fake = fake_with(50).await;
    let deck = deck(&fake, RetryConfig::default());
    let mut pages = list(&deck).limit(10).prefetch(true).pages();
    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(first.data.len(), 10);
    // Prefetch asks for page 2 while page 1 is being used.
    wait_for_list_requests(&fake, 2).await;
    drop(pages);
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(list_requests(&fake).len(), 2, "nothing after the drop");
}

#[tokio::test]
async fn by_default_the_next_page_is_requested_only_when_asked_for() {
    let fake = fake_with(30).await;
    let deck = deck(&fake, RetryConfig::default());
    let mut pages = list(&deck).limit(10).pages();
    pages.next().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(list_requests(&fake).len(), 1);
    pages.next().await.unwrap().unwrap();
    assert_eq!(list_requests(&fake).len(), 2);
}

/// Item 3 of the security review: a list page (or an item) that never ends fails once the body
/// passes the cap, naming the operation and the cap, instead of filling memory.
#[tokio::test]
async fn an_endless_body_fails_at_the_cap_naming_the_operation() {
    let fake = fake_with(1).await;
    let endless_list = fake.inject(Route::ListStorage, Fault::EndlessBody, 1);
    let endless_get = fake.inject(Route::GetStorageItem, Fault::EndlessBody, 1);
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .retry(RetryConfig::disabled())
        .max_response_body(256 * 1024)
        .build()
        .unwrap();
    let err = list(&deck).collect_items(1000).await.unwrap_err();
    assert_eq!(err.kind(), deck_api_ext::ErrorKind::Decode);
    assert_eq!(
        err.to_string(),
        "listTaskRunStorage: response body: the response body exceeds the cap of 262144 bytes (DeckBuilder::max_response_body)"
    );
    let err = deck
        .api()
        .get_storage_item()
        .storage_id("stor_1")
        .call()
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("getStorageItem: ") && err.to_string().contains("262144"),
        "{err}"
    );
    assert_eq!((endless_list.hits(), endless_get.hits()), (1, 1));
}
