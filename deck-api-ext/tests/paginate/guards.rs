//! Pagination guards against a scripted list endpoint on 127.0.0.1: listings that are malformed
//! in ways the fake Deck server has no knob for (empty pages, a cursor repeated pages later,
//! undecodable bodies, a server that ignores `limit`).
#![cfg(feature = "fake")]

use std::time::Duration;

use crate::support::{Item, Scripted, body, ids, page, raw};
use deck_api_ext::paginate::{MAX_CONSECUTIVE_EMPTY_PAGES, Page, PageRequest, Paginator};
use deck_api_ext::{ErrorKind, ListExt};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;

/// The run every scripted listing pages through (the scripted server answers any path).
const RUN: &str = "trun_things";

#[tokio::test]
async fn an_empty_middle_page_is_followed() {
    let server = Scripted::start(vec![
        (None, page(&["a", "b"], true, Some("c1"))),
        (Some("c1"), page(&[], true, Some("c2"))),
        (Some("c2"), page(&["c"], false, None)),
    ])
    .await;
    let pages: Vec<Page<Item>> = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.data.len()).collect();
    assert_eq!(sizes, [2, 0, 1], "the empty page is delivered as a page");
    assert_eq!(pages[1].request_id.as_deref(), Some("req_empty"));

    let items = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&items), ["a", "b", "c"]);
    assert_eq!(
        server.cursors()[3..],
        [None, Some("c1".into()), Some("c2".into())]
    );
}

#[tokio::test]
async fn too_many_empty_pages_in_a_row_fail() {
    let cursors: Vec<String> = (0..=MAX_CONSECUTIVE_EMPTY_PAGES + 2)
        .map(|i| format!("e{i}"))
        .collect();
    let mut answers = vec![(None, page(&[], true, Some("e0")))];
    for pair in cursors.windows(2) {
        answers.push((Some(pair[0].as_str()), page(&[], true, Some(&pair[1]))));
    }
    let server = Scripted::start(answers).await;
    let mut pages = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .pages();
    let mut delivered = 0;
    let error = loop {
        match pages.next().await.expect("the stream ends with an error") {
            Ok(_) => delivered += 1,
            Err(error) => break error,
        }
    };
    let limit = MAX_CONSECUTIVE_EMPTY_PAGES as usize + 1;
    assert_eq!(delivered, limit);
    assert_eq!(server.queries().len(), limit, "no request after the cap");
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert!(
        error.to_string().contains("empty pages in a row"),
        "{error}"
    );
    // The listing can still be resumed where it stopped, e.g. later.
    assert_eq!(
        pages.resume_cursor(),
        Some(format!("e{}", MAX_CONSECUTIVE_EMPTY_PAGES).as_str())
    );
    assert!(pages.next().await.is_none());
}

#[tokio::test]
async fn a_cursor_repeated_pages_later_fails_after_delivering_the_page() {
    let server = Scripted::start(vec![
        (None, page(&["a"], true, Some("c1"))),
        (Some("c1"), page(&["b"], true, Some("c2"))),
        (Some("c2"), page(&["c"], true, Some("c1"))),
    ])
    .await;
    let mut items = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .items();
    let mut got = Vec::new();
    let error = loop {
        match items.next().await.expect("an error ends the stream") {
            Ok(item) => got.push(item),
            Err(error) => break error,
        }
    };
    assert_eq!(ids(&got), ["a", "b", "c"], "every page served is delivered");
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert_eq!(
        error.to_string(),
        "listTaskRunStorage: pagination error: next_cursor \"c1\" was already used in this listing; \
         following it would repeat pages"
    );
    assert_eq!(
        server.queries().len(),
        3,
        "the repeated cursor is never requested"
    );
    assert_eq!(items.resume_cursor(), None, "only a fresh start is safe");
    assert!(items.next().await.is_none(), "the error is yielded once");
}

#[tokio::test]
async fn has_more_with_an_empty_cursor_fails() {
    let server = Scripted::start(vec![(None, page(&["a"], true, Some("")))]).await;
    let mut items = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .items();
    assert_eq!(items.next().await.unwrap().unwrap().id, "a");
    let error = items.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert!(
        error.to_string().contains("next_cursor is empty"),
        "{error}"
    );
    assert!(items.next().await.is_none());
    assert_eq!(server.queries().len(), 1);
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_names_the_json_path() {
    let server = Scripted::start(vec![
        (None, page(&["a"], true, Some("c1"))),
        (
            Some("c1"),
            body(
                200,
                json!({"data": [{"id": "b"}, {"id": 7}], "has_more": false, "next_cursor": null}),
            ),
        ),
    ])
    .await;
    let mut items = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .items();
    assert_eq!(items.next().await.unwrap().unwrap().id, "a");
    let error = items.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert_eq!(error.json_path(), Some("data[1].id"));
    assert!(
        error
            .to_string()
            .starts_with("listTaskRunStorage: response body at data[1].id: "),
        "{error}"
    );
    assert_eq!(
        items.resume_cursor(),
        Some("c1"),
        "retry the page that failed"
    );
    assert!(items.next().await.is_none());
}

#[tokio::test]
async fn a_truncated_body_is_a_decode_error() {
    let server = Scripted::start(vec![(None, raw(r#"{"data":[{"id":"a"},"#))]).await;
    let error = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .try_collect_all()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
    assert!(error.raw_body().is_some_and(|b| b.starts_with("{\"data\"")));
}

#[tokio::test]
async fn a_stale_cursor_is_deck_s_cursor_invalid() {
    let server = Scripted::start(vec![(None, page(&["a"], false, None))]).await;
    let error = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .resume_from("expired")
        .try_collect_all()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.code(), Some("cursor_invalid"));
    assert_eq!(server.cursors(), [Some("expired".into())]);
}

#[tokio::test]
async fn builder_parameters_and_limit_are_re_sent_and_encoded_on_every_page() {
    let server = Scripted::start(vec![
        (Some("start"), page(&["a"], true, Some("c 1+/="))),
        (Some("c 1+/="), page(&["b"], false, None)),
    ])
    .await;
    let deck = server.deck();
    let items = deck
        .api()
        .list_task_run_storage()
        .run_id("trun a&b")
        .limit(1)
        .cursor("start")
        .paginate_as::<Item>()
        .try_collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&items), ["a", "b"]);
    let queries: Vec<Vec<(String, String)>> = server
        .queries()
        .iter()
        .map(|q| crate::support::url_pairs(q))
        .collect();
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        queries,
        [
            vec![pair("limit", "1"), pair("cursor", "start")],
            vec![pair("limit", "1"), pair("cursor", "c 1+/=")],
        ],
        "the builder's limit is the page size, its cursor where the listing starts"
    );
    assert!(
        server
            .paths()
            .iter()
            .all(|p| p == "/v2/task-runs/trun%20a&b/storage"),
        "{:?}",
        server.paths()
    );
}

#[tokio::test]
async fn invalid_settings_fail_before_any_request() {
    let server = Scripted::start(vec![(None, page(&["a"], false, None))]).await;
    let deck = server.deck();
    let list = || deck.api().list_task_run_storage().run_id(RUN);
    for (paginator, expected) in [
        (
            // The spec's `minimum: 1` makes the builder's `limit` a `NonZeroU32`.
            list().limit(0).paginate_as::<Item>(),
            "conversion to `:: std :: num :: NonZeroU32` for limit failed",
        ),
        (
            list().limit(101).paginate_as::<Item>(),
            "limit must be between 1 and 100, got 101",
        ),
        (
            list().paginate_as::<Item>().limit(500),
            "limit must be between 1 and 100, got 500",
        ),
        (
            list().paginate_as::<Item>().resume_from(""),
            "resume_from: the cursor is empty",
        ),
        (
            deck.api().list_task_run_storage().paginate_as::<Item>(),
            "run_id was not initialized",
        ),
        (
            list().run_id("..").paginate_as::<Item>(),
            "path parameter `run_id` must not be a dot segment (`.` or `..`)",
        ),
        (
            list().run_id("").paginate_as::<Item>(),
            "path parameter `run_id` must not be empty",
        ),
    ] {
        let error = paginator.try_collect_all().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert_eq!(
            error.to_string(),
            format!("listTaskRunStorage: invalid request: {expected}")
        );
    }
    assert!(server.queries().is_empty());
}

#[tokio::test]
async fn max_items_truncates_a_page_larger_than_asked_for() {
    // This server ignores `limit`: the paginator asks for 1 item on the last page, gets 2,
    // delivers 1 and resumes at that page (no item is lost).
    let server = Scripted::start(vec![
        (None, page(&["a", "b"], true, Some("c1"))),
        (Some("c1"), page(&["c", "d"], true, Some("c2"))),
    ])
    .await;
    let mut items = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .limit(2)
        .max_items(3)
        .items();
    let mut got = Vec::new();
    while let Some(item) = items.try_next().await.unwrap() {
        got.push(item);
    }
    assert_eq!(ids(&got), ["a", "b", "c"]);
    let limits: Vec<String> = server
        .queries()
        .iter()
        .flat_map(|q| crate::support::url_pairs(q))
        .filter(|(k, _)| k == "limit")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        limits,
        ["2", "1"],
        "the last request asks only for what is missing"
    );
    assert_eq!(items.resume_cursor(), Some("c1"));
}

#[tokio::test]
async fn items_resume_at_the_page_still_being_read() {
    let server = Scripted::start(vec![
        (None, page(&["a", "b"], true, Some("c1"))),
        (Some("c1"), page(&["c"], false, None)),
    ])
    .await;
    let mut items = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .items();
    assert_eq!(items.resume_cursor(), None);
    items.next().await.unwrap().unwrap();
    assert_eq!(items.resume_cursor(), None, "page 1 is still being read");
    items.next().await.unwrap().unwrap();
    assert_eq!(items.resume_cursor(), Some("c1"));
    items.next().await.unwrap().unwrap();
    assert!(items.next().await.is_none());
    assert_eq!(items.resume_cursor(), None, "complete");
}

#[tokio::test]
async fn with_prefetch_the_next_page_is_fetched_while_the_caller_works_but_no_further() {
    let server = Scripted::start(vec![
        (None, page(&["a"], true, Some("c1"))),
        (Some("c1"), page(&["b"], true, Some("c2"))),
        (Some("c2"), page(&["c"], true, Some("c3"))),
        (Some("c3"), page(&["d"], false, None)),
    ])
    .await;
    let mut pages = server
        .deck()
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .prefetch(true)
        .pages();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(server.queries().is_empty(), "lazy even with prefetch");

    let first = pages.next().await.unwrap().unwrap();
    assert_eq!(ids(&first.data), ["a"]);
    // The caller "works" on page 1: page 2 arrives in the background, page 3 is not asked for.
    wait_for_requests(&server, 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.queries().len(), 2, "never more than one page ahead");

    let second = pages.next().await.unwrap().unwrap();
    assert_eq!(ids(&second.data), ["b"]);
    wait_for_requests(&server, 3).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.queries().len(), 3);

    let rest: Vec<Page<Item>> = pages.try_collect().await.unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(server.queries().len(), 4, "no request after the last page");
}

async fn wait_for_requests(server: &Scripted, n: usize) {
    for _ in 0..500 {
        if server.queries().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("expected {n} requests, saw {:?}", server.queries());
}

#[tokio::test]
async fn from_fn_gets_cursor_and_limit_and_the_same_guards() {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    let paginator = Paginator::from_fn("listNumbers", move |request: PageRequest| {
        seen.lock().unwrap().push(request.clone());
        async move {
            Ok(match request.cursor.as_deref() {
                None => Page::new(vec![1, 2], true, Some("n1".into())),
                Some("n1") => Page::new(vec![], true, Some("n2".into())),
                _ => Page::new(vec![3], true, Some("n1".into())),
            })
        }
    })
    .limit(2);
    let mut items = paginator.clone().items();
    let mut got = Vec::new();
    let error = loop {
        match items.next().await.unwrap() {
            Ok(n) => got.push(n),
            Err(e) => break e,
        }
    };
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(error.kind(), ErrorKind::Pagination);
    assert_eq!(
        *calls.lock().unwrap(),
        [
            PageRequest::new(None, Some(2)),
            PageRequest::new(Some("n1".into()), Some(2)),
            PageRequest::new(Some("n2".into()), Some(2)),
        ]
    );
    assert_eq!(calls.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn streams_are_send_unpin_and_fused() {
    fn assert_stream<S: futures_util::stream::FusedStream + Send + Unpin + 'static>(_: &S) {}
    let server = Scripted::start(vec![(None, page(&["a"], false, None))]).await;
    let deck = server.deck();
    let pages = deck
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .pages();
    let items = deck
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .paginate_as::<Item>()
        .items();
    assert_stream(&pages);
    assert_stream(&items);
    fn assert_shareable<P: Send + Sync + Clone + 'static>() {}
    assert_shareable::<Paginator<Item>>();
    // A stream can be moved to another task.
    let handle = tokio::spawn(async move { items.try_collect::<Vec<_>>().await });
    assert_eq!(ids(&handle.await.unwrap().unwrap()), ["a"]);
}
