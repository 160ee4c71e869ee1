//! The fake's storage origin: pre-signed, expiring URLs; `Range`; cut bodies; and the record of
//! whether a client ever sent it an `Authorization` header.

use crate::support::Harness;
use deck_api_ext::fake::{Content, FakeDeck, Fault, ItemSeed, Origin, Route, RunSeed, demo};
use futures_util::StreamExt;
use reqwest::Method;
use std::time::Duration;

async fn with_file(content: Content) -> (Harness, String) {
    let h = Harness::start().await;
    let seeded = h
        .fake
        .add_run(RunSeed::new("trun_f").item(ItemSeed::new(
            "f.bin",
            "application/octet-stream",
            content,
        )))
        .unwrap();
    (h, seeded.item_ids[0].clone())
}

#[tokio::test]
async fn every_get_returns_a_fresh_working_url() {
    let h = Harness::demo().await;
    let listed = h.list_all(demo::STATEMENTS_RUN).await;
    let from_list = listed[0]["url"].as_str().unwrap().to_owned();
    let first = h.item_url(demo::STATEMENT_JAN_2025).await;
    let second = h.item_url(demo::STATEMENT_JAN_2025).await;
    assert_ne!(first, second);
    assert_ne!(first, from_list);
    assert!(first.starts_with(&format!(
        "{}/files/{}?",
        h.fake.storage_base_url(),
        demo::STATEMENT_JAN_2025
    )));

    let expected = h
        .fake
        .content(demo::STATEMENT_JAN_2025)
        .unwrap()
        .slice(0..u64::MAX);
    for url in [&from_list, &first, &second] {
        let reply = h.fetch(url, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.body, expected);
        assert!(reply.body.starts_with(b"%PDF-1.7"));
        assert_eq!(reply.header("content-type"), Some("application/pdf"));
        assert_eq!(
            reply.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
        assert_eq!(reply.header("accept-ranges"), Some("bytes"));
    }
    assert!(!h.fake.storage_saw_authorization());
}

#[tokio::test]
async fn urls_expire() {
    // TTL zero: expired as soon as issued.
    let fake = FakeDeck::builder()
        .url_ttl(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let h = Harness::with(fake);
    let id = h
        .fake
        .add_run(RunSeed::new("trun_e").item(ItemSeed::new("a", "text/plain", "abc")))
        .unwrap()
        .item_ids[0]
        .clone();
    let reply = h.fetch(&h.item_url(&id).await, &[]).await;
    assert_eq!(reply.status, 403);
    assert!(
        reply.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        reply.text()
    );
    assert!(reply.text().contains("Request has expired"));

    // expire_urls(): every URL issued so far expires at once; new ones work.
    let (h, id) = with_file(Content::bytes("hello")).await;
    let old = h.item_url(&id).await;
    assert_eq!(h.fetch(&old, &[]).await.status, 200);
    h.fake.expire_urls();
    assert_eq!(h.fetch(&old, &[]).await.status, 403);
    let fresh = h.item_url(&id).await;
    assert_eq!(h.fetch(&fresh, &[]).await.body, "hello");

    // The TTL can be changed on a running fake.
    h.fake.set_url_ttl(Duration::ZERO);
    assert_eq!(h.fake.url_ttl(), Duration::ZERO);
    assert_eq!(h.fetch(&h.item_url(&id).await, &[]).await.status, 403);
}

#[tokio::test]
async fn tampered_or_unsigned_urls_are_refused() {
    let (h, id) = with_file(Content::bytes("secret")).await;
    let url = h.item_url(&id).await;

    let forged_sig = format!("{}0000000000000000", &url[..url.len() - 16]);
    let later = url.replace("expires=", "expires=9");
    let unsigned = format!("{}/files/{id}", h.fake.storage_base_url());
    let other_item = url.replace(&id, "stor_other");
    for (bad, code) in [
        (forged_sig.as_str(), "SignatureDoesNotMatch"),
        (later.as_str(), "SignatureDoesNotMatch"),
        (unsigned.as_str(), "AccessDenied"),
        (other_item.as_str(), "SignatureDoesNotMatch"),
    ] {
        let reply = h.fetch(bad, &[]).await;
        assert_eq!(reply.status, 403, "{bad}");
        assert!(
            reply.text().contains(&format!("<Code>{code}</Code>")),
            "{bad}: {}",
            reply.text()
        );
        assert!(reply.header("x-amz-request-id").is_some());
    }

    // A deleted item's URL is a 404, like a missing object key.
    let reply = h
        .send(Method::DELETE, &format!("/storage/{id}"), None, &[])
        .await;
    assert_eq!(reply.status, 200);
    let gone = h.fetch(&url, &[]).await;
    assert_eq!(gone.status, 404);
    assert!(gone.text().contains("NoSuchKey"));
    assert!(h.fake.signed_url(&id).is_none());
}

#[tokio::test]
async fn ranges_are_served_like_an_object_store() {
    let content = Content::generated(100_000, 5);
    let (h, id) = with_file(content.clone()).await;
    let url = h.fake.signed_url(&id).unwrap();

    let tail = h.fetch(&url, &[("Range", "bytes=99000-")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(
        tail.header("content-range"),
        Some("bytes 99000-99999/100000")
    );
    assert_eq!(tail.header("content-length"), Some("1000"));
    assert_eq!(tail.body, content.slice(99_000..100_000));

    let middle = h.fetch(&url, &[("Range", "bytes=10-19")]).await;
    assert_eq!(middle.status, 206);
    assert_eq!(middle.body, content.slice(10..20));

    let suffix = h.fetch(&url, &[("Range", "bytes=-5")]).await;
    assert_eq!(
        suffix.header("content-range"),
        Some("bytes 99995-99999/100000")
    );

    let past_end = h.fetch(&url, &[("Range", "bytes=100000-")]).await;
    assert_eq!(past_end.status, 416);
    assert_eq!(past_end.header("content-range"), Some("bytes */100000"));

    // A resume with If-Range: the current ETag gets the range, a stale one the whole file.
    let etag = tail.header("etag").unwrap().to_owned();
    let resumed = h
        .fetch(&url, &[("Range", "bytes=50-"), ("If-Range", &etag)])
        .await;
    assert_eq!(resumed.status, 206);
    let stale = h
        .fetch(&url, &[("Range", "bytes=50-"), ("If-Range", "\"other\"")])
        .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body.len(), 100_000);

    // IgnoreRange: 200 with the whole file, once.
    let ignore = h.fake.inject(Route::StorageDownload, Fault::IgnoreRange, 1);
    let whole = h.fetch(&url, &[("Range", "bytes=99000-")]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-range"), None);
    assert_eq!(whole.body, content.slice(0..100_000));
    assert_eq!(
        h.fetch(&url, &[("Range", "bytes=99000-")]).await.status,
        206
    );
    assert_eq!(ignore.hits(), 1);
}

#[tokio::test]
async fn cut_body_sends_headers_then_breaks_the_connection() {
    let content = Content::generated(300_000, 8);
    let (h, id) = with_file(content.clone()).await;
    let url = h.fake.signed_url(&id).unwrap();
    let cut = h.fake.inject(
        Route::StorageDownload,
        Fault::CutBody {
            after_bytes: 70_000,
        },
        1,
    );

    let response = h.http.get(&url).send().await.expect("headers arrive");
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(300_000));
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must end in an error, not silently short");
    assert_eq!(received.len(), 70_000);
    assert_eq!(received, content.slice(0..70_000));
    assert_eq!(cut.hits(), 1);

    // The next download is whole; a Range resume continues exactly where the cut happened.
    let rest = h.fetch(&url, &[("Range", "bytes=70000-")]).await;
    assert_eq!(rest.body, content.slice(70_000..300_000));
}

#[tokio::test]
async fn storage_faults_status_and_expired() {
    let (h, id) = with_file(Content::bytes("x")).await;
    let url = h.fake.signed_url(&id).unwrap();

    h.fake.inject(Route::StorageDownload, Fault::ExpiredUrl, 2);
    assert_eq!(h.fetch(&url, &[]).await.status, 403);
    assert_eq!(h.fetch(&url, &[]).await.status, 403);
    assert_eq!(h.fetch(&url, &[]).await.status, 200);

    h.fake
        .inject(Route::StorageDownload, Fault::rate_limited(Some("2")), 1);
    let slow_down = h.fetch(&url, &[]).await;
    assert_eq!(slow_down.status, 429);
    assert_eq!(slow_down.header("retry-after"), Some("2"));
    assert!(slow_down.text().contains("<Code>SlowDown</Code>"));
    assert_eq!(h.fake.fault_hits(Route::StorageDownload), 3);

    // ExpiredUrl on the API: the URLs it returns are already expired.
    h.fake.inject(Route::GetStorageItem, Fault::ExpiredUrl, 1);
    let expired_url = h.item_url(&id).await;
    assert_eq!(h.fetch(&expired_url, &[]).await.status, 403);
    assert_eq!(h.fetch(&h.item_url(&id).await, &[]).await.status, 200);
}

#[tokio::test]
async fn a_large_generated_file_streams_without_being_stored() {
    let h = Harness::demo().await;
    let url = h.fake.signed_url(demo::LARGE_FILE).unwrap();
    let response = h.http.get(&url).send().await.unwrap();
    assert_eq!(response.content_length(), Some(demo::LARGE_FILE_LEN));
    let content = h.fake.content(demo::LARGE_FILE).unwrap();
    assert_eq!(
        content,
        Content::generated(demo::LARGE_FILE_LEN, demo::LARGE_FILE_SEED)
    );
    let mut stream = response.bytes_stream();
    let mut at = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        // Spot-check the first bytes of every chunk against the generator.
        let probe = chunk.len().min(64);
        assert_eq!(
            &chunk[..probe],
            &content.slice(at..at + probe as u64)[..],
            "at {at}"
        );
        at += chunk.len() as u64;
    }
    assert_eq!(at, demo::LARGE_FILE_LEN);
}

#[tokio::test]
async fn authorization_sent_to_storage_is_detected() {
    let (h, id) = with_file(Content::bytes("x")).await;
    let url = h.fake.signed_url(&id).unwrap();
    assert_eq!(h.fetch(&url, &[]).await.status, 200);
    assert!(!h.fake.storage_saw_authorization());

    let leaked = format!("Bearer {}", h.fake.api_key());
    assert_eq!(
        h.fetch(&url, &[("Authorization", &leaked)]).await.status,
        200
    );
    assert!(h.fake.storage_saw_authorization());
    let storage: Vec<_> = h
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Storage)
        .collect();
    assert_eq!(storage.len(), 2);
    assert_eq!(
        storage[1].authorization,
        deck_api_ext::fake::AuthorizationSeen::AcceptedKey
    );
    assert!(!format!("{storage:?}").contains(h.fake.api_key()));
}
