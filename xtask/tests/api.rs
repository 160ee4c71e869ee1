//! `deck-api/API.md`, the API delta and `deck-api/openapi.json`: the report on fixture specs, the
//! delta for real edits of a temporary copy of the stored spec, and the `regen` wiring.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::{Paths, api_delta, api_report, convert, generate, load_spec, regenerate};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "xtask-api-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The report of a fixture spec, through the same pipeline as `regen`.
fn fixture_report(name: &str) -> String {
    let loaded = load_spec(&fixture(name), None).unwrap();
    let converted = convert::convert(loaded.spec);
    let (code, _) = generate::generate(&converted.spec, name).unwrap();
    api_report::report(&converted.spec, &code).unwrap()
}

macro_rules! report_snapshots {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let report = fixture_report(concat!(stringify!($name), ".json"));
            insta::assert_snapshot!(concat!(stringify!($name), "_api"), report);
        }
    )*};
}

report_snapshots!(open_enums, mixed_errors, type_arrays, media_types);

#[test]
fn report_is_deterministic_and_sorted() {
    let paths = Paths::workspace(&root());
    let a = regenerate(&paths).unwrap().api_report;
    assert_eq!(a, regenerate(&paths).unwrap().api_report);
    let facts: Vec<&str> = a
        .lines()
        .filter(|l| {
            ["operation ", "type ", "enum "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    let mut sorted = facts.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(facts, sorted);
    assert!(facts.contains(&"operation getTaskRun: GET /task-runs/{run_id} -> GetTaskRunResponse"));
    assert!(facts.contains(&"operation getTaskRun param run_id: String (required, path)"));
    assert!(facts.contains(&"operation getTaskRun param include: String (optional, query)"));
    assert!(facts.contains(&"operation createTask param body: CreateTaskRequest (required, body)"));
    assert!(facts.contains(
        &"type GetTaskRunResponse (response) field status: GetTaskRunResponseStatus (required)"
    ));
    assert!(facts.contains(
        &"type GetTaskRunResponse (response) field errors: Option<Vec<TaskRunError>> (optional)"
    ));
    assert!(facts.contains(&"type CreateTaskRequest (request)"));
    assert!(facts.contains(&"type StorageConfig (request+response)"));
    assert!(
        facts.contains(&"type ErrorResponse (response)"),
        "error bodies"
    );
    assert!(facts.contains(&"enum PurposeKnown variant Output"));
    assert!(facts.contains(&"enum Purpose variant Other(String)"));
    assert!(facts.contains(&"type JsonElement (request+response) newtype serde_json::Value"));
    assert!(
        !a.contains("ConversionError"),
        "types::error is not part of the surface"
    );
}

#[test]
fn committed_openapi_json_is_the_merged_document() {
    let loaded = load_spec(
        &root().join("spec/deck-api.json"),
        Some(&root().join("spec")),
    )
    .unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deck-api/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(committed, loaded.spec);
    assert_eq!(committed["openapi"], "3.1.1", "written before conversion");
}

/// A temporary copy of the stored upstream document, edited by `edit`; the overlay is `spec/`.
fn edited_copy(edit: impl FnOnce(&mut Value)) -> (PathBuf, Paths) {
    let dir = tempdir();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("spec/deck-api.json")).unwrap())
            .unwrap();
    edit(&mut doc);
    let spec = dir.join("deck-api.json");
    std::fs::write(&spec, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let paths = Paths {
        spec,
        overlay: Some(root().join("spec")),
        out: dir.join("generated.rs"),
        api_md: dir.join("API.md"),
        openapi: dir.join("openapi.json"),
    };
    (dir, paths)
}

/// The delta from the stored spec's report to the report of an edited copy.
fn delta_after(edit: impl FnOnce(&mut Value)) -> api_delta::Delta {
    let before = regenerate(&Paths::workspace(&root())).unwrap().api_report;
    let (dir, paths) = edited_copy(edit);
    let after = regenerate(&paths).unwrap().api_report;
    std::fs::remove_dir_all(dir).unwrap();
    api_delta::delta(&before, &after)
}

#[test]
fn deleting_a_response_field_is_breaking() {
    let delta = delta_after(|doc| {
        let schema = &mut doc["components"]["schemas"]["ListStorageItemResponse"];
        schema["properties"]
            .as_object_mut()
            .unwrap()
            .remove("file_type")
            .unwrap();
        schema["required"]
            .as_array_mut()
            .unwrap()
            .retain(|r| r != "file_type");
    });
    let text = delta.to_string();
    assert!(
        text.lines().any(|l| l.starts_with("breaking:")
            && l.contains("ListStorageItemResponse")
            && l.contains("file_type")),
        "{text}"
    );
    assert_eq!(delta.breaking(), 1, "{text}");
    insta::assert_snapshot!("delta_response_field_removed", text);
}

#[test]
fn a_new_optional_query_parameter_is_additive() {
    let delta = delta_after(|doc| {
        doc["paths"]["/task-runs/{run_id}/storage"]["get"]["parameters"]
            .as_array_mut()
            .unwrap()
            .push(json!({
                "name": "purpose",
                "in": "query",
                "required": false,
                "schema": {"type": "string"},
                "description": "Only items with this purpose."
            }));
    });
    let text = delta.to_string();
    assert!(
        text.lines().any(|l| l.starts_with("additive:")
            && l.contains("listTaskRunStorage")
            && l.contains("purpose")),
        "{text}"
    );
    assert_eq!(delta.breaking(), 0, "{text}");
    insta::assert_snapshot!("delta_optional_query_parameter_added", text);
}

fn run_xtask(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn regen_writes_the_report_and_check_prints_the_delta() {
    let (dir, paths) = edited_copy(|_| {});
    let args = |check: bool| {
        let mut a: Vec<String> = [
            "regen",
            "--spec",
            paths.spec.to_str().unwrap(),
            "--overlay",
            root().join("spec").to_str().unwrap(),
            "--out",
            paths.out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if check {
            a.push("--check".into());
        }
        a
    };
    let run = |a: Vec<String>| run_xtask(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, stderr) = run(args(false));
    assert_eq!(code, 0, "{stderr}");
    // --out puts API.md and openapi.json beside the code, never over the committed ones.
    for file in [&paths.out, &paths.api_md, &paths.openapi] {
        assert!(file.exists(), "{} not written: {stderr}", file.display());
    }
    assert_eq!(
        std::fs::read_to_string(&paths.api_md).unwrap(),
        std::fs::read_to_string(root().join("deck-api/API.md")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&paths.openapi).unwrap(),
        std::fs::read_to_string(root().join("deck-api/openapi.json")).unwrap()
    );
    assert_eq!(run(args(true)).0, 0);

    // Upstream drops `file_type` from the storage item: --check fails on all three files and
    // prints the breaking change; regen prints it before writing.
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&paths.spec).unwrap()).unwrap();
    let schema = &mut doc["components"]["schemas"]["ListStorageItemResponse"];
    schema["properties"]
        .as_object_mut()
        .unwrap()
        .remove("file_type");
    schema["required"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r != "file_type");
    std::fs::write(&paths.spec, doc.to_string()).unwrap();
    let (code, stderr) = run(args(true));
    assert_eq!(code, 1, "{stderr}");
    for name in [
        "generated.rs is stale",
        "API.md is stale",
        "openapi.json is stale",
    ] {
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
    let expected = "breaking: type ListStorageItemResponse (response) field file_type removed";
    assert!(stderr.contains(expected), "{stderr}");
    assert!(
        stderr.contains("API delta: 1 breaking, 0 additive — the next release is a major one"),
        "{stderr}"
    );
    let (code, stderr) = run(args(false));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    assert!(
        !std::fs::read_to_string(&paths.api_md)
            .unwrap()
            .contains("ListStorageItemResponse (response) field file_type")
    );
    assert_eq!(run(args(true)).0, 0);
    std::fs::remove_dir_all(dir).unwrap();
}
