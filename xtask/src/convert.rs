//! OpenAPI 3.1 (ASP.NET Core style) → the OpenAPI 3.0 subset progenitor 0.15.1 accepts.
//!
//! Every rule is driven by a construct, never by a schema or operation name:
//!
//! | construct (3.1) | becomes (3.0) | why |
//! |---|---|---|
//! | `openapi: 3.1.x` | `3.0.3` | progenitor accepts only `3.0.x` |
//! | `type: [T, "null"]` | `type: T, nullable: true` | openapiv3 cannot parse type arrays |
//! | `type: [integer, string]` + digit pattern in a **parameter** | `type: integer` | .NET writes numbers and also reads strings; we send plain integers |
//! | `type: [integer, string]` + digit pattern in a **schema** | `oneOf: [integer, string+pattern]` | responses may carry either form; an untagged enum keeps both exactly |
//! | other type mixes | `anyOf` of one schema per type | |
//! | `{type: "null"}` alone | `enum: [null]` | progenitor panics on `type: null` |
//! | `oneOf/anyOf: [{type: null}, X]` | `nullable: true` + `allOf: [X]` (or X inlined) | progenitor panics on `type: null`; `$ref` + `nullable` siblings lose the nullability |
//! | `oneOf/anyOf: [{type: null}, X, Y…]` | `{type: null}` → `enum: [null]` | |
//! | a closed string `enum` in a schema | `oneOf: [known values, any string]`, titled `OwnerFieldKnown` / `OwnerFieldOther` | new enum values are not breaking changes at Deck; decoding must keep them |
//! | `const: v` | `enum: [v]` | |
//! | `default` on an optional property | moved into its description | a defaulted field is always sent; without it the field is optional and omitted when unset |
//! | the synthesised int-or-string unions and open enums | hoisted into shared named components (`hoist.rs`) | each exists once in the generated code |
//! | `examples: [a, …]` | `example: a` | |
//! | numeric `exclusiveMinimum`/`exclusiveMaximum` | `minimum`/`maximum` + `true` | |
//! | `$schema`, `$id`, `$comment`, `prefixItems`, `if/then/else`, … | dropped (warning) | no 3.0 equivalent |
//! | missing `paths` | `{}` | optional in 3.1 |
//! | missing `operationId` | synthesised from method and path (warning) | progenitor requires it |
//! | request body with several media types | the JSON one only | progenitor panics on more than one |
//! | response with several media types | the JSON one only, when present | the others carry the same schema |
//! | success responses of different kinds | all raw bytes | progenitor panics on mixed kinds |
//! | error responses (4xx, 5xx, default) | raw bytes, bodiless ones removed; the original schema is kept in `x-deck-error-schema` | progenitor panics on mixed error bodies, and a typed error body that fails to decode loses the HTTP status; `deck-api-ext` reads the bytes leniently by shape (Deck's envelope, the validation map, a proxy's `message`) and always keeps the status |

use crate::overlay::METHODS;
use serde_json::{Map, Value, json};

/// The result of a conversion: the 3.0 document and what was lost or changed on the way.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The converted document.
    pub spec: Value,
    /// Human-readable notes on constructs dropped or rewritten with loss.
    pub warnings: Vec<String>,
}

/// Where a schema sits: parameters get plain integers for int-or-string, schemas keep both forms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Site {
    Parameter,
    Schema,
}

/// Converts a 3.1 document (as JSON) to the 3.0 form progenitor accepts.
pub fn convert(mut spec: Value) -> Converted {
    let mut warnings = Vec::new();
    if let Some(root) = spec.as_object_mut() {
        root.insert("openapi".into(), json!("3.0.3"));
        for key in ["jsonSchemaDialect", "webhooks"] {
            if root.remove(key).is_some() {
                warnings.push(format!("{key}: dropped (no OpenAPI 3.0 equivalent)"));
            }
        }
        if let Some(license) = root
            .get_mut("info")
            .and_then(|i| i.get_mut("license"))
            .and_then(Value::as_object_mut)
        {
            license.remove("identifier");
        }
        if !root.contains_key("paths") {
            root.insert("paths".into(), json!({}));
        }
        if let Some(schemas) = root
            .get_mut("components")
            .and_then(|c| c.get_mut("schemas"))
            .and_then(Value::as_object_mut)
        {
            for (name, schema) in schemas.iter_mut() {
                convert_schema(
                    schema,
                    Site::Schema,
                    &format!("components.schemas.{name}"),
                    name,
                    &mut warnings,
                );
            }
        }
        if let Some(params) = root
            .get_mut("components")
            .and_then(|c| c.get_mut("parameters"))
            .and_then(Value::as_object_mut)
        {
            for (name, p) in params.iter_mut() {
                convert_parameter(p, &format!("components.parameters.{name}"), &mut warnings);
            }
        }
        if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
            let mut seen_ids = Vec::new();
            for (path, item) in paths.iter_mut() {
                convert_path_item(path, item, &mut seen_ids, &mut warnings);
            }
        }
    }
    crate::hoist::hoist(&mut spec);
    Converted { spec, warnings }
}

fn convert_path_item(
    path: &str,
    item: &mut Value,
    seen: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let Some(item) = item.as_object_mut() else {
        return;
    };
    if let Some(params) = item.get_mut("parameters").and_then(Value::as_array_mut) {
        for (i, p) in params.iter_mut().enumerate() {
            convert_parameter(p, &format!("paths.{path}.parameters[{i}]"), warnings);
        }
    }
    for method in METHODS {
        let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
            continue;
        };
        let place = format!("paths.{path}.{method}");
        let id = match op.get("operationId").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                let id = synthesize_operation_id(method, path, seen);
                warnings.push(format!("{place}: no operationId; using {id:?}"));
                op.insert("operationId".into(), json!(id));
                id
            }
        };
        seen.push(id.clone());
        let place = format!("{place} ({id})");
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            for (i, p) in params.iter_mut().enumerate() {
                convert_parameter(p, &format!("{place}.parameters[{i}]"), warnings);
            }
        }
        if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
            convert_request_body(body, &place, &id, warnings);
        }
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            convert_responses(responses, &place, &id, warnings);
        }
    }
}

fn synthesize_operation_id(method: &str, path: &str, seen: &[String]) -> String {
    let mut id = method.to_string();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let segment = segment.trim_start_matches('{').trim_end_matches('}');
        for word in segment
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.push_str(chars.as_str());
            }
        }
    }
    let mut unique = id.clone();
    let mut n = 2;
    while seen.contains(&unique) {
        unique = format!("{id}{n}");
        n += 1;
    }
    unique
}

fn convert_parameter(p: &mut Value, place: &str, warnings: &mut Vec<String>) {
    if let Some(schema) = p.get_mut("schema") {
        convert_schema(
            schema,
            Site::Parameter,
            &format!("{place}.schema"),
            "",
            warnings,
        );
    }
    if let Some(obj) = p.as_object_mut()
        && let Some(examples) = obj.remove("examples")
        && !obj.contains_key("example")
        && let Some(first) = examples.as_object().and_then(|m| m.values().next())
        && let Some(value) = first.get("value")
    {
        obj.insert("example".into(), value.clone());
    }
}

fn is_json_media(media: &str) -> bool {
    let base = media.split(';').next().unwrap_or("").trim();
    base == "application/json"
}

/// Keeps only the `application/json` entry of a `content` map when it has one.
fn keep_json_only(
    content: &mut Map<String, Value>,
    place: &str,
    warnings: &mut Vec<String>,
    body: bool,
) {
    if content.len() <= 1 {
        return;
    }
    let json_key = content.keys().find(|k| is_json_media(k)).cloned();
    let keep = match json_key {
        Some(k) => k,
        None if body => content.keys().next().cloned().unwrap_or_default(),
        None => return,
    };
    let dropped: Vec<String> = content.keys().filter(|k| **k != keep).cloned().collect();
    content.retain(|k, _| *k == keep);
    if body {
        warnings.push(format!(
            "{place}: request body sent as {keep} only (also accepted upstream: {})",
            dropped.join(", ")
        ));
    }
}

fn convert_request_body(
    body: &mut Map<String, Value>,
    place: &str,
    id: &str,
    warnings: &mut Vec<String>,
) {
    if let Some(content) = body.get_mut("content").and_then(Value::as_object_mut) {
        keep_json_only(content, &format!("{place}.requestBody"), warnings, true);
        for (media, m) in content.iter_mut() {
            if let Some(schema) = m.get_mut("schema") {
                convert_schema(
                    schema,
                    Site::Schema,
                    &format!("{place}.requestBody.{media}"),
                    &pascal(&format!("{id} body")),
                    warnings,
                );
            }
        }
    }
}

fn status_class(code: &str) -> Option<bool> {
    // Some(true) = success, Some(false) = error, None = other (1xx, 3xx).
    match code {
        "default" => Some(false),
        "2XX" => Some(true),
        "4XX" | "5XX" => Some(false),
        _ => match code.parse::<u16>() {
            Ok(200..=299) => Some(true),
            Ok(400..=599) => Some(false),
            _ => None,
        },
    }
}

fn raw_content() -> Value {
    json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } })
}

fn response_schema(resp: &Value) -> Option<&Value> {
    resp.get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.values().next())
        .and_then(|m| m.get("schema"))
}

fn convert_responses(
    responses: &mut Map<String, Value>,
    place: &str,
    id: &str,
    warnings: &mut Vec<String>,
) {
    for (code, resp) in responses.iter_mut() {
        if let Some(content) = resp.get_mut("content").and_then(Value::as_object_mut) {
            keep_json_only(
                content,
                &format!("{place}.responses.{code}"),
                warnings,
                false,
            );
            for (media, m) in content.iter_mut() {
                if let Some(schema) = m.get_mut("schema") {
                    convert_schema(
                        schema,
                        Site::Schema,
                        &format!("{place}.responses.{code}.{media}"),
                        &pascal(&format!("{id} response {code}")),
                        warnings,
                    );
                }
            }
        }
    }
    // Success responses: progenitor needs one kind (same schema, or all bodiless).
    let success: Vec<String> = responses
        .keys()
        .filter(|c| status_class(c) == Some(true))
        .cloned()
        .collect();
    let kinds: Vec<Option<&Value>> = success
        .iter()
        .map(|c| response_schema(&responses[c]))
        .collect();
    let mixed = kinds.windows(2).any(|w| w[0] != w[1]);
    if mixed {
        warnings.push(format!(
            "{place}: success responses {} have different bodies; all are delivered as raw bytes",
            success.join(", ")
        ));
        for code in &success {
            if let Some(r) = responses.get_mut(code).and_then(Value::as_object_mut) {
                r.insert("content".into(), raw_content());
            }
        }
    }
    // `default` counts as success and as error for progenitor: beside explicit success
    // responses it would mix kinds, so it goes (its statuses arrive as unexpected responses).
    if !success.is_empty() && responses.remove("default").is_some() {
        warnings.push(format!(
            "{place}: `default` response dropped beside explicit success responses; such statuses surface as unexpected responses"
        ));
    }
    // Error responses: raw bytes (status always kept), bodiless ones removed.
    let errors: Vec<String> = responses
        .keys()
        .filter(|c| status_class(c) == Some(false) && (success.is_empty() || *c != "default"))
        .cloned()
        .collect();
    for code in errors {
        let resp = responses.get_mut(&code).and_then(Value::as_object_mut);
        let Some(resp) = resp else { continue };
        let schema_name = resp
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| c.values().next())
            .and_then(|m| m.get("schema"))
            .map(schema_label);
        match schema_name {
            Some(name) => {
                resp.insert("content".into(), raw_content());
                resp.insert("x-deck-error-schema".into(), json!(name));
            }
            None => {
                responses.remove(&code);
            }
        }
    }
}

/// The name of a `$ref`'d schema, or `inline`.
fn schema_label(schema: &Value) -> String {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or("inline")
        .to_string()
}

const DROPPED_KEYWORDS: [&str; 12] = [
    "$schema",
    "$id",
    "$comment",
    "$anchor",
    "$defs",
    "contentMediaType",
    "contentEncoding",
    "unevaluatedProperties",
    "if",
    "then",
    "else",
    "prefixItems",
];

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
        && v.as_object().is_some_and(|o| o.len() <= 2)
}

fn convert_schema(
    schema: &mut Value,
    site: Site,
    place: &str,
    hint: &str,
    warnings: &mut Vec<String>,
) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };

    for key in DROPPED_KEYWORDS {
        if obj.remove(key).is_some() {
            warnings.push(format!(
                "{place}: {key} dropped (no OpenAPI 3.0 equivalent)"
            ));
        }
    }
    if let Some(c) = obj.remove("const") {
        obj.insert("enum".into(), json!([c]));
    }
    if let Some(examples) = obj.remove("examples")
        && let Some(first) = examples.as_array().and_then(|a| a.first())
        && !obj.contains_key("example")
    {
        obj.insert("example".into(), first.clone());
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(n) = obj.get(exclusive).filter(|v| v.is_number()).cloned() {
            obj.insert(bound.into(), n);
            obj.insert(exclusive.into(), json!(true));
        }
    }

    // Recurse first, so nested constructs are converted before this level is rewritten.
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, p) in props.iter_mut() {
            convert_schema(
                p,
                Site::Schema,
                &format!("{place}.{name}"),
                &format!("{hint}{}", pascal(name)),
                warnings,
            );
        }
    }
    unset_defaults(obj);
    if let Some(items) = obj.get_mut("items") {
        convert_schema(
            items,
            Site::Schema,
            &format!("{place}[]"),
            &format!("{hint}Item"),
            warnings,
        );
    }
    if let Some(ap) = obj
        .get_mut("additionalProperties")
        .filter(|v| v.is_object())
    {
        convert_schema(
            ap,
            Site::Schema,
            &format!("{place}.*"),
            &format!("{hint}Value"),
            warnings,
        );
    }
    if let Some(not) = obj.get_mut("not") {
        convert_schema(not, Site::Schema, &format!("{place}.not"), hint, warnings);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(list) = obj.get_mut(key).and_then(Value::as_array_mut) {
            for (i, s) in list.iter_mut().enumerate() {
                if !is_null_schema(s) {
                    convert_schema(
                        s,
                        Site::Schema,
                        &format!("{place}.{key}[{i}]"),
                        hint,
                        warnings,
                    );
                }
            }
        }
    }

    // `type` arrays.
    if let Some(types) = obj.get("type").and_then(Value::as_array).cloned() {
        let mut types: Vec<String> = types
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
        let nullable = types.iter().any(|t| t == "null");
        types.retain(|t| t != "null");
        obj.remove("type");
        let numeric = types
            .iter()
            .find(|t| *t == "integer" || *t == "number")
            .cloned();
        match (types.len(), numeric) {
            (0, _) => {
                obj.insert("enum".into(), json!([null]));
            }
            (1, _) => {
                obj.insert("type".into(), json!(types[0]));
            }
            (2, Some(num)) if types.iter().any(|t| t == "string") => match site {
                Site::Parameter => {
                    obj.remove("pattern");
                    obj.insert("type".into(), json!(num));
                }
                Site::Schema => {
                    let mut number = json!({ "type": num });
                    if let Some(f) = obj.remove("format") {
                        number["format"] = f;
                    }
                    let mut string = json!({ "type": "string" });
                    if let Some(p) = obj.remove("pattern") {
                        string["pattern"] = p;
                    }
                    obj.insert("oneOf".into(), json!([number, string]));
                }
            },
            _ => {
                let list: Vec<Value> = types.iter().map(|t| json!({ "type": t })).collect();
                obj.insert("anyOf".into(), Value::Array(list));
            }
        }
        if nullable && !types.is_empty() {
            obj.insert("nullable".into(), json!(true));
        }
    } else if obj.get("type").and_then(Value::as_str) == Some("null") {
        obj.remove("type");
        obj.insert("enum".into(), json!([null]));
    }

    // `null` members of oneOf / anyOf.
    for key in ["oneOf", "anyOf"] {
        let Some(list) = obj.get(key).and_then(Value::as_array) else {
            continue;
        };
        if !list.iter().any(is_null_schema) {
            continue;
        }
        let rest: Vec<Value> = list
            .iter()
            .filter(|s| !is_null_schema(s))
            .cloned()
            .collect();
        obj.remove(key);
        match rest.len() {
            0 => {
                obj.insert("enum".into(), json!([null]));
            }
            1 => {
                let only = rest.into_iter().next().unwrap_or(Value::Null);
                if only.get("$ref").is_some() {
                    obj.insert("allOf".into(), json!([only]));
                } else if let Some(inner) = only.as_object() {
                    for (k, v) in inner {
                        obj.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                obj.insert("nullable".into(), json!(true));
            }
            _ => {
                let mut with_null = rest;
                with_null.push(json!({ "enum": [null] }));
                obj.insert(key.into(), Value::Array(with_null));
            }
        }
    }

    // Closed string enums become open: the known values (matchable), or any other string.
    // The titles name the generated types `<Hint>Known` / variants `Known(..)` and `Other(String)`.
    let is_string_enum = obj.get("type").and_then(Value::as_str) == Some("string")
        && obj
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty() && e.iter().all(Value::is_string));
    if is_string_enum && site == Site::Schema && !hint.is_empty() {
        let values = obj.remove("enum").unwrap_or(Value::Null);
        obj.remove("type");
        obj.insert(
            "oneOf".into(),
            json!([
                { "title": format!("{hint}Known"), "enum": values },
                { "title": format!("{hint}Other"), "type": "string" }
            ]),
        );
    }
}

/// An optional property's `default` moves into its description: a generated field with a default
/// is a plain value that is always sent (`"extraction": false` beside `storage.extraction: true`),
/// so the caller could not leave it unset. Without it the field is an `Option`, omitted when unset,
/// and Deck applies its own default.
fn unset_defaults(obj: &mut Map<String, Value>) {
    let required: Vec<Value> = obj
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, p) in props.iter_mut() {
        if required.contains(&json!(name)) {
            continue;
        }
        let Some(p) = p.as_object_mut() else { continue };
        if let Some(default) = p.remove("default") {
            let note = format!("Default (applied by Deck when omitted): `{default}`.");
            let text = match p.get("description").and_then(Value::as_str) {
                Some(d) if !d.is_empty() => format!("{d} {note}"),
                _ => note,
            };
            p.insert("description".into(), json!(text));
        }
    }
}

/// `list_task-run storage` → `ListTaskRunStorage`.
fn pascal(s: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_synthesised_and_unique() {
        let a = synthesize_operation_id("get", "/task-runs/{run_id}/storage", &[]);
        assert_eq!(a, "getTaskRunsRunIdStorage");
        let b = synthesize_operation_id(
            "get",
            "/task-runs/{run_id}/storage",
            std::slice::from_ref(&a),
        );
        assert_eq!(b, "getTaskRunsRunIdStorage2");
    }

    #[test]
    fn int_or_string_is_plain_integer_in_parameters() {
        let mut s = json!({"type": ["integer", "string"], "pattern": "^-?(?:0|[1-9]\\d*)$", "format": "int32"});
        convert_schema(&mut s, Site::Parameter, "p", "P", &mut Vec::new());
        assert_eq!(s, json!({"type": "integer", "format": "int32"}));
    }

    #[test]
    fn nullable_ref_in_one_of_becomes_all_of() {
        let mut s = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/X"}], "description": "d"});
        convert_schema(&mut s, Site::Schema, "p", "P", &mut Vec::new());
        assert_eq!(
            s,
            json!({"description": "d", "allOf": [{"$ref": "#/components/schemas/X"}], "nullable": true})
        );
    }
}
