//! Receiving Deck webhook deliveries in an axum handler: read the raw body, verify it, hand the
//! typed event to a worker that dispatches on its type, and answer 2xx at once.
//!
//! ```text
//! cargo run -p deck-api-ext --example webhook_receiver --features fake
//! ```
//!
//! In your service, mount [`router`] with your destination's signing secret (`whsec_…`, from
//! `POST /event-destinations` or the dashboard) and run [`work`] (or your own worker) on the
//! queue. Deck expects a 2xx within 5 seconds and retries otherwise (up to 3 times, then the
//! destination is deactivated), so the handler only verifies and enqueues; the slow part is the
//! worker's. Deliveries are at-least-once and may arrive out of order: deduplicate on
//! `event.id`, order by `event.created_at`.
//!
//! Without a Deck account, `main` runs the whole loop against the crate's fake Deck: it
//! registers this receiver as a webhook destination, runs a task that captures a file, and
//! prints each typed event as it arrives.

use std::error::Error;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use deck_api_ext::api::types::{
    CreateEventDestinationRequest, RunTaskRequest, WebhookDestinationConfig,
};
use deck_api_ext::events::{Event, EventData, EventType};
use deck_api_ext::fake::{FakeDeck, ItemSeed, RunPlan, TaskSeed};
use deck_api_ext::prelude::*;
use deck_api_ext::webhook::{Webhook, WebhookError};
use tokio::sync::mpsc;

/// The path deliveries are posted to.
pub const PATH: &str = "/deck/webhooks";

/// What the handler needs: the verifier (with every secret currently valid) and the queue.
#[derive(Clone)]
pub struct Receiver {
    webhook: Webhook,
    queue: mpsc::Sender<Event>,
}

/// The receiving endpoint, `POST /deck/webhooks`.
pub fn router(webhook: Webhook, queue: mpsc::Sender<Event>) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .with_state(Receiver { webhook, queue })
}

/// Verifies the raw body (`Bytes`, never a parsed `Json`: the signature covers the exact bytes)
/// and enqueues the typed event.
pub async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let event = match receiver.webhook.verify(&headers, &body) {
        Ok(event) => event,
        // Authentic but not an event: answering 4xx makes Deck retry, then give up.
        Err(WebhookError::InvalidPayload(_)) => return StatusCode::BAD_REQUEST,
        // Not signed by Deck with our secret, or replayed: refuse.
        Err(_) => return StatusCode::UNAUTHORIZED,
    };
    match receiver.queue.try_send(event) {
        Ok(()) => StatusCode::NO_CONTENT,
        // The worker is behind: Deck will deliver again later.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The worker's dispatch on the event type: one line describing what it would do.
pub fn handle(event: &Event) -> String {
    match (&event.event_type, &event.data) {
        (EventType::StorageCreated, EventData::StorageItem(item)) => format!(
            "{}: download {} ({} bytes) from run {}",
            event.event_type,
            item.file_name,
            item.file_size,
            item.task_run_id.as_deref().unwrap_or("?")
        ),
        (EventType::TaskRunCompleted | EventType::TaskRunFailed, EventData::TaskRun(run)) => {
            format!(
                "{}: run {} ended with result {}",
                event.event_type,
                run.id,
                run.result.as_deref().unwrap_or("none")
            )
        }
        (EventType::TaskRunInteractionRequired, EventData::TaskRun(run)) => {
            format!("{}: run {} needs input", event.event_type, run.id)
        }
        // A known type whose data this client could not read: keep the raw JSON.
        (_, EventData::Undecoded(error)) => {
            format!(
                "{}: kept raw ({error}): {}",
                event.event_type,
                event.raw_data()
            )
        }
        _ => format!("{}: nothing to do", event.event_type),
    }
}

/// Takes events off the queue until it closes or `until` returns true for one.
pub async fn work(
    queue: &mut mpsc::Receiver<Event>,
    mut until: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    while let Some(event) = queue.recv().await {
        println!("{}", handle(&event));
        let done = until(&event);
        seen.push(event);
        if done {
            break;
        }
    }
    seen
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // A fake Deck with a task whose runs capture one file.
    let fake = FakeDeck::start().await?;
    let plan = RunPlan::new().items([ItemSeed::new("bill.pdf", "application/pdf", "%PDF-1.7 …")]);
    fake.add_task(TaskSeed::new("task_bills", "Bills").run_plan(plan))?;
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .build()?;

    // Register the receiver; Deck generates the signing secret.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{PATH}", listener.local_addr()?);
    let config =
        WebhookDestinationConfig::try_from(WebhookDestinationConfig::builder().url(Some(url)))?;
    let destination = deck
        .api()
        .create_event_destination()
        .body(
            CreateEventDestinationRequest::builder()
                .name("webhook receiver example")
                .events(Some(vec![
                    "storage.created".to_owned(),
                    "task_run.completed".to_owned(),
                    "task_run.failed".to_owned(),
                ]))
                .webhook(Some(config)),
        )
        .call()
        .await?;
    let secret = destination
        .webhook
        .and_then(|webhook| webhook.secret)
        .ok_or("the destination has no signing secret")?;

    let (queue, mut events) = mpsc::channel(64);
    let app = router(Webhook::new(&secret)?, queue);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let run = deck
        .api()
        .run_task()
        .task_id("task_bills")
        .body(RunTaskRequest::builder())
        .call()
        .await?;
    println!("started run {}", run.id);
    let finished = |event: &Event| {
        matches!(
            event.event_type,
            EventType::TaskRunCompleted | EventType::TaskRunFailed
        )
    };
    tokio::time::timeout(Duration::from_secs(30), work(&mut events, finished)).await?;
    Ok(())
}
