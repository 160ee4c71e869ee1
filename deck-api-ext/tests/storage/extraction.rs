//! Typed extraction and the storage config round trip: a `UtilityBill` type → its extraction
//! schema (inline, as the Storage guide shows it) → the guide's utility-bill extraction example
//! decodes into it.

#![cfg(feature = "schema")]

use deck_api_ext::api::types::CreateTaskRequest;
use deck_api_ext::extraction::{Extraction, MissingReason};
use deck_api_ext::storage::StorageItem;
use deck_api_ext::task_config::{StorageConfig, extraction_schema_for};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

const UTILITY_BILL: &str = include_str!("../fixtures/storage_guide_utility_bill_extraction.json");
const GUIDE_SCHEMA: &str = include_str!("../fixtures/storage_guide_extraction_schema.json");

/// A utility bill, with the fields of the Storage guide's extraction example.
#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct UtilityBill {
    /// The utility company.
    company_name: String,
    /// The customer's account number with the company.
    account_number: String,
    /// The date the bill was issued.
    #[schemars(extend("format" = "date"))]
    billing_date: String,
    /// The period the bill covers.
    billing_period: BillingPeriod,
    /// The total amount due.
    amount_due: f64,
    /// The date payment is due.
    #[schemars(extend("format" = "date"))]
    payment_due_date: String,
    /// ISO 4217 currency code.
    currency: String,
    /// Usage and charges per service location.
    service_locations: Vec<ServiceLocation>,
}

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct BillingPeriod {
    #[schemars(extend("format" = "date"))]
    start_date: String,
    #[schemars(extend("format" = "date"))]
    end_date: String,
    total_days: u32,
}

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct ServiceLocation {
    /// Fuel, electricity, water, ...
    service_type: String,
    service_address: ServiceAddress,
    total_usage: f64,
    /// The unit of `total_usage` (Therms, kWh, ...).
    total_usage_unit: String,
    total_charges: f64,
}

#[derive(Debug, Deserialize, JsonSchema, PartialEq)]
struct ServiceAddress {
    street: String,
    city: String,
    state: String,
    postal_code: String,
}

/// Every object key in `value`, at any depth.
fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                out.push(key.clone());
                keys(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

#[test]
fn the_schema_is_plain_and_inline() {
    let schema = extraction_schema_for::<UtilityBill>().unwrap();
    let mut all = Vec::new();
    keys(&schema, &mut all);
    for banned in ["$ref", "$defs", "definitions", "$schema"] {
        assert!(!all.iter().any(|k| k == banned), "{banned} in {schema:#}");
    }
    assert!(schema.get("title").is_none());
    // Nested types are inline, as in the guide's example.
    assert_eq!(schema["type"], "object");
    assert_eq!(
        schema["properties"]["billing_period"]["properties"]["total_days"]["type"],
        "integer"
    );
    assert_eq!(
        schema["properties"]["service_locations"]["items"]["properties"]["service_address"]["properties"]
            ["postal_code"]["type"],
        "string"
    );
    assert_eq!(schema["properties"]["billing_date"]["format"], "date");
    // Non-standard numeric formats (schemars' "double", "uint32") are dropped.
    assert!(schema["properties"]["amount_due"].get("format").is_none());
    insta::assert_json_snapshot!("utility_bill_extraction_schema", schema);
}

#[test]
fn the_schema_uses_the_same_vocabulary_as_the_guides_example() {
    // Every keyword of the generated schema, apart from documentation and constraints, is one the
    // guide's own extraction_schema example uses.
    let guide: Value = serde_json::from_str(GUIDE_SCHEMA).unwrap();
    let mut guide_keys = Vec::new();
    keys(&guide["storage"]["extraction_schema"], &mut guide_keys);
    for keyword in ["type", "properties", "items", "format"] {
        assert!(guide_keys.iter().any(|k| k == keyword), "{keyword}");
    }
    let schema = extraction_schema_for::<UtilityBill>().unwrap();
    fn keywords(schema: &Value, out: &mut Vec<String>) {
        if let Value::Object(map) = schema {
            for (key, child) in map {
                out.push(key.clone());
                match key.as_str() {
                    "properties" => {
                        if let Value::Object(props) = child {
                            props.values().for_each(|p| keywords(p, out));
                        }
                    }
                    "items" => keywords(child, out),
                    _ => {}
                }
            }
        }
    }
    let mut used = Vec::new();
    keywords(&schema, &mut used);
    used.sort();
    used.dedup();
    assert_eq!(
        used,
        [
            "description",
            "format",
            "items",
            "minimum",
            "properties",
            "required",
            "type"
        ]
    );
}

#[test]
fn the_guides_utility_bill_decodes_into_the_type() {
    let extraction: Value = serde_json::from_str(UTILITY_BILL).unwrap();
    let item: StorageItem = serde_json::from_value(json!({
        "id": "stor_bill", "object": "storage_item", "file_name": "bill.pdf",
        "file_type": "application/pdf", "file_size": 1, "url": null, "metadata": {},
        "extraction": extraction, "created_at": "2025-01-22T00:00:00Z"
    }))
    .unwrap();
    let Extraction::Decoded(bill) = item.extraction_as::<UtilityBill>().unwrap() else {
        panic!("expected a decoded bill");
    };
    assert_eq!(bill.company_name, "EnergyLink");
    assert_eq!(bill.account_number, "58291-44720");
    assert_eq!(bill.billing_period.total_days, 33);
    assert_eq!(bill.amount_due, 8247.41);
    assert_eq!(bill.service_locations.len(), 1);
    let location = &bill.service_locations[0];
    assert_eq!(location.service_address.city, "CAMBRIDGE");
    assert_eq!(location.service_address.postal_code, "02140");
    assert_eq!(location.total_usage, 5348.0);
    assert_eq!(location.total_usage_unit, "Therms");
}

#[test]
fn a_mismatch_names_the_json_path_inside_the_extraction() {
    let mut extraction: Value = serde_json::from_str(UTILITY_BILL).unwrap();
    extraction["service_locations"][0]["service_address"]["postal_code"] = json!(2140);
    let item: StorageItem = serde_json::from_value(json!({
        "id": "stor_bill", "file_name": "bill.pdf", "file_size": "1",
        "extraction": extraction, "created_at": "2025-01-22T00:00:00Z"
    }))
    .unwrap();
    let err = item.extraction_as::<UtilityBill>().unwrap_err();
    assert_eq!(err.storage_id(), "stor_bill");
    assert_eq!(
        err.json_path(),
        "service_locations[0].service_address.postal_code"
    );
    assert_eq!(
        err.to_string(),
        "extraction of storage item stor_bill at service_locations[0].service_address.postal_code: \
         invalid type: integer `2140`, expected a string"
    );
}

#[test]
fn no_extraction_and_failed_extraction_are_missing_not_errors() {
    let item = |extraction: Value, result: Option<&str>| -> StorageItem {
        let mut value = json!({
            "id": "stor_1", "object": "storage", "file_name": "a.pdf",
            "file_type": "application/pdf", "file_size": 1, "url": null, "metadata": null,
            "extraction": extraction, "purpose": "output", "created_at": "2025-01-15T09:30:00Z"
        });
        if let Some(result) = result {
            value["result"] = json!(result);
        }
        serde_json::from_value(value).unwrap()
    };
    assert_eq!(
        item(Value::Null, Some("success"))
            .extraction_as::<UtilityBill>()
            .unwrap(),
        Extraction::Missing(MissingReason::NotExtracted)
    );
    assert_eq!(
        item(Value::Null, Some("failure"))
            .extraction_as::<UtilityBill>()
            .unwrap(),
        Extraction::Missing(MissingReason::Failed)
    );
}

#[test]
fn the_schema_goes_into_a_create_task_request() {
    let storage = StorageConfig::enabled()
        .extraction(true)
        .deduplication(true)
        .extraction_schema_for::<UtilityBill>()
        .unwrap();
    let request: CreateTaskRequest = CreateTaskRequest::builder()
        .name("Fetch utility bills")
        .agent_id("agt_a1b2c3d4")
        .storage(storage)
        .try_into()
        .unwrap();
    let body = serde_json::to_value(&request).unwrap();
    assert_eq!(body["storage"]["enabled"], true);
    assert_eq!(body["storage"]["extraction"], true);
    assert_eq!(body["storage"]["deduplication"], true);
    assert_eq!(
        body["storage"]["extraction_schema"],
        extraction_schema_for::<UtilityBill>().unwrap()
    );
}
