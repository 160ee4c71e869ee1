//! The overlay never drops input silently: every key of an addition or fix file is merged or
//! rejected with an error naming the file and the key.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use xtask::overlay::{OverlayFile, apply_addition, apply_fix, read_dir};

fn upstream() -> Value {
    json!({
        "openapi": "3.1.1",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"operationId": "getA", "responses": {}}}},
        "components": {
            "schemas": {"A": {"type": "object"}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}

fn file(name: &str, value: Value) -> OverlayFile {
    OverlayFile {
        path: PathBuf::from(name),
        value,
    }
}

#[test]
fn addition_components_are_merged_without_overwriting_upstream() {
    let mut spec = upstream();
    let addition = file(
        "additions/x.json",
        json!({
            "x-deck-addition": {"title": "t", "why": "w", "sources": []},
            "paths": {"/b": {"parameters": [{"$ref": "#/components/parameters/Limit"}],
                             "get": {"operationId": "getB", "responses": {}}}},
            "components": {
                "schemas": {"B": {"type": "object"}},
                "parameters": {"Limit": {"name": "limit", "in": "query", "schema": {"type": "integer"}}},
                "responses": {"NotFound": {"description": "gone"}},
                "requestBodies": {"Body": {"content": {}}},
                "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
                "securitySchemes": {"bearer": {"type": "apiKey"}, "other": {"type": "apiKey"}}
            }
        }),
    );
    let warnings = apply_addition(&mut spec, &addition).unwrap();
    for pointer in [
        "/paths/~1b/get",
        "/paths/~1b/parameters",
        "/components/schemas/B",
        "/components/parameters/Limit",
        "/components/responses/NotFound",
        "/components/requestBodies/Body",
        "/components/headers/X-Request-Id",
        "/components/securitySchemes/other",
    ] {
        assert!(spec.pointer(pointer).is_some(), "{pointer} not merged");
    }
    assert_eq!(
        spec.pointer("/components/securitySchemes/bearer/type"),
        Some(&json!("http")),
        "upstream kept"
    );
    assert_eq!(
        warnings,
        [
            "additions/x.json: upstream already defines security scheme bearer; keeping upstream, this addition is no longer needed"
        ]
    );
}

#[test]
fn addition_keys_the_merge_does_not_handle_are_rejected() {
    for (value, key) in [
        (json!({"tags": [{"name": "Storage"}]}), "tags"),
        (json!({"info": {"title": "x"}}), "info"),
        (json!({"webhooks": {}}), "webhooks"),
        (json!({"x-other": 1}), "x-other"),
        (
            json!({"components": {"examples": {}}}),
            "components.examples",
        ),
        (json!({"paths": {"/a": {"fetch": {}}}}), "paths./a.fetch"),
    ] {
        let mut spec = upstream();
        let before = spec.clone();
        let err = apply_addition(&mut spec, &file("additions/bad.json", value)).unwrap_err();
        assert_eq!(err.place, format!("additions/bad.json: {key}"), "{err}");
        assert!(err.message.contains("does not merge"), "{err}");
        assert!(!err.to_string().contains('\n'));
        assert_eq!(spec, before, "{key}: nothing merged from a rejected file");
    }
}

#[test]
fn fix_keys_other_than_ops_and_documentation_are_rejected() {
    let op = json!({"op": "remove_required", "schema": "A", "names": []});
    let ok = json!({"title": "t", "why": "w", "sources": [], "description": "d", "$comment": "c", "ops": [op]});
    let mut spec = upstream();
    apply_fix(&mut spec, &file("fixes/ok.json", ok)).unwrap();

    let err = apply_fix(
        &mut upstream(),
        &file("fixes/bad.json", json!({"ops": [], "paths": {}})),
    )
    .unwrap_err();
    assert_eq!(err.place, "fixes/bad.json: paths", "{err}");

    let op = json!({"op": "add_properties", "schema": "A", "properties": {}, "required": ["x"]});
    let err = apply_fix(
        &mut upstream(),
        &file("fixes/bad.json", json!({"ops": [op]})),
    )
    .unwrap_err();
    assert_eq!(err.place, "fixes/bad.json: ops[0].required", "{err}");
}

#[test]
fn the_stored_overlay_files_are_valid() {
    let spec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec");
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(spec_dir.join("deck-api.json")).unwrap())
            .unwrap();
    for f in read_dir(&spec_dir.join("additions")).unwrap() {
        apply_addition(&mut spec, &f).unwrap();
    }
    for f in read_dir(&spec_dir.join("fixes")).unwrap() {
        apply_fix(&mut spec, &f).unwrap();
    }
}
