//! The storage endpoints against the fake Deck: list (both shapes, the `file_size` fix end to
//! end), get (a fresh URL), delete (the confirmation, then not-found).

#![cfg(feature = "fake")]

use crate::support::*;
use deck_api_ext::ErrorKind;
use deck_api_ext::extraction::{Extraction, MissingReason};
use deck_api_ext::fake::{Content, FakeDeck, ItemSeed, RunSeed};
use deck_api_ext::storage::{ExtractionResult, Purpose};
use futures_util::TryStreamExt;
use serde_json::json;

#[tokio::test]
async fn lists_every_item_across_pages_in_both_shapes() {
    let mut seeds: Vec<ItemSeed> = (0..45)
        .map(|i| generated(&format!("f{i:02}.bin"), 10 + i, i))
        .collect();
    seeds[3] = generated("guide.pdf", 13, 3)
        .object("storage_item")
        .without_purpose()
        .without_result()
        .fetch_date("2025-01-15T09:30:00Z");
    seeds[4] = generated("spec.pdf", 14, 4)
        .object("storage")
        .purpose("attachment")
        .result("failure");
    seeds[5] = generated("string-size.bin", 15, 5).file_size_as_string();
    seeds[6] = generated("future.bin", 16, 6)
        .purpose("thumbnail")
        .result("partial");
    let (fake, deck) = fake_with(seeds).await;

    let listed = deck
        .list_storage("trun_s")
        .limit(20)
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(listed.len(), 45);
    let ids: Vec<String> = listed.iter().map(|i| i.id.clone()).collect();
    assert_eq!(Some(ids), fake.item_ids("trun_s"));
    assert!(
        listed
            .iter()
            .enumerate()
            .all(|(i, item)| item.file_size == 10 + i as u64)
    );

    assert_eq!(listed[3].purpose, None);
    assert_eq!(listed[3].result, None);
    assert!(listed[3].fetch_date.is_some());
    assert_eq!(listed[4].object, "storage");
    assert_eq!(listed[4].purpose, Some(Purpose::Attachment));
    assert_eq!(listed[4].result, Some(ExtractionResult::Failure));
    assert_eq!(
        listed[4].extraction_as::<serde_json::Value>().unwrap(),
        Extraction::Missing(MissingReason::Failed)
    );
    assert_eq!(listed[6].purpose, Some(Purpose::Other("thumbnail".into())));
    assert_eq!(
        listed[6].result,
        Some(ExtractionResult::Other("partial".into()))
    );

    // Three pages of at most 20, the path percent-encoded.
    let pages = api_requests(&fake, "GET", "/task-runs/trun_s/storage");
    assert_eq!(pages.len(), 3);
}

#[tokio::test]
async fn a_negative_file_size_is_a_decode_error_naming_the_item() {
    let (_fake, deck) = fake_with(vec![
        generated("ok.bin", 10, 1),
        generated("bad.bin", 10, 2).declared_file_size(-1),
    ])
    .await;
    let err = deck
        .list_storage("trun_s")
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("data[1].file_size"));
    assert!(
        err.to_string().starts_with(
            "listTaskRunStorage: response body at data[1].file_size: file_size is negative (-1)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn run_ids_are_percent_encoded_and_empty_ones_rejected() {
    let fake = FakeDeck::start().await.unwrap();
    fake.add_run(RunSeed::new("trun a&b").item(ItemSeed::new(
        "x.txt",
        "text/plain",
        Content::bytes("x"),
    )))
    .unwrap();
    let deck = deck_for(&fake);
    let listed: Vec<_> = deck
        .list_storage("trun a&b")
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        api_requests(&fake, "GET", "/storage")[0].path,
        "/v2/task-runs/trun%20a&b/storage"
    );

    let err = deck
        .list_storage("")
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    let err = deck.get_storage_item("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
}

#[tokio::test]
async fn an_unknown_run_is_not_found() {
    let (_fake, deck) = fake_with(vec![]).await;
    let err = deck
        .list_storage("trun_missing")
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn get_returns_the_item_with_a_fresh_url() {
    let (fake, deck) = fake_with(vec![
        generated("a.bin", 10, 1).extraction(json!({"total": 12.5})),
    ])
    .await;
    let listed = items(&deck).await.remove(0);
    let fetched = deck.get_storage_item(&listed.id).await.unwrap();
    assert_eq!(fetched.id, listed.id);
    assert_eq!(fetched.file_size, 10);
    assert_eq!(fetched.extraction, Some(json!({"total": 12.5})));
    let (old, new) = (listed.url.unwrap(), fetched.url.unwrap());
    assert_ne!(old.expose(), new.expose());
    assert!(new.expose().starts_with(&fake.storage_base_url()));
    assert!(
        api_requests(&fake, "GET", &format!("/storage/{}", listed.id))
            .iter()
            .all(|r| r.status == Some(200))
    );
}

#[tokio::test]
async fn delete_confirms_then_the_item_is_not_found() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 10, 1), generated("b.bin", 10, 2)]).await;
    let id = items(&deck).await.remove(0).id;
    let deleted = deck.delete_storage_item(&id).await.unwrap();
    assert_eq!(deleted.id, id);
    assert!(deleted.deleted);
    assert!(deleted.request_id.is_some());

    let again = deck.delete_storage_item(&id).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Api);
    assert!(again.is_not_found(), "{again}");
    assert_eq!(again.operation(), Some("deleteStorageItem"));

    let gone = deck.get_storage_item(&id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(fake.item_ids("trun_s").unwrap().len(), 1);

    let unknown = deck.delete_storage_item("stor_never").await.unwrap_err();
    assert!(unknown.is_not_found(), "{unknown}");
}

#[tokio::test]
async fn a_deleted_items_download_reports_not_found_from_the_refresh() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 10, 1)]).await;
    let item = items(&deck).await.remove(0);
    deck.delete_storage_item(&item.id).await.unwrap();
    fake.expire_urls();
    let err = deck
        .download(&item)
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn the_typed_calls_read_as_the_readme_shows() {
    use deck_api_ext::prelude::*;
    let (_fake, deck) = fake_with(vec![generated("a.bin", 10, 1)]).await;
    let run_id = "trun_s";
    let run = deck
        .api()
        .get_task_run()
        .run_id(run_id)
        .include("storage")
        .call()
        .await
        .unwrap();
    assert_eq!(run.id, run_id);
    let err = deck
        .api()
        .get_storage_item()
        .storage_id("stor_missing")
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.operation(), Some("getStorageItem"));
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert!(err.code().is_some_and(|c| !c.is_empty()), "{err}");
    let request_id = err.request_id().expect("Deck's request id");
    assert!(request_id.starts_with("req_"), "{request_id}");
}
