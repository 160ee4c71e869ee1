//! The regen pipeline on the stored spec and on one small fixture spec per construct.

use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::{Paths, convert, generate, load_spec, regenerate};

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

fn fixture_paths(name: &str) -> Paths {
    Paths {
        spec: fixture(name),
        overlay: None,
        out: PathBuf::from("unused.rs"),
        api_md: PathBuf::from("unused.md"),
        openapi: PathBuf::from("unused.json"),
    }
}

#[test]
fn committed_generated_code_is_fresh() {
    let paths = Paths::workspace(&root());
    let fresh = regenerate(&paths).expect("the stored spec regenerates");
    for (path, name, fresh) in [
        (&paths.out, "deck-api/src/generated.rs", &fresh.code),
        (&paths.api_md, "deck-api/API.md", &fresh.api_report),
        (&paths.openapi, "deck-api/openapi.json", &fresh.merged_spec),
    ] {
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(diff) = xtask::output::diff_summary(&committed, fresh, name, 40) {
            panic!("{diff}");
        }
    }
}

#[test]
fn regeneration_is_deterministic() {
    let paths = Paths::workspace(&root());
    assert_eq!(
        regenerate(&paths).unwrap().code,
        regenerate(&paths).unwrap().code
    );
}

#[test]
fn stored_spec_regenerates_without_overlay_warnings() {
    let loaded = load_spec(
        &root().join("spec/deck-api.json"),
        Some(&root().join("spec")),
    )
    .unwrap();
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
}

#[test]
fn converted_stored_spec() {
    let loaded = load_spec(
        &root().join("spec/deck-api.json"),
        Some(&root().join("spec")),
    )
    .unwrap();
    let converted = convert::convert(loaded.spec);
    insta::assert_json_snapshot!("converted_deck_api", converted.spec);
    insta::assert_json_snapshot!("converted_deck_api_warnings", converted.warnings);
}

#[test]
fn stored_json_equals_the_published_yaml() {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("spec/deck-api.json")).unwrap())
            .unwrap();
    let yaml_text =
        std::fs::read_to_string(root().join("spec/upstream/list-task-run-storage.yaml")).unwrap();
    let yaml: serde_json::Value = serde_norway::from_str(&yaml_text).unwrap();
    assert_eq!(json, yaml);
    // When the seed documents sit beside the checkout (as in CI), the stored YAML is theirs verbatim.
    let seed = root().join("../shared/seeds/000_2d4abf7265aaad36.txt");
    if let Ok(seed) = std::fs::read_to_string(seed) {
        assert!(
            seed.contains(&yaml_text),
            "spec/upstream YAML differs from the seed document"
        );
    }
}

macro_rules! construct_snapshots {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let file = concat!(stringify!($name), ".json");
            let loaded = load_spec(&fixture(file), None).unwrap();
            let converted = convert::convert(loaded.spec);
            insta::assert_json_snapshot!(concat!(stringify!($name), "_converted"), converted.spec);
            let code = generate::generate(&converted.spec, file).unwrap().0;
            insta::assert_snapshot!(concat!(stringify!($name), "_generated"), code);
        }
    )*};
}

construct_snapshots!(
    type_arrays,
    null_in_one_of,
    media_types,
    mixed_errors,
    int_or_string,
    open_enums,
    missing_ids_and_paths,
    patch_and_secrets,
);

#[test]
fn unsupported_constructs_name_the_operation() {
    let err = regenerate(&fixture_paths("unsupported_multipart.json")).unwrap_err();
    assert!(
        err.place.ends_with("operation uploadFile (POST /upload)"),
        "{err}"
    );
    assert!(err.message.contains("multipart/form-data"), "{err}");
    let err = regenerate(&fixture_paths("unsupported_encoding.json")).unwrap_err();
    assert!(
        err.place.ends_with("operation encodedThing (GET /enc)"),
        "{err}"
    );
    assert!(err.message.contains("panicked"), "{err}");
}

#[test]
fn truncated_spec_names_file_and_line() {
    let err = regenerate(&fixture_paths("truncated.json")).unwrap_err();
    assert!(err.place.ends_with("truncated.json"), "{err}");
    assert!(err.message.contains("line "), "{err}");
}

#[test]
fn unparsable_schema_names_the_json_path() {
    let spec = serde_json::json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
        "components": {"schemas": {"Bad": {"type": "object", "required": "not-a-list"}}}
    });
    let err = generate::generate(&spec, "bad.json").unwrap_err();
    assert!(err.place.contains("components.schemas.Bad"), "{err}");
}

/// Runs the real binary: one line on stderr, exit code 2, and nothing written.
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
fn bad_specs_exit_2_with_one_line_and_write_nothing() {
    let dir = tempdir();
    let out = dir.join("generated.rs");
    for (name, expect) in [
        ("truncated.json", "invalid JSON"),
        ("unsupported_multipart.json", "operation uploadFile"),
        ("unsupported_encoding.json", "operation encodedThing"),
    ] {
        let spec = fixture(name);
        let (code, stderr) = run_xtask(&[
            "regen",
            "--spec",
            spec.to_str().unwrap(),
            "--no-overlay",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expect),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked at"), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: a file was written");
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "temporary files left behind"
    );
}

#[test]
fn check_fails_on_a_stale_file_and_passes_on_a_fresh_one() {
    let dir = tempdir();
    let out = dir.join("generated.rs");
    let spec = fixture("type_arrays.json");
    let args = |check: bool| {
        let mut a = vec![
            "regen",
            "--spec",
            spec.to_str().unwrap(),
            "--no-overlay",
            "--out",
            out.to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if check {
            a.push("--check".into());
        }
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_xtask(&refs)
    };
    assert_eq!(run(args(true)).0, 1, "missing file is stale");
    assert_eq!(run(args(false)).0, 0);
    let first = std::fs::read(&out).unwrap();
    assert_eq!(run(args(false)).0, 0);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        first,
        "regen twice is byte-identical"
    );
    assert_eq!(run(args(true)).0, 0);
    // Delete one line: --check fails and says how to fix it.
    let text = String::from_utf8(first).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(lines.len() / 2);
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    let (code, stderr) = run(args(true));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("is stale") && stderr.contains("cargo xtask regen"),
        "{stderr}"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "xtask-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
