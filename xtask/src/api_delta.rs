//! How `deck-api/API.md` changes, classified like oasdiff's breaking-change check.
//!
//! [`delta`] is a pure function of the committed and the regenerated report: it reads the fact
//! lines ([`crate::api_report`]), compares them by key (operation, parameter, type, field,
//! variant) and returns one [`Change`] per difference, `breaking` or `additive`:
//!
//! | difference | class |
//! |---|---|
//! | operation, parameter, type, field or enum variant removed | breaking |
//! | type of a parameter, field, newtype or variant payload, or an operation's response, changed; method/path/location changed | breaking |
//! | parameter optional → required, or a new required parameter | breaking |
//! | field of a response type required → optional | breaking |
//! | new required field of a request type | breaking |
//! | a type loses a role (no longer in requests or responses) | breaking |
//! | new operation, new type, new enum variant | additive |
//! | new optional parameter, parameter required → optional | additive |
//! | new field of a response type, new optional field of a request type | additive |
//! | any other field change of optionality (request-only required → optional, response-only optional → required, `other` types) | additive |
//! | a type gains a role | additive |
//!
//! A field's type is compared without its outer `Option`, so optional ↔ required is reported as
//! such, not as a type change. Lines under a removed or added type or operation are folded into
//! that one change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Breaking (the next release is a major one) or additive (a minor one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Existing callers may stop compiling or decoding.
    Breaking,
    /// Existing callers keep working.
    Additive,
}

/// One difference between two reports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Breaking or additive.
    pub class: Class,
    /// What changed, e.g. `type GetTaskRunResponse (response) field status removed`.
    pub text: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.class {
            Class::Breaking => "breaking",
            Class::Additive => "additive",
        };
        write!(f, "{class}: {}", self.text)
    }
}

/// Every difference between two reports, breaking ones first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// The differences, breaking first, each class in report order.
    pub changes: Vec<Change>,
}

impl Delta {
    /// How many changes are breaking.
    pub fn breaking(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.class == Class::Breaking)
            .count()
    }

    /// How many changes are additive.
    pub fn additive(&self) -> usize {
        self.changes.len() - self.breaking()
    }

    /// The one-line summary: `API delta: 1 breaking, 2 additive — the next release is a major one`.
    pub fn summary(&self) -> String {
        let (b, a) = (self.breaking(), self.additive());
        let release = match (b, a) {
            (0, 0) => return "API delta: none — the public surface is unchanged".into(),
            (0, _) => "minor",
            _ => "major",
        };
        format!("API delta: {b} breaking, {a} additive — the next release is a {release} one")
    }
}

impl fmt::Display for Delta {
    /// One line per change, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            writeln!(f, "{c}")?;
        }
        write!(f, "{}", self.summary())
    }
}

/// The differences from the report `old` to the report `new`.
pub fn delta(old: &str, new: &str) -> Delta {
    let (old, new) = (Surface::parse(old), Surface::parse(new));
    let mut out = Vec::new();
    let mut push = |class, text: String| out.push(Change { class, text });
    use Class::{Additive, Breaking};

    for (id, o, n) in pairs(&old.ops, &new.ops) {
        match (o, n) {
            (Some(o), None) => push(Breaking, format!("operation {id} removed ({})", o.route)),
            (None, Some(n)) => push(
                Additive,
                format!("operation {id} added ({} -> {})", n.route, n.response),
            ),
            (Some(o), Some(n)) => {
                if o.route != n.route {
                    push(
                        Breaking,
                        format!("operation {id} moved: {} -> {}", o.route, n.route),
                    );
                }
                if o.response != n.response {
                    push(
                        Breaking,
                        format!(
                            "operation {id} response type changed: {} -> {}",
                            o.response, n.response
                        ),
                    );
                }
            }
            (None, None) => {}
        }
    }
    for ((op, name), o, n) in pairs(&old.params, &new.params) {
        if !(old.ops.contains_key(op) && new.ops.contains_key(op)) {
            continue;
        }
        let at = format!("operation {op} param {name}");
        match (o, n) {
            (Some(_), None) => push(Breaking, format!("{at} removed")),
            (None, Some(n)) if n.required => push(
                Breaking,
                format!("{at}: new required parameter {} ({})", n.ty, n.location),
            ),
            (None, Some(n)) => push(
                Additive,
                format!("{at}: new optional parameter {} ({})", n.ty, n.location),
            ),
            (Some(o), Some(n)) => {
                if o.ty != n.ty {
                    push(Breaking, format!("{at} type changed: {} -> {}", o.ty, n.ty));
                }
                if o.location != n.location {
                    push(
                        Breaking,
                        format!("{at} moved: {} -> {}", o.location, n.location),
                    );
                }
                match (o.required, n.required) {
                    (false, true) => push(Breaking, format!("{at}: optional -> required")),
                    (true, false) => push(Additive, format!("{at}: required -> optional")),
                    _ => {}
                }
            }
            (None, None) => {}
        }
    }
    for (name, o, n) in pairs(&old.types, &new.types) {
        match (o, n) {
            (Some(o), None) => push(Breaking, format!("{} {name} removed", o.keyword())),
            (None, Some(n)) => push(
                Additive,
                format!("{} {name} added ({})", n.keyword(), role_name(n.role)),
            ),
            (Some(o), Some(n)) => {
                if o.kind != n.kind {
                    push(
                        Breaking,
                        format!("type {name} changed: {} -> {}", o.kind, n.kind),
                    );
                }
                if o.role != n.role {
                    let class = if n.role & o.role == o.role {
                        Additive
                    } else {
                        Breaking
                    };
                    push(
                        class,
                        format!(
                            "{} {name} role: {} -> {}",
                            n.keyword(),
                            role_name(o.role),
                            role_name(n.role)
                        ),
                    );
                }
            }
            (None, None) => {}
        }
    }
    let both = |t: &str| old.types.contains_key(t) && new.types.contains_key(t);
    for ((ty, name), o, n) in pairs(&old.fields, &new.fields) {
        if !both(ty) {
            continue;
        }
        let role = new.types[ty].role;
        let at = format!("type {ty} ({}) field {name}", role_name(role));
        match (o, n) {
            (Some(_), None) => push(Breaking, format!("{at} removed")),
            (None, Some(n)) => {
                let class = if n.required && role & REQUEST != 0 {
                    Breaking
                } else {
                    Additive
                };
                let req = if n.required { "required" } else { "optional" };
                push(class, format!("{at}: new {req} field {}", n.ty));
            }
            (Some(o), Some(n)) => {
                if o.inner() != n.inner() {
                    push(Breaking, format!("{at} type changed: {} -> {}", o.ty, n.ty));
                }
                match (o.required, n.required) {
                    (true, false) => push(
                        if role & RESPONSE != 0 {
                            Breaking
                        } else {
                            Additive
                        },
                        format!("{at}: required -> optional"),
                    ),
                    (false, true) => push(
                        if role & REQUEST != 0 {
                            Breaking
                        } else {
                            Additive
                        },
                        format!("{at}: optional -> required"),
                    ),
                    _ => {}
                }
            }
            (None, None) => {}
        }
    }
    for ((ty, name), o, n) in pairs(&old.variants, &new.variants) {
        if !both(ty) {
            continue;
        }
        let at = format!("enum {ty} variant {name}");
        match (o, n) {
            (Some(_), None) => push(Breaking, format!("{at} removed")),
            (None, Some(n)) => push(Additive, format!("{at} added{n}")),
            (Some(o), Some(n)) if o != n => {
                push(Breaking, format!("{at} changed: {name}{o} -> {name}{n}"))
            }
            _ => {}
        }
    }
    // Breaking first; within a class, the order above (operations, parameters, types, fields,
    // variants; each sorted by key).
    out.sort_by_key(|c| c.class);
    Delta { changes: out }
}

/// Union of two maps' keys, in order, with the value on each side.
fn pairs<'a, K: Ord, V>(
    old: &'a BTreeMap<K, V>,
    new: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = (&'a K, Option<&'a V>, Option<&'a V>)> {
    let keys: BTreeSet<&K> = old.keys().chain(new.keys()).collect();
    keys.into_iter().map(|k| (k, old.get(k), new.get(k)))
}

const REQUEST: u8 = 1;
const RESPONSE: u8 = 2;

fn parse_role(s: &str) -> u8 {
    match s {
        "request" => REQUEST,
        "response" => RESPONSE,
        "request+response" => REQUEST | RESPONSE,
        _ => 0,
    }
}

fn role_name(role: u8) -> &'static str {
    match role {
        REQUEST => "request",
        RESPONSE => "response",
        3 => "request+response",
        _ => "other",
    }
}

#[derive(Debug, PartialEq)]
struct Op {
    route: String,
    response: String,
}

#[derive(Debug, PartialEq)]
struct Param {
    ty: String,
    required: bool,
    location: String,
}

#[derive(Debug, PartialEq)]
struct TypeDecl {
    /// `struct`, `enum`, `newtype T`, `tuple (A, B)`.
    kind: String,
    role: u8,
}

impl TypeDecl {
    fn keyword(&self) -> &'static str {
        if self.kind == "enum" { "enum" } else { "type" }
    }
}

#[derive(Debug, PartialEq)]
struct Field {
    ty: String,
    required: bool,
}

impl Field {
    /// The type without its outer `Option<…>`.
    fn inner(&self) -> &str {
        self.ty
            .strip_prefix("Option<")
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or(&self.ty)
    }
}

/// The facts of one report, keyed for comparison. Lines that are not facts are ignored.
#[derive(Debug, Default)]
struct Surface {
    ops: BTreeMap<String, Op>,
    params: BTreeMap<(String, String), Param>,
    types: BTreeMap<String, TypeDecl>,
    fields: BTreeMap<(String, String), Field>,
    /// (enum, variant name) → payload: ``, `(String)`, ` { a: T }`.
    variants: BTreeMap<(String, String), String>,
}

impl Surface {
    fn parse(text: &str) -> Self {
        let mut s = Self::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("operation ") {
                s.operation(rest);
            } else if let Some(rest) = line.strip_prefix("type ") {
                s.type_line(rest);
            } else if let Some(rest) = line.strip_prefix("enum ") {
                s.enum_line(rest);
            }
        }
        s
    }

    /// `id: GET /path -> T` or `id param name: T (required, query)`.
    fn operation(&mut self, rest: &str) {
        let Some((id, tail)) = rest.split_once(' ').filter(|(id, _)| !id.ends_with(':')) else {
            if let Some((id, tail)) = rest.split_once(": ") {
                let (route, response) = tail.rsplit_once(" -> ").unwrap_or((tail, "?"));
                self.ops.insert(
                    id.to_string(),
                    Op {
                        route: route.to_string(),
                        response: response.to_string(),
                    },
                );
            }
            return;
        };
        let Some(param) = tail.strip_prefix("param ") else {
            return;
        };
        let Some((name, rest)) = param.split_once(": ") else {
            return;
        };
        let Some((ty, quals)) = rest.rsplit_once(" (") else {
            return;
        };
        let quals = quals.trim_end_matches(')');
        let (req, location) = quals.split_once(", ").unwrap_or((quals, "?"));
        self.params.insert(
            (id.to_string(), name.to_string()),
            Param {
                ty: ty.to_string(),
                required: req == "required",
                location: location.to_string(),
            },
        );
    }

    /// `Name (role)`, `Name (role) field f: T (required)`, `Name (role) newtype T`,
    /// `Name (role) tuple (A, B)`.
    fn type_line(&mut self, rest: &str) {
        let Some((name, rest)) = rest.split_once(" (") else {
            return;
        };
        let Some((role, rest)) = rest.split_once(')') else {
            return;
        };
        let role = parse_role(role);
        let rest = rest.trim_start();
        if let Some(field) = rest.strip_prefix("field ") {
            self.types.entry(name.to_string()).or_insert(TypeDecl {
                kind: "struct".into(),
                role,
            });
            let Some((fname, rest)) = field.split_once(": ") else {
                return;
            };
            let Some((ty, quals)) = rest.rsplit_once(" (") else {
                return;
            };
            self.fields.insert(
                (name.to_string(), fname.to_string()),
                Field {
                    ty: ty.to_string(),
                    required: quals.trim_end_matches(')') == "required",
                },
            );
        } else {
            let kind = if rest.is_empty() { "struct" } else { rest };
            self.types.insert(
                name.to_string(),
                TypeDecl {
                    kind: kind.to_string(),
                    role,
                },
            );
        }
    }

    /// `Name (role)` or `Name variant V`, `V(T)`, `V { a: T }`.
    fn enum_line(&mut self, rest: &str) {
        if let Some((name, variant)) = rest.split_once(" variant ") {
            let split = variant.find(['(', ' ']).unwrap_or(variant.len());
            let (vname, payload) = variant.split_at(split);
            self.variants
                .insert((name.to_string(), vname.to_string()), payload.to_string());
            self.types.entry(name.to_string()).or_insert(TypeDecl {
                kind: "enum".into(),
                role: 0,
            });
        } else if let Some((name, role)) = rest.split_once(" (") {
            self.types.insert(
                name.to_string(),
                TypeDecl {
                    kind: "enum".into(),
                    role: parse_role(role.trim_end_matches(')')),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "\
# header lines are ignored
```text
enum Status (response)
enum Status variant Done
enum Status variant Other(String)
operation createTask param body: CreateTaskRequest (required, body)
operation createTask: POST /tasks -> GetTaskResponse
operation getTask param expand: String (optional, query)
operation getTask param task_id: String (required, path)
operation getTask: GET /tasks/{task_id} -> GetTaskResponse
type CreateTaskRequest (request)
type CreateTaskRequest (request) field name: String (required)
type CreateTaskRequest (request) field prompt: Option<String> (optional)
type GetTaskResponse (response)
type GetTaskResponse (response) field id: String (required)
type GetTaskResponse (response) field note: Option<String> (optional)
type GetTaskResponse (response) field status: Status (required)
type Shared (request+response)
type Shared (request+response) field a: String (required)
type Id (response) newtype String
```
";

    /// `BASE` with `edit` applied: each `-line` removed, each `+line` added.
    fn edited(edit: &str) -> String {
        let mut lines: Vec<String> = BASE.lines().map(String::from).collect();
        for e in edit.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(line) = e.strip_prefix('-') {
                let before = lines.len();
                lines.retain(|l| l != line);
                assert_eq!(lines.len() + 1, before, "no line {line:?}");
            } else if let Some(line) = e.strip_prefix('+') {
                lines.push(line.to_string());
            }
        }
        lines.join("\n")
    }

    fn changes(edit: &str) -> Vec<String> {
        delta(BASE, &edited(edit))
            .changes
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn identical_reports_have_no_delta() {
        let d = delta(BASE, BASE);
        assert!(d.changes.is_empty());
        assert_eq!(
            d.summary(),
            "API delta: none — the public surface is unchanged"
        );
    }

    #[test]
    fn operations() {
        assert_eq!(
            changes(
                "-operation getTask: GET /tasks/{task_id} -> GetTaskResponse
                 -operation getTask param expand: String (optional, query)
                 -operation getTask param task_id: String (required, path)"
            ),
            ["breaking: operation getTask removed (GET /tasks/{task_id})"]
        );
        assert_eq!(
            changes(
                "+operation listTasks: GET /tasks -> ListTasksResponse
                 +operation listTasks param limit: i32 (optional, query)"
            ),
            ["additive: operation listTasks added (GET /tasks -> ListTasksResponse)"]
        );
        assert_eq!(
            changes(
                "-operation getTask: GET /tasks/{task_id} -> GetTaskResponse
                 +operation getTask: GET /tasks/{task_id} -> ()"
            ),
            ["breaking: operation getTask response type changed: GetTaskResponse -> ()"]
        );
    }

    #[test]
    fn parameters() {
        assert_eq!(
            changes("-operation getTask param expand: String (optional, query)"),
            ["breaking: operation getTask param expand removed"]
        );
        assert_eq!(
            changes("+operation getTask param since: String (optional, query)"),
            ["additive: operation getTask param since: new optional parameter String (query)"]
        );
        assert_eq!(
            changes("+operation getTask param since: String (required, query)"),
            ["breaking: operation getTask param since: new required parameter String (query)"]
        );
        assert_eq!(
            changes(
                "-operation getTask param expand: String (optional, query)
                 +operation getTask param expand: String (required, query)"
            ),
            ["breaking: operation getTask param expand: optional -> required"]
        );
        assert_eq!(
            changes(
                "-operation getTask param task_id: String (required, path)
                 +operation getTask param task_id: String (optional, path)"
            ),
            ["additive: operation getTask param task_id: required -> optional"]
        );
        assert_eq!(
            changes(
                "-operation getTask param expand: String (optional, query)
                 +operation getTask param expand: i64 (optional, query)"
            ),
            ["breaking: operation getTask param expand type changed: String -> i64"]
        );
    }

    #[test]
    fn response_fields() {
        assert_eq!(
            changes("-type GetTaskResponse (response) field id: String (required)"),
            ["breaking: type GetTaskResponse (response) field id removed"]
        );
        assert_eq!(
            changes(
                "-type GetTaskResponse (response) field id: String (required)
                 +type GetTaskResponse (response) field id: Option<String> (optional)"
            ),
            ["breaking: type GetTaskResponse (response) field id: required -> optional"]
        );
        assert_eq!(
            changes("+type GetTaskResponse (response) field extra: i64 (required)"),
            ["additive: type GetTaskResponse (response) field extra: new required field i64"]
        );
        assert_eq!(
            changes(
                "-type GetTaskResponse (response) field note: Option<String> (optional)
                 +type GetTaskResponse (response) field note: String (required)"
            ),
            ["additive: type GetTaskResponse (response) field note: optional -> required"]
        );
        assert_eq!(
            changes(
                "-type GetTaskResponse (response) field note: Option<String> (optional)
                 +type GetTaskResponse (response) field note: Option<i64> (optional)"
            ),
            [
                "breaking: type GetTaskResponse (response) field note type changed: Option<String> -> Option<i64>"
            ]
        );
    }

    #[test]
    fn request_fields() {
        assert_eq!(
            changes("+type CreateTaskRequest (request) field agent: String (required)"),
            ["breaking: type CreateTaskRequest (request) field agent: new required field String"]
        );
        assert_eq!(
            changes("+type CreateTaskRequest (request) field agent: Option<String> (optional)"),
            [
                "additive: type CreateTaskRequest (request) field agent: new optional field Option<String>"
            ]
        );
        assert_eq!(
            changes(
                "-type CreateTaskRequest (request) field name: String (required)
                 +type CreateTaskRequest (request) field name: Option<String> (optional)"
            ),
            ["additive: type CreateTaskRequest (request) field name: required -> optional"]
        );
        assert_eq!(
            changes("+type Shared (request+response) field b: String (required)"),
            ["breaking: type Shared (request+response) field b: new required field String"]
        );
        assert_eq!(
            changes(
                "-type Shared (request+response) field a: String (required)
                 +type Shared (request+response) field a: Option<String> (optional)"
            ),
            ["breaking: type Shared (request+response) field a: required -> optional"]
        );
    }

    #[test]
    fn types_and_variants() {
        assert_eq!(
            changes("-enum Status variant Done"),
            ["breaking: enum Status variant Done removed"]
        );
        assert_eq!(
            changes("+enum Status variant Failed"),
            ["additive: enum Status variant Failed added"]
        );
        assert_eq!(
            changes(
                "-enum Status variant Other(String)
                 +enum Status variant Other(i64)"
            ),
            ["breaking: enum Status variant Other changed: Other(String) -> Other(i64)"]
        );
        assert_eq!(
            changes("+type New (response)\n+type New (response) field x: i64 (required)"),
            ["additive: type New added (response)"]
        );
        assert_eq!(
            changes(
                "-type Shared (request+response)
                 -type Shared (request+response) field a: String (required)"
            ),
            ["breaking: type Shared removed"]
        );
        assert_eq!(
            changes(
                "-type Id (response) newtype String
                 +type Id (response) newtype i64"
            ),
            ["breaking: type Id changed: newtype String -> newtype i64"]
        );
        assert_eq!(
            changes(
                "-type GetTaskResponse (response)
                 +type GetTaskResponse (request+response)"
            ),
            ["additive: type GetTaskResponse role: response -> request+response"]
        );
    }

    #[test]
    fn breaking_changes_come_first_and_the_summary_says_major() {
        let d = delta(
            BASE,
            &edited(
                "+enum Status variant Failed
                 -type GetTaskResponse (response) field id: String (required)",
            ),
        );
        assert_eq!(
            d.to_string(),
            "breaking: type GetTaskResponse (response) field id removed
additive: enum Status variant Failed added
API delta: 1 breaking, 1 additive — the next release is a major one"
        );
        let d = delta(BASE, &edited("+enum Status variant Failed"));
        assert!(
            d.summary()
                .ends_with("0 breaking, 1 additive — the next release is a minor one")
        );
    }
}
