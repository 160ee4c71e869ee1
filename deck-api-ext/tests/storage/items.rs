//! Storage items as users see them: both documented shapes, the `file_size` fix, open enums,
//! redacted URLs, the delete confirmation. The Storage guide's examples are fixtures, verbatim.

use deck_api_ext::paginate::Page;
use deck_api_ext::storage::{
    DeletedStorageItem, ExtractionResult, PresignedUrl, Purpose, StorageItem,
};
use serde_json::{Value, json};

const GUIDE_LIST: &str = include_str!("../fixtures/storage_guide_list.json");
const GUIDE_DELETE: &str = include_str!("../fixtures/storage_guide_delete.json");

fn spec_item() -> Value {
    json!({
        "id": "stor_spec1",
        "object": "storage",
        "file_name": "invoice.pdf",
        "file_type": "application/pdf",
        "file_size": 1024,
        "url": "https://storage.example.com/stor_spec1?X-Signature=c2lnbmF0dXJl&expires=1",
        "metadata": null,
        "extraction": {"total": 12.5},
        "purpose": "output",
        "result": "success",
        "created_at": "2025-01-15T09:30:00Z"
    })
}

fn decode(value: Value) -> Result<StorageItem, serde_json::Error> {
    serde_json::from_value(value)
}

#[test]
fn the_guides_example_response_decodes() {
    let page: Page<StorageItem> = serde_json::from_str(GUIDE_LIST).unwrap();
    assert!(!page.has_more);
    assert_eq!(page.next_cursor, None);
    assert_eq!(page.request_id.as_deref(), Some("req_f5g6h7..."));
    let [first, second] = &page.data[..] else {
        panic!("two items expected, got {}", page.data.len());
    };

    assert_eq!(first.id, "stor_x1y2z3...");
    assert_eq!(first.object, "storage_item");
    assert_eq!(first.file_name, "statement_jan_2025.pdf");
    assert_eq!(first.file_type, "application/pdf");
    assert_eq!(first.file_size, 245_678);
    assert_eq!(
        first.url.as_ref().map(PresignedUrl::expose),
        Some("https://storage.deck.co/...")
    );
    assert_eq!(first.metadata, Some(json!({})));
    assert_eq!(first.extraction, None);
    assert_eq!(first.task_run_id.as_deref(), Some("trun_a1b2c3d4..."));
    assert_eq!(first.request_id.as_deref(), Some("req_a1b2c3d4..."));
    assert_eq!(
        first.fetch_date.map(|d| d.to_rfc3339()),
        Some("2025-01-15T09:30:00+00:00".to_owned())
    );
    assert_eq!(first.created_at.to_rfc3339(), "2025-01-15T09:30:00+00:00");
    // The guide's shape has neither purpose nor result.
    assert_eq!(first.purpose, None);
    assert_eq!(first.result, None);

    assert_eq!(second.file_size, 198_432);
    assert_eq!(
        second.extraction.as_ref().unwrap()["company_name"],
        json!("EnergyLink")
    );
    assert_eq!(
        second.extraction.as_ref().unwrap()["amount_due"],
        json!(6925.18)
    );
}

#[test]
fn the_specs_shape_decodes() {
    let item = decode(spec_item()).unwrap();
    assert_eq!(item.object, "storage");
    assert_eq!(item.purpose, Some(Purpose::Output));
    assert_eq!(item.result, Some(ExtractionResult::Success));
    assert_eq!(item.metadata, None);
    assert_eq!(item.fetch_date, None);
    assert_eq!(item.task_run_id, None);
}

#[test]
fn file_size_as_string_is_exact_over_the_whole_range() {
    for (raw, expected) in [
        (json!("245678"), 245_678u64),
        (json!("9007199254740993"), 9_007_199_254_740_993),
        (json!("18446744073709551615"), u64::MAX),
        (json!(18446744073709551615u64), u64::MAX),
        (json!(0), 0),
    ] {
        let mut value = spec_item();
        value["file_size"] = raw.clone();
        assert_eq!(decode(value).unwrap().file_size, expected, "{raw}");
    }
}

#[test]
fn bad_file_sizes_are_decode_errors_naming_the_field_and_item() {
    for (raw, message) in [
        (json!(-1), "file_size is negative (-1)"),
        (json!("-1"), "file_size is negative (-1)"),
        (
            json!("12kb"),
            r#"file_size "12kb" is not a non-negative decimal integer"#,
        ),
        (
            json!("+5"),
            r#"file_size "+5" is not a non-negative decimal integer"#,
        ),
        (json!(1.5), "invalid value: floating point `1.5`"),
    ] {
        let mut bad = spec_item();
        bad["file_size"] = raw.clone();
        let body = json!({
            "data": [spec_item(), spec_item(), spec_item(), bad],
            "has_more": false,
            "next_cursor": null
        })
        .to_string();
        let mut de = serde_json::Deserializer::from_str(&body);
        let err = serde_path_to_error::deserialize::<_, Page<StorageItem>>(&mut de).unwrap_err();
        assert_eq!(err.path().to_string(), "data[3].file_size", "{raw}");
        let text = err.inner().to_string();
        assert!(text.contains(message), "{raw}: {text}");
    }
}

#[test]
fn unknown_fields_and_enum_values_never_fail_decoding() {
    let mut value = spec_item();
    value["purpose"] = json!("thumbnail");
    value["result"] = json!("partial");
    value["checksum"] = json!({"sha256": "00ff"});
    value["expires_at"] = json!("2025-01-15T10:30:00Z");
    let item = decode(value).unwrap();
    assert_eq!(item.purpose, Some(Purpose::Other("thumbnail".into())));
    assert_eq!(item.purpose.as_ref().unwrap().as_str(), "thumbnail");
    assert_eq!(item.result, Some(ExtractionResult::Other("partial".into())));
    // Kept values are sent back unchanged.
    let back = serde_json::to_value(&item).unwrap();
    assert_eq!(back["purpose"], "thumbnail");
    assert_eq!(back["result"], "partial");
    assert_eq!(back["file_size"], 1024);
}

#[test]
fn null_or_missing_url_and_extraction_decode_as_none() {
    let mut value = spec_item();
    value["url"] = Value::Null;
    value["extraction"] = Value::Null;
    let item = decode(value).unwrap();
    assert_eq!(item.url, None);
    assert_eq!(item.extraction, None);

    let mut value = spec_item();
    let object = value.as_object_mut().unwrap();
    object.remove("url");
    object.remove("extraction");
    object.remove("metadata");
    let item = decode(value).unwrap();
    assert_eq!(
        (item.url, item.extraction, item.metadata),
        (None, None, None)
    );
}

#[test]
fn debug_output_never_contains_the_url_signature() {
    let item = decode(spec_item()).unwrap();
    let debug = format!("{item:?}");
    let pretty = format!("{item:#?}");
    for text in [&debug, &pretty] {
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
        assert!(!text.contains("expires=1"), "{text}");
    }
    assert!(debug.contains(r#"PresignedUrl("https://storage.example.com/stor_spec1?<redacted>")"#));
    // The full URL is there for whoever asks for it explicitly.
    assert!(item.url.unwrap().expose().contains("c2lnbmF0dXJl"));
}

#[test]
fn the_guides_delete_confirmation_decodes() {
    let deleted: DeletedStorageItem = serde_json::from_str(GUIDE_DELETE).unwrap();
    assert_eq!(deleted.id, "stor_x1y2z3...");
    assert_eq!(deleted.object, "storage_item");
    assert!(deleted.deleted);
    assert_eq!(deleted.request_id.as_deref(), Some("req_a1b2c3d4..."));
}
