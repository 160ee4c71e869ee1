//! The typed call surface: what every generated operation shares, emitted by regen per builder so
//! that nothing is written per operation by hand.
//!
//! progenitor's output is edited as a syntax tree, after generation and before formatting:
//!
//! | what | emitted | why |
//! |---|---|---|
//! | every builder's `send()` | split in two: `build_request()` (everything up to the finished `reqwest::Request`) and the rest of `send()`, which now calls it | the layer above sends requests itself (retries, capped bodies, deadlines, its own error type) without re-describing any operation |
//! | every builder | `impl deck_api::operation::Operation` with the spec's operationId, method, path template, response type, `SENSITIVE_PATHS` (`sensitive.rs`) and `client()` | one typed `.call()` for every operation, errors that name the operation as the spec spells it |
//! | builders of cursor lists | `impl deck_api::operation::List` with the item type and the `limit`/`cursor` parameter names and bounds | `.paginate()` for every list, detected from the spec's shape, not from names |
//! | `pub static OPERATIONS` | one row per operation (spec id, progenitor's id, method, path, list or not, sensitive paths) | hooks and tracing name the spec's operationId; coverage tests read it |
//! | every public struct and enum in `types` | `#[non_exhaustive]` | a new response field or enum value is additive at Deck, so it must be additive for Rust users too |
//!
//! A list operation is a `GET` with optional query parameters `limit` and `cursor` whose JSON
//! success body is an object with `data` (an array), `has_more` and `next_cursor`.

use crate::error::RegenError;
use crate::overlay::METHODS;
use crate::sensitive::OperationSecrets;
use crate::{fold_name, resolve_ref};
use serde_json::Value;
use syn::{Expr, ImplItem, Item, Stmt, Type};

/// One operation of the converted spec.
#[derive(Debug, Clone)]
pub struct SpecOperation {
    /// The operationId as written in the spec.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template.
    pub path: String,
    /// The list shape, when the operation is a cursor list.
    pub list: Option<ListShape>,
    /// Where its bodies hold secrets (`sensitive.rs`).
    pub sensitive: OperationSecrets,
}

/// How a cursor list is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListShape {
    /// Bounds of `limit` from its schema (`minimum`, `maximum`).
    pub limit_range: Option<(i64, i64)>,
}

/// Every operation of `spec`, in document order. Errors name the operation whose secrets cannot
/// be listed.
pub fn spec_operations(spec: &Value) -> Result<Vec<SpecOperation>, String> {
    let mut out = Vec::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let params: Vec<&Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(
                    op.get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                )
                .map(|p| resolve_ref(spec, p))
                .collect();
            let sensitive = crate::sensitive::operation_paths(spec, op)
                .map_err(|e| format!("operation {id}: {e}"))?;
            out.push(SpecOperation {
                id: id.to_string(),
                method: method.to_uppercase(),
                path: path.clone(),
                list: list_shape(spec, method, op, &params),
                sensitive,
            });
        }
    }
    Ok(out)
}

fn list_shape(spec: &Value, method: &str, op: &Value, params: &[&Value]) -> Option<ListShape> {
    if method != "get" {
        return None;
    }
    let query = |name: &str| {
        params.iter().copied().find(|p| {
            p.get("in").and_then(Value::as_str) == Some("query")
                && p.get("name").and_then(Value::as_str) == Some(name)
                && p.get("required").and_then(Value::as_bool) != Some(true)
        })
    };
    let limit = query("limit")?;
    query("cursor")?;
    let responses = op.get("responses")?.as_object()?;
    let body = responses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .find_map(|(_, r)| {
            let r = resolve_ref(spec, r);
            r.get("content")?.get("application/json")?.get("schema")
        })?;
    let body = resolve_ref(spec, body);
    let props = body.get("properties")?.as_object()?;
    let data = resolve_ref(spec, props.get("data")?);
    if data.get("type").and_then(Value::as_str) != Some("array")
        || !props.contains_key("has_more")
        || !props.contains_key("next_cursor")
    {
        return None;
    }
    let schema = limit.get("schema").map(|s| resolve_ref(spec, s));
    let bound = |k: &str| schema.and_then(|s| s.get(k)).and_then(Value::as_i64);
    let limit_range = bound("minimum").zip(bound("maximum"));
    Some(ListShape { limit_range })
}

/// One generated builder and what the surface needs to know about it.
struct Builder {
    name: String,
    progenitor_id: String,
    response: Type,
    error_type: Type,
}

/// Edits the generated file in place (see the module documentation). Returns warnings.
pub fn emit(file: &mut syn::File, spec: &Value, source: &str) -> Result<Vec<String>, RegenError> {
    let err = |msg: String| RegenError::new(format!("{source}: generated code"), msg);
    let mut warnings = Vec::new();
    let operations = spec_operations(spec).map_err(|e| RegenError::new(source, e))?;

    let types = module_items(file, "types").ok_or_else(|| err("no `types` module".into()))?;
    mark_non_exhaustive(types);
    let list_items = |response: &Type, types: &[Item]| list_item_type(response, types);
    let types_snapshot: Vec<Item> = types.clone();

    let builder_items =
        module_items(file, "builder").ok_or_else(|| err("no `builder` module".into()))?;
    let mut builders = Vec::new();
    for item in builder_items.iter_mut() {
        let Item::Impl(imp) = item else { continue };
        let Type::Path(self_ty) = &*imp.self_ty else {
            continue;
        };
        let Some(name) = self_ty.path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        let Some(pos) = imp
            .items
            .iter()
            .position(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == "send"))
        else {
            continue;
        };
        let ImplItem::Fn(send) = &mut imp.items[pos] else {
            unreachable!("position found a fn")
        };
        let (response, error_type) = send_types(&send.sig.output)
            .ok_or_else(|| err(format!("{name}::send has an unexpected return type")))?;
        let (build, progenitor_id) =
            split_send(send, &error_type).map_err(|m| err(format!("{name}::send: {m}")))?;
        imp.items.insert(pos, build);
        builders.push(Builder {
            name,
            progenitor_id,
            response,
            error_type,
        });
    }

    let mut rows = Vec::new();
    let mut impls = Vec::new();
    for b in &builders {
        let matching: Vec<&SpecOperation> = operations
            .iter()
            .filter(|o| fold_name(&o.id) == fold_name(&b.progenitor_id))
            .collect();
        let [op] = matching[..] else {
            return Err(err(format!(
                "cannot match generated operation {} to exactly one spec operationId ({} candidates)",
                b.progenitor_id,
                matching.len()
            )));
        };
        let response = quote(&b.response);
        let is_raw = response.ends_with("ByteStream");
        let list_item = op
            .list
            .as_ref()
            .and_then(|_| list_items(&b.response, &types_snapshot));
        rows.push(format!(
            "crate::operation::OperationMeta {{ id: {id:?}, progenitor_id: {pid:?}, method: {m:?}, path: {p:?}, list: {list}, sensitive: {sensitive} }}",
            id = op.id,
            pid = b.progenitor_id,
            m = op.method,
            p = op.path,
            list = list_item.is_some(),
            sensitive = op.sensitive.to_rust(),
        ));
        if is_raw {
            warnings.push(format!(
                "operation {}: its success body is raw bytes; it has `send()` but no typed `call()`",
                op.id
            ));
            continue;
        }
        let name = &b.name;
        let error_type = quote(&b.error_type);
        let body = if response == "()" { "Empty" } else { "Json" };
        impls.push(format!(
            "impl<'a> crate::operation::Operation<'a> for {name}<'a> {{
                const OPERATION_ID: &'static str = {id:?};
                const METHOD: ::reqwest::Method = ::reqwest::Method::{method};
                const PATH: &'static str = {path:?};
                const BODY: crate::operation::ResponseBody = crate::operation::ResponseBody::{body};
                const SENSITIVE_PATHS: crate::sensitive::SensitivePaths = {sensitive};
                type Response = {response};
                fn client(&self) -> &'a super::Client {{
                    self.client
                }}
                fn into_request(self) -> ::std::result::Result<::reqwest::Request, Error> {{
                    {name}::build_request(self).map_err(Error::<{error_type}>::into_untyped)
                }}
            }}",
            id = op.id,
            method = op.method,
            path = op.path,
            sensitive = op.sensitive.to_rust(),
        ));
        if let (Some(shape), Some(item)) = (&op.list, list_item) {
            let range = match shape.limit_range {
                Some((lo, hi)) => format!("Some(({lo}, {hi}))"),
                None => "None".into(),
            };
            impls.push(format!(
                "impl<'a> crate::operation::List<'a> for {name}<'a> {{
                    type Item = {item};
                    const LIMIT_PARAM: &'static str = \"limit\";
                    const CURSOR_PARAM: &'static str = \"cursor\";
                    const LIMIT_RANGE: Option<(i64, i64)> = {range};
                }}"
            ));
        } else if op.list.is_some() {
            warnings.push(format!(
                "operation {}: a cursor list whose `data` items have no generated type; no `.paginate()`",
                op.id
            ));
        }
    }
    for (i, code) in impls.iter().enumerate() {
        let item: Item = syn::parse_str(code)
            .map_err(|e| err(format!("emitted impl #{i} does not parse: {e}")))?;
        builder_items.push(item);
    }
    let table = format!(
        "/// Every generated operation: the spec's operationId, progenitor's, method, path template and
        /// whether it is a cursor list, in spec order.
        pub static OPERATIONS: &[crate::operation::OperationMeta] = &[{}];",
        rows.join(",\n")
    );
    file.items.push(
        syn::parse_str(&table).map_err(|e| err(format!("operation table does not parse: {e}")))?,
    );
    Ok(warnings)
}

pub(crate) fn module_items<'f>(file: &'f mut syn::File, name: &str) -> Option<&'f mut Vec<Item>> {
    file.items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == name => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    })
}

fn mark_non_exhaustive(items: &mut [Item]) {
    let attr: syn::Attribute = syn::parse_quote!(#[non_exhaustive]);
    for item in items {
        let (vis, attrs) = match item {
            Item::Struct(s) => (&s.vis, &mut s.attrs),
            Item::Enum(e) => (&e.vis, &mut e.attrs),
            _ => continue,
        };
        if matches!(vis, syn::Visibility::Public(_))
            && !attrs.iter().any(|a| a.path().is_ident("non_exhaustive"))
        {
            attrs.push(attr.clone());
        }
    }
}

/// `Result<ResponseValue<T>, Error<E>>` → `(T, E)`.
fn send_types(output: &syn::ReturnType) -> Option<(Type, Type)> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let args = generic_args(ty, "Result")?;
    let [ok, error] = &args[..] else { return None };
    let response = generic_args(ok, "ResponseValue")?.into_iter().next()?;
    let error_type = generic_args(error, "Error")?.into_iter().next()?;
    Some((response, error_type))
}

/// The type arguments of `ty` when its last path segment is `name`.
pub(crate) fn generic_args(ty: &Type, name: &str) -> Option<Vec<Type>> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
    )
}

/// The element type of the response struct's `data` field (`Vec<T>` or `Option<Vec<T>>`), as a
/// path usable from the `builder` module.
fn list_item_type(response: &Type, types: &[Item]) -> Option<String> {
    let Type::Path(p) = response else { return None };
    let name = p.path.segments.last()?.ident.to_string();
    let fields = types.iter().find_map(|i| match i {
        Item::Struct(s) if s.ident == name => Some(&s.fields),
        _ => None,
    })?;
    let data = fields
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == "data"))?;
    let vec = generic_args(&data.ty, "Option")
        .and_then(|a| a.into_iter().next())
        .unwrap_or_else(|| data.ty.clone());
    let item = generic_args(&vec, "Vec")?.into_iter().next()?;
    let text = quote(&item);
    // Types named inside `types` are unqualified there; from `builder` they need the prefix.
    Some(match &item {
        Type::Path(tp) if tp.path.segments.len() == 1 && tp.qself.is_none() => {
            format!("types::{text}")
        }
        _ => text,
    })
}

fn quote(ty: &Type) -> String {
    use quote::ToTokens;
    ty.to_token_stream()
        .to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
}

/// Splits `send` into `build_request` (returned) and the remainder (left in `send`), and reads
/// progenitor's operation id from the `OperationInfo` literal.
fn split_send(send: &mut syn::ImplItemFn, error_type: &Type) -> Result<(ImplItem, String), String> {
    let stmts = &send.block.stmts;
    let at = stmts
        .iter()
        .position(|s| operation_info_id(s).is_some())
        .ok_or("no `let info = OperationInfo { .. }` statement")?;
    let id = operation_info_id(&stmts[at]).unwrap_or_default();
    let mut prefix: Vec<Stmt> = stmts[..at].to_vec();
    insert_path_checks(&mut prefix)?;
    let builds_request = prefix.last().is_some_and(|s| {
        matches!(s, Stmt::Local(l) if matches!(&l.pat, syn::Pat::Ident(i) if i.ident == "request"))
    });
    if !builds_request {
        return Err("the statement before `OperationInfo` does not bind `request`".into());
    }
    let mut build: syn::ImplItemFn = syn::parse_quote! {
        /// Builds the request [`send`](Self::send) would send (URL, query, headers, body),
        /// checking every parameter, without sending it.
        pub fn build_request(self) -> Result<reqwest::Request, Error<#error_type>> {
            Ok(request)
        }
    };
    let tail = build.block.stmts.pop();
    build.block.stmts = prefix;
    build.block.stmts.extend(tail);
    let rest: Vec<Stmt> = stmts[at..].to_vec();
    let head: syn::Block = syn::parse_quote! {{
        let client = self.client;
        #[allow(unused_mut)]
        let mut request = self.build_request()?;
    }};
    send.block.stmts = head.stmts;
    send.block.stmts.extend(rest);
    Ok((ImplItem::Fn(build), id))
}

/// Before `let url = format!(..)`, a check of every path parameter it encodes
/// (`encode_path(&run_id.to_string())`): an empty value or a dot segment (`.`, `..`, also
/// percent-encoded) is refused before any URL is parsed, since a URL parser resolves dot segments
/// into another endpoint.
fn insert_path_checks(prefix: &mut Vec<Stmt>) -> Result<(), String> {
    use quote::ToTokens;
    let Some(at) = prefix.iter().position(
        |s| matches!(s, Stmt::Local(l) if matches!(&l.pat, syn::Pat::Ident(i) if i.ident == "url")),
    ) else {
        return Err("no `let url = ..` statement".into());
    };
    let text = prefix[at].to_token_stream().to_string();
    let mut names = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("encode_path") {
        rest = &rest[i + "encode_path".len()..];
        let arg = rest
            .trim_start()
            .trim_start_matches('(')
            .trim_start()
            .trim_start_matches('&')
            .trim_start();
        let name: String = arg
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            return Err("an `encode_path` argument is not a plain variable".into());
        }
        names.push(name);
    }
    for name in names.into_iter().rev() {
        let ident = syn::Ident::new(&name, proc_macro2::Span::call_site());
        let check: Stmt = syn::parse_quote! {
            crate::operation::check_path_param(#name, &#ident.to_string())
                .map_err(Error::InvalidRequest)?;
        };
        prefix.insert(at, check);
    }
    Ok(())
}

fn operation_info_id(stmt: &Stmt) -> Option<String> {
    let Stmt::Local(local) = stmt else {
        return None;
    };
    let Expr::Struct(s) = &*local.init.as_ref()?.expr else {
        return None;
    };
    if !s.path.is_ident("OperationInfo") {
        return None;
    }
    s.fields.iter().find_map(|f| match (&f.member, &f.expr) {
        (syn::Member::Named(n), Expr::Lit(lit)) if n == "operation_id" => match &lit.lit {
            syn::Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_across_cases() {
        assert_eq!(fold_name("getTaskRun"), fold_name("get_task_run"));
        assert_ne!(fold_name("getTask"), fold_name("get_task_run"));
    }
}
