//! JSON bodies of storage items, task runs and tasks, field for field as the spec and the
//! Storage guide show them (the `request_id` is added by the envelope).

use super::state::{Item, Run, Task};
use serde_json::{Map, Value, json};

/// `file_size` as a JSON integer, or as a decimal string when the item asks for it.
fn file_size(item: &Item) -> Value {
    let size = item.seed.file_size();
    if item.seed.file_size_as_string {
        Value::String(size.to_string())
    } else {
        Value::from(size)
    }
}

fn url_value(item: &Item, url: Option<String>) -> Value {
    match url {
        Some(url) if item.seed.has_url => Value::String(url),
        _ => Value::Null,
    }
}

/// A storage item as listed (`ListStorageItemResponse`) and retrieved
/// (`GetStorageItemResponse`), in the Storage guide's field order.
pub(crate) fn storage_item(item: &Item, url: Option<String>) -> Value {
    let seed = &item.seed;
    let mut map = Map::new();
    map.insert("id".into(), item.id.clone().into());
    map.insert("object".into(), seed.object.clone().into());
    map.insert("file_name".into(), seed.file_name.clone().into());
    map.insert("file_type".into(), seed.file_type.clone().into());
    map.insert("file_size".into(), file_size(item));
    map.insert("url".into(), url_value(item, url));
    map.insert("metadata".into(), seed.metadata.clone());
    map.insert("fetch_date".into(), item.fetch_date.clone().into());
    map.insert("extraction".into(), seed.extraction.clone());
    if let Some(purpose) = &seed.purpose {
        map.insert("purpose".into(), purpose.clone().into());
    }
    if let Some(result) = &seed.result {
        map.insert("result".into(), result.clone().into());
    }
    map.insert("task_run_id".into(), item.run_id.clone().into());
    map.insert("created_at".into(), item.created_at.clone().into());
    Value::Object(map)
}

/// A storage item as embedded in a task run (`TaskRunStorageSummary`).
pub(crate) fn storage_summary(item: &Item, url: Option<String>) -> Value {
    json!({
        "id": item.id,
        "object": item.seed.object,
        "file_name": item.seed.file_name,
        "file_type": item.seed.file_type,
        "file_size": file_size(item),
        "url": url_value(item, url),
        "extraction": item.seed.extraction,
        "created_at": item.created_at,
    })
}

/// Which optional sections `include=` asked for.
#[derive(Debug, Default)]
pub(crate) struct Includes {
    pub(crate) input: bool,
    pub(crate) storage: bool,
    pub(crate) artifacts: bool,
}

impl Includes {
    /// Parses `input,storage,artifacts`; unknown values are ignored.
    pub(crate) fn parse(include: Option<&str>) -> Self {
        let mut out = Self::default();
        for part in include.unwrap_or_default().split(',') {
            match part.trim() {
                "input" => out.input = true,
                "storage" => out.storage = true,
                "artifacts" => out.artifacts = true,
                _ => {}
            }
        }
        out
    }
}

/// A task run (`GetTaskRunResponse`); `storage` is the rendered summaries when included.
pub(crate) fn task_run(run: &Run, includes: &Includes, storage: Vec<Value>) -> Value {
    let seed = &run.seed;
    let finished = matches!(seed.status.as_str(), "completed" | "failed" | "canceled");
    let mut map = Map::new();
    map.insert("id".into(), seed.id.clone().into());
    map.insert("object".into(), "task_run".into());
    map.insert("status".into(), seed.status.clone().into());
    map.insert("result".into(), seed.result.clone().into());
    map.insert("task_id".into(), run.task_id.clone().into());
    map.insert("agent_id".into(), seed.agent_id.clone().into());
    map.insert("credential_id".into(), Value::Null);
    map.insert("session_id".into(), Value::Null);
    map.insert("workflow_id".into(), Value::Null);
    map.insert("source_id".into(), Value::Null);
    map.insert(
        "runtime_ms".into(),
        if finished { 12_453.into() } else { Value::Null },
    );
    if includes.input {
        map.insert("input".into(), seed.input.clone().unwrap_or(Value::Null));
    }
    map.insert("output".into(), seed.output.clone().unwrap_or(Value::Null));
    map.insert("interaction".into(), Value::Null);
    if includes.storage {
        map.insert("storage".into(), Value::Array(storage));
    }
    if includes.artifacts {
        map.insert("artifacts".into(), json!({ "screenshots": [] }));
    }
    map.insert(
        "errors".into(),
        if seed.errors.is_empty() {
            Value::Null
        } else {
            Value::Array(seed.errors.clone())
        },
    );
    map.insert("canceled_at".into(), Value::Null);
    map.insert("created_at".into(), seed.created_at.clone().into());
    map.insert("updated_at".into(), seed.created_at.clone().into());
    Value::Object(map)
}

/// A storage configuration with every documented key present (`enabled`, `extraction`,
/// `extraction_schema`, `deduplication`, defaults `false`/`null`); other keys are kept.
pub(crate) fn storage_config(config: &Value) -> Value {
    let Value::Object(given) = config else {
        return Value::Null;
    };
    let mut map = Map::new();
    for (key, default) in [
        ("enabled", Value::Bool(false)),
        ("extraction", Value::Bool(false)),
        ("extraction_schema", Value::Null),
        ("deduplication", Value::Bool(false)),
    ] {
        map.insert(key.into(), given.get(key).cloned().unwrap_or(default));
    }
    for (key, value) in given {
        map.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(map)
}

/// A task (`GetTaskResponse`).
pub(crate) fn task(task: &Task) -> Value {
    let seed = &task.seed;
    json!({
        "id": seed.id,
        "object": "task",
        "name": seed.name,
        "prompt": seed.prompt,
        "status": seed.status,
        "agent_id": seed.agent_id,
        "input_schema": seed.input_schema,
        "output_schema": seed.output_schema,
        "storage": seed.storage.as_ref().map_or(Value::Null, storage_config),
        "extraction": seed.extraction,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_config_fills_defaults_and_keeps_unknown_keys() {
        let out = storage_config(&json!({ "extraction": true, "extraction_prompt": "x" }));
        assert_eq!(
            out,
            json!({
                "enabled": false,
                "extraction": true,
                "extraction_schema": null,
                "deduplication": false,
                "extraction_prompt": "x",
            })
        );
        assert_eq!(storage_config(&Value::Null), Value::Null);
    }

    #[test]
    fn includes_parse() {
        let i = Includes::parse(Some("storage, input,bogus"));
        assert!(i.storage && i.input && !i.artifacts);
        assert!(!Includes::parse(None).storage);
    }
}
