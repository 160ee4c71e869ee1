//! Downloads of one storage item against the fake Deck: streaming, the separate unauthenticated
//! client, resume with `Range`, restart when `Range` is ignored, one re-fetch for expired or
//! missing URLs, bounded attempts, progress, atomic files.

#![cfg(feature = "fake")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use deck_api_ext::ErrorKind;
use deck_api_ext::fake::{AuthorizationSeen, Fault, Route};
use deck_api_ext::storage::{Progress, StorageItem};

const SIZE: u64 = 300 * 1024;

#[tokio::test]
async fn streams_the_exact_bytes_without_sending_the_api_key_to_storage() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 7)]).await;
    let item = items(&deck).await.remove(0);
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut out)
        .await
        .unwrap();
    assert_eq!(out, content(&fake, &item.id));
    assert_eq!(done.bytes, SIZE);
    assert_eq!((done.attempts, done.resumed, done.restarted), (1, 0, 0));
    assert!(!done.url_refreshed);

    // The storage host never saw an Authorization header; the API always got the key.
    assert!(!fake.storage_saw_authorization());
    let storage = storage_requests(&fake);
    assert_eq!(storage.len(), 1);
    assert!(
        storage
            .iter()
            .all(|r| r.authorization == AuthorizationSeen::Absent)
    );
    assert!(storage.iter().all(|r| r.header("authorization").is_none()));
    let api = api_requests(&fake, "GET", "/task-runs/trun_s/storage");
    assert!(
        api.iter()
            .all(|r| r.authorization == AuthorizationSeen::AcceptedKey)
    );
}

#[tokio::test]
async fn reports_progress_up_to_the_total() {
    let (_fake, deck) = fake_with(vec![generated("a.bin", SIZE, 1)]).await;
    let item = items(&deck).await.remove(0);
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let log = Arc::clone(&seen);
    deck.download(&item)
        .options(fast())
        .on_progress(move |p| log.lock().unwrap().push(p))
        .to_writer(&mut tokio::io::sink())
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0].bytes_done < w[1].bytes_done));
    assert!(seen.iter().all(|p| p.total == SIZE));
    assert_eq!(seen.last().unwrap().bytes_done, SIZE);
    assert_eq!(seen.iter().map(|p| p.delta).sum::<u64>(), SIZE);
}

#[tokio::test]
async fn a_cut_connection_resumes_with_a_range_request() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 2)]).await;
    let item = items(&deck).await.remove(0);
    let cut = fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 100_000,
        },
        1,
    );
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut out)
        .await
        .unwrap();
    assert_eq!(cut.hits(), 1);
    assert_eq!(out, content(&fake, &item.id));
    assert_eq!((done.attempts, done.resumed, done.restarted), (2, 1, 0));
    let storage = storage_requests(&fake);
    assert_eq!(storage.len(), 2);
    assert_eq!(storage[0].header("range"), None);
    assert_eq!(storage[1].header("range"), Some("bytes=100000-"));
    assert_eq!(storage[1].status, Some(206));
}

#[tokio::test]
async fn repeated_cuts_that_make_progress_are_all_resumed() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 3)]).await;
    let item = items(&deck).await.remove(0);
    // More cuts than max_attempts: each one delivered new bytes, so none counts against it.
    fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 40_000,
        },
        6,
    );
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast().with_max_attempts(2))
        .to_writer(&mut out)
        .await
        .unwrap();
    assert_eq!(out, content(&fake, &item.id));
    assert_eq!((done.attempts, done.resumed), (7, 6));
}

#[tokio::test]
async fn a_server_ignoring_range_restarts_and_skips_what_is_written() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 4)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 150_000,
        },
        1,
    );
    let ignored = fake.inject(Route::StorageDownload, Fault::IgnoreRange, 1);
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut out)
        .await
        .unwrap();
    assert_eq!(ignored.hits(), 1);
    assert_eq!(out, content(&fake, &item.id));
    assert_eq!((done.attempts, done.resumed, done.restarted), (2, 0, 1));
    let storage = storage_requests(&fake);
    assert_eq!(storage[1].header("range"), Some("bytes=150000-"));
    assert_eq!(storage[1].status, Some(200));
}

#[tokio::test]
async fn an_expired_url_is_refreshed_once() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 5)]).await;
    let item = items(&deck).await.remove(0);
    fake.expire_urls();
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut out)
        .await
        .unwrap();
    assert!(done.url_refreshed);
    assert_eq!(out, content(&fake, &item.id));
    assert_eq!(
        api_requests(&fake, "GET", &format!("/storage/{}", item.id)).len(),
        1
    );
    let storage = storage_requests(&fake);
    assert_eq!(
        storage.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(403), Some(200)]
    );
}

#[tokio::test]
async fn an_expired_url_mid_download_is_refreshed_and_resumed() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 6)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 50_000,
        },
        1,
    );
    fake.inject(Route::StorageDownload, Fault::ExpiredUrl, 1);
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut out)
        .await
        .unwrap();
    assert_eq!(out, content(&fake, &item.id));
    assert!(done.url_refreshed);
    assert_eq!(done.resumed, 1);
    let storage = storage_requests(&fake);
    assert_eq!(storage.len(), 3);
    assert_eq!(storage[2].header("range"), Some("bytes=50000-"));
}

#[tokio::test]
async fn a_url_refused_again_after_the_refresh_is_an_error() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 8)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(Route::StorageDownload, Fault::ExpiredUrl, 5);
    let err = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    let text = err.to_string();
    assert!(text.contains(&item.id), "{text}");
    assert!(text.contains("HTTP 403"), "{text}");
    assert!(text.contains("also after fetching a fresh URL"), "{text}");
    // The signature is never part of an error.
    assert!(!text.contains("sig="), "{text}");
    assert_eq!(
        api_requests(&fake, "GET", &format!("/storage/{}", item.id)).len(),
        1
    );
    assert_eq!(storage_requests(&fake).len(), 2);
}

#[tokio::test]
async fn a_null_url_is_fetched_again() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 9)]).await;
    let listed = items(&deck).await.remove(0);
    let mut value = serde_json::to_value(&listed).unwrap();
    value["url"] = serde_json::Value::Null;
    let item: StorageItem = serde_json::from_value(value).unwrap();
    assert!(item.url.is_none());
    let mut out = Vec::new();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut out)
        .await
        .unwrap();
    assert!(done.url_refreshed);
    assert_eq!(out, content(&fake, &item.id));
    assert_eq!(
        api_requests(&fake, "GET", &format!("/storage/{}", item.id)).len(),
        1
    );
}

#[tokio::test]
async fn an_item_deck_never_gives_a_url_for_fails_after_one_refresh() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 10, 9).without_url()]).await;
    let item = items(&deck).await.remove(0);
    let err = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(
        err.to_string()
            .contains("Deck sent no download URL (url: null), also after fetching a fresh URL"),
        "{err}"
    );
    assert_eq!(
        api_requests(&fake, "GET", &format!("/storage/{}", item.id)).len(),
        1
    );
    assert!(storage_requests(&fake).is_empty());
}

#[tokio::test]
async fn attempts_without_progress_are_bounded() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 10)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(Route::StorageDownload, Fault::status(503), 100);
    let err = deck
        .download(&item)
        .options(fast().with_max_attempts(3))
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(
        err.to_string()
            .contains("giving up after 3 attempt(s) without progress (0 of 307200 bytes written): the storage host answered HTTP 503"),
        "{err}"
    );
    assert_eq!(storage_requests(&fake).len(), 3);
}

#[tokio::test]
async fn cuts_before_any_byte_count_as_attempts() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 11)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(Route::StorageDownload, Fault::CutBody { after_bytes: 0 }, 2);
    let done = deck
        .download(&item)
        .options(fast().with_max_attempts(3))
        .to_writer(&mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(done.attempts, 3);
}

#[tokio::test]
async fn a_stalled_response_hits_the_read_timeout_and_is_retried() {
    let (fake, _) = fake_with(vec![generated("a.bin", 1000, 12)]).await;
    let deck = deck_api_ext::Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .read_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let item = items(&deck).await.remove(0);
    fake.inject(
        Route::StorageDownload,
        Fault::Latency(Duration::from_secs(30)),
        1,
    );
    let started = std::time::Instant::now();
    let done = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap();
    assert_eq!(done.attempts, 2);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_body_of_another_length_than_file_size_is_rejected() {
    let (fake, deck) = fake_with(vec![
        generated("short.bin", 1000, 13).declared_file_size(2000),
        generated("long.bin", 1000, 14).declared_file_size(500),
    ])
    .await;
    let listed = items(&deck).await;
    for item in &listed {
        let err = deck
            .download(item)
            .options(fast())
            .to_writer(&mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Download);
        let size = item.file_size;
        assert!(
            err.to_string().contains(&format!(
                "the storage host sends 1000 bytes, but file_size is {size}"
            )),
            "{err}"
        );
    }
    // No retry loop: one request per item.
    assert_eq!(storage_requests(&fake).len(), 2);
}

#[tokio::test]
async fn a_missing_file_on_the_storage_host_fails_at_once() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 10, 15)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(Route::StorageDownload, Fault::status(404), 1);
    let err = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(storage_requests(&fake).len(), 1);
}

#[tokio::test]
async fn to_path_writes_atomically_and_leaves_no_temporary_file() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 16)]).await;
    let item = items(&deck).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("a.bin");
    std::fs::write(&target, b"an older version").unwrap();
    fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 70_000,
        },
        1,
    );
    let done = deck
        .download(&item)
        .options(fast())
        .to_path(&target)
        .await
        .unwrap();
    assert_eq!(done.resumed, 1);
    assert_eq!(std::fs::read(&target).unwrap(), content(&fake, &item.id));
    assert_eq!(dir_names(dir.path()), ["a.bin"]);
}

#[tokio::test]
async fn a_failed_download_to_a_path_leaves_nothing_at_the_target() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 17)]).await;
    let item = items(&deck).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 100_000,
        },
        1,
    );
    fake.inject(Route::StorageDownload, Fault::status(500), 10);
    let target = dir.path().join("a.bin");
    let err = deck
        .download(&item)
        .options(fast().with_max_attempts(2))
        .to_path(&target)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );

    // An existing file is left untouched by a failed download.
    std::fs::write(&target, b"keep me").unwrap();
    fake.inject(Route::StorageDownload, Fault::status(500), 10);
    deck.download(&item)
        .options(fast().with_max_attempts(2))
        .to_path(&target)
        .await
        .unwrap_err();
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert_eq!(dir_names(dir.path()), ["a.bin"]);
}

#[tokio::test]
async fn a_cancelled_download_removes_its_temporary_file() {
    let (fake, deck) = fake_with(vec![generated("a.bin", SIZE, 18)]).await;
    let item = items(&deck).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    fake.inject(
        Route::StorageDownload,
        Fault::Latency(Duration::from_secs(30)),
        1,
    );
    let download = deck.download(&item).to_path(dir.path().join("a.bin"));
    let outcome = tokio::time::timeout(Duration::from_millis(300), download).await;
    assert!(outcome.is_err(), "the download should still be waiting");
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );
}

#[tokio::test]
async fn a_target_without_a_directory_is_an_io_error() {
    let (_fake, deck) = fake_with(vec![generated("a.bin", 10, 19)]).await;
    let item = items(&deck).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let err = deck
        .download(&item)
        .to_path(dir.path().join("missing").join("a.bin"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn retries_without_progress_back_off_exponentially() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 1000, 20)]).await;
    let item = items(&deck).await.remove(0);
    fake.inject(Route::StorageDownload, Fault::status(503), 3);
    let options = deck_api_ext::storage::DownloadOptions::default()
        .with_backoff(Duration::from_secs(1), Duration::from_secs(60))
        .with_jitter(|| 1.0)
        .with_max_attempts(5);
    let started = tokio::time::Instant::now();
    let done = deck
        .download(&item)
        .options(options)
        .to_writer(&mut Vec::new())
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(done.attempts, 4);
    // Three waits of 1 s, 2 s and 4 s (full jitter pinned to its ceiling).
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_millis(7500),
        "{waited:?}"
    );
}
