//! `deck tasks list|get|run`.

use std::io::Write;

use deck_api_ext::api::types::RunTaskRequest;
use deck_api_ext::{Deck, ListExt};
use serde_json::Value;

use deck_api_ext::api::Operation;

use super::show;
use crate::failure::{Failure, QUOTE_LIMIT, clip, one_line};
use crate::output::JsonLines;
use crate::raw_json::RawObject;

/// `deck tasks list`: every task, NDJSON.
pub async fn list<W: Write>(
    deck: &Deck,
    agent_id: Option<String>,
    status: Option<String>,
    limit: u32,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let mut request = deck.api().list_tasks();
    if let Some(agent_id) = agent_id {
        request = request.agent_id(agent_id);
    }
    if let Some(status) = status {
        request = request.status(status);
    }
    show::list(request.paginate_as::<RawObject>().limit(limit), out).await
}

/// `deck tasks get`: one task.
pub async fn get<W: Write>(
    deck: &Deck,
    task_id: &str,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    show::object(deck.api().get_task().task_id(task_id), out).await
}

/// What `deck tasks run` sends.
#[derive(Debug, Default)]
pub struct RunRequest {
    /// The run's `input`.
    pub input: Option<Value>,
    /// `credential_id`.
    pub credential_id: Option<String>,
    /// `source_id`.
    pub source_id: Option<String>,
    /// `session_id`.
    pub session_id: Option<String>,
    /// The `Idempotency-Key` header; without one the client generates one per call.
    pub idempotency_key: Option<String>,
}

/// Starts task `task_id` and returns the new run as sent.
pub async fn start(deck: &Deck, task_id: &str, request: RunRequest) -> Result<RawObject, Failure> {
    let RunRequest {
        input,
        credential_id,
        source_id,
        session_id,
        idempotency_key,
    } = request;
    let mut body = RunTaskRequest::builder();
    if let Some(input) = input {
        body = body.input(input);
    }
    if let Some(id) = credential_id {
        body = body.credential_id(id);
    }
    if let Some(id) = source_id {
        body = body.source_id(id);
    }
    if let Some(id) = session_id {
        body = body.session_id(id);
    }
    let mut operation = deck.api().run_task().task_id(task_id).body(body);
    if let Some(key) = idempotency_key {
        operation = operation.idempotency_key(key);
    }
    show::fetch(operation).await
}

/// The operation `deck tasks run` sends.
const RUN_TASK: &str =
    <deck_api_ext::api::builder::RunTask<'static> as Operation<'static>>::OPERATION_ID;

/// The new run's id and status from `run` (the body `runTask` returned), reporting the status
/// on stderr (`deck: trun_x queued`) as the first of the status changes a wait reports.
pub fn started(run: &RawObject) -> Result<(String, String), Failure> {
    let field = |name: &str| {
        run.str_field(name).ok_or_else(|| {
            Failure::Malformed(format!(
                "{RUN_TASK}: response body at {name}: the new run has no {name} string"
            ))
        })
    };
    let (id, status) = (field("id")?, field("status")?);
    let _ = writeln!(
        std::io::stderr().lock(),
        "deck: {}",
        one_line(&format!(
            "{} {}",
            clip(&id, QUOTE_LIMIT),
            clip(&status, QUOTE_LIMIT)
        ))
    );
    Ok((id, status))
}
