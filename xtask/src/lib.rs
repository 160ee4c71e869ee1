//! `cargo xtask regen`: the stored Deck OpenAPI document → the generated `deck-api` client.
//!
//! The pipeline is a set of pure functions so the binary, the snapshot tests and the freshness
//! test share one path: [`load_spec`] (upstream JSON + `spec/additions` + `spec/fixes`) →
//! [`convert::convert`] (3.1 → the 3.0 subset progenitor takes) → [`generate::generate`]
//! (progenitor + prettyplease, with a do-not-edit header). Beside the code, regen writes the merged
//! 3.1 document ([`overlay::to_json`]) and the public-surface report [`api_report::report`];
//! [`api_delta::delta`] classifies how the report changes (breaking / additive).

pub mod api_delta;
pub mod api_report;
pub mod convert;
pub mod error;
pub mod generate;
pub mod hoist;
pub mod output;
pub mod overlay;
pub mod patch_fields;
pub mod sensitive;
pub mod surface;

pub use error::RegenError;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Reads a JSON file; a syntax error names the file, line and column.
pub fn read_json(path: &Path) -> Result<Value, RegenError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RegenError::new(path.display().to_string(), format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        RegenError::new(
            path.display().to_string(),
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Follows local `$ref`s (`#/components/...`, at most 8 levels) to their target; anything else
/// is returned as it is.
pub fn resolve_ref<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..8 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        match r.strip_prefix('#').and_then(|p| spec.pointer(p)) {
            Some(target) => v = target,
            None => return v,
        }
    }
    v
}

/// Lower-case letters and digits only: the spec's `getTaskRun`, progenitor's `get_task_run` and
/// its `GetTaskRun` compare equal (and so do parameter and schema names across those spellings).
pub fn fold_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Where regen reads from and writes to.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The upstream document (as published).
    pub spec: PathBuf,
    /// The directory holding `additions/` and `fixes/`; `None` applies none.
    pub overlay: Option<PathBuf>,
    /// The generated Rust file.
    pub out: PathBuf,
    /// The public-surface report (`deck-api/API.md`).
    pub api_md: PathBuf,
    /// The merged 3.1 document, before conversion (`deck-api/openapi.json`).
    pub openapi: PathBuf,
}

impl Paths {
    /// The stored spec and the committed output of this workspace, from its root.
    pub fn workspace(root: &Path) -> Self {
        Self {
            spec: root.join("spec/deck-api.json"),
            overlay: Some(root.join("spec")),
            out: root.join("deck-api/src/generated.rs"),
            api_md: root.join("deck-api/API.md"),
            openapi: root.join("deck-api/openapi.json"),
        }
    }
}

/// The upstream document with the project's additions and fixes applied.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The merged 3.1 document.
    pub spec: Value,
    /// Warnings: additions or fixes upstream now provides.
    pub warnings: Vec<String>,
}

/// Reads the upstream document and applies the overlay directory (if any).
pub fn load_spec(spec: &Path, overlay: Option<&Path>) -> Result<LoadedSpec, RegenError> {
    let mut doc = read_json(spec)?;
    if !doc.is_object() {
        return Err(RegenError::new(
            spec.display().to_string(),
            "expected a JSON object at the top level",
        ));
    }
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => {
            return Err(RegenError::new(
                format!("{}: openapi", spec.display()),
                format!("unsupported OpenAPI version {v:?} (expected 3.0.x or 3.1.x)"),
            ));
        }
        None => {
            return Err(RegenError::new(
                format!("{}: openapi", spec.display()),
                "missing the `openapi` version field; is this an OpenAPI document?",
            ));
        }
    }
    let mut warnings = Vec::new();
    if let Some(dir) = overlay {
        for file in overlay::read_dir(&dir.join("additions"))? {
            warnings.extend(overlay::apply_addition(&mut doc, &file)?);
        }
        for file in overlay::read_dir(&dir.join("fixes"))? {
            warnings.extend(overlay::apply_fix(&mut doc, &file)?);
        }
    }
    Ok(LoadedSpec {
        spec: doc,
        warnings,
    })
}

/// Everything one regen produces, in memory.
#[derive(Debug, Clone)]
pub struct Regenerated {
    /// The formatted Rust source, header included.
    pub code: String,
    /// Overlay and conversion warnings.
    pub warnings: Vec<String>,
    /// The public-surface report ([`api_report::report`]), written to [`Paths::api_md`].
    pub api_report: String,
    /// The merged 3.1 document ([`overlay::to_json`]), written to [`Paths::openapi`].
    pub merged_spec: String,
}

/// Runs the whole pipeline in memory.
pub fn regenerate(paths: &Paths) -> Result<Regenerated, RegenError> {
    let loaded = load_spec(&paths.spec, paths.overlay.as_deref())?;
    let merged_spec = overlay::to_json(&loaded.spec);
    let converted = convert::convert(loaded.spec);
    let (code, generated) = generate::generate(&converted.spec, &paths.spec.display().to_string())?;
    let api_report = api_report::report(&converted.spec, &code)
        .map_err(|e| RegenError::new(paths.out.display().to_string(), e))?;
    let mut warnings = loaded.warnings;
    warnings.extend(converted.warnings);
    warnings.extend(generated);
    Ok(Regenerated {
        code,
        warnings,
        api_report,
        merged_spec,
    })
}
