//! Secret fields: what regen emits for `"x-deck-sensitive": true` on a property.
//!
//! | what | emitted | why |
//! |---|---|---|
//! | every generated struct with a sensitive property, and its type builder (`types::builder::X`) | a `Debug` printing every field as derived, except a sensitive one: `<redacted>` (`deck_api::sensitive::Redacted`) inside its `Option` / `Result` / `Patch`, so an absent value still shows `None` | a request, a response or an operation builder (whose derived `Debug` prints its body's builder) can be logged with `{:?}` |
//! | every operation | `SENSITIVE_PATHS` on its `Operation` impl and `sensitive` in its `OPERATIONS` row: the JSON paths of the sensitive properties in its request body and success response body, followed through `$ref`, `allOf`/`oneOf`/`anyOf`, arrays (`[]`) and maps (`*`) | `deck-api-ext` scrubs the values found there from errors and traces |
//!
//! The extension is supported on properties of component schemas (where every secret is
//! today); anywhere else it is a regen error naming the place, so a secret is never silently
//! printed. The converter keeps `x-` keys, so this reads the converted document.

use crate::error::RegenError;
use crate::fold_name;
use crate::patch_fields::wire_name;
use crate::surface::{generic_args, module_items};
use quote::quote;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use syn::{Item, Type};

/// The extension key.
pub const EXTENSION: &str = "x-deck-sensitive";

/// Where one operation's bodies hold secrets, as `deck_api::sensitive::SensitivePaths` lists
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationSecrets {
    /// Paths into the request body, sorted.
    pub request: Vec<String>,
    /// Paths into the success response bodies, sorted.
    pub response: Vec<String>,
}

impl OperationSecrets {
    /// The Rust expression of a `SensitivePaths` (`crate::sensitive::SensitivePaths { .. }`, or
    /// its `NONE`).
    pub fn to_rust(&self) -> String {
        if self.request.is_empty() && self.response.is_empty() {
            return "crate::sensitive::SensitivePaths::NONE".into();
        }
        let list = |paths: &[String]| {
            let items: Vec<String> = paths.iter().map(|p| format!("{p:?}")).collect();
            format!("&[{}]", items.join(", "))
        };
        format!(
            "crate::sensitive::SensitivePaths {{ request: {}, response: {} }}",
            list(&self.request),
            list(&self.response)
        )
    }
}

fn is_sensitive(schema: &Value) -> bool {
    schema.get(EXTENSION).and_then(Value::as_bool) == Some(true)
}

/// The sensitive paths of operation `op` of `spec` (converted): its JSON request body and its
/// success (2xx) response bodies. A property name that cannot be written in a path (empty, or
/// holding `.`, `[`, `]` or `*`) on the way to a secret is an error.
pub fn operation_paths(spec: &Value, op: &Value) -> Result<OperationSecrets, String> {
    let mut request = BTreeSet::new();
    for schema in body_schemas(spec, op.get("requestBody")) {
        walk(spec, schema, "", &mut Vec::new(), &mut request)?;
    }
    let mut response = BTreeSet::new();
    let responses = op.get("responses").and_then(Value::as_object);
    for (_, r) in responses
        .into_iter()
        .flatten()
        .filter(|(code, _)| code.starts_with('2'))
    {
        for schema in body_schemas(spec, Some(r)) {
            walk(spec, schema, "", &mut Vec::new(), &mut response)?;
        }
    }
    Ok(OperationSecrets {
        request: request.into_iter().collect(),
        response: response.into_iter().collect(),
    })
}

/// The schemas of a request body or response (every media type).
fn body_schemas<'a>(spec: &'a Value, section: Option<&'a Value>) -> Vec<&'a Value> {
    section
        .map(|s| crate::resolve_ref(spec, s))
        .and_then(|s| s.get("content"))
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|c| c.values())
        .filter_map(|m| m.get("schema"))
        .collect()
}

/// Collects into `out` the paths under `prefix` where `schema` holds a secret. `refs` is the
/// chain of `$ref`s being followed (a recursive schema stops at its second visit).
fn walk(
    spec: &Value,
    schema: &Value,
    prefix: &str,
    refs: &mut Vec<String>,
    out: &mut BTreeSet<String>,
) -> Result<(), String> {
    if is_sensitive(schema) {
        out.insert(prefix.to_string());
        return Ok(());
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if refs.iter().any(|seen| seen == r) || refs.len() > 32 {
            return Ok(());
        }
        let Some(target) = r.strip_prefix('#').and_then(|p| spec.pointer(p)) else {
            return Ok(());
        };
        refs.push(r.to_string());
        let result = walk(spec, target, prefix, refs, out);
        refs.pop();
        return result;
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for member in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(spec, member, prefix, refs, out)?;
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            let mut found = BTreeSet::new();
            walk(spec, p, &join(prefix, name), refs, &mut found)?;
            if !found.is_empty() && (name.is_empty() || name.contains(['.', '[', ']', '*'])) {
                return Err(format!(
                    "property {name:?} leads to a secret but cannot be written in a sensitive path"
                ));
            }
            out.extend(found);
        }
    }
    if let Some(items) = schema.get("items") {
        walk(spec, items, &format!("{prefix}[]"), refs, out)?;
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        walk(spec, values, &join(prefix, "*"), refs, out)?;
    }
    Ok(())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Component schema name → its sensitive properties; any other place carrying the extension is
/// an error naming its JSON pointer.
pub fn sensitive_properties(spec: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut places = Vec::new();
    find_flags(spec, String::new(), &mut places);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pointer in places {
        let parts: Vec<&str> = pointer.split('/').collect();
        match parts[..] {
            ["", "components", "schemas", schema, "properties", property] => {
                let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
                out.entry(unescape(schema))
                    .or_default()
                    .push(unescape(property));
            }
            _ => {
                return Err(format!(
                    "{EXTENSION} at {pointer}: supported only on a property of a component schema (components/schemas/<Name>/properties/<property>)"
                ));
            }
        }
    }
    Ok(out)
}

fn find_flags(v: &Value, pointer: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if is_sensitive(v) {
                out.push(pointer.clone());
            }
            for (k, x) in map {
                let k = k.replace('~', "~0").replace('/', "~1");
                find_flags(x, format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                find_flags(x, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Replaces the derived `Debug` of every struct with a sensitive property, and of its type
/// builder (see the module documentation).
pub fn emit(file: &mut syn::File, spec: &Value, source: &str) -> Result<(), RegenError> {
    let err = |msg: String| RegenError::new(format!("{source}: generated code"), msg);
    let sensitive = sensitive_properties(spec).map_err(|m| RegenError::new(source, m))?;
    if sensitive.is_empty() {
        return Ok(());
    }
    let types = module_items(file, "types").ok_or_else(|| err("no `types` module".into()))?;
    let mut builder_fields: Vec<(String, Vec<String>)> = Vec::new();
    let mut impls = Vec::new();
    for (schema, properties) in &sensitive {
        let strukt = types
            .iter_mut()
            .find_map(|item| match item {
                Item::Struct(s) if fold_name(&s.ident.to_string()) == fold_name(schema) => Some(s),
                _ => None,
            })
            .ok_or_else(|| {
                err(format!(
                    "schema {schema} has secrets but no generated struct"
                ))
            })?;
        let mut idents = Vec::new();
        for property in properties {
            let field = strukt
                .fields
                .iter()
                .find(|f| wire_name(f).as_deref() == Some(property.as_str()))
                .ok_or_else(|| {
                    err(format!(
                        "{schema}: no generated field for secret `{property}`"
                    ))
                })?;
            idents.push(
                field
                    .ident
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            );
        }
        impls.push(redacting_debug(strukt, &idents).map_err(|m| err(format!("{schema}: {m}")))?);
        builder_fields.push((strukt.ident.to_string(), idents));
    }
    let builder = types
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == "builder" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        })
        .ok_or_else(|| err("no `types::builder` module".into()))?;
    let mut builder_impls = Vec::new();
    for (name, idents) in &builder_fields {
        let strukt = builder
            .iter_mut()
            .find_map(|item| match item {
                Item::Struct(s) if s.ident == name => Some(s),
                _ => None,
            })
            .ok_or_else(|| err(format!("no types::builder::{name}")))?;
        builder_impls.push(
            redacting_debug(strukt, idents)
                .map_err(|m| err(format!("types::builder::{name}: {m}")))?,
        );
    }
    builder.extend(builder_impls);
    types.extend(impls);
    Ok(())
}

/// Drops `Debug` from the struct's derives and returns the `impl Debug` that prints `secrets`
/// (Rust field names) redacted.
fn redacting_debug(strukt: &mut syn::ItemStruct, secrets: &[String]) -> Result<Item, String> {
    let mut had_debug = false;
    for attr in strukt
        .attrs
        .iter_mut()
        .filter(|a| a.path().is_ident("derive"))
    {
        let derives = attr
            .parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .map_err(|e| format!("cannot read its derives: {e}"))?;
        let kept: Vec<&syn::Path> = derives
            .iter()
            .filter(|p| {
                let debug = p.segments.last().is_some_and(|s| s.ident == "Debug");
                had_debug |= debug;
                !debug
            })
            .collect();
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
    if !had_debug {
        return Err("no derived `Debug` to replace".into());
    }
    let name = &strukt.ident;
    let label = name.to_string();
    let syn::Fields::Named(fields) = &strukt.fields else {
        return Err("not a struct with named fields".into());
    };
    let mut calls = Vec::new();
    for field in &fields.named {
        let Some(ident) = &field.ident else { continue };
        let text = ident.to_string();
        let label = text.strip_prefix("r#").unwrap_or(&text).to_string();
        let value = if secrets.contains(&text) {
            redacted_value(&field.ty, quote!(self.#ident))
        } else {
            quote!(self.#ident)
        };
        calls.push(quote!(.field(#label, &#value)));
    }
    Ok(syn::parse_quote! {
        impl ::std::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#label) #(#calls)* .finish()
            }
        }
    })
}

/// An expression with `value`'s shape (`Option`, `Result`, `Patch`, nested) whose innermost
/// value is `Redacted`.
fn redacted_value(ty: &Type, value: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let wrapped = ["Option", "Result", "Patch"]
        .iter()
        .find_map(|w| generic_args(ty, w).and_then(|a| a.into_iter().next()));
    match wrapped {
        Some(inner) => {
            let inner_value = redacted_value(&inner, quote!(v));
            if inner_value.to_string() == redacted_leaf().to_string() {
                quote!(#value.as_ref().map(|_| #inner_value))
            } else {
                quote!(#value.as_ref().map(|v| #inner_value))
            }
        }
        None => redacted_leaf(),
    }
}

fn redacted_leaf() -> proc_macro2::TokenStream {
    quote!(crate::sensitive::Redacted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "paths": {
                "/creds": {
                    "post": {
                        "operationId": "createCred",
                        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewCred"}}}},
                        "responses": {
                            "201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cred"}}}},
                            "400": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}
                        }
                    },
                    "get": {
                        "operationId": "listCreds",
                        "responses": {"200": {"content": {"application/json": {"schema": {
                            "type": "object",
                            "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Cred"}}}
                        }}}}}
                    }
                }
            },
            "components": {"schemas": {
                "NewCred": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "auth": {"x-deck-sensitive": true},
                    "hook": {"allOf": [{"$ref": "#/components/schemas/Hook"}], "nullable": true},
                    "extra": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Hook"}}
                }},
                "Cred": {"type": "object", "properties": {
                    "id": {"type": "string"},
                    "hooks": {"type": "array", "items": {"$ref": "#/components/schemas/Hook"}},
                    "parent": {"$ref": "#/components/schemas/Cred"}
                }},
                "Hook": {"type": "object", "properties": {"secret": {"type": "string", "x-deck-sensitive": true}}}
            }}
        })
    }

    #[test]
    fn paths_follow_refs_compositions_arrays_and_maps() {
        let spec = spec();
        let post = &spec["paths"]["/creds"]["post"];
        assert_eq!(
            operation_paths(&spec, post).unwrap(),
            OperationSecrets {
                request: vec!["auth".into(), "extra.*.secret".into(), "hook.secret".into()],
                response: vec!["hooks[].secret".into()],
            }
        );
        let get = &spec["paths"]["/creds"]["get"];
        assert_eq!(
            operation_paths(&spec, get).unwrap().response,
            ["data[].hooks[].secret"]
        );
        assert_eq!(
            operation_paths(&spec, post).unwrap().to_rust(),
            r#"crate::sensitive::SensitivePaths { request: &["auth", "extra.*.secret", "hook.secret"], response: &["hooks[].secret"] }"#
        );
        assert_eq!(
            OperationSecrets::default().to_rust(),
            "crate::sensitive::SensitivePaths::NONE"
        );
    }

    #[test]
    fn a_name_that_cannot_be_a_path_segment_is_an_error() {
        let mut spec = spec();
        let hook = spec["components"]["schemas"]["NewCred"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("hook")
            .unwrap();
        spec["components"]["schemas"]["NewCred"]["properties"]["a.b"] = hook;
        let post = spec["paths"]["/creds"]["post"].clone();
        let err = operation_paths(&spec, &post).unwrap_err();
        assert!(err.contains("\"a.b\""), "{err}");
    }

    #[test]
    fn flags_outside_component_properties_are_refused() {
        let found = sensitive_properties(&spec()).unwrap();
        assert_eq!(found["NewCred"], ["auth"]);
        assert_eq!(found["Hook"], ["secret"]);
        let mut inline = spec();
        inline["paths"]["/creds"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["properties"]["token"] = json!({"type": "string", "x-deck-sensitive": true});
        let err = sensitive_properties(&inline).unwrap_err();
        assert!(err.contains("/paths/~1creds/get/responses/200"), "{err}");
    }

    #[test]
    fn debug_keeps_the_shape_of_a_secret() {
        let ty = |s: &str| syn::parse_str::<Type>(s).unwrap();
        let shown = |s: &str| redacted_value(&ty(s), quote!(self.x)).to_string();
        assert_eq!(shown("String"), "crate :: sensitive :: Redacted");
        assert_eq!(
            shown("::std::option::Option<::serde_json::Value>"),
            "self . x . as_ref () . map (| _ | crate :: sensitive :: Redacted)"
        );
        assert_eq!(
            shown("Result<Option<String>, String>"),
            "self . x . as_ref () . map (| v | v . as_ref () . map (| _ | crate :: sensitive :: Redacted))"
        );
        let mut strukt: syn::ItemStruct = syn::parse_quote! {
            #[derive(Clone, Debug, Default)]
            pub struct S { pub a: String, pub secret: Option<String> }
        };
        let imp = redacting_debug(&mut strukt, &["secret".into()]).unwrap();
        let derives = strukt.attrs[0].to_token_stream().to_string();
        assert_eq!(derives, "# [derive (Clone , Default)]");
        let imp = imp.to_token_stream().to_string();
        assert!(imp.contains(". field (\"a\" , & self . a)"), "{imp}");
        assert!(imp.contains("crate :: sensitive :: Redacted"), "{imp}");
    }
}
