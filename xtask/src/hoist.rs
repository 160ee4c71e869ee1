//! After conversion: the schemas the converter synthesises (int-or-string unions, open enums)
//! become named, shared components, so each exists once in the generated code instead of once
//! per property that uses it.
//!
//! | synthesised schema | component | name |
//! |---|---|---|
//! | `oneOf: [integer (format F), string (pattern)]` | one per format and pattern | `Int64OrString` (`Int32OrString`, `IntegerOrString`; a second pattern for the same format adds `2`, …) |
//! | open enum `oneOf: [{title: ..Known, enum}, {title: ..Other, type: string}]` | one per property name and value list | the property name in PascalCase (`Purpose`) when that name has one value list in the whole document and is free; otherwise the owner-qualified name the converter gave it (`GetTaskRunResponseStatus`) |
//!
//! The use site keeps its description and nullability: it becomes `{$ref}` alone, or
//! `{allOf: [{$ref}], description, nullable}`. Names are deterministic (document order); a new
//! enum that shares a property name but not its values renames the shared one, which the API
//! report flags as breaking.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Names never used for a hoisted component: they would shadow Rust prelude items inside the
/// generated `types` module.
const RESERVED: [&str; 12] = [
    "Result", "Option", "String", "Vec", "Box", "Error", "Ok", "Err", "Some", "None", "Self",
    "Default",
];

enum Kind {
    IntOrString { format: Option<String> },
    OpenEnum { field: String, hint: String },
}

struct Occurrence {
    pointer: String,
    kind: Kind,
    /// The synthesised `oneOf`, which becomes the component's body.
    one_of: Value,
}

/// Hoists every synthesised schema of `spec` (a converted 3.0 document) into
/// `components.schemas`.
pub fn hoist(spec: &mut Value) {
    let mut found = Vec::new();
    if let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            visit(
                schema,
                &format!("/components/schemas/{}", escape(name)),
                "",
                &mut found,
            );
        }
    }
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let base = format!("/paths/{}/{}", escape(path), escape(method));
                for section in ["requestBody", "responses"] {
                    walk_content(op.get(section), &format!("{base}/{section}"), &mut found);
                }
            }
        }
    }
    if found.is_empty() {
        return;
    }
    let existing: BTreeSet<String> = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let names = assign_names(&found, &existing);
    let mut components = Map::new();
    for (occurrence, name) in found.iter().zip(&names) {
        let body = match &occurrence.kind {
            Kind::IntOrString { .. } => json!({ "oneOf": occurrence.one_of }),
            Kind::OpenEnum { .. } => {
                let mut one_of = occurrence.one_of.clone();
                if let Some(list) = one_of.as_array_mut() {
                    for (member, suffix) in list.iter_mut().zip(["Known", "Other"]) {
                        member["title"] = json!(format!("{name}{suffix}"));
                    }
                }
                json!({ "oneOf": one_of })
            }
        };
        components.entry(name.clone()).or_insert(body);
        if let Some(site) = spec
            .pointer_mut(&occurrence.pointer)
            .and_then(Value::as_object_mut)
        {
            site.remove("oneOf");
            let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
            if site.is_empty() {
                site.insert("$ref".into(), reference["$ref"].clone());
            } else {
                site.insert("allOf".into(), json!([reference]));
            }
        }
    }
    if let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, body) in components {
            schemas.insert(name, body);
        }
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn walk_content(section: Option<&Value>, pointer: &str, found: &mut Vec<Occurrence>) {
    let Some(section) = section.and_then(Value::as_object) else {
        return;
    };
    // requestBody: {content}; responses: {code: {content}}.
    let mut holders: Vec<(String, &Value)> = Vec::new();
    if section.contains_key("content") {
        holders.push((pointer.to_string(), &section["content"]));
    } else {
        for (code, response) in section {
            if let Some(content) = response.get("content") {
                holders.push((format!("{pointer}/{}/content", escape(code)), content));
            }
        }
    }
    for (at, content) in holders {
        let at = if at == pointer {
            format!("{pointer}/content")
        } else {
            at
        };
        for (media, m) in content.as_object().into_iter().flatten() {
            if let Some(schema) = m.get("schema") {
                visit(schema, &format!("{at}/{}/schema", escape(media)), "", found);
            }
        }
    }
}

fn visit(schema: &Value, pointer: &str, field: &str, found: &mut Vec<Occurrence>) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    if let Some(kind) = synthesised(obj, field) {
        found.push(Occurrence {
            pointer: pointer.to_string(),
            kind,
            one_of: obj["oneOf"].clone(),
        });
        return;
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            visit(
                p,
                &format!("{pointer}/properties/{}", escape(name)),
                name,
                found,
            );
        }
    }
    if let Some(items) = obj.get("items") {
        let item = if field.is_empty() {
            String::new()
        } else {
            format!("{field} item")
        };
        visit(items, &format!("{pointer}/items"), &item, found);
    }
    if let Some(ap) = obj.get("additionalProperties") {
        visit(ap, &format!("{pointer}/additionalProperties"), field, found);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, s) in obj
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            visit(s, &format!("{pointer}/{key}/{i}"), field, found);
        }
    }
}

/// Recognises the two shapes the converter writes.
fn synthesised(obj: &Map<String, Value>, field: &str) -> Option<Kind> {
    let list = obj.get("oneOf")?.as_array()?;
    let [first, second] = &list[..] else {
        return None;
    };
    let ty = |v: &Value| v.get("type").and_then(Value::as_str).map(str::to_string);
    if matches!(ty(first).as_deref(), Some("integer"))
        && ty(second).as_deref() == Some("string")
        && second.get("pattern").is_some()
    {
        return Some(Kind::IntOrString {
            format: first
                .get("format")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    let title = |v: &Value| v.get("title").and_then(Value::as_str).map(str::to_string);
    let (known, other) = (title(first)?, title(second)?);
    let hint = known.strip_suffix("Known")?;
    if other.strip_suffix("Other") == Some(hint) && first.get("enum").is_some() && !field.is_empty()
    {
        return Some(Kind::OpenEnum {
            field: field.to_string(),
            hint: hint.to_string(),
        });
    }
    None
}

fn pascal(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn assign_names(found: &[Occurrence], existing: &BTreeSet<String>) -> Vec<String> {
    // Int-or-string: by format, then by pattern in order of appearance.
    let mut int_names: BTreeMap<(Option<String>, String), String> = BTreeMap::new();
    let mut int_count: BTreeMap<String, usize> = BTreeMap::new();
    // Open enums: the distinct value lists per property name.
    let mut enum_groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for o in found {
        if let Kind::OpenEnum { field, .. } = &o.kind {
            let values = &o.one_of[0]["enum"];
            let groups = enum_groups.entry(pascal(field)).or_default();
            if !groups.contains(&values) {
                groups.push(values);
            }
        }
    }
    let mut first_hint: BTreeMap<(String, String), String> = BTreeMap::new();
    found
        .iter()
        .map(|o| match &o.kind {
            Kind::IntOrString { format } => {
                let pattern = o.one_of[1]["pattern"].to_string();
                let key = (format.clone(), pattern);
                if let Some(name) = int_names.get(&key) {
                    return name.clone();
                }
                let base = match format.as_deref() {
                    Some(f) => format!("{}OrString", pascal(f)),
                    None => "IntegerOrString".into(),
                };
                let n = int_count.entry(base.clone()).or_insert(0);
                *n += 1;
                let mut name = if *n == 1 {
                    base.clone()
                } else {
                    format!("{base}{n}")
                };
                while existing.contains(&name) {
                    *n += 1;
                    name = format!("{base}{n}");
                }
                int_names.insert(key, name.clone());
                name
            }
            Kind::OpenEnum { field, hint } => {
                let short = pascal(field);
                let values = o.one_of[0]["enum"].to_string();
                let unique = enum_groups.get(&short).is_some_and(|g| g.len() == 1);
                if unique && !existing.contains(&short) && !RESERVED.contains(&short.as_str()) {
                    short
                } else {
                    first_hint
                        .entry((short, values))
                        .or_insert_with(|| hint.clone())
                        .clone()
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_shapes_become_one_component_each() {
        let known = |t: &str, values: Value| json!({"oneOf": [{"title": format!("{t}Known"), "enum": values}, {"title": format!("{t}Other"), "type": "string"}]});
        let size = json!({"oneOf": [{"type": "integer", "format": "int64"}, {"type": "string", "pattern": "^\\d+$"}], "description": "d"});
        let mut spec = json!({"components": {"schemas": {
            "A": {"type": "object", "properties": {"size": size, "purpose": known("APurpose", json!(["x", "y"])), "status": known("AStatus", json!(["s"]))}},
            "B": {"type": "object", "properties": {"size": size, "purpose": known("BPurpose", json!(["x", "y"])), "status": known("BStatus", json!(["t"]))}}
        }}, "paths": {}});
        hoist(&mut spec);
        let schemas = &spec["components"]["schemas"];
        assert_eq!(
            schemas["A"]["properties"]["size"],
            json!({"description": "d", "allOf": [{"$ref": "#/components/schemas/Int64OrString"}]})
        );
        assert_eq!(
            schemas["B"]["properties"]["purpose"],
            json!({"$ref": "#/components/schemas/Purpose"})
        );
        assert_eq!(schemas["Purpose"]["oneOf"][0]["title"], "PurposeKnown");
        // `status` has two value lists: each keeps its owner-qualified name.
        assert_eq!(
            schemas["B"]["properties"]["status"],
            json!({"$ref": "#/components/schemas/BStatus"})
        );
        assert!(schemas.get("AStatus").is_some());
        assert!(schemas.get("Status").is_none());
    }
}
