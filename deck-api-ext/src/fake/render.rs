//! JSON bodies of storage items, task runs and tasks, field for field as the spec and the
//! Storage guide show them (the `request_id` is added by the envelope). The other resources are
//! stored as rendered documents (`table::Doc`).

use super::seed::TaskSeed;
use super::state::{Item, Run};
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

/// A storage item as the data of `storage.created` / `storage.deleted` events: the summary
/// without a download URL, plus `purpose` and `task_run_id`.
pub(crate) fn item_event(item: &Item) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), item.id.clone().into());
    map.insert("object".into(), item.seed.object.clone().into());
    map.insert("file_name".into(), item.seed.file_name.clone().into());
    map.insert("file_type".into(), item.seed.file_type.clone().into());
    map.insert("file_size".into(), file_size(item));
    if let Some(purpose) = &item.seed.purpose {
        map.insert("purpose".into(), purpose.clone().into());
    }
    map.insert("task_run_id".into(), item.run_id.clone().into());
    map.insert("created_at".into(), item.created_at.clone().into());
    Value::Object(map)
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

/// `runtime_ms` as of `now`: seeded runs report a fixed 12 453 ms once finished; runs of the
/// lifecycle the time from their first `running` to their end (or `now`), `null` before.
fn runtime_ms(run: &Run, now: i64) -> Value {
    if run.seeded {
        return if run.is_terminal() {
            12_453.into()
        } else {
            Value::Null
        };
    }
    match run.started_ms {
        Some(started) => run
            .ended_ms
            .unwrap_or(now)
            .saturating_sub(started)
            .max(0)
            .into(),
        None => Value::Null,
    }
}

fn opt(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::String)
}

/// A task run as the data of `task_run.*` events, as of `at`: the summary fields, never
/// `input` or `output` (the event writes its `null`s as `""`).
pub(crate) fn run_summary(run: &Run, at: i64) -> Value {
    json!({
        "id": run.id,
        "object": "task_run",
        "status": run.status,
        "result": run.result,
        "task_id": run.task_id,
        "agent_id": run.agent_id,
        "credential_id": run.credential_id,
        "source_id": run.source_id,
        "session_id": run.session_id,
        "workflow_id": null,
        "runtime_ms": runtime_ms(run, at),
        "created_at": run.created_at,
        "updated_at": run.updated_at,
    })
}

/// A task run (`GetTaskRunResponse`) as of `now`; `storage` is the rendered summaries when
/// included.
pub(crate) fn task_run(run: &Run, includes: &Includes, storage: Vec<Value>, now: i64) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), run.id.clone().into());
    map.insert("object".into(), "task_run".into());
    map.insert("status".into(), run.status.clone().into());
    map.insert("result".into(), opt(&run.result));
    map.insert("task_id".into(), run.task_id.clone().into());
    map.insert("agent_id".into(), run.agent_id.clone().into());
    map.insert("credential_id".into(), opt(&run.credential_id));
    map.insert("session_id".into(), opt(&run.session_id));
    map.insert("workflow_id".into(), Value::Null);
    map.insert("source_id".into(), opt(&run.source_id));
    map.insert("runtime_ms".into(), runtime_ms(run, now));
    if includes.input {
        map.insert("input".into(), run.input.clone().unwrap_or(Value::Null));
    }
    map.insert("output".into(), run.output.clone().unwrap_or(Value::Null));
    map.insert("interaction".into(), run.interaction.clone());
    if includes.storage {
        map.insert("storage".into(), Value::Array(storage));
    }
    if includes.artifacts {
        map.insert("artifacts".into(), json!({ "screenshots": [] }));
    }
    map.insert(
        "errors".into(),
        if run.errors.is_empty() {
            Value::Null
        } else {
            Value::Array(run.errors.clone())
        },
    );
    map.insert("canceled_at".into(), opt(&run.canceled_at));
    map.insert("created_at".into(), run.created_at.clone().into());
    map.insert("updated_at".into(), run.updated_at.clone().into());
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

/// The fields of a task between `object` and `created_at` (`GetTaskResponse`).
pub(crate) fn task_fields(seed: &TaskSeed) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("name".into(), seed.name.clone().into());
    map.insert("prompt".into(), opt(&seed.prompt));
    map.insert("status".into(), seed.status.clone().into());
    map.insert("agent_id".into(), seed.agent_id.clone().into());
    map.insert("input_schema".into(), seed.input_schema.clone());
    map.insert("output_schema".into(), seed.output_schema.clone());
    map.insert(
        "storage".into(),
        seed.storage.as_ref().map_or(Value::Null, storage_config),
    );
    map.insert("extraction".into(), seed.extraction.into());
    map
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
