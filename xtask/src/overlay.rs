//! The project's additions and fixes to the published document (`spec/additions/*.json`,
//! `spec/fixes/*.json`), applied to the upstream JSON before conversion.
//!
//! Additions never overwrite upstream: when the published document already has an operation or a
//! schema an addition provides, the upstream one is kept and a warning names the addition. Fixes
//! likewise warn when upstream already contains what they would change. Nothing is dropped
//! silently: a key the merge does not handle is an error naming the file and the key.

use crate::error::RegenError;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// HTTP methods an OpenAPI path item can hold.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One overlay file, read from disk.
#[derive(Debug, Clone)]
pub struct OverlayFile {
    /// Where it came from (for messages).
    pub path: PathBuf,
    /// Its JSON.
    pub value: Value,
}

/// Reads every `*.json` file in `dir`, sorted by name; a missing directory holds none.
pub fn read_dir(dir: &Path) -> Result<Vec<OverlayFile>, RegenError> {
    let mut paths = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RegenError::new(dir.display().to_string(), e.to_string())),
    };
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let value = crate::read_json(&path)?;
            Ok(OverlayFile { path, value })
        })
        .collect()
}

/// Top-level keys an addition file may hold: what the merge handles, plus its documentation.
pub const ADDITION_KEYS: [&str; 3] = ["paths", "components", "x-deck-addition"];

/// `components` sections an addition may add to. Each is merged like `schemas`: an entry upstream
/// already has is kept, with a warning naming the file.
pub const COMPONENT_SECTIONS: [&str; 6] = [
    "schemas",
    "parameters",
    "responses",
    "requestBodies",
    "headers",
    "securitySchemes",
];

/// Keys of a path item besides the methods (OpenAPI 3.1 Path Item Object); `x-*` extensions too.
const PATH_ITEM_KEYS: [&str; 5] = ["$ref", "summary", "description", "servers", "parameters"];

/// Keys a fix file may hold: `ops`, plus documentation that regen does not read.
pub const FIX_KEYS: [&str; 6] = ["ops", "title", "why", "sources", "description", "$comment"];

/// Documentation keys any fix op may carry besides its own fields.
const FIX_OP_DOC_KEYS: [&str; 3] = ["why", "description", "$comment"];

/// Rejects a key the merge would otherwise drop without a word.
fn unhandled(name: &str, key: &str, allowed: &[&str]) -> RegenError {
    RegenError::new(
        format!("{name}: {key}"),
        format!(
            "regen does not merge `{key}`, so it would be dropped; allowed here: {}",
            allowed.join(", ")
        ),
    )
}

/// Merges one addition file into `spec`. Returns warnings.
///
/// Every key is either merged or rejected: top-level keys other than [`ADDITION_KEYS`] and
/// `components` sections other than [`COMPONENT_SECTIONS`] are an error naming the file and key.
pub fn apply_addition(spec: &mut Value, file: &OverlayFile) -> Result<Vec<String>, RegenError> {
    let name = file.path.display().to_string();
    let mut warnings = Vec::new();
    let top = file
        .value
        .as_object()
        .ok_or_else(|| RegenError::new(&name, "expected a JSON object at the top level"))?;
    if let Some(key) = top.keys().find(|k| !ADDITION_KEYS.contains(&k.as_str())) {
        return Err(unhandled(&name, key, &ADDITION_KEYS));
    }
    let components = match top.get("components") {
        None => None,
        Some(c) => {
            let c = c.as_object().ok_or_else(|| {
                RegenError::new(format!("{name}: components"), "expected an object")
            })?;
            if let Some(key) = c.keys().find(|k| !COMPONENT_SECTIONS.contains(&k.as_str())) {
                return Err(unhandled(
                    &name,
                    &format!("components.{key}"),
                    &COMPONENT_SECTIONS,
                ));
            }
            Some(c)
        }
    };
    let root = as_object_mut(spec, "", &name)?;
    if let Some(paths) = top.get("paths") {
        let paths = paths
            .as_object()
            .ok_or_else(|| RegenError::new(format!("{name}: paths"), "expected an object"))?;
        for (path, item) in paths {
            let item = item.as_object().ok_or_else(|| {
                RegenError::new(format!("{name}: paths.{path}"), "expected an object")
            })?;
            let allowed: Vec<&str> = METHODS.iter().chain(&PATH_ITEM_KEYS).copied().collect();
            if let Some(key) = item
                .keys()
                .find(|k| !allowed.contains(&k.as_str()) && !k.starts_with("x-"))
            {
                return Err(unhandled(&name, &format!("paths.{path}.{key}"), &allowed));
            }
        }
        let target = entry_object(root, "paths");
        for (path, item) in paths {
            let item = item.as_object().expect("checked above");
            let target_item = entry_object(target, path);
            for (key, value) in item {
                if !target_item.contains_key(key) {
                    target_item.insert(key.clone(), value.clone());
                } else if METHODS.contains(&key.as_str()) {
                    warnings.push(format!(
                        "{name}: upstream already defines {} {path}; keeping upstream, this addition is no longer needed",
                        key.to_uppercase()
                    ));
                } else {
                    warnings.push(format!(
                        "{name}: upstream already has `{key}` on path {path}; keeping upstream, this addition is no longer needed"
                    ));
                }
            }
        }
    }
    for (section, entries) in components.into_iter().flatten() {
        let entries = entries.as_object().ok_or_else(|| {
            RegenError::new(
                format!("{name}: components.{section}"),
                "expected an object",
            )
        })?;
        let target = entry_object(entry_object(root, "components"), section);
        let what = match section.as_str() {
            "schemas" => "schema",
            "parameters" => "parameter",
            "responses" => "response",
            "requestBodies" => "request body",
            "headers" => "header",
            _ => "security scheme",
        };
        for (entry, body) in entries {
            if target.contains_key(entry) {
                warnings.push(format!(
                    "{name}: upstream already defines {what} {entry}; keeping upstream, this addition is no longer needed"
                ));
            } else {
                target.insert(entry.clone(), body.clone());
            }
        }
    }
    Ok(warnings)
}

/// Applies one fix file to `spec`. Returns warnings.
///
/// A file with keys other than [`FIX_KEYS`], or an op with fields its kind does not read, is an
/// error naming the file and key.
pub fn apply_fix(spec: &mut Value, file: &OverlayFile) -> Result<Vec<String>, RegenError> {
    let name = file.path.display().to_string();
    let top = file
        .value
        .as_object()
        .ok_or_else(|| RegenError::new(&name, "expected a JSON object at the top level"))?;
    if let Some(key) = top.keys().find(|k| !FIX_KEYS.contains(&k.as_str())) {
        return Err(unhandled(&name, key, &FIX_KEYS));
    }
    let ops = file
        .value
        .get("ops")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            RegenError::new(
                format!("{name}: ops"),
                "expected an array of fix operations",
            )
        })?;
    let mut warnings = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let place = format!("{name}: ops[{i}]");
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| RegenError::new(&place, "missing \"op\""))?;
        let fields: &[&str] = match kind {
            "add_parameters" => &["op", "path", "method", "parameters"],
            "add_properties" => &["op", "schema", "properties"],
            "remove_required" => &["op", "schema", "names"],
            _ => &[],
        };
        if !fields.is_empty() {
            let allowed: Vec<&str> = fields.iter().chain(&FIX_OP_DOC_KEYS).copied().collect();
            let keys = op.as_object().into_iter().flat_map(|o| o.keys());
            if let Some(key) = keys.into_iter().find(|k| !allowed.contains(&k.as_str())) {
                return Err(RegenError::new(
                    format!("{place}.{key}"),
                    format!(
                        "a {kind} op does not read `{key}`, so it would be dropped; allowed: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        match kind {
            "add_parameters" => add_parameters(spec, op, &place, &mut warnings)?,
            "add_parameters_by_method" => {
                add_parameters_by_method(spec, op, &place, &mut warnings)?
            }
            "add_properties" => add_properties(spec, op, &place, &mut warnings)?,
            "remove_required" => remove_required(spec, op, &place, &mut warnings)?,
            "add_required" => add_required(spec, op, &place, &mut warnings)?,
            other => {
                return Err(RegenError::new(
                    &place,
                    format!(
                        "unknown fix op {other:?} (known: add_parameters, add_parameters_by_method, add_properties, add_required, remove_required)"
                    ),
                ));
            }
        }
    }
    Ok(warnings)
}

fn str_field<'a>(op: &'a Value, key: &str, place: &str) -> Result<&'a str, RegenError> {
    op.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| RegenError::new(place, format!("missing string field {key:?}")))
}

fn array_field<'a>(op: &'a Value, key: &str, place: &str) -> Result<&'a Vec<Value>, RegenError> {
    op.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| RegenError::new(place, format!("missing array {key:?}")))
}

fn add_parameters(
    spec: &mut Value,
    op: &Value,
    place: &str,
    warnings: &mut Vec<String>,
) -> Result<(), RegenError> {
    let path = str_field(op, "path", place)?;
    let method = str_field(op, "method", place)?;
    let params = array_field(op, "parameters", place)?;
    let operation = spec
        .get_mut("paths")
        .and_then(|p| p.get_mut(path))
        .and_then(|p| p.get_mut(method))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            RegenError::new(
                place,
                format!("the spec has no operation {} {path}", method.to_uppercase()),
            )
        })?;
    let existing = operation
        .entry("parameters")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| RegenError::new(place, "operation parameters is not an array"))?;
    for param in params {
        let key = (param.get("name"), param.get("in"));
        if existing.iter().any(|p| (p.get("name"), p.get("in")) == key) {
            warnings.push(format!(
                "{place}: upstream {} {path} already has parameter {}; keeping upstream, this fix is no longer needed",
                method.to_uppercase(),
                key.0.and_then(Value::as_str).unwrap_or("?")
            ));
        } else {
            existing.push(param.clone());
        }
    }
    Ok(())
}

/// `add_parameters` for every operation whose method is in `methods` (lower case), present and
/// future: a rule over methods instead of one fix per operation.
fn add_parameters_by_method(
    spec: &mut Value,
    op: &Value,
    place: &str,
    warnings: &mut Vec<String>,
) -> Result<(), RegenError> {
    let methods = array_field(op, "methods", place)?;
    let mut methods_lower = Vec::new();
    for m in methods {
        let m = m
            .as_str()
            .filter(|m| METHODS.contains(m))
            .ok_or_else(|| RegenError::new(place, format!("{m} is not an HTTP method")))?;
        methods_lower.push(m);
    }
    let params = op
        .get("parameters")
        .ok_or_else(|| RegenError::new(place, "missing array \"parameters\""))?;
    let targets: Vec<(String, String)> = spec
        .get("paths")
        .and_then(Value::as_object)
        .map(|paths| {
            paths
                .iter()
                .flat_map(|(path, item)| {
                    methods_lower
                        .iter()
                        .filter(|m| item.get(**m).is_some())
                        .map(move |m| (path.clone(), m.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    for (path, method) in targets {
        let single = serde_json::json!({ "path": path, "method": method, "parameters": params });
        add_parameters(spec, &single, place, warnings)?;
    }
    Ok(())
}

fn schema_mut<'a>(
    spec: &'a mut Value,
    op: &Value,
    place: &str,
) -> Result<(&'a mut Map<String, Value>, String), RegenError> {
    let name = str_field(op, "schema", place)?.to_string();
    let schema = spec
        .pointer_mut(&format!(
            "/components/schemas/{}",
            name.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| RegenError::new(place, format!("the spec has no schema {name}")))?;
    Ok((schema, name))
}

fn add_properties(
    spec: &mut Value,
    op: &Value,
    place: &str,
    warnings: &mut Vec<String>,
) -> Result<(), RegenError> {
    let props = op
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| RegenError::new(place, "missing object \"properties\""))?;
    let (schema, name) = schema_mut(spec, op, place)?;
    let target = entry_object(schema, "properties");
    for (prop, body) in props {
        if target.contains_key(prop) {
            warnings.push(format!(
                "{place}: upstream schema {name} already has property {prop}; keeping upstream, this fix is no longer needed"
            ));
        } else {
            target.insert(prop.clone(), body.clone());
        }
    }
    Ok(())
}

fn remove_required(
    spec: &mut Value,
    op: &Value,
    place: &str,
    warnings: &mut Vec<String>,
) -> Result<(), RegenError> {
    let names = array_field(op, "names", place)?;
    let (schema, schema_name) = schema_mut(spec, op, place)?;
    let required = schema.get_mut("required").and_then(Value::as_array_mut);
    let Some(required) = required else {
        warnings.push(format!(
            "{place}: upstream schema {schema_name} has no required list; this fix is no longer needed"
        ));
        return Ok(());
    };
    for name in names {
        let before = required.len();
        required.retain(|r| r != name);
        if required.len() == before {
            warnings.push(format!(
                "{place}: upstream schema {schema_name} no longer requires {name}; this fix is no longer needed"
            ));
        }
    }
    Ok(())
}

fn add_required(
    spec: &mut Value,
    op: &Value,
    place: &str,
    warnings: &mut Vec<String>,
) -> Result<(), RegenError> {
    let names = array_field(op, "names", place)?;
    let (schema, schema_name) = schema_mut(spec, op, place)?;
    for name in names {
        let declared = name
            .as_str()
            .is_some_and(|n| schema.get("properties").and_then(|p| p.get(n)).is_some());
        if !declared {
            return Err(RegenError::new(
                place,
                format!("schema {schema_name} has no property {name}"),
            ));
        }
    }
    let required = schema
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .ok_or_else(|| RegenError::new(place, "`required` is not an array"))?;
    for name in names {
        if required.contains(name) {
            warnings.push(format!(
                "{place}: upstream schema {schema_name} already requires {name}; this fix is no longer needed"
            ));
        } else {
            required.push(name.clone());
        }
    }
    Ok(())
}

fn as_object_mut<'a>(
    v: &'a mut Value,
    path: &str,
    file: &str,
) -> Result<&'a mut Map<String, Value>, RegenError> {
    v.as_object_mut()
        .ok_or_else(|| RegenError::new(format!("{file}: {path}"), "expected an object"))
}

/// The object at `key`, created when absent (a non-object is replaced).
pub fn entry_object<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// The merged document as written to `deck-api/openapi.json`: pretty JSON with a trailing newline.
/// Key order is the document's own (upstream first, then additions in file order), so the text is
/// deterministic for a given `spec/`.
pub fn to_json(spec: &Value) -> String {
    let mut text = serde_json::to_string_pretty(spec).expect("a JSON value serialises");
    text.push('\n');
    text
}
