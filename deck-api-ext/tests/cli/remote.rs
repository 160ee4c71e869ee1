//! `deck` with `DECK_API_KEY` and `DECK_BASE_URL` pointing at a Deck-compatible server started
//! in the test: the fake Deck (with faults injected) and a hand-written server whose responses
//! carry fields this crate does not know. Every subcommand must work across pages and through
//! 429/503, dropped and expired downloads; failures must be one line with the right exit code.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::{KEY, content, deck, demo_fake, dir_names, fake_builder, redact};
use axum::Router;
use axum::extract::{Path as UrlPath, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use deck_api_ext::fake::{Content, Fault, ItemSeed, Origin, Route, RunSeed, demo};
use serde_json::json;
use tokio::io::AsyncBufReadExt;

/// The recorded API requests of `fake` listing a run's storage.
fn list_requests(fake: &deck_api_ext::fake::FakeDeck) -> Vec<deck_api_ext::fake::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api && r.path.ends_with("/storage") && r.method == "GET")
        .collect()
}

#[tokio::test]
async fn list_follows_every_page_through_429_and_503_mid_listing() {
    let fake = demo_fake().await;
    // Faults fire in the order injected. Expired URLs do not matter to `list`, so the first
    // two pages are served normally and the 503 and the 429 hit the third page's request,
    // which carries a cursor.
    let filler = fake.inject(Route::ListStorage, Fault::ExpiredUrl, 2);
    let unavailable = fake.inject(Route::ListStorage, Fault::status(503), 1);
    let rate_limited = fake.inject(Route::ListStorage, Fault::rate_limited(Some("0")), 1);
    let run = deck(&["storage", "list", demo::STATEMENTS_RUN, "--limit", "10"])
        .against(&fake)
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stderr, "", "no notice: a key is set");
    let ids: Vec<String> = run
        .json_lines()
        .iter()
        .map(|item| {
            assert!(item["file_size"].is_u64(), "{item:?}");
            item["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids, fake.item_ids(demo::STATEMENTS_RUN).unwrap());
    assert_eq!(
        (filler.hits(), unavailable.hits(), rate_limited.hits()),
        (2, 1, 1)
    );

    // 5 pages of 10 and two failed attempts at the third; every request sent limit=10.
    let requests = list_requests(&fake);
    let query = |i: usize| requests[i].query.clone().unwrap_or_default();
    assert_eq!(requests.len(), 7, "{requests:#?}");
    assert!((0..7).all(|i| query(i).contains("limit=10")));
    assert!(!query(0).contains("cursor="));
    assert!((1..7).all(|i| query(i).contains("cursor=")));
    let statuses: Vec<Option<u16>> = requests.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 503, 429, 200, 200, 200].map(Some),
        "{requests:#?}"
    );
    // The retries of the third page sent the same cursor.
    assert_eq!(query(2), query(3));
    assert_eq!(query(3), query(4));
}

#[tokio::test]
async fn get_and_rm_retry_then_a_deleted_item_is_a_404_line() {
    let fake = demo_fake().await;
    let id = demo::STRING_SIZE_STATEMENT;
    let unavailable = fake.inject(Route::GetStorageItem, Fault::status(503), 1);
    let got = deck(&["storage", "get", id]).against(&fake).run().await;
    assert_eq!(got.code, 0, "{got:#?}");
    assert_eq!(got.stderr, "");
    let item = &got.json_lines()[0];
    assert_eq!(item["id"], id);
    assert_eq!(
        item["file_size"].as_u64(),
        Some(fake.content(id).unwrap().len())
    );
    assert_eq!(unavailable.hits(), 1);

    let rate_limited = fake.inject(Route::DeleteStorageItem, Fault::rate_limited(Some("0")), 1);
    let removed = deck(&["storage", "rm", id]).against(&fake).run().await;
    assert_eq!(removed.code, 0, "{removed:#?}");
    let confirmation = &removed.json_lines()[0];
    assert_eq!(
        (confirmation["id"].as_str(), &confirmation["deleted"]),
        (Some(id), &json!(true))
    );
    assert_eq!(rate_limited.hits(), 1);
    assert!(
        !fake
            .item_ids(demo::STATEMENTS_RUN)
            .unwrap()
            .iter()
            .any(|i| i == id)
    );

    let gone = deck(&["storage", "get", id]).against(&fake).run().await;
    assert_eq!(gone.code, 1, "{gone:#?}");
    assert_eq!(gone.stdout, "");
    let again = deck(&["storage", "rm", id]).against(&fake).run().await;
    assert_eq!(again.code, 1, "{again:#?}");
    insta::assert_snapshot!(format!(
        "{}\n{}",
        redact(gone.one_line(), None),
        redact(again.one_line(), None)
    ));
}

#[tokio::test]
async fn pull_crosses_pages_through_faults_dropped_and_expired_downloads() {
    let fake = fake_builder().start().await.unwrap();
    // 130 files: two pages at the pull's page size of 100; ten names collide.
    let seeds = (0..130u64).map(|i| {
        ItemSeed::new(
            format!("file_{:03}.bin", i % 120),
            "application/octet-stream",
            Content::generated(700 + i, i),
        )
    });
    let seeded = fake
        .add_run(RunSeed::new("trun_many").items(seeds))
        .unwrap();
    let list_429 = fake.inject(Route::ListStorage, Fault::rate_limited(Some("0")), 1);
    let list_503 = fake.inject(Route::ListStorage, Fault::status(503), 1);
    let cut = fake.inject(
        Route::StorageDownload,
        Fault::CutBody { after_bytes: 200 },
        4,
    );
    let expired = fake.inject(Route::StorageDownload, Fault::ExpiredUrl, 3);
    let get_429 = fake.inject(Route::GetStorageItem, Fault::rate_limited(Some("0")), 1);

    let dir = tempfile::tempdir().unwrap();
    let run = deck(&[
        "storage",
        "pull",
        "trun_many",
        "--concurrency",
        "4",
        "--out",
    ])
    .arg(dir.path())
    .against(&fake)
    .run()
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout, "");
    let summary = redact(run.one_line(), Some(dir.path()));
    assert_eq!(
        summary,
        "deck: pulled trun_many into [dir]: 130 downloaded, 0 skipped, 0 failed, 97.1 KiB in [t] s"
    );
    assert_eq!(
        [
            list_429.hits(),
            list_503.hits(),
            cut.hits(),
            expired.hits(),
            get_429.hits()
        ],
        [1, 1, 4, 3, 1]
    );
    assert_eq!(list_requests(&fake).len(), 4, "two pages, two retries");
    assert!(!fake.storage_saw_authorization());

    // Every item's bytes are in exactly one file; nothing else (no temporary files) is left.
    let names = dir_names(dir.path());
    assert_eq!(names.len(), 130);
    let mut on_disk: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.path().join(n)).unwrap())
        .collect();
    let mut expected: Vec<Vec<u8>> = seeded
        .item_ids
        .iter()
        .map(|id| content(&fake, id))
        .collect();
    on_disk.sort();
    expected.sort();
    assert!(
        on_disk == expected,
        "the pulled files differ from the served ones"
    );
}

#[tokio::test]
async fn pull_refreshes_urls_that_expired_after_listing_and_retries_a_later_page() {
    let fake = fake_builder().start().await.unwrap();
    let seeds = (0..150u64).map(|i| {
        ItemSeed::new(
            format!("doc_{i}.txt"),
            "text/plain",
            Content::generated(64, i),
        )
    });
    let seeded = fake
        .add_run(RunSeed::new("trun_stale").items(seeds))
        .unwrap();
    // The first page's URLs have expired by the time they are used; the second page's request
    // fails twice before it is served.
    let stale = fake.inject(Route::ListStorage, Fault::ExpiredUrl, 1);
    let unavailable = fake.inject(Route::ListStorage, Fault::status(503), 1);
    let rate_limited = fake.inject(Route::ListStorage, Fault::rate_limited(Some("0")), 1);

    let dir = tempfile::tempdir().unwrap();
    let run = deck(&["storage", "pull", "trun_stale", "--out"])
        .arg(dir.path())
        .against(&fake)
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.one_line()
            .contains(": 150 downloaded, 0 skipped, 0 failed, "),
        "{run:#?}"
    );
    assert_eq!(
        (stale.hits(), unavailable.hits(), rate_limited.hits()),
        (1, 1, 1)
    );
    // One fresh URL per item of the first page.
    let refreshed = fake
        .requests()
        .iter()
        .filter(|r| r.origin == Origin::Api && r.path.starts_with("/v2/storage/"))
        .count();
    assert_eq!(refreshed, 100);
    for id in &seeded.item_ids {
        let n: u64 = id.rsplit('_').next().unwrap().parse().unwrap();
        let on_disk = std::fs::read(dir.path().join(format!("doc_{}.txt", n - 1))).unwrap();
        assert_eq!(on_disk, content(&fake, id), "{id}");
    }
}

#[tokio::test]
async fn failed_files_are_each_one_line_and_the_pull_exits_1() {
    let fake = fake_builder().start().await.unwrap();
    let good = |name: &str, seed| ItemSeed::new(name, "text/plain", Content::generated(300, seed));
    // The storage host serves more bytes than these items declare: a final download error.
    let bad = |name: &str, seed| good(name, seed).declared_file_size(100);
    fake.add_run(RunSeed::new("trun_mixed").items([
        good("a.txt", 1),
        bad("b.txt", 2),
        good("c.txt", 3),
        bad("d.txt", 4),
        good("e.txt", 5),
    ]))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = deck(&["storage", "pull", "trun_mixed", "--out"])
        .arg(dir.path())
        .against(&fake)
        .run()
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr_lines().len(), 3, "{run:#?}");
    insta::assert_snapshot!(redact(&run.stderr, Some(dir.path())));
    assert_eq!(dir_names(dir.path()), ["a.txt", "c.txt", "e.txt"]);

    // The complete files are skipped on a re-run; the failed ones fail again.
    let again = deck(&["storage", "pull", "trun_mixed", "--out"])
        .arg(dir.path())
        .against(&fake)
        .run()
        .await;
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains(": 0 downloaded, 3 skipped, 2 failed, 0 B in "),
        "{again:#?}"
    );
}

// Item 2: sizes near u64::MAX used to overflow the pull's totals: exit 101 ("attempt to add with
// overflow"). Now each file fails on its own (the host sends another length) and deck exits 1.
#[tokio::test]
async fn huge_sizes_fail_their_files_instead_of_overflowing() {
    let fake = fake_builder().start().await.unwrap();
    let huge = |name: &str, seed| {
        ItemSeed::new(name, "text/plain", Content::generated(10, seed)).declared_file_size(i64::MAX)
    };
    fake.add_run(RunSeed::new("trun_huge").items([
        huge("a.txt", 1),
        huge("b.txt", 2),
        huge("c.txt", 3),
    ]))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = deck(&["storage", "pull", "trun_huge", "--out"])
        .arg(dir.path())
        .against(&fake)
        .run()
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(!run.stderr.contains("overflow"), "{run:#?}");
    assert_eq!(run.stderr_lines().len(), 4, "{run:#?}");
    assert!(
        run.stderr
            .contains(": 0 downloaded, 0 skipped, 3 failed, 0 B in "),
        "{run:#?}"
    );
}

#[tokio::test]
async fn a_closed_stdout_ends_the_listing_quietly() {
    let fake = fake_builder().start().await.unwrap();
    // About 2.5 MB of NDJSON: far more than a pipe buffers, so deck is still writing when the
    // reader goes away.
    let padding = "x".repeat(4096);
    let seeds = (0..600u64).map(|i| {
        ItemSeed::new(format!("f{i}.txt"), "text/plain", Content::generated(10, i))
            .metadata(json!({ "padding": padding }))
    });
    fake.add_run(RunSeed::new("trun_big").items(seeds)).unwrap();

    let mut child = deck(&["storage", "list", "trun_big"])
        .against(&fake)
        .spawn();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    assert!(first.contains("\"f0.txt\""), "{first}");
    drop(lines); // `| head -1`

    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

/// Whether a request carries [`KEY`].
fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {KEY}"))
}

fn json_response(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}

fn unauthorized() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        r#"{"errors":[{"type":"auth","code":"api_key_invalid","message":"Invalid API key."}],"request_id":"req_other_401"}"#,
    )
}

/// A Deck-compatible server that is not the fake: pretty-printed bodies, fields and values this
/// crate does not know, sizes as strings, and two malformed listings.
fn other_server() -> Router {
    let list = |UrlPath(run_id): UrlPath<String>,
                Query(query): Query<HashMap<String, String>>,
                headers: HeaderMap| async move {
        if !authorized(&headers) {
            return unauthorized();
        }
        let body = match (run_id.as_str(), query.get("cursor").map(String::as_str)) {
            ("trun_other", None) => OTHER_PAGE_1,
            ("trun_other", Some("c2")) => OTHER_PAGE_2,
            ("trun_bad_size", None) => BAD_SIZE_PAGE,
            ("trun_bad_item", None) => BAD_ITEM_PAGE,
            _ => {
                return json_response(
                    StatusCode::NOT_FOUND,
                    r#"{"errors":[{"type":"request","code":"task_run_not_found","message":"No such run."}],"request_id":"req_other_404"}"#,
                );
            }
        };
        json_response(StatusCode::OK, body)
    };
    let get_item = |headers: HeaderMap| async move {
        if !authorized(&headers) {
            return unauthorized();
        }
        json_response(StatusCode::OK, OTHER_ITEM)
    };
    let delete_item = |headers: HeaderMap| async move {
        if !authorized(&headers) {
            return unauthorized();
        }
        json_response(
            StatusCode::OK,
            r#"{"id":"stor_o1","object":"storage_item","deleted":true,"request_id":"req_other_del","undo_until":null}"#,
        )
    };
    Router::new()
        .route("/v2/task-runs/{run_id}/storage", get(list))
        .route(
            "/v2/storage/{storage_id}",
            get(get_item).delete(delete_item),
        )
}

const OTHER_PAGE_1: &str = r#"{
  "object": "list",
  "data": [
    {
      "id": "stor_o1",
      "object": "storage",
      "file_name": "a.pdf",
      "file_size": "9007199254740993",
      "checksum": { "sha256": "ab12", "algorithm": "sha256" },
      "url": null,
      "purpose": "thumbnail",
      "created_at": "2025-01-15T09:30:00Z",
      "pages": 123456789012345678901234567890,
      "ratio": 1.50
    }
  ],
  "has_more": true,
  "next_cursor": "c2",
  "request_id": "req_other_p1"
}"#;

const OTHER_PAGE_2: &str = r#"{"data":[{"zeta":true,"id":"stor_o2","file_size":0,"file_name":"b \"quoted\" name.csv"}],"has_more":false,"next_cursor":null}"#;

const BAD_SIZE_PAGE: &str = r#"{"data":[{"id":"stor_ok","file_size":1},{"id":"stor_bad","file_size":"12kb"}],"has_more":false}"#;

const BAD_ITEM_PAGE: &str =
    r#"{"data":[{"id":"stor_ok","file_size":1},"not an item"],"has_more":false}"#;

const OTHER_ITEM: &str = r#"{
    "id": "stor_o1",
    "file_size": "42",
    "new_nested": {"z": [1, {"y": null}], "a": "x"},
    "request_id": "req_other_get"
}"#;

/// Serves [`other_server`] on 127.0.0.1 and returns its base URL.
async fn start_other_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, other_server()).await;
    });
    format!("http://{addr}/v2")
}

fn other(args: &[&str], base_url: &str) -> crate::support::Deck {
    deck(args)
        .env("DECK_API_KEY", KEY)
        .env("DECK_BASE_URL", base_url)
}

#[tokio::test]
async fn unknown_fields_order_and_values_are_printed_as_sent() {
    let base = start_other_server().await;
    let listed = other(&["storage", "list", "trun_other"], &base).run().await;
    assert_eq!(listed.code, 0, "{listed:#?}");
    assert_eq!(listed.stderr, "");
    assert_eq!(
        listed.stdout,
        concat!(
            r#"{"id":"stor_o1","object":"storage","file_name":"a.pdf","file_size":9007199254740993,"checksum":{"sha256":"ab12","algorithm":"sha256"},"url":null,"purpose":"thumbnail","created_at":"2025-01-15T09:30:00Z","pages":123456789012345678901234567890,"ratio":1.50}"#,
            "\n",
            r#"{"zeta":true,"id":"stor_o2","file_size":0,"file_name":"b \"quoted\" name.csv"}"#,
            "\n"
        )
    );

    let got = other(&["storage", "get", "stor_o1"], &base).run().await;
    assert_eq!(got.code, 0, "{got:#?}");
    assert_eq!(
        got.stdout,
        r#"{"id":"stor_o1","file_size":42,"new_nested":{"z":[1,{"y":null}],"a":"x"},"request_id":"req_other_get"}"#
            .to_owned()
            + "\n"
    );

    let removed = other(&["storage", "rm", "stor_o1"], &base).run().await;
    assert_eq!(removed.code, 0, "{removed:#?}");
    assert_eq!(
        removed.stdout,
        r#"{"id":"stor_o1","object":"storage_item","deleted":true,"request_id":"req_other_del","undo_until":null}"#
            .to_owned()
            + "\n"
    );
}

#[tokio::test]
async fn malformed_items_name_the_json_path_and_the_item() {
    let base = start_other_server().await;
    let bad_size = other(&["storage", "list", "trun_bad_size"], &base)
        .run()
        .await;
    assert_eq!(bad_size.code, 1, "{bad_size:#?}");
    // The items before the bad one were printed.
    assert_eq!(bad_size.stdout, "{\"id\":\"stor_ok\",\"file_size\":1}\n");
    let bad_item = other(&["storage", "list", "trun_bad_item"], &base)
        .run()
        .await;
    assert_eq!(bad_item.code, 1, "{bad_item:#?}");
    insta::assert_snapshot!(format!("{}\n{}", bad_size.one_line(), bad_item.one_line()));
}

#[tokio::test]
async fn a_wrong_key_is_a_401_line_that_never_shows_the_key() {
    let base = start_other_server().await;
    let run = deck(&["storage", "list", "trun_other"])
        .env("DECK_API_KEY", "sk_live_WRONG_d00d")
        .env("DECK_BASE_URL", &base)
        .run()
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(!run.stderr.contains("sk_live_WRONG_d00d"));
    let fake = fake_builder().start().await.unwrap();
    let wrong = deck(&["storage", "get", "stor_x"])
        .env("DECK_API_KEY", "sk_live_WRONG_d00d")
        .env("DECK_BASE_URL", &fake.base_url())
        .run()
        .await;
    assert_eq!(wrong.code, 1, "{wrong:#?}");
    assert!(!wrong.stderr.contains("sk_live_WRONG_d00d"));
    insta::assert_snapshot!(format!(
        "{}\n{}",
        run.one_line(),
        redact(wrong.one_line(), None)
    ));
}

#[tokio::test]
async fn an_html_gateway_error_after_retries_is_one_line() {
    let fake = demo_fake().await;
    let gateway = fake.inject(
        Route::GetStorageItem,
        Fault::GatewayHtml { status: 502 },
        10,
    );
    let run = deck(&["storage", "get", demo::STATEMENT_JAN_2025])
        .against(&fake)
        .run()
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        gateway.hits(),
        4,
        "the default retry policy makes 4 attempts"
    );
    let line = run.one_line();
    assert!(
        line.starts_with("deck: error: getStorageItem: HTTP 502 Bad Gateway"),
        "{line}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_one_transport_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let run = deck(&["storage", "rm", "stor_x"])
        .env("DECK_API_KEY", KEY)
        .env("DECK_BASE_URL", &format!("http://127.0.0.1:{port}/v2"))
        .run()
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    let line = run.one_line();
    assert!(
        line.starts_with("deck: error: deleteStorageItem: ")
            && line.contains(&format!("127.0.0.1:{port}")),
        "{line}"
    );
}

#[tokio::test]
async fn configuration_errors_are_one_line_and_exit_2() {
    let mut lines = Vec::new();
    // (what, environment, extra flags)
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static [&'static str],
    );
    let cases: [Case; 6] = [
        (
            "--base-url without a key",
            &[],
            &["--base-url", "http://127.0.0.1:9/v2"],
        ),
        (
            "DECK_BASE_URL without a key",
            &[("DECK_BASE_URL", "http://127.0.0.1:9/v2")],
            &[],
        ),
        ("an empty key", &[("DECK_API_KEY", "")], &[]),
        (
            "a key with a space",
            &[("DECK_API_KEY", "sk_live_CLIKEY 3f9a")],
            &[],
        ),
        (
            "an invalid DECK_BASE_URL",
            &[
                ("DECK_API_KEY", KEY),
                ("DECK_BASE_URL", "ftp://deck.example"),
            ],
            &[],
        ),
        (
            "an invalid --base-url",
            &[("DECK_API_KEY", KEY)],
            &["--base-url", "api.deck.co/v2"],
        ),
    ];
    for (what, env, flags) in cases {
        let mut command = deck(&["storage", "get", "stor_1"]);
        for flag in flags {
            command = command.arg(flag);
        }
        for (name, value) in env {
            command = command.env(name, value);
        }
        let run = command.run().await;
        assert_eq!(run.code, 2, "{what}: {run:#?}");
        assert_eq!(run.stdout, "");
        assert!(!run.stderr.contains("3f9a"), "{what}: {run:#?}");
        lines.push(format!("{what}\n  {}", run.one_line()));
    }
    insta::assert_snapshot!(lines.join("\n"));
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_a_pull_with_130_and_leaves_no_partial_file() {
    let fake = fake_builder().start().await.unwrap();
    fake.add_run(RunSeed::new("trun_slow").item(ItemSeed::new(
        "slow.bin",
        "application/octet-stream",
        Content::generated(1000, 1),
    )))
    .unwrap();
    let stall = fake.inject(
        Route::StorageDownload,
        Fault::Latency(Duration::from_secs(60)),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let child = deck(&["storage", "pull", "trun_slow", "--out"])
        .arg(dir.path())
        .against(&fake)
        .spawn();

    // Wait until the download is in flight: its temporary file exists, the response stalls.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stall.hits() == 0 || dir_names(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "the download never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let part = dir_names(dir.path());
    assert!(part[0].ends_with(".part"), "{part:?}");

    let pid = child.id().expect("deck is running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert_eq!(stderr, "deck: error: interrupted\n");
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );
}
