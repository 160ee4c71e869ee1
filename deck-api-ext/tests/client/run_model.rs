//! A model of Deck's task runs and events feed on 127.0.0.1, for the run wait and watch tests:
//! each run follows a timeline of statuses on tokio time (paused in the tests), `getTaskRun`
//! shows its status now, and `GET /events` lists one event per transition, each visible from its
//! instant plus an optional lag (an event that shows up late). Every request is recorded.
#![allow(dead_code)] // each test uses a different part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::support::{Received, read_request};

/// The model's clock at its start.
pub const BASE: &str = "2025-01-15T09:30:00Z";

#[derive(Clone)]
struct Run {
    /// Offset of its creation from the model's start.
    created: Duration,
    /// (offset from the model's start, status), in time order; the first is at `created`.
    timeline: Vec<(Duration, String)>,
    /// The events of these transitions become visible this long after their instant.
    lag: Duration,
    storage: Vec<Value>,
}

#[derive(Default)]
struct State {
    runs: HashMap<String, Run>,
    requests: Vec<Received>,
    /// Answer `GET /events` with this status and an error envelope.
    events_status: Option<u16>,
    /// Answer `GET /task-runs/{id}` with this status this many times.
    run_failures: Vec<(u16, usize)>,
    page_size_cap: usize,
}

/// The model server; it runs until the test's runtime stops.
#[derive(Clone)]
pub struct Model {
    url: String,
    start: Instant,
    base: DateTime<Utc>,
    state: Arc<Mutex<State>>,
}

impl Model {
    pub async fn start() -> Model {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let model = Model {
            url,
            start: Instant::now(),
            base: BASE.parse().unwrap(),
            state: Arc::new(Mutex::new(State {
                page_size_cap: 100,
                ..State::default()
            })),
        };
        let accept = model.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let model = accept.clone();
                tokio::spawn(async move { model.serve(stream).await });
            }
        });
        model
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The tokio instant of the model's start (its clock's [`BASE`]).
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The model's clock now.
    pub fn now(&self) -> DateTime<Utc> {
        self.at(self.start.elapsed())
    }

    fn at(&self, offset: Duration) -> DateTime<Utc> {
        self.base + TimeDelta::from_std(offset).unwrap()
    }

    /// A run created now, `queued`, then each `(after, status)` step that long after the
    /// previous one.
    pub fn add_run(&self, id: &str, steps: &[(Duration, &str)]) {
        self.add_run_with(id, steps, Duration::ZERO, Vec::new());
    }

    /// [`add_run`](Self::add_run) with events that show up `lag` late and storage items.
    pub fn add_run_with(
        &self,
        id: &str,
        steps: &[(Duration, &str)],
        lag: Duration,
        storage: Vec<Value>,
    ) {
        let created = self.start.elapsed();
        let mut at = created;
        let mut timeline = vec![(created, "queued".to_owned())];
        for (after, status) in steps {
            at += *after;
            timeline.push((at, (*status).to_owned()));
        }
        self.state.lock().unwrap().runs.insert(
            id.to_owned(),
            Run {
                created,
                timeline,
                lag,
                storage,
            },
        );
    }

    /// Appends steps to a run's timeline, counted from now (e.g. after an answered interaction).
    pub fn then(&self, id: &str, steps: &[(Duration, &str)]) {
        let mut at = self.start.elapsed();
        let mut state = self.state.lock().unwrap();
        let run = state.runs.get_mut(id).unwrap();
        for (after, status) in steps {
            at += *after;
            run.timeline.push((at, (*status).to_owned()));
        }
    }

    /// The run as `getTaskRun` shows it now.
    pub fn run_json(&self, id: &str) -> Value {
        let state = self.state.lock().unwrap();
        self.render_run(id, &state.runs[id], false)
    }

    pub fn fail_events(&self, status: u16) {
        self.state.lock().unwrap().events_status = Some(status);
    }

    pub fn fail_events_off(&self) {
        self.state.lock().unwrap().events_status = None;
    }

    pub fn fail_get_run(&self, status: u16, times: usize) {
        self.state
            .lock()
            .unwrap()
            .run_failures
            .push((status, times));
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many requests had a path starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.target.starts_with(prefix))
            .count()
    }

    fn status_of(run: &Run, elapsed: Duration) -> &str {
        run.timeline
            .iter()
            .rev()
            .find(|(at, _)| *at <= elapsed)
            .map(|(_, status)| status.as_str())
            .unwrap_or("queued")
    }

    fn render_run(&self, id: &str, run: &Run, storage: bool) -> Value {
        let elapsed = self.start.elapsed();
        let status = Self::status_of(run, elapsed);
        let updated = run
            .timeline
            .iter()
            .rev()
            .find(|(at, _)| *at <= elapsed)
            .map(|(at, _)| *at)
            .unwrap_or(run.created);
        let mut value = json!({
            "id": id,
            "object": "task_run",
            "status": status,
            "result": match status {
                "completed" => Value::from("success"),
                "failed" => Value::from("failure"),
                _ => Value::Null,
            },
            "task_id": "task_model",
            "created_at": self.at(run.created).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "updated_at": self.at(updated).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "request_id": "req_model",
        });
        if status == "interaction_required" {
            value["interaction"] = json!({"type": "mfa", "fields": [{"name": "code"}]});
        }
        if storage {
            value["storage"] = Value::Array(run.storage.clone());
        }
        value
    }

    /// Every visible event, newest first.
    fn events(&self, state: &State) -> Vec<(DateTime<Utc>, String, Value)> {
        let elapsed = self.start.elapsed();
        let mut events = Vec::new();
        for (id, run) in &state.runs {
            for (i, (at, status)) in run.timeline.iter().enumerate() {
                if *at + run.lag > elapsed {
                    continue;
                }
                events.push((
                    self.at(*at),
                    format!("evt_{id}_{i}"),
                    json!({
                        "id": format!("evt_{id}_{i}"),
                        "object": "event",
                        "type": format!("task_run.{status}"),
                        "data": {"id": id, "object": "task_run", "status": status},
                        "created_at": self.at(*at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    }),
                ));
            }
        }
        events.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
        events
    }

    fn respond(&self, received: &Received) -> (u16, Value) {
        let (path, query) = received
            .target
            .split_once('?')
            .unwrap_or((received.target.as_str(), ""));
        let url = reqwest::Url::parse(&format!("http://model/?{query}")).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let param = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut state = self.state.lock().unwrap();
        if path == "/events" {
            if let Some(status) = state.events_status {
                return (status, error("forbidden", "Events are not available."));
            }
            let types: Vec<&str> = pairs
                .iter()
                .filter(|(n, _)| n == "type")
                .map(|(_, v)| v.as_str())
                .collect();
            let after: Option<DateTime<Utc>> = param("created_after").map(|t| t.parse().unwrap());
            let limit: usize = param("limit")
                .map(|l| l.parse().unwrap())
                .unwrap_or(20)
                .min(state.page_size_cap);
            let offset: usize = param("cursor").map(|c| c.parse().unwrap()).unwrap_or(0);
            let matching: Vec<Value> = self
                .events(&state)
                .into_iter()
                .filter(|(at, _, event)| {
                    after.is_none_or(|after| *at > after)
                        && (types.is_empty() || types.contains(&event["type"].as_str().unwrap()))
                })
                .map(|(_, _, event)| event)
                .collect();
            let page: Vec<Value> = matching.iter().skip(offset).take(limit).cloned().collect();
            let has_more = offset + page.len() < matching.len();
            let next = has_more.then(|| (offset + page.len()).to_string());
            return (
                200,
                json!({"data": page, "has_more": has_more, "next_cursor": next, "request_id": "req_events"}),
            );
        }
        if let Some(id) = path.strip_prefix("/task-runs/") {
            if let Some((status, times)) = state.run_failures.first().copied() {
                if times <= 1 {
                    state.run_failures.remove(0);
                } else {
                    state.run_failures[0].1 = times - 1;
                }
                return (status, error("api_error", "Scripted failure."));
            }
            let storage = param("include").is_some_and(|i| i.split(',').any(|v| v == "storage"));
            return match state.runs.get(id) {
                Some(run) => (200, self.render_run(id, run, storage)),
                None => (404, error("task_run_not_found", "No such task run.")),
            };
        }
        (404, error("route_not_found", "No route."))
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some(received) = read_request(&mut stream).await else {
            return;
        };
        self.state.lock().unwrap().requests.push(received.clone());
        let (status, body) = self.respond(&received);
        let body = serde_json::to_vec(&body).unwrap();
        let head = format!(
            "HTTP/1.1 {status} Model\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(&body).await;
        let _ = stream.shutdown().await;
    }
}

fn error(code: &str, message: &str) -> Value {
    json!({"errors": [{"type": "request", "code": code, "message": message}], "request_id": "req_error"})
}
