//! `spec/catalogue.json` is the list of every Deck v2 operation this client covers. This test
//! fails when (a) a catalogue row is missing from the generated `deck_api::OPERATIONS` (method,
//! path template and operationId must all match), (b) a generated operation has no catalogue
//! row, or (c) the fake does not serve a row: a request for each row, with plausible IDs and
//! body, must not get the fake's `route_not_found` or `method_not_allowed` answer.

use crate::support::Harness;
use deck_api_ext::api::OPERATIONS;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    method: String,
    path: String,
    operation_id: String,
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.operation_id)
    }
}

fn catalogue() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/catalogue.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let rows = doc["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("{path:?}: no `operations` array"));
    rows.iter()
        .map(|row| {
            let field = |name: &str| {
                row[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("{path:?}: a row without `{name}`: {row}"))
                    .to_owned()
            };
            Row {
                method: field("method").to_ascii_uppercase(),
                path: field("path"),
                operation_id: field("operation_id"),
            }
        })
        .collect()
}

fn generated() -> Vec<Row> {
    OPERATIONS
        .iter()
        .map(|op| Row {
            method: op.method.to_owned(),
            path: op.path.to_owned(),
            operation_id: op.id.to_owned(),
        })
        .collect()
}

fn listing(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The path with each `{param}` replaced by a plausible ID (`{agent_id}` → `agt_1`).
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let name = &rest[open + 1..close];
        let prefix = match name {
            "agent_id" => "agt",
            "source_id" => "src",
            "credential_id" => "cred",
            "task_id" => "task",
            "run_id" => "trun",
            "storage_id" => "stor",
            "session_id" => "sess",
            "event_id" => "evt",
            "destination_id" => "evtd",
            other => other.trim_end_matches("_id"),
        };
        out.push_str(prefix);
        out.push_str("_1");
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_catalogue_and_the_generated_operations_agree() {
    let catalogue = catalogue();
    let generated = generated();
    let not_generated: Vec<Row> = catalogue
        .iter()
        .filter(|row| !generated.contains(row))
        .cloned()
        .collect();
    let not_catalogued: Vec<Row> = generated
        .iter()
        .filter(|op| !catalogue.contains(op))
        .cloned()
        .collect();
    assert!(
        not_generated.is_empty() && not_catalogued.is_empty(),
        "catalogue rows missing from deck_api::OPERATIONS (method, path, operationId):\n{}\n\
         generated operations without a catalogue row:\n{}\n\
         rows checked ({}):\n{}",
        listing(&not_generated),
        listing(&not_catalogued),
        catalogue.len(),
        listing(&catalogue),
    );
    let mut unique = catalogue.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), catalogue.len(), "duplicate catalogue rows");
}

#[tokio::test]
async fn the_fake_serves_every_catalogue_row() {
    let h = Harness::start().await;
    let rows = catalogue();
    let mut unserved = Vec::new();
    for row in &rows {
        let method = Method::from_bytes(row.method.as_bytes()).expect("an HTTP method");
        let path = concrete(&row.path);
        let body = matches!(row.method.as_str(), "POST" | "PATCH").then(|| json!({}));
        let reply = h.send(method, &path, body.as_ref(), &[]).await;
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        let code = answer["errors"][0]["code"].as_str().unwrap_or_default();
        let handled = !matches!(code, "route_not_found" | "method_not_allowed")
            && reply.status != 405
            && answer["request_id"].is_string();
        if !handled {
            unserved.push(format!("  {row}: {} {}", reply.status, reply.text()));
        }
    }
    assert!(
        unserved.is_empty(),
        "the fake does not serve:\n{}\nrows checked ({}):\n{}",
        unserved.join("\n"),
        rows.len(),
        listing(&rows),
    );
    assert!(rows.len() >= 41, "{} rows", rows.len());
}

#[test]
fn plausible_ids() {
    assert_eq!(
        concrete("/event-destinations/{destination_id}/event-deliveries"),
        "/event-destinations/evtd_1/event-deliveries"
    );
    assert_eq!(concrete("/test"), "/test");
    assert_eq!(concrete("/task-runs/{run_id}"), "/task-runs/trun_1");
}
