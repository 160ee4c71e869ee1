//! `deck runs list|get|cancel|answer` (`runs wait` is [`super::follow`]).

use std::io::Write;

use deck_api_ext::api::types::SubmitInteractionRequest;
use deck_api_ext::{Deck, ListExt};
use serde_json::Value;

use super::show;
use crate::args::RunFilters;
use crate::failure::Failure;
use crate::output::JsonLines;
use crate::raw_json::RawObject;

/// `deck runs list`: every run matching `filters`, NDJSON.
pub async fn list<W: Write>(
    deck: &Deck,
    filters: RunFilters,
    limit: u32,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let RunFilters {
        status,
        outcome,
        task_id,
        agent_id,
        credential_id,
        source_id,
        workflow_id,
        since,
        until,
    } = filters;
    let mut request = deck.api().list_task_runs();
    if !status.is_empty() {
        request = request.status(status);
    }
    if !outcome.is_empty() {
        request = request.outcome(outcome);
    }
    if !source_id.is_empty() {
        request = request.source_id(source_id);
    }
    if let Some(id) = task_id {
        request = request.task_id(id);
    }
    if let Some(id) = agent_id {
        request = request.agent_id(id);
    }
    if let Some(id) = credential_id {
        request = request.credential_id(id);
    }
    if let Some(id) = workflow_id {
        request = request.workflow_id(id);
    }
    if let Some(at) = since {
        request = request.created_after(at);
    }
    if let Some(at) = until {
        request = request.created_before(at);
    }
    show::list(request.paginate_as::<RawObject>().limit(limit), out).await
}

/// `deck runs get`: one run, with the `include` sections asked for.
pub async fn get<W: Write>(
    deck: &Deck,
    run_id: &str,
    include: &[String],
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let mut request = deck.api().get_task_run().run_id(run_id);
    if !include.is_empty() {
        request = request.include(include.join(","));
    }
    show::object(request, out).await
}

/// `deck runs cancel`: asks Deck to cancel the run and prints the run it returns.
pub async fn cancel<W: Write>(
    deck: &Deck,
    run_id: &str,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    show::object(deck.api().cancel_task_run().run_id(run_id), out).await
}

/// `deck runs answer`: submits `input` for the run's interaction and prints the resumed run.
pub async fn answer<W: Write>(
    deck: &Deck,
    run_id: &str,
    input: Value,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let body = SubmitInteractionRequest::builder().input(input);
    show::object(
        deck.api()
            .submit_task_run_interaction()
            .run_id(run_id)
            .body(body),
        out,
    )
    .await
}
