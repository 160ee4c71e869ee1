//! The generated types decode what Deck sends: int-or-string sizes, unknown enum values, unknown
//! fields, both storage item shapes.

use deck_api::types::{
    Int64OrString, PaginatedResponseOfListStorageItemResponse, Purpose, PurposeKnown,
};

fn page(file_size: &str, purpose: &str) -> String {
    format!(
        r#"{{"data":[{{"id":"stor_1","object":"storage","file_name":"a.pdf","file_type":"application/pdf",
        "file_size":{file_size},"url":null,"metadata":null,"extraction":null,"purpose":{purpose},
        "result":"success","created_at":"2025-01-15T09:30:00Z","brand_new_field":{{"x":1}}}}],
        "has_more":false,"next_cursor":null,"request_id":"req_1","another_new_field":true}}"#
    )
}

fn decode(file_size: &str, purpose: &str) -> PaginatedResponseOfListStorageItemResponse {
    serde_json::from_str(&page(file_size, purpose)).expect("decodes")
}

fn size_text(s: &Int64OrString) -> String {
    match s {
        Int64OrString::Int64(n) => n.to_string(),
        Int64OrString::String(s) => s.to_string(),
        other => panic!("a new form of the size union: {other:?}"),
    }
}

#[test]
fn file_size_as_integer_and_as_string() {
    for raw in [
        "245678",
        "\"245678\"",
        "9007199254740993",
        "\"9007199254740993\"",
        "\"9223372036854775807\"",
    ] {
        let p = decode(raw, "\"output\"");
        assert_eq!(
            size_text(&p.data[0].file_size),
            raw.trim_matches('"'),
            "{raw}"
        );
    }
}

#[test]
fn non_numeric_size_strings_are_rejected() {
    assert!(
        serde_json::from_str::<PaginatedResponseOfListStorageItemResponse>(&page(
            "\"12kb\"",
            "\"output\""
        ))
        .is_err()
    );
}

#[test]
fn unknown_purpose_is_kept_and_known_ones_match() {
    let p = decode("1", "\"something_new\"");
    assert!(matches!(&p.data[0].purpose, Some(Purpose::Other(s)) if s == "something_new"));
    let p = decode("1", "\"attachment\"");
    assert!(matches!(
        p.data[0].purpose,
        Some(Purpose::Known(PurposeKnown::Attachment))
    ));
}

#[test]
fn the_guides_example_response_decodes() {
    // The Storage guide's example (object "storage_item", fetch_date, task_run_id, no purpose/result).
    let body = r#"{"data":[{"id":"stor_x1y2z3...","object":"storage_item","file_name":"statement_jan_2025.pdf",
      "file_type":"application/pdf","file_size":245678,"url":"https://storage.deck.co/...","metadata":{},
      "fetch_date":"2025-01-15T09:30:00Z","extraction":null,"task_run_id":"trun_a1b2c3d4...",
      "created_at":"2025-01-15T09:30:00Z","request_id":"req_a1b2c3d4..."}],
      "has_more":false,"next_cursor":null,"request_id":"req_f5g6h7..."}"#;
    let p: PaginatedResponseOfListStorageItemResponse = serde_json::from_str(body).unwrap();
    assert_eq!(p.data[0].task_run_id.as_deref(), Some("trun_a1b2c3d4..."));
    assert!(p.data[0].purpose.is_none());
}

#[test]
fn the_list_operation_takes_cursor_and_limit() {
    let client = deck_api::Client::new_with_client(
        "http://127.0.0.1:9",
        reqwest::Client::new(),
        deck_api::ClientState::default(),
    );
    // Compiles only while the builder has both parameters (spec/fixes/list-storage-pagination-params.json).
    let _builder = client
        .list_task_run_storage()
        .run_id("trun_1")
        .cursor("c")
        .limit(100);
    let _ = (
        client.get_storage_item(),
        client.delete_storage_item(),
        client.create_task(),
        client.update_task(),
        client.get_task_run(),
    );
}
