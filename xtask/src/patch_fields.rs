//! Update bodies that can clear a field: `Patch<T>` instead of `Option<T>`, emitted by rule.
//!
//! typify generates an optional property as `Option<T>` omitted when `None`, so an update could
//! never send `null` ("remove the mapping") as distinct from leaving the field out ("leave it as
//! it is"). The rule, over the converted document, never a list of names:
//!
//! | where | what | becomes |
//! |---|---|---|
//! | every `PATCH` operation's JSON request body schema (a component, or the inline `<OperationId>Body`) | each property not in `required` and nullable (`nullable: true`, which the converter writes for a 3.1 `type` array with `"null"` and for `oneOf` with `{type: "null"}`) | the struct field `crate::patch::Patch<T>` with `#[serde(default, skip_serializing_if = "crate::patch::Patch::is_unchanged")]` |
//! | the type builder (`types::builder::X`) | that field and its setter's `TryInto<Option<T>>` bound | `Patch<T>`, so `.field(Patch::Clear)`, `.field(value)` and (for strings) `.field("text")` all work |
//! | a constrained newtype `T` (typify's `TryFrom<&str>`, `TryFrom<String>`, …) | | the same conversions for `Patch<T>`, keeping the newtype's check: `.external_id("ext_1")` |
//!
//! A property the rule selects whose generated field is not an `Option<T>`, or a body type that
//! cannot be found, is a regen error naming it.

use crate::error::RegenError;
use crate::overlay::METHODS;
use crate::surface::{generic_args, module_items};
use crate::{fold_name, resolve_ref};
use quote::{ToTokens, quote};
use serde_json::Value;
use std::collections::BTreeMap;
use syn::{ImplItem, Item, Type};

/// A request body type and its properties that get `Patch<T>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearableBody {
    /// The schema's name: the component, or `<OperationId>Body` for an inline body.
    pub schema: String,
    /// The operation whose body it is (for messages).
    pub operation: String,
    /// Property names, as in the spec, sorted.
    pub properties: Vec<String>,
}

/// Every `PATCH` request body of `spec` (converted) with clearable properties, by schema name.
pub fn clearable_bodies(spec: &Value) -> Vec<ClearableBody> {
    let mut out: BTreeMap<String, ClearableBody> = BTreeMap::new();
    let paths = spec.get("paths").and_then(Value::as_object);
    for item in paths.into_iter().flat_map(|p| p.values()) {
        for method in METHODS.iter().filter(|m| **m == "patch") {
            let Some(op) = item.get(method) else { continue };
            let id = op.get("operationId").and_then(Value::as_str).unwrap_or("?");
            let Some(body) = op.get("requestBody").map(|b| resolve_ref(spec, b)) else {
                continue;
            };
            let Some(schema) = body
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
            else {
                continue;
            };
            let name = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .map(str::to_string)
                .unwrap_or_else(|| format!("{id}Body"));
            let schema = resolve_ref(spec, schema);
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                continue;
            };
            let mut properties: Vec<String> = props
                .iter()
                .filter(|(name, p)| !required.contains(&name.as_str()) && is_nullable(p))
                .map(|(name, _)| name.clone())
                .collect();
            if properties.is_empty() {
                continue;
            }
            properties.sort();
            out.entry(name.clone()).or_insert(ClearableBody {
                schema: name,
                operation: id.to_string(),
                properties,
            });
        }
    }
    out.into_values().collect()
}

/// Nullable at the property itself, as the converter writes it.
fn is_nullable(property: &Value) -> bool {
    property.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Rewrites the generated `types` module (see the module documentation).
pub fn emit(file: &mut syn::File, spec: &Value, source: &str) -> Result<(), RegenError> {
    let err = |msg: String| RegenError::new(format!("{source}: generated code"), msg);
    let bodies = clearable_bodies(spec);
    if bodies.is_empty() {
        return Ok(());
    }
    let types = module_items(file, "types").ok_or_else(|| err("no `types` module".into()))?;
    // (struct, Rust field) pairs to rewrite in the builder, and the inner types used.
    let mut rewritten: Vec<(String, String)> = Vec::new();
    let mut inner_types: Vec<Type> = Vec::new();
    for body in &bodies {
        let what = format!("operation {} request body {}", body.operation, body.schema);
        let strukt = types
            .iter_mut()
            .find_map(|item| match item {
                Item::Struct(s) if fold_name(&s.ident.to_string()) == fold_name(&body.schema) => {
                    Some(s)
                }
                _ => None,
            })
            .ok_or_else(|| err(format!("{what}: no generated struct")))?;
        let struct_name = strukt.ident.to_string();
        for property in &body.properties {
            let field = strukt
                .fields
                .iter_mut()
                .find(|f| wire_name(f).as_deref() == Some(property.as_str()))
                .ok_or_else(|| err(format!("{what}: no field for property `{property}`")))?;
            let inner = option_inner(&field.ty).ok_or_else(|| {
                err(format!(
                    "{what}: field `{property}` is not an `Option<T>`, cannot make it a `Patch<T>`"
                ))
            })?;
            field.ty = syn::parse_quote!(crate::patch::Patch<#inner>);
            rewrite_serde_attrs(&mut field.attrs)
                .map_err(|e| err(format!("{what}: field `{property}`: {e}")))?;
            let ident = field
                .ident
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            rewritten.push((struct_name.clone(), ident));
            if !inner_types.iter().any(|t| same(t, &inner)) {
                inner_types.push(inner);
            }
        }
    }
    let conversions = newtype_conversions(types, &inner_types);
    let builder = types
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == "builder" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        })
        .ok_or_else(|| err("no `types::builder` module".into()))?;
    for (struct_name, field) in &rewritten {
        rewrite_builder(builder, struct_name, field)
            .map_err(|e| err(format!("types::builder::{struct_name}.{field}: {e}")))?;
    }
    types.extend(conversions);
    Ok(())
}

/// The property name a field (de)serialises as: its `#[serde(rename = "..")]`, else its name.
pub(crate) fn wire_name(field: &syn::Field) -> Option<String> {
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let mut renamed = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                renamed = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
        if renamed.is_some() {
            return renamed;
        }
    }
    let ident = field.ident.as_ref()?.to_string();
    Some(ident.strip_prefix("r#").unwrap_or(&ident).to_string())
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<Type> {
    generic_args(ty, "Option").and_then(|a| a.into_iter().next())
}

fn same(a: &Type, b: &Type) -> bool {
    a.to_token_stream().to_string() == b.to_token_stream().to_string()
}

/// Replaces `skip_serializing_if = "…Option::is_none"` (and any `default`) with
/// `default, skip_serializing_if = "crate::patch::Patch::is_unchanged"`, keeping other serde
/// settings (`rename`).
fn rewrite_serde_attrs(attrs: &mut Vec<syn::Attribute>) -> Result<(), String> {
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        if !attr.path().is_ident("serde") {
            kept.push(attr);
            continue;
        }
        let mut others = Vec::new();
        attr.parse_nested_meta(|meta| {
            let path = meta.path.clone();
            if meta.input.peek(syn::Token![=]) {
                let value: syn::Expr = meta.value()?.parse()?;
                if !path.is_ident("skip_serializing_if") && !path.is_ident("default") {
                    others.push(quote!(#path = #value));
                }
            } else if meta.input.peek(syn::token::Paren) {
                return Err(meta.error("unexpected nested serde setting"));
            } else if !path.is_ident("default") {
                others.push(quote!(#path));
            }
            Ok(())
        })
        .map_err(|e| format!("cannot read its serde attribute: {e}"))?;
        if !others.is_empty() {
            kept.push(syn::parse_quote!(#[serde(#(#others),*)]));
        }
    }
    kept.push(syn::parse_quote!(
        #[serde(default, skip_serializing_if = "crate::patch::Patch::is_unchanged")]
    ));
    *attrs = kept;
    Ok(())
}

/// For each inner type that typify gave `TryFrom<S>` impls (a constrained string newtype), the
/// same conversion into `Patch<T>`, through the newtype's own check.
fn newtype_conversions(types: &[Item], inner_types: &[Type]) -> Vec<Item> {
    let mut out = Vec::new();
    for item in types {
        let Item::Impl(imp) = item else { continue };
        let Some((trait_path, _)) = &imp.trait_ else {
            continue;
        };
        let Some(last) = trait_path.segments.last() else {
            continue;
        };
        if last.ident != "TryFrom" {
            continue;
        }
        let Some(inner) = inner_types.iter().find(|t| same(t, &imp.self_ty)) else {
            continue;
        };
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            continue;
        };
        let Some(syn::GenericArgument::Type(from)) = args.args.first() else {
            continue;
        };
        let Some(error) = imp.items.iter().find_map(|i| match i {
            ImplItem::Type(t) if t.ident == "Error" => Some(&t.ty),
            _ => None,
        }) else {
            continue;
        };
        out.push(syn::parse_quote! {
            impl ::std::convert::TryFrom<#from> for crate::patch::Patch<#inner> {
                type Error = #error;
                fn try_from(value: #from) -> ::std::result::Result<Self, #error> {
                    <#inner as ::std::convert::TryFrom<#from>>::try_from(value)
                        .map(crate::patch::Patch::Set)
                }
            }
        });
    }
    out
}

/// In `types::builder`: the field `Result<Option<T>, String>` and the setter's
/// `T: TryInto<Option<X>>` bound become `Patch`.
fn rewrite_builder(items: &mut [Item], struct_name: &str, field: &str) -> Result<(), String> {
    let strukt = items
        .iter_mut()
        .find_map(|item| match item {
            Item::Struct(s) if s.ident == struct_name => Some(s),
            _ => None,
        })
        .ok_or("no builder struct")?;
    let slot = strukt
        .fields
        .iter_mut()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == field))
        .ok_or("no builder field")?;
    let value = result_ok_mut(&mut slot.ty).ok_or("the builder field is not a `Result<_, _>`")?;
    let inner = option_inner(value).ok_or("the builder field is not a `Result<Option<T>, _>`")?;
    *value = syn::parse_quote!(crate::patch::Patch<#inner>);

    let setter = items
        .iter_mut()
        .filter_map(|item| match item {
            Item::Impl(imp) if imp.trait_.is_none() && self_is(&imp.self_ty, struct_name) => {
                Some(imp)
            }
            _ => None,
        })
        .flat_map(|imp| imp.items.iter_mut())
        .find_map(|i| match i {
            ImplItem::Fn(f) if f.sig.ident == field => Some(f),
            _ => None,
        })
        .ok_or("no setter")?;
    let mut replaced = false;
    let predicates = setter
        .sig
        .generics
        .where_clause
        .iter_mut()
        .flat_map(|w| w.predicates.iter_mut());
    for predicate in predicates {
        let syn::WherePredicate::Type(pt) = predicate else {
            continue;
        };
        for bound in pt.bounds.iter_mut() {
            let syn::TypeParamBound::Trait(tb) = bound else {
                continue;
            };
            let Some(last) = tb.path.segments.last_mut() else {
                continue;
            };
            if last.ident != "TryInto" {
                continue;
            }
            let syn::PathArguments::AngleBracketed(args) = &mut last.arguments else {
                continue;
            };
            if let Some(syn::GenericArgument::Type(target)) = args.args.first_mut()
                && let Some(inner) = option_inner(target)
            {
                *target = syn::parse_quote!(crate::patch::Patch<#inner>);
                replaced = true;
            }
        }
    }
    if !replaced {
        return Err("the setter has no `TryInto<Option<T>>` bound".into());
    }
    Ok(())
}

fn self_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// The `T` of `Result<T, E>`, mutably.
fn result_ok_mut(ty: &mut Type) -> Option<&mut Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last_mut()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &mut last.arguments else {
        return None;
    };
    match args.args.first_mut()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_optional_nullable_properties_of_patch_bodies() {
        let spec = json!({
            "paths": {
                "/things/{id}": {
                    "patch": {
                        "operationId": "updateThing",
                        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/UpdateThing"}}}}
                    },
                    "post": {
                        "operationId": "replaceThing",
                        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewThing"}}}}
                    }
                },
                "/inline": {
                    "patch": {
                        "operationId": "updateInline",
                        "requestBody": {"content": {"application/json": {"schema": {
                            "type": "object",
                            "properties": {"note": {"type": "string", "nullable": true}}
                        }}}}
                    }
                }
            },
            "components": {"schemas": {
                "UpdateThing": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string", "nullable": true},
                        "name": {"type": "string", "nullable": true},
                        "kind": {"type": "string"},
                        "config": {"allOf": [{"$ref": "#/components/schemas/Config"}], "nullable": true}
                    }
                },
                "NewThing": {"type": "object", "properties": {"name": {"type": "string", "nullable": true}}},
                "Config": {"type": "object"}
            }}
        });
        let bodies = clearable_bodies(&spec);
        assert_eq!(
            bodies,
            [
                ClearableBody {
                    schema: "UpdateThing".into(),
                    operation: "updateThing".into(),
                    properties: vec!["config".into(), "name".into()],
                },
                ClearableBody {
                    schema: "updateInlineBody".into(),
                    operation: "updateInline".into(),
                    properties: vec!["note".into()],
                },
            ]
        );
    }

    #[test]
    fn serde_attributes_keep_renames() {
        let mut field: syn::Field = syn::parse_quote! {
            #[doc = "d"]
            #[serde(rename = "type", skip_serializing_if = "::std::option::Option::is_none")]
            pub type_: ::std::option::Option<String>
        };
        assert_eq!(wire_name(&field).as_deref(), Some("type"));
        rewrite_serde_attrs(&mut field.attrs).unwrap();
        let text = field.to_token_stream().to_string();
        assert!(text.contains("rename = \"type\""), "{text}");
        assert!(text.contains("crate::patch::Patch::is_unchanged"), "{text}");
        assert!(!text.contains("is_none"), "{text}");
    }
}
