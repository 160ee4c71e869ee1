//! Webhooks end to end: the fake delivers signed events to registered destinations as runs
//! progress (retried, timed out, bounded, recorded), the crate's axum example receives them,
//! and every event the fake emits decodes into the typed `Event`, the same through
//! `GET /events` and through a delivery. All in paused time.

use crate::support::Harness;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use deck_api_ext::api::types::{
    CreateEventDestinationRequest, EventDeliveryResponse, RunTaskRequest, WebhookDestinationConfig,
};
use deck_api_ext::events::{Event, EventData, EventType};
use deck_api_ext::fake::{
    FakeDeck, ItemSeed, MAX_IN_FLIGHT, RunPlan, TaskSeed, WEBHOOK_RETRY_DELAYS, WEBHOOK_TIMEOUT,
};
use deck_api_ext::prelude::*;
use deck_api_ext::webhook::Webhook;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The crate's example, compiled into this test: the test drives its handler.
#[path = "../../examples/webhook_receiver.rs"]
#[allow(dead_code)]
mod example;

const WAIT: Duration = Duration::from_secs(120);

fn deck_for(fake: &FakeDeck) -> Deck {
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .build()
        .unwrap()
}

/// A listener on 127.0.0.1 and its URL at `path`.
async fn listen(path: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    (listener, url)
}

fn serve(listener: TcpListener, app: Router) {
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// Creates a webhook destination; returns its ID and signing secret.
async fn subscribe(deck: &Deck, url: &str, events: &[&str]) -> (String, String) {
    let config = WebhookDestinationConfig::try_from(
        WebhookDestinationConfig::builder().url(Some(url.into())),
    )
    .unwrap();
    let destination = deck
        .api()
        .create_event_destination()
        .body(
            CreateEventDestinationRequest::builder()
                .name("test receiver")
                .events(Some(events.iter().map(|e| (*e).to_owned()).collect()))
                .webhook(Some(config)),
        )
        .call()
        .await
        .unwrap();
    let secret = destination.webhook.and_then(|w| w.secret).unwrap();
    (destination.id, secret)
}

async fn run(deck: &Deck, task_id: &str) -> String {
    let run = deck
        .api()
        .run_task()
        .task_id(task_id)
        .body(RunTaskRequest::builder())
        .call()
        .await
        .unwrap();
    run.id
}

async fn deliveries(deck: &Deck, destination: &str) -> Vec<EventDeliveryResponse> {
    deck.api()
        .list_event_deliveries()
        .destination_id(destination)
        .limit(100)
        .paginate()
        .try_collect_all()
        .await
        .unwrap()
}

/// Waits (in tokio time) until every delivery to `destination` has left `pending`.
async fn settled(deck: &Deck, destination: &str) -> Vec<EventDeliveryResponse> {
    let deadline = Instant::now() + WAIT;
    loop {
        let all = deliveries(deck, destination).await;
        if !all.is_empty() && all.iter().all(|d| d.status != "pending") {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still pending: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn destination_status(deck: &Deck, destination: &str) -> String {
    let d = deck
        .api()
        .get_event_destination()
        .destination_id(destination)
        .call()
        .await
        .unwrap();
    serde_json::to_value(&d.status)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// One request a scripted receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

/// A receiver that answers from a script (status, delay) per request, then 204, and reports
/// every request it sees; it tracks how many requests are in progress at once.
#[derive(Clone)]
struct Scripted {
    script: Arc<Mutex<VecDeque<(StatusCode, Duration)>>>,
    seen: mpsc::UnboundedSender<Seen>,
    busy: Arc<AtomicUsize>,
    most_busy: Arc<AtomicUsize>,
}

impl Scripted {
    async fn start(
        script: impl IntoIterator<Item = (StatusCode, Duration)>,
    ) -> (Self, String, mpsc::UnboundedReceiver<Seen>) {
        let (seen, rx) = mpsc::unbounded_channel();
        let me = Self {
            script: Arc::new(Mutex::new(script.into_iter().collect())),
            seen,
            busy: Arc::default(),
            most_busy: Arc::default(),
        };
        let (listener, url) = listen("/hook").await;
        serve(
            listener,
            Router::new()
                .route("/hook", post(Self::handle))
                .with_state(me.clone()),
        );
        (me, url, rx)
    }

    async fn handle(State(me): State<Self>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let now = me.busy.fetch_add(1, Ordering::SeqCst) + 1;
        me.most_busy.fetch_max(now, Ordering::SeqCst);
        let _ = me.seen.send(Seen {
            at: Instant::now(),
            headers,
            body,
        });
        let next = me.script.lock().unwrap().pop_front();
        let (status, delay) = next.unwrap_or((StatusCode::NO_CONTENT, Duration::ZERO));
        tokio::time::sleep(delay).await;
        me.busy.fetch_sub(1, Ordering::SeqCst);
        status
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a delivery arrives")
        .expect("the receiver runs")
}

fn event_type(seen: &Seen) -> String {
    serde_json::from_slice::<Value>(&seen.body).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(start_paused = true)]
async fn the_example_handler_receives_a_signed_storage_created_with_the_exact_file_size() {
    let fake = FakeDeck::start().await.unwrap();
    // Above 2^53, sent as a decimal string: an f64 on the way would change it.
    let size: i64 = 9_007_199_254_740_993;
    let plan = RunPlan::new().items([ItemSeed::new("huge.bin", "application/octet-stream", "x")
        .declared_file_size(size)
        .file_size_as_string()]);
    fake.add_task(TaskSeed::new("task_big", "Big").run_plan(plan))
        .unwrap();
    let deck = deck_for(&fake);

    let (listener, url) = listen(example::PATH).await;
    let (destination, secret) =
        subscribe(&deck, &url, &["storage.created", "task_run.completed"]).await;
    let (queue, mut events) = mpsc::channel(16);
    serve(
        listener,
        example::router(Webhook::new(&secret).unwrap(), queue),
    );

    let run_id = run(&deck, "task_big").await;
    let received = tokio::time::timeout(
        WAIT,
        example::work(&mut events, |e| e.event_type == EventType::TaskRunCompleted),
    )
    .await
    .expect("the run's events arrive");
    let types: Vec<_> = received.iter().map(|e| e.event_type.clone()).collect();
    assert_eq!(
        types,
        [EventType::StorageCreated, EventType::TaskRunCompleted]
    );

    let created = &received[0];
    let item = created.storage_item().expect("typed storage item");
    assert_eq!(item.file_size, 9_007_199_254_740_993);
    assert_eq!(created.raw_data()["file_size"], "9007199254740993");
    assert_eq!(item.file_name, "huge.bin");
    assert_eq!(item.task_run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        example::handle(created),
        format!("storage.created: download huge.bin (9007199254740993 bytes) from run {run_id}")
    );
    let completed = received[1].task_run().expect("typed run");
    assert_eq!(completed.result.as_deref(), Some("success"));
    assert_eq!(completed.runtime_ms, Some(2_000));
    // The event summary's "" fields read as absent.
    assert_eq!(completed.workflow_id, None);
    assert_eq!(completed.credential_id, None);

    // The same event through the API: same type, same data.
    let listed: Event = deck
        .api()
        .get_event()
        .event_id(&created.id)
        .call_as(CallOptions::new())
        .await
        .unwrap();
    assert_eq!(listed.raw_data(), created.raw_data());
    assert_eq!(listed.created_at, created.created_at);
    assert!(listed.request_id.is_some() && created.request_id.is_none());

    // Both deliveries succeeded at the first attempt; the subscription left the others out.
    let all = settled(&deck, &destination).await;
    assert_eq!(all.len(), 2, "{all:?}");
    for delivery in &all {
        assert_eq!(delivery.status, "success");
        assert_eq!(delivery.attempts, Some(1));
        assert!(delivery.delivered_at.is_some());
    }
}

#[tokio::test(start_paused = true)]
async fn deliveries_carry_standard_webhooks_headers_and_the_event_as_the_api_shows_it() {
    let h = Harness::start().await;
    let (_receiver, url, mut rx) = Scripted::start([]).await;
    let body = json!({
        "name": "with headers",
        "events": ["agent.created"],
        "webhook": {
            "url": url,
            "secret": "whsec_c2VjcmV0LW9mLXRoZS1jYWxsZXI=",
            "custom_headers": r#"{"x-team":"billing","content-type":"text/plain"}"#,
        },
    });
    let reply = h
        .send(Method::POST, "/event-destinations", Some(&body), &[])
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let agent = h
        .send(Method::POST, "/agents", Some(&json!({ "name": "A" })), &[])
        .await
        .json();

    let seen = next(&mut rx).await;
    let delivered: Value = serde_json::from_slice(&seen.body).unwrap();
    let event_id = delivered["id"].as_str().unwrap();
    assert_eq!(seen.headers["webhook-id"], event_id);
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_eq!(seen.headers["x-team"], "billing");
    assert!(seen.headers.get("authorization").is_none(), "no API key");
    // Signed with the secret given at creation, stamped with the real clock.
    let event = Webhook::new("whsec_c2VjcmV0LW9mLXRoZS1jYWxsZXI=")
        .unwrap()
        .verify(&seen.headers, &seen.body)
        .unwrap();
    assert_eq!(event.event_type, EventType::AgentCreated);
    let EventData::Agent(data) = &event.data else {
        panic!("{:?}", event.data)
    };
    assert_eq!(data.id, agent["id"].as_str().unwrap());
    assert_eq!(data.description, None, "\"\" in the event, null over REST");
    assert_eq!(delivered["data"]["description"], "");

    // The body is the event as `GET /events/{id}` returns it, without the request ID.
    let mut listed = h.get(&format!("/events/{event_id}")).await.json();
    assert!(
        listed
            .as_object_mut()
            .unwrap()
            .remove("request_id")
            .is_some()
    );
    assert_eq!(delivered, listed);

    // A secret the fake could not sign with is refused up front.
    let bad = json!({ "name": "bad", "webhook": { "url": url, "secret": "hunter2" } });
    let reply = h
        .send(Method::POST, "/event-destinations", Some(&bad), &[])
        .await;
    assert_eq!(reply.status, 422, "{}", reply.text());
    assert_eq!(reply.code(), "input_invalid");
}

#[tokio::test(start_paused = true)]
async fn failed_attempts_are_retried_with_exponential_backoff() {
    let fake = FakeDeck::start().await.unwrap();
    let deck = deck_for(&fake);
    let script = [
        (StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO),
        (StatusCode::GONE, Duration::ZERO),
    ];
    let (_receiver, url, mut rx) = Scripted::start(script).await;
    let (destination, _) = subscribe(&deck, &url, &["agent.created"]).await;
    deck.api()
        .create_agent()
        .body(deck_api_ext::api::types::CreateAgentRequest::builder().name("A"))
        .call()
        .await
        .unwrap();

    let attempts = [
        next(&mut rx).await,
        next(&mut rx).await,
        next(&mut rx).await,
    ];
    assert_eq!(attempts[1].at - attempts[0].at, WEBHOOK_RETRY_DELAYS[0]);
    assert_eq!(attempts[2].at - attempts[1].at, WEBHOOK_RETRY_DELAYS[1]);
    // The same message each time (same id and body), signed afresh.
    for attempt in &attempts[1..] {
        assert_eq!(
            attempt.headers["webhook-id"],
            attempts[0].headers["webhook-id"]
        );
        assert_eq!(attempt.body, attempts[0].body);
    }
    let all = settled(&deck, &destination).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, "success");
    assert_eq!(all[0].attempts, Some(3));
    assert_eq!(destination_status(&deck, &destination).await, "active");
}

#[tokio::test(start_paused = true)]
async fn an_answer_later_than_five_seconds_is_a_failed_attempt() {
    let fake = FakeDeck::start().await.unwrap();
    let deck = deck_for(&fake);
    let slow = WEBHOOK_TIMEOUT + Duration::from_secs(1);
    let (_receiver, url, mut rx) = Scripted::start([(StatusCode::OK, slow)]).await;
    let (destination, _) = subscribe(&deck, &url, &["*"]).await;
    let first = next(&mut rx).await;
    assert_eq!(event_type(&first), "event_destination.created");
    let second = next(&mut rx).await;
    assert_eq!(
        second.at - first.at,
        WEBHOOK_TIMEOUT + WEBHOOK_RETRY_DELAYS[0]
    );
    let all = settled(&deck, &destination).await;
    assert_eq!(
        (all[0].status.as_str(), all[0].attempts),
        ("success", Some(2))
    );
}

#[tokio::test(start_paused = true)]
async fn a_destination_that_fails_every_attempt_is_deactivated() {
    let fake = FakeDeck::start().await.unwrap();
    fake.add_task(TaskSeed::new("task_t", "T").run_plan(RunPlan::new()))
        .unwrap();
    let deck = deck_for(&fake);
    // The example's handler with the wrong secret: every delivery is refused with 401.
    let (listener, url) = listen(example::PATH).await;
    let (destination, _) = subscribe(&deck, &url, &["task_run.queued"]).await;
    let (queue, mut events) = mpsc::channel(16);
    let wrong = Webhook::new("whsec_c2VjcmV0LXR3bw==").unwrap();
    serve(listener, example::router(wrong, queue));
    // A second destination that keeps answering.
    let (_ok, ok_url, mut ok_rx) = Scripted::start([]).await;
    let (healthy, _) = subscribe(&deck, &ok_url, &["event_destination.deactivated"]).await;

    let started = Instant::now();
    run(&deck, "task_t").await;
    let all = settled(&deck, &destination).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, "failure");
    assert_eq!(all[0].attempts, Some(4));
    assert!(all[0].delivered_at.is_none());
    let retries: Duration = WEBHOOK_RETRY_DELAYS.iter().sum();
    assert!(started.elapsed() >= retries, "{:?}", started.elapsed());
    assert_eq!(destination_status(&deck, &destination).await, "inactive");
    assert!(events.try_recv().is_err(), "nothing verified");

    // Deck says so with an event, delivered to the destination still listening.
    let seen = next(&mut ok_rx).await;
    let event = Event::from_json(&seen.body).unwrap();
    assert_eq!(event.event_type, EventType::EventDestinationDeactivated);
    let EventData::EventDestination(data) = &event.data else {
        panic!("{:?}", event.data)
    };
    assert_eq!(data.id, destination);
    assert!(!String::from_utf8_lossy(&seen.body).contains("whsec_"));
    assert_eq!(settled(&deck, &healthy).await[0].status, "success");

    // An inactive destination gets nothing more.
    run(&deck, "task_t").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(deliveries(&deck, &destination).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn only_subscribed_active_destinations_get_deliveries_and_remote_urls_are_never_called() {
    let h = Harness::start().await;
    let plan = RunPlan::new().items([ItemSeed::new("a.pdf", "application/pdf", "%PDF")]);
    h.fake
        .add_task(TaskSeed::new("task_t", "T").run_plan(plan))
        .unwrap();
    let deck = deck_for(&h.fake);
    let (_completed, completed_url, mut completed_rx) = Scripted::start([]).await;
    let (only_completed, _) = subscribe(&deck, &completed_url, &["task_run.completed"]).await;
    let (_paused, paused_url, mut paused_rx) = Scripted::start([]).await;
    let (paused, _) = subscribe(&deck, &paused_url, &["*"]).await;
    let reply = h
        .send(
            Method::PATCH,
            &format!("/event-destinations/{paused}"),
            Some(&json!({ "status": "inactive" })),
            &[],
        )
        .await;
    assert_eq!(reply.status, 200);
    // A URL off this machine: recorded as delivered, never called.
    let (remote, _) = subscribe(&deck, "https://hooks.example/deck", &["*"]).await;

    run(&deck, "task_t").await;
    let seen = next(&mut completed_rx).await;
    assert_eq!(event_type(&seen), "task_run.completed");
    let all = settled(&deck, &only_completed).await;
    assert_eq!(all.len(), 1);
    assert!(completed_rx.try_recv().is_err());

    // The paused destination saw only its own creation (before it was paused).
    let first = next(&mut paused_rx).await;
    assert_eq!(event_type(&first), "event_destination.created");
    assert!(paused_rx.try_recv().is_err());
    assert_eq!(deliveries(&deck, &paused).await.len(), 1);

    let remote_deliveries = settled(&deck, &remote).await;
    let mut types: Vec<_> = remote_deliveries
        .iter()
        .map(|d| d.event_type.clone().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "event_destination.created",
            "storage.created",
            "task_run.completed",
            "task_run.queued",
            "task_run.running",
        ]
    );
    assert!(
        remote_deliveries
            .iter()
            .all(|d| d.status == "success" && d.attempts == Some(1))
    );
}

#[tokio::test(start_paused = true)]
async fn requests_never_wait_for_receivers_and_deliveries_are_bounded() {
    let h = Harness::start().await;
    let deck = deck_for(&h.fake);
    let slow = WEBHOOK_TIMEOUT - Duration::from_secs(1);
    let script = std::iter::repeat_n((StatusCode::OK, slow), 40);
    let (receiver, url, mut rx) = Scripted::start(script).await;
    let (destination, _) = subscribe(&deck, &url, &["agent.created"]).await;
    let count = MAX_IN_FLIGHT + 4;
    for i in 0..count {
        // Answered at once although every delivery takes seconds: no time passes.
        let before = Instant::now();
        let name = json!({ "name": format!("a{i}") });
        let reply = h.send(Method::POST, "/agents", Some(&name), &[]).await;
        assert_eq!(reply.status, 201);
        assert_eq!(Instant::now(), before);
    }
    let mut arrived = Vec::new();
    for _ in 0..count {
        arrived.push(next(&mut rx).await.at);
    }
    // At most MAX_IN_FLIGHT at once: the rest waited for a slot.
    assert_eq!(receiver.most_busy.load(Ordering::SeqCst), MAX_IN_FLIGHT);
    assert_eq!(arrived[MAX_IN_FLIGHT] - arrived[0], slow);
    let all = settled(&deck, &destination).await;
    assert_eq!(all.len(), count);
    assert!(
        all.iter()
            .all(|d| d.status == "success" && d.attempts == Some(1))
    );
}

#[tokio::test(start_paused = true)]
async fn every_event_the_fake_emits_decodes_into_typed_data_alike_from_list_and_delivery() {
    let h = Harness::start().await;
    let items = [
        ItemSeed::new("a.pdf", "application/pdf", "%PDF"),
        ItemSeed::new("b.csv", "text/csv", "x,y").file_size_as_string(),
    ];
    h.fake
        .add_task(TaskSeed::new("task_ok", "Ok").run_plan(RunPlan::new().items(items)))
        .unwrap();
    h.fake
        .add_task(
            TaskSeed::new("task_bad", "Bad").run_plan(RunPlan::new().fails("timeout", "Too slow.")),
        )
        .unwrap();
    let ask = RunPlan::new().asks(json!({ "type": "mfa", "fields": [{ "name": "code" }] }));
    h.fake
        .add_task(TaskSeed::new("task_mfa", "Mfa").run_plan(ask))
        .unwrap();
    h.fake
        .add_task(TaskSeed::new("task_review", "Review").run_plan(RunPlan::new().needs_review()))
        .unwrap();
    let deck = deck_for(&h.fake);
    let (_receiver, url, mut rx) = Scripted::start([]).await;
    let (destination, _) = subscribe(&deck, &url, &["*"]).await;

    let send = |method: Method, path: String, body: Option<Value>| {
        let h = &h;
        async move {
            let reply = h.send(method, &path, body.as_ref(), &[]).await;
            assert!(reply.status < 300, "{path}: {}", reply.text());
            reply.json()
        }
    };
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let agent = id(send(Method::POST, "/agents".into(), Some(json!({ "name": "A" }))).await);
    send(
        Method::PATCH,
        format!("/agents/{agent}"),
        Some(json!({ "description": "d" })),
    )
    .await;
    let source = id(send(
        Method::POST,
        "/sources".into(),
        Some(json!({ "type": "website", "website": { "url": "https://s.example" } })),
    )
    .await);
    let credential = id(send(
        Method::POST,
        "/credentials".into(),
        Some(json!({
            "source_id": source, "auth_method": "username_password",
            "auth_credentials": { "username": "u", "password": "p" }
        })),
    )
    .await);
    let task = id(send(
        Method::POST,
        "/tasks".into(),
        Some(json!({ "name": "T", "agent_id": agent })),
    )
    .await);
    send(Method::POST, format!("/tasks/{task}/reset"), None).await;
    send(
        Method::PATCH,
        format!("/tasks/{task}"),
        Some(json!({ "prompt": "p" })),
    )
    .await;

    for t in ["task_ok", "task_bad", "task_mfa", "task_review"] {
        run(&deck, t).await;
    }
    let canceled = run(&deck, "task_ok").await;
    send(Method::POST, format!("/task-runs/{canceled}/cancel"), None).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mfa = deck
        .api()
        .list_task_runs()
        .task_id("task_mfa")
        .call()
        .await
        .unwrap()
        .data[0]
        .id
        .clone();
    send(
        Method::POST,
        format!("/task-runs/{mfa}/interaction"),
        Some(json!({ "input": { "code": "123456" } })),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stored = h
        .fake
        .item_ids(
            &deck
                .api()
                .list_task_runs()
                .task_id("task_ok")
                .call()
                .await
                .unwrap()
                .data[1]
                .id,
        )
        .unwrap();
    send(Method::DELETE, format!("/storage/{}", stored[0]), None).await;
    for path in [
        format!("/credentials/{credential}"),
        format!("/tasks/{task}"),
        format!("/sources/{source}"),
        format!("/agents/{agent}"),
    ] {
        send(Method::DELETE, path, None).await;
    }

    // Every event, typed, through the generated listEvents.
    let listed: Vec<Event> = deck
        .api()
        .list_events()
        .limit(100)
        .paginate_as::<Event>()
        .try_collect_all()
        .await
        .unwrap();
    let mut types: Vec<String> = listed.iter().map(|e| e.event_type.to_string()).collect();
    types.sort();
    types.dedup();
    for expected in [
        "agent.created",
        "agent.deleted",
        "agent.updated",
        "credential.created",
        "credential.deleted",
        "event_destination.created",
        "source.created",
        "source.deleted",
        "storage.created",
        "storage.deleted",
        "task.created",
        "task.deleted",
        "task.reset",
        "task.updated",
        "task_run.canceled",
        "task_run.canceling",
        "task_run.completed",
        "task_run.failed",
        "task_run.interaction_required",
        "task_run.queued",
        "task_run.review_required",
        "task_run.running",
    ] {
        assert!(
            types.contains(&expected.to_owned()),
            "{expected} in {types:?}"
        );
    }
    for event in &listed {
        let typed = match &event.data {
            EventData::StorageItem(item) => item.id.clone(),
            EventData::TaskRun(run) => run.id.clone(),
            EventData::Task(task) => task.id.clone(),
            EventData::Agent(agent) => agent.id.clone(),
            EventData::Source(source) => source.id.clone(),
            EventData::Credential(credential) => credential.id.clone(),
            EventData::EventDestination(destination) => destination.id.clone(),
            other => panic!("{}: {other:?}", event.event_type),
        };
        assert_eq!(
            typed,
            event.raw_data()["id"].as_str().unwrap(),
            "{}",
            event.event_type
        );
    }
    let failed = listed
        .iter()
        .find(|e| e.event_type == EventType::TaskRunFailed)
        .and_then(Event::task_run)
        .unwrap();
    assert_eq!(failed.result.as_deref(), Some("failure"));
    let waiting = listed
        .iter()
        .find(|e| e.event_type == EventType::TaskRunInteractionRequired)
        .and_then(Event::task_run)
        .unwrap();
    assert_eq!(waiting.result, None, "\"\" while running");
    let sizes: Vec<u64> = listed
        .iter()
        .filter(|e| e.event_type == EventType::StorageCreated)
        .filter_map(|e| e.storage_item().map(|item| item.file_size))
        .collect();
    assert_eq!(sizes.len(), 2);
    assert!(sizes.iter().all(|s| *s == 4 || *s == 3), "{sizes:?}");

    // Each was delivered once, and the delivery decodes to the same event.
    let all = settled(&deck, &destination).await;
    assert_eq!(all.len(), listed.len());
    let mut delivered = Vec::new();
    while let Ok(seen) = rx.try_recv() {
        delivered.push(Event::from_json(&seen.body).unwrap());
    }
    assert_eq!(delivered.len(), listed.len());
    for event in &listed {
        let twin = delivered.iter().find(|d| d.id == event.id).unwrap();
        assert_eq!(twin.event_type, event.event_type);
        assert_eq!(twin.raw_data(), event.raw_data());
        assert_eq!(twin.created_at, event.created_at);
    }
}
