//! The fake's in-memory data: every resource, the run lifecycle and the events it emits.
//!
//! Agents, sources, credentials, tasks, event destinations, events and deliveries are JSON
//! documents in one generic [`Table`] per [`Kind`], created, updated, deleted, listed and
//! turned into events by the same code. Task runs, their storage items and sessions carry
//! state the lifecycle needs (plans, content, phases) and are rendered by `render`.
//!
//! Everything here is synchronous and guarded by one mutex in [`Shared`](super::shared::Shared),
//! which settles the lifecycle up to the virtual clock's now whenever it is locked; no lock is
//! ever held across an `.await`.

use super::clock::{BASE_INSTANT, BASE_MS, parse_micros, rfc3339, rfc3339_ms};
use super::content::Content;
use super::deliveries::{Job, MAX_QUEUED, Outcome, Target};
use super::lifecycle::{Life, Phase, RunPlan, Step};
use super::render;
use super::seed::{ItemSeed, RunSeed, SeedError, SeededRun, TaskSeed, valid_id};
use super::table::{Doc, Filter, ListQuery, Match, Order, Page, Table, page};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::Notify;

/// Seconds between the default `created_at` of consecutive items of a seeded run.
const ITEM_SPACING_SECS: i64 = 5;
/// The timestamps of a resource document.
const RESOURCE_STAMPS: &[&str] = &["created_at", "updated_at"];

/// The kinds of JSON resources kept in the generic store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Agent,
    Source,
    Credential,
    Task,
    EventDestination,
    Event,
    Delivery,
}

impl Kind {
    const COUNT: usize = 7;

    fn index(self) -> usize {
        self as usize
    }

    /// The ID prefix Deck uses.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Agent => "agt",
            Self::Source => "src",
            Self::Credential => "cred",
            Self::Task => "task",
            Self::EventDestination => "evtd",
            Self::Event => "evt",
            Self::Delivery => "edlv",
        }
    }

    /// The `object` field, also the resource name of its events (`agent.created`).
    pub(crate) fn object(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Source => "source",
            Self::Credential => "credential",
            Self::Task => "task",
            Self::EventDestination => "event_destination",
            Self::Event => "event",
            Self::Delivery => "event_delivery",
        }
    }

    /// The resource in an error message ("No event destination with ID …").
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::EventDestination => "event destination",
            Self::Delivery => "event delivery",
            other => other.object(),
        }
    }

    /// The error code of a 404 for this kind (`agent_not_found`).
    pub(crate) fn not_found(self) -> &'static str {
        match self {
            Self::Agent => "agent_not_found",
            Self::Source => "source_not_found",
            Self::Credential => "credential_not_found",
            Self::Task => "task_not_found",
            Self::EventDestination => "event_destination_not_found",
            Self::Event => "event_not_found",
            Self::Delivery => "event_delivery_not_found",
        }
    }

    /// The order its list endpoint returns.
    pub(crate) fn order(self) -> Order {
        match self {
            Self::Event | Self::Delivery => Order::Newest,
            _ => Order::Oldest,
        }
    }

    /// The filters of its list endpoint (see `spec/additions`).
    pub(crate) fn filters(self) -> &'static [Filter] {
        const CREDENTIALS: &[Filter] = &[
            Filter::new("source_id", "source_id", Match::AnyOf),
            Filter::new("status", "status", Match::AnyOf),
            Filter::new("external_id", "external_id", Match::Eq),
        ];
        const TASKS: &[Filter] = &[
            Filter::new("agent_id", "agent_id", Match::Eq),
            Filter::new("status", "status", Match::Eq),
        ];
        const DESTINATIONS: &[Filter] = &[Filter::new("status", "status", Match::Eq)];
        const EVENTS: &[Filter] = &[
            Filter::new("type", "type", Match::AnyOf),
            Filter::new("created_after", "created_at", Match::After),
            Filter::new("created_before", "created_at", Match::Before),
        ];
        const DELIVERIES: &[Filter] = &[
            Filter::new("status", "status", Match::Eq),
            Filter::new("type", "event_type", Match::Eq),
        ];
        match self {
            Self::Agent | Self::Source => &[],
            Self::Credential => CREDENTIALS,
            Self::Task => TASKS,
            Self::EventDestination => DESTINATIONS,
            Self::Event => EVENTS,
            Self::Delivery => DELIVERIES,
        }
    }
}

/// The filters of `GET /v2/task-runs`.
pub(crate) const RUN_FILTERS: &[Filter] = &[
    Filter::new("status", "status", Match::AnyOf),
    Filter::new("source_id", "source_id", Match::AnyOf),
    Filter::new("outcome", "result", Match::AnyOf),
    Filter::new("agent_id", "agent_id", Match::Eq),
    Filter::new("credential_id", "credential_id", Match::Eq),
    Filter::new("task_id", "task_id", Match::Eq),
    Filter::new("workflow_id", "workflow_id", Match::Eq),
    Filter::new("created_after", "created_at", Match::After),
    Filter::new("created_before", "created_at", Match::Before),
];

/// A stored storage item.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) id: String,
    /// Position in creation order across the whole fake; cursors resume after one.
    pub(crate) seq: u64,
    pub(crate) run_id: String,
    pub(crate) seed: ItemSeed,
    pub(crate) created_at: String,
    pub(crate) fetch_date: String,
}

/// A stored task run.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) task_id: String,
    pub(crate) agent_id: String,
    pub(crate) credential_id: Option<String>,
    pub(crate) source_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) status: String,
    pub(crate) result: Option<String>,
    pub(crate) input: Option<Value>,
    pub(crate) output: Option<Value>,
    pub(crate) errors: Vec<Value>,
    pub(crate) interaction: Value,
    pub(crate) created_at: String,
    pub(crate) created_ms: i64,
    pub(crate) updated_at: String,
    pub(crate) updated_ms: i64,
    pub(crate) canceled_at: Option<String>,
    pub(crate) started_ms: Option<i64>,
    pub(crate) ended_ms: Option<i64>,
    /// Seeded with [`RunSeed`] rather than run through the API.
    pub(crate) seeded: bool,
    /// Item IDs in listing order (deleted items removed).
    pub(crate) item_ids: Vec<String>,
    pub(crate) life: Life,
}

impl Run {
    /// Whether the run has ended (`completed`, `failed`, `canceled`).
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "canceled")
    }

    fn touch(&mut self, at: i64) {
        self.updated_ms = at;
        self.updated_at = rfc3339_ms(at);
    }
}

/// A session: created by running a task without `session_id`, ended by `POST
/// /sessions/{id}/end`. Its status is derived from its runs.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) created_ms: i64,
    pub(crate) ended_ms: Option<i64>,
    pub(crate) run_ids: Vec<String>,
}

/// One page of a run's items.
pub(crate) struct ItemPage {
    pub(crate) items: Vec<Item>,
    pub(crate) has_more: bool,
}

/// What `POST /tasks/{id}/run` asked for.
#[derive(Debug, Default)]
pub(crate) struct RunRequest {
    pub(crate) credential_id: Option<String>,
    pub(crate) source_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) input: Option<Value>,
}

/// Why a run request, a cancel or an interaction was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotFound(&'static str, &'static str, String),
    Conflict(&'static str, String),
}

/// All seeded and created resources.
#[derive(Debug)]
pub(crate) struct Store {
    docs: [Table<Doc>; Kind::COUNT],
    /// Run plans by task ID.
    plans: HashMap<String, RunPlan>,
    runs: Table<Run>,
    items: HashMap<String, Item>,
    sessions: Table<Session>,
    /// Runs whose lifecycle has a transition ahead.
    active: BTreeSet<String>,
    next_seq: u64,
    /// Last number handed out per ID prefix.
    counters: HashMap<&'static str, u64>,
    /// The virtual clock as of the last settle (Unix ms).
    now_ms: i64,
    /// The last mutation stamp handed out (see [`Store::stamp`]).
    last_stamp: i64,
    /// Webhook deliveries waiting for the dispatcher (at most `MAX_QUEUED`).
    outbox: VecDeque<Job>,
    /// Wakes the dispatcher whenever an event is emitted.
    signal: Arc<Notify>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            docs: Default::default(),
            plans: HashMap::new(),
            runs: Table::default(),
            items: HashMap::new(),
            sessions: Table::default(),
            active: BTreeSet::new(),
            next_seq: 0,
            counters: HashMap::new(),
            now_ms: BASE_MS,
            last_stamp: i64::MIN,
            outbox: VecDeque::new(),
            signal: Arc::new(Notify::new()),
        }
    }
}

impl Store {
    // ---- time, IDs, sequence numbers ---------------------------------------------------

    /// Runs every lifecycle transition planned at or before `now_ms`, in time order (ties in
    /// creation order), each stamped with its planned instant.
    pub(crate) fn settle(&mut self, now_ms: i64) {
        self.now_ms = self.now_ms.max(now_ms);
        loop {
            let next = self
                .active
                .iter()
                .filter_map(|id| {
                    let run = self.runs.get(id)?;
                    let (at, step) = run.life.next()?;
                    Some((at, run.seq, id.clone(), step))
                })
                .min_by_key(|(at, seq, _, _)| (*at, *seq));
            match next {
                Some((at, _, id, step)) if at <= self.now_ms => self.apply(&id, at, step),
                _ => break,
            }
        }
    }

    /// The virtual clock as of the last settle.
    pub(crate) fn now(&self) -> i64 {
        self.now_ms
    }

    /// The instant of a mutation through the API: now, or 1 ms after the previous mutation if
    /// that is later, so that an update's `updated_at` is always after its `created_at`.
    fn stamp(&mut self) -> i64 {
        let at = self.now_ms.max(self.last_stamp.saturating_add(1));
        self.last_stamp = at;
        at
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The next free `<prefix>_000001`-style ID.
    fn mint(&mut self, prefix: &'static str, taken: impl Fn(&Self, &str) -> bool) -> String {
        loop {
            let counter = self.counters.entry(prefix).or_insert(0);
            *counter += 1;
            let id = format!("{prefix}_{:06}", *counter);
            if !taken(self, &id) {
                return id;
            }
        }
    }

    /// A free ID for a new document of `kind` (for handlers that need it before creating).
    pub(crate) fn mint_id(&mut self, kind: Kind) -> String {
        self.mint_doc(kind)
    }

    fn mint_doc(&mut self, kind: Kind) -> String {
        self.mint(kind.prefix(), move |store, id| {
            store.docs[kind.index()].contains(id)
        })
    }

    // ---- generic documents ------------------------------------------------------------

    pub(crate) fn doc(&self, kind: Kind, id: &str) -> Option<&Doc> {
        self.docs[kind.index()].get(id)
    }

    pub(crate) fn has_doc(&self, kind: Kind, id: &str) -> bool {
        self.docs[kind.index()].contains(id)
    }

    /// A document as the API renders it.
    pub(crate) fn view(&self, kind: Kind, doc: &Doc) -> Value {
        let mut body = doc.body.clone();
        if kind == Kind::Agent {
            let agent = doc.id();
            let tasks: Vec<Value> = self.docs[Kind::Task.index()]
                .iter()
                .filter(|task| task.str("agent_id") == Some(agent))
                .map(|task| {
                    json!({
                        "id": task.id(),
                        "object": "task",
                        "name": task.body.get("name").cloned().unwrap_or(Value::Null),
                        "status": task.body.get("status").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect();
            body.insert("tasks".into(), Value::Array(tasks));
        }
        Value::Object(body)
    }

    /// A document by ID, rendered.
    pub(crate) fn get_view(&self, kind: Kind, id: &str) -> Option<Value> {
        self.doc(kind, id).map(|doc| self.view(kind, doc))
    }

    /// Stores a document created through the API (`id`, `object`, `fields`, `created_at`,
    /// `updated_at`, in that order) and emits `<object>.created`. `id` is generated when
    /// `None`; the caller checks a given one is free.
    pub(crate) fn create_doc(
        &mut self,
        kind: Kind,
        id: Option<String>,
        fields: Map<String, Value>,
    ) -> Value {
        let id = id.unwrap_or_else(|| self.mint_doc(kind));
        let at = self.stamp();
        let doc = self.insert_doc(kind, id, fields, (rfc3339_ms(at), at), RESOURCE_STAMPS);
        let view = self.view(kind, &doc);
        self.emit(
            &format!("{}.created", kind.object()),
            event_data(kind, &view),
            at,
        );
        view
    }

    /// Stores a seeded document (no event); `false` if the ID is taken.
    fn seed_doc(&mut self, kind: Kind, id: String, fields: Map<String, Value>) -> bool {
        if self.has_doc(kind, &id) {
            return false;
        }
        self.insert_doc(
            kind,
            id,
            fields,
            (rfc3339(BASE_INSTANT), BASE_MS),
            RESOURCE_STAMPS,
        );
        true
    }

    /// Stores `id`, `object`, `fields`, then each of `stamps` set to `at` (`created_at`,
    /// `updated_at` for resources; events have no `updated_at`).
    fn insert_doc(
        &mut self,
        kind: Kind,
        id: String,
        fields: Map<String, Value>,
        (at, at_ms): (String, i64),
        stamps: &[&str],
    ) -> Doc {
        let mut body = Map::new();
        body.insert("id".into(), id.clone().into());
        body.insert("object".into(), kind.object().into());
        body.extend(fields);
        for stamp in stamps {
            body.insert((*stamp).into(), at.clone().into());
        }
        let doc = Doc {
            seq: self.seq(),
            created_ms: at_ms,
            body,
        };
        self.docs[kind.index()].insert(id, doc.seq, doc.clone());
        doc
    }

    /// Applies `change` to a document's body, bumps `updated_at` and emits `event` (default
    /// `<object>.updated`); `None` if there is no such document.
    pub(crate) fn update_doc(
        &mut self,
        kind: Kind,
        id: &str,
        event: Option<&str>,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<Value> {
        if !self.has_doc(kind, id) {
            return None;
        }
        let at = self.stamp();
        let doc = self.docs[kind.index()].get_mut(id)?;
        change(&mut doc.body);
        doc.body.insert("updated_at".into(), rfc3339_ms(at).into());
        let doc = doc.clone();
        let view = self.view(kind, &doc);
        let event = event.map_or_else(|| format!("{}.updated", kind.object()), str::to_owned);
        self.emit(&event, event_data(kind, &view), at);
        Some(view)
    }

    /// Removes a document and emits `<object>.deleted` with its last state.
    pub(crate) fn delete_doc(&mut self, kind: Kind, id: &str) -> Option<Value> {
        let doc = self.docs[kind.index()].get(id)?;
        let view = self.view(kind, doc);
        self.docs[kind.index()].remove(id);
        if kind == Kind::Task {
            self.plans.remove(id);
        }
        let at = self.stamp();
        self.emit(
            &format!("{}.deleted", kind.object()),
            event_data(kind, &view),
            at,
        );
        Some(view)
    }

    /// One page of a kind's list; `keep` narrows it further (deliveries of one destination).
    pub(crate) fn list_docs(
        &self,
        kind: Kind,
        query: &ListQuery,
        keep: impl Fn(&Doc) -> bool,
    ) -> Page {
        let order = kind.order();
        page(
            self.docs[kind.index()].iter().filter(|doc| keep(doc)),
            order,
            |doc| order.key(doc.created_ms, doc.seq),
            |doc| self.view(kind, doc),
            query,
        )
    }

    // ---- events and deliveries ---------------------------------------------------------

    /// Records an event at `at_ms` and a delivery to every active destination subscribed to
    /// its type: queued for the dispatcher (`pending`) when the fake can send it (see
    /// `deliveries`), else recorded as delivered at once. The event's data is the resource
    /// summary with top-level `null`s written as `""`, as Deck's event serialisation does.
    fn emit(&mut self, event_type: &str, mut data: Value, at_ms: i64) {
        if let Value::Object(fields) = &mut data {
            for value in fields.values_mut() {
                if value.is_null() {
                    *value = Value::String(String::new());
                }
            }
        }
        let id = self.mint_doc(Kind::Event);
        let at = rfc3339_ms(at_ms);
        let mut fields = Map::new();
        fields.insert("type".into(), event_type.into());
        fields.insert("data".into(), data);
        let event = self.insert_doc(
            Kind::Event,
            id.clone(),
            fields,
            (at.clone(), at_ms),
            &["created_at"],
        );
        // The body of a webhook delivery, made when one is queued: the event as
        // `GET /events/{id}` renders it, without the `request_id` the envelope adds.
        let mut body: Option<Bytes> = None;

        let subscribed: Vec<(String, Option<Target>)> = self.docs[Kind::EventDestination.index()]
            .iter()
            .filter(|d| d.str("status") == Some("active"))
            .filter(|d| {
                d.body
                    .get("events")
                    .and_then(Value::as_array)
                    .is_some_and(|events| {
                        events
                            .iter()
                            .any(|e| e == "*" || e.as_str() == Some(event_type))
                    })
            })
            .map(|d| (d.id().to_owned(), Target::of(d)))
            .collect();
        for (destination, target) in subscribed {
            let delivery = self.mint_doc(Kind::Delivery);
            let outcome = match &target {
                None => Outcome::Success,
                Some(_) if self.outbox.len() >= MAX_QUEUED => Outcome::Failure,
                Some(_) => Outcome::Pending,
            };
            let mut fields = Map::new();
            fields.insert("status".into(), outcome.status().into());
            fields.insert("event_type".into(), event_type.into());
            fields.insert("event_id".into(), id.clone().into());
            fields.insert("event_destination_id".into(), destination.clone().into());
            fields.insert("attempts".into(), u32::from(target.is_none()).into());
            let stamps: &[&str] = if outcome == Outcome::Success {
                &["created_at", "delivered_at"]
            } else {
                &["created_at"]
            };
            self.insert_doc(
                Kind::Delivery,
                delivery.clone(),
                fields,
                (at.clone(), at_ms),
                stamps,
            );
            if outcome != Outcome::Success
                && let Some(doc) = self.docs[Kind::Delivery.index()].get_mut(&delivery)
            {
                doc.body.insert("delivered_at".into(), Value::Null);
            }
            if let (Outcome::Pending, Some(target)) = (outcome, target) {
                self.outbox.push_back(Job {
                    delivery_id: delivery,
                    destination_id: destination,
                    event_id: id.clone(),
                    target,
                    body: body
                        .get_or_insert_with(|| {
                            Bytes::from(serde_json::to_vec(&event.body).unwrap_or_default())
                        })
                        .clone(),
                });
            }
        }
        self.signal.notify_one();
    }

    /// What wakes the dispatcher.
    pub(crate) fn delivery_signal(&self) -> Arc<Notify> {
        self.signal.clone()
    }

    /// The deliveries queued since the last call, oldest first.
    pub(crate) fn take_outbox(&mut self) -> Vec<Job> {
        self.outbox.drain(..).collect()
    }

    /// The instant of the next planned run transition, while a webhook destination the fake
    /// sends to is active (someone is waiting for pushes); `None` otherwise.
    pub(crate) fn next_wake(&self) -> Option<i64> {
        let listening = self.docs[Kind::EventDestination.index()]
            .iter()
            .any(|d| Target::of(d).is_some());
        if !listening {
            return None;
        }
        self.active
            .iter()
            .filter_map(|id| self.runs.get(id)?.life.next().map(|(at, _)| at))
            .min()
    }

    /// Whether a destination exists and is active.
    pub(crate) fn destination_active(&self, id: &str) -> bool {
        self.doc(Kind::EventDestination, id)
            .is_some_and(|d| d.str("status") == Some("active"))
    }

    /// Records the attempts of a delivery so far and where it stands (`delivered_at` now when
    /// it succeeded). Deliveries change without events.
    pub(crate) fn record_attempt(&mut self, delivery_id: &str, attempts: u32, outcome: Outcome) {
        let now = self.now_ms;
        let Some(doc) = self.docs[Kind::Delivery.index()].get_mut(delivery_id) else {
            return;
        };
        doc.body.insert("status".into(), outcome.status().into());
        doc.body.insert("attempts".into(), attempts.into());
        if outcome == Outcome::Success {
            doc.body
                .insert("delivered_at".into(), rfc3339_ms(now).into());
        }
    }

    /// Turns an active destination `inactive` after a delivery failed every attempt, with an
    /// `event_destination.deactivated` event.
    pub(crate) fn deactivate_destination(&mut self, id: &str) {
        if self.destination_active(id) {
            self.update_doc(
                Kind::EventDestination,
                id,
                Some("event_destination.deactivated"),
                |destination| {
                    destination.insert("status".into(), "inactive".into());
                },
            );
        }
    }

    // ---- seeding ----------------------------------------------------------------------

    /// Adds a run and its items. All-or-nothing.
    pub(crate) fn add_run(&mut self, seed: RunSeed) -> Result<SeededRun, SeedError> {
        if !valid_id(&seed.id) {
            return Err(SeedError::InvalidId(seed.id));
        }
        if self.runs.contains(&seed.id) {
            return Err(SeedError::DuplicateRun(seed.id));
        }
        let stem = stem(&seed.id).to_owned();
        let mut ids = Vec::with_capacity(seed.items.len());
        let mut seen = HashSet::new();
        for (index, item) in seed.items.iter().enumerate() {
            let id = item
                .id
                .clone()
                .unwrap_or_else(|| format!("stor_{stem}_{:04}", index + 1));
            if !valid_id(&id) {
                return Err(SeedError::InvalidId(id));
            }
            if self.items.contains_key(&id) || !seen.insert(id.clone()) {
                return Err(SeedError::DuplicateItem(id));
            }
            ids.push(id);
        }

        let RunSeed {
            id: run_id,
            task_id,
            agent_id,
            status,
            result,
            input,
            output,
            errors,
            created_at,
            items,
        } = seed;
        for (index, (item, id)) in items.into_iter().zip(&ids).enumerate() {
            let offset = i64::try_from(index).unwrap_or(i64::MAX / ITEM_SPACING_SECS);
            let default =
                rfc3339(BASE_INSTANT.saturating_add(offset.saturating_mul(ITEM_SPACING_SECS)));
            self.place_item(&run_id, id.clone(), item, default);
        }
        let created_ms = parse_micros(&created_at).map_or(BASE_MS, |us| us.div_euclid(1000));
        let run = Run {
            id: run_id.clone(),
            seq: self.seq(),
            task_id: task_id.unwrap_or_else(|| format!("task_{stem}")),
            agent_id,
            credential_id: None,
            source_id: None,
            session_id: None,
            status,
            result,
            input,
            output,
            errors,
            interaction: Value::Null,
            updated_at: created_at.clone(),
            created_at,
            created_ms,
            updated_ms: created_ms,
            canceled_at: None,
            started_ms: None,
            ended_ms: None,
            seeded: true,
            item_ids: ids.clone(),
            life: Life {
                plan: RunPlan::new(),
                phase: Phase::Fixed,
                since_ms: created_ms,
            },
        };
        self.runs.insert(run_id.clone(), run.seq, run);
        Ok(SeededRun {
            run_id,
            item_ids: ids,
        })
    }

    fn place_item(&mut self, run_id: &str, id: String, seed: ItemSeed, default_at: String) {
        let created_at = seed.created_at.clone().unwrap_or(default_at);
        let fetch_date = seed
            .fetch_date
            .clone()
            .unwrap_or_else(|| created_at.clone());
        let seq = self.seq();
        self.items.insert(
            id.clone(),
            Item {
                id,
                seq,
                run_id: run_id.to_owned(),
                seed,
                created_at,
                fetch_date,
            },
        );
    }

    /// Adds a task (no event).
    pub(crate) fn add_task(&mut self, seed: TaskSeed) -> Result<(), SeedError> {
        if !valid_id(&seed.id) {
            return Err(SeedError::InvalidId(seed.id));
        }
        let id = seed.id.clone();
        let plan = seed.plan.clone();
        if !self.seed_doc(Kind::Task, id.clone(), render::task_fields(&seed)) {
            return Err(SeedError::DuplicateTask(id));
        }
        self.plans.insert(id, plan);
        Ok(())
    }

    /// Adds an agent (no event); `false` if the ID is taken.
    pub(crate) fn seed_agent(&mut self, id: &str, name: &str, description: Option<&str>) -> bool {
        let mut fields = Map::new();
        fields.insert("name".into(), name.into());
        fields.insert("description".into(), description.into());
        self.seed_doc(Kind::Agent, id.to_owned(), fields)
    }

    // ---- tasks ------------------------------------------------------------------------

    /// Stores a task created through the API (runs follow the default plan).
    pub(crate) fn create_task(&mut self, id: Option<String>, fields: Map<String, Value>) -> Value {
        let view = self.create_doc(Kind::Task, id, fields);
        if let Some(id) = view["id"].as_str() {
            self.plans.insert(id.to_owned(), RunPlan::new());
        }
        view
    }

    // ---- runs -------------------------------------------------------------------------

    pub(crate) fn run(&self, run_id: &str) -> Option<&Run> {
        self.runs.get(run_id)
    }

    /// Runs a task: a new `queued` run (and a new session unless `session_id` names an open
    /// one), `task_run.queued` emitted.
    pub(crate) fn run_task(&mut self, task_id: &str, request: RunRequest) -> Result<&Run, Refusal> {
        let Some(task) = self.doc(Kind::Task, task_id) else {
            return Err(Refusal::NotFound(
                Kind::Task.not_found(),
                Kind::Task.noun(),
                task_id.to_owned(),
            ));
        };
        let agent_id = task.str("agent_id").unwrap_or_default().to_owned();
        let now = self.now_ms;
        let session_id = match request.session_id {
            Some(id) => {
                let Some(session) = self.sessions.get(&id) else {
                    return Err(Refusal::NotFound("session_not_found", "session", id));
                };
                if session.ended_ms.is_some() {
                    return Err(Refusal::Conflict(
                        "session_ended",
                        format!(
                            "Session '{id}' has ended; run the task without `session_id` to start a new one."
                        ),
                    ));
                }
                id
            }
            None => {
                let id = self.mint("sess", |store, id| store.sessions.contains(id));
                let seq = self.seq();
                self.sessions.insert(
                    id.clone(),
                    seq,
                    Session {
                        id: id.clone(),
                        created_ms: now,
                        ended_ms: None,
                        run_ids: Vec::new(),
                    },
                );
                id
            }
        };
        let run_id = self.mint("trun", |store, id| store.runs.contains(id));
        let plan = self.plans.get(task_id).cloned().unwrap_or_default();
        let at = rfc3339_ms(now);
        let run = Run {
            id: run_id.clone(),
            seq: self.seq(),
            task_id: task_id.to_owned(),
            agent_id,
            credential_id: request.credential_id,
            source_id: request.source_id,
            session_id: Some(session_id.clone()),
            status: "queued".into(),
            result: None,
            input: request.input,
            output: None,
            errors: Vec::new(),
            interaction: Value::Null,
            created_at: at.clone(),
            created_ms: now,
            updated_at: at,
            updated_ms: now,
            canceled_at: None,
            started_ms: None,
            ended_ms: None,
            seeded: false,
            item_ids: Vec::new(),
            life: Life {
                plan,
                phase: Phase::Queued,
                since_ms: now,
            },
        };
        if let Some(session) = self.sessions.get_mut(&session_id) {
            session.run_ids.push(run_id.clone());
        }
        let summary = render::run_summary(&run, now);
        self.runs.insert(run_id.clone(), run.seq, run);
        self.active.insert(run_id.clone());
        self.emit("task_run.queued", summary, now);
        self.runs
            .get(&run_id)
            .ok_or(Refusal::NotFound("task_run_not_found", "task run", run_id))
    }

    /// Runs `task_id` as if it had been asked for at `at_ms` (no later than now), then settles
    /// back to now: the run and every transition it made meanwhile carry those earlier
    /// instants, with their events (the demo's history). Returns the run's ID.
    pub(crate) fn run_task_at(&mut self, task_id: &str, at_ms: i64) -> Result<String, Refusal> {
        let now = self.now_ms;
        self.now_ms = at_ms.min(now);
        let run = self
            .run_task(task_id, RunRequest::default())
            .map(|run| run.id.clone());
        self.settle(now);
        run
    }

    /// One page of `GET /task-runs`, newest first.
    pub(crate) fn list_runs(&self, query: &ListQuery) -> Page {
        let now = self.now_ms;
        page(
            self.runs.iter(),
            Order::Newest,
            |run| Order::Newest.key(run.created_ms, run.seq),
            |run| render::task_run(run, &render::Includes::default(), Vec::new(), now),
            query,
        )
    }

    /// Cancels a run: `canceling` now, `canceled` after the plan's `canceling_for`. A run
    /// already `canceling` is left as it is; a finished one is refused.
    pub(crate) fn cancel_run(&mut self, run_id: &str) -> Result<(), Refusal> {
        let now = self.now_ms;
        let Some(run) = self.runs.get_mut(run_id) else {
            return Err(run_not_found(run_id));
        };
        match run.status.as_str() {
            "queued" | "running" | "interaction_required" | "review_required" | "pending" => {}
            "canceling" | "cancelling" => return Ok(()),
            other => {
                return Err(Refusal::Conflict(
                    "task_run_not_cancelable",
                    format!("Task run '{run_id}' is {other} and can no longer be canceled."),
                ));
            }
        }
        run.status = "canceling".into();
        run.interaction = Value::Null;
        run.life.phase = Phase::Canceling;
        run.life.since_ms = now;
        run.touch(now);
        let summary = render::run_summary(run, now);
        self.active.insert(run_id.to_owned());
        self.emit("task_run.canceling", summary, now);
        Ok(())
    }

    /// Resumes a run waiting for interaction: `running` again for the plan's `running_for`.
    pub(crate) fn submit_interaction(&mut self, run_id: &str) -> Result<(), Refusal> {
        let now = self.now_ms;
        let Some(run) = self.runs.get_mut(run_id) else {
            return Err(run_not_found(run_id));
        };
        if run.status != "interaction_required" {
            return Err(Refusal::Conflict(
                "task_run_not_awaiting_interaction",
                format!(
                    "Task run '{run_id}' is {} and is not waiting for interaction input.",
                    run.status
                ),
            ));
        }
        run.status = "running".into();
        run.interaction = Value::Null;
        run.life.phase = Phase::Running { resumed: true };
        run.life.since_ms = now;
        run.started_ms.get_or_insert(now);
        run.touch(now);
        let summary = render::run_summary(run, now);
        self.active.insert(run_id.to_owned());
        self.emit("task_run.running", summary, now);
        Ok(())
    }

    /// Applies a planned transition at its instant and emits its events.
    fn apply(&mut self, run_id: &str, at: i64, step: Step) {
        let Some(run) = self.runs.get_mut(run_id) else {
            self.active.remove(run_id);
            return;
        };
        let mut items = Vec::new();
        let event = match step {
            Step::Start => {
                run.status = "running".into();
                run.started_ms.get_or_insert(at);
                run.life.phase = Phase::Running { resumed: false };
                "task_run.running"
            }
            Step::Ask => {
                run.status = "interaction_required".into();
                run.interaction = run.life.plan.asks.clone().unwrap_or(Value::Null);
                run.life.phase = Phase::AwaitingInput;
                "task_run.interaction_required"
            }
            Step::Review => {
                run.status = "review_required".into();
                run.life.phase = Phase::InReview;
                "task_run.review_required"
            }
            Step::Fail => {
                let (code, message) = run.life.plan.failure.clone().unwrap_or_default();
                run.status = "failed".into();
                run.result = Some("failure".into());
                run.errors = vec![json!({ "type": "task", "code": code, "message": message })];
                run.ended_ms = Some(at);
                run.life.phase = Phase::Done;
                "task_run.failed"
            }
            Step::Complete => {
                run.status = "completed".into();
                run.result = Some("success".into());
                run.output = run.life.plan.output.clone();
                run.ended_ms = Some(at);
                run.life.phase = Phase::Done;
                items = run.life.plan.items.clone();
                "task_run.completed"
            }
            Step::Cancel => {
                run.status = "canceled".into();
                run.canceled_at = Some(rfc3339_ms(at));
                run.ended_ms = Some(at);
                run.life.phase = Phase::Done;
                "task_run.canceled"
            }
        };
        run.life.since_ms = at;
        run.touch(at);
        if run.life.next().is_none() {
            self.active.remove(run_id);
        }
        if !items.is_empty() {
            self.capture_items(run_id, items, at);
        }
        if let Some(run) = self.runs.get(run_id) {
            let summary = render::run_summary(run, at);
            self.emit(event, summary, at);
        }
    }

    /// Stores the items a completing run captured, one `storage.created` event each.
    fn capture_items(&mut self, run_id: &str, seeds: Vec<ItemSeed>, at: i64) {
        let stem = stem(run_id).to_owned();
        let mut n = self.runs.get(run_id).map_or(0, |run| run.item_ids.len());
        let mut placed = Vec::with_capacity(seeds.len());
        for seed in seeds {
            let own = seed
                .id
                .clone()
                .filter(|id| valid_id(id) && !self.items.contains_key(id));
            let id = own.unwrap_or_else(|| {
                loop {
                    n += 1;
                    let candidate = format!("stor_{stem}_{n:04}");
                    if !self.items.contains_key(&candidate) {
                        break candidate;
                    }
                }
            });
            self.place_item(run_id, id.clone(), seed, rfc3339_ms(at));
            placed.push(id);
        }
        if let Some(run) = self.runs.get_mut(run_id) {
            run.item_ids.extend(placed.iter().cloned());
        }
        for id in placed {
            if let Some(item) = self.items.get(&id) {
                let data = render::item_event(item);
                self.emit("storage.created", data, at);
            }
        }
    }

    // ---- sessions ---------------------------------------------------------------------

    /// A session, rendered (`GetSessionResponse`).
    pub(crate) fn session_view(&self, id: &str) -> Option<Value> {
        let session = self.sessions.get(id)?;
        let runs: Vec<&Run> = session
            .run_ids
            .iter()
            .filter_map(|id| self.runs.get(id))
            .collect();
        let busy = |run: &&Run| {
            matches!(
                run.status.as_str(),
                "running" | "interaction_required" | "review_required" | "canceling"
            )
        };
        let status = match session.ended_ms {
            Some(_) if runs.iter().all(|r| r.is_terminal()) => "completed",
            Some(_) => "completing",
            None if runs.iter().any(busy) => "running",
            None if runs.iter().any(|r| r.status == "queued") => "queued",
            None => "idle",
        };
        let end = session.ended_ms.unwrap_or(self.now_ms);
        let updated = runs
            .iter()
            .map(|r| r.updated_ms)
            .chain(session.ended_ms)
            .fold(session.created_ms, i64::max);
        let task_runs: Vec<Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "task_id": r.task_id,
                    "agent_id": r.agent_id,
                    "credential_id": r.credential_id,
                })
            })
            .collect();
        Some(json!({
            "id": session.id,
            "object": "session",
            "status": status,
            "runtime_ms": end.saturating_sub(session.created_ms).max(0),
            "task_runs": task_runs,
            "created_at": rfc3339_ms(session.created_ms),
            "updated_at": rfc3339_ms(updated),
        }))
    }

    /// Ends a session and cancels its runs that have not finished; ending an ended session
    /// changes nothing. `false` if there is no such session.
    pub(crate) fn end_session(&mut self, id: &str) -> bool {
        let now = self.now_ms;
        let Some(session) = self.sessions.get_mut(id) else {
            return false;
        };
        if session.ended_ms.is_some() {
            return true;
        }
        session.ended_ms = Some(now);
        for run_id in session.run_ids.clone() {
            // Runs already canceling or finished are left as they are.
            let _ = self.cancel_run(&run_id);
        }
        true
    }

    // ---- storage items ----------------------------------------------------------------

    pub(crate) fn item(&self, id: &str) -> Option<&Item> {
        self.items.get(id)
    }

    pub(crate) fn content(&self, id: &str) -> Option<Content> {
        self.items.get(id).map(|i| i.seed.content.clone())
    }

    /// The items of `run_id` in listing order.
    pub(crate) fn run_items(&self, run_id: &str) -> Vec<Item> {
        self.runs
            .get(run_id)
            .map(|run| {
                run.item_ids
                    .iter()
                    .filter_map(|id| self.items.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Up to `limit` items of `run_id` with a sequence number above `after` (0: from the start;
    /// sequence numbers start at 1).
    pub(crate) fn page(&self, run_id: &str, after: u64, limit: usize) -> ItemPage {
        let Some(run) = self.runs.get(run_id) else {
            return ItemPage {
                items: Vec::new(),
                has_more: false,
            };
        };
        // A run's ids are in insertion order and sequence numbers only grow, so the page starts
        // at a binary-searched position and only the page's own items are cloned: O(log n + limit)
        // per page, whatever the run's size.
        let seq = |id: &String| self.items.get(id).map_or(u64::MAX, |item| item.seq);
        let start = run.item_ids.partition_point(|id| seq(id) <= after);
        let mut rest = run.item_ids[start..]
            .iter()
            .filter_map(|id| self.items.get(id));
        let items: Vec<Item> = rest.by_ref().take(limit).cloned().collect();
        let has_more = rest.next().is_some();
        ItemPage { items, has_more }
    }

    /// Removes an item and emits `storage.deleted`; `None` if there is no such item.
    pub(crate) fn delete_item(&mut self, id: &str) -> Option<Item> {
        let item = self.items.remove(id)?;
        if let Some(run) = self.runs.get_mut(&item.run_id) {
            run.item_ids.retain(|other| other != id);
        }
        let at = self.stamp();
        self.emit("storage.deleted", render::item_event(&item), at);
        Some(item)
    }

    /// All item IDs of a run, in listing order.
    pub(crate) fn item_ids(&self, run_id: &str) -> Option<Vec<String>> {
        self.runs.get(run_id).map(|run| run.item_ids.clone())
    }

    // ---- session tokens ---------------------------------------------------------------

    /// A new `tok_…` ID and the instant it was created.
    pub(crate) fn token(&mut self) -> (String, i64) {
        let id = self.mint("tok", |_, _| false);
        (id, self.stamp())
    }
}

/// A resource as the data of its events: the resource as the API returns it, without a
/// webhook's signing secret (events travel to other destinations).
fn event_data(kind: Kind, view: &Value) -> Value {
    let mut data = view.clone();
    if kind == Kind::EventDestination
        && let Some(webhook) = data.get_mut("webhook").and_then(Value::as_object_mut)
    {
        webhook.remove("secret");
    }
    data
}

/// A run ID without `trun_`.
fn stem(run_id: &str) -> &str {
    run_id.strip_prefix("trun_").unwrap_or(run_id)
}

fn run_not_found(run_id: &str) -> Refusal {
    Refusal::NotFound("task_run_not_found", "task run", run_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(id: &str, n: usize) -> RunSeed {
        RunSeed::new(id)
            .items((0..n).map(|i| ItemSeed::new(format!("f{i}.txt"), "text/plain", "x")))
    }

    fn event_types(store: &Store) -> Vec<(String, String)> {
        store.docs[Kind::Event.index()]
            .iter()
            .map(|e| {
                (
                    e.str("type").unwrap_or_default().to_owned(),
                    e.str("created_at").unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn derives_item_ids_and_timestamps() {
        let mut store = Store::default();
        let seeded = store.add_run(run("trun_abc", 2)).unwrap();
        assert_eq!(seeded.item_ids, ["stor_abc_0001", "stor_abc_0002"]);
        let second = store.item("stor_abc_0002").unwrap();
        assert_eq!(second.created_at, "2025-01-15T09:30:05Z");
        assert_eq!(second.fetch_date, second.created_at);
        assert_eq!(store.run("trun_abc").unwrap().task_id, "task_abc");
    }

    #[test]
    fn refuses_duplicates_without_storing_anything() {
        let mut store = Store::default();
        store.add_run(run("trun_a", 1)).unwrap();
        assert_eq!(
            store.add_run(run("trun_a", 1)),
            Err(SeedError::DuplicateRun("trun_a".into()))
        );
        let clash = RunSeed::new("trun_b")
            .item(ItemSeed::new("n", "t", "x"))
            .item(ItemSeed::new("m", "t", "x").id("stor_a_0001"));
        assert_eq!(
            store.add_run(clash),
            Err(SeedError::DuplicateItem("stor_a_0001".into()))
        );
        assert!(store.run("trun_b").is_none());
        assert!(store.item("stor_b_0001").is_none());
        assert_eq!(
            store.add_run(RunSeed::new("trun/x")),
            Err(SeedError::InvalidId("trun/x".into()))
        );
    }

    #[test]
    fn pages_resume_after_a_sequence_number_even_across_deletes() {
        let mut store = Store::default();
        store.add_run(run("trun_p", 5)).unwrap();
        let first = store.page("trun_p", 0, 2);
        assert!(first.has_more);
        let last_seq = first.items[1].seq;
        store.delete_item("stor_p_0003").unwrap();
        let second = store.page("trun_p", last_seq, 2);
        let ids: Vec<_> = second.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["stor_p_0004", "stor_p_0005"]);
        assert!(!second.has_more);
        assert!(store.delete_item("stor_p_0003").is_none());
    }

    #[test]
    fn runs_settle_at_their_planned_instants() {
        let mut store = Store::default();
        let plan = RunPlan::new()
            .queued_for(Duration::from_millis(250))
            .items([ItemSeed::new("a.txt", "text/plain", "a")]);
        store
            .add_task(TaskSeed::new("task_t", "T").run_plan(plan))
            .unwrap();
        let id = store
            .run_task("task_t", RunRequest::default())
            .unwrap()
            .id
            .clone();
        assert_eq!(id, "trun_000001");
        // Observed long after: every transition still carries its own instant.
        store.settle(BASE_MS + 60_000);
        let run = store.run(&id).unwrap();
        assert_eq!(run.status, "completed");
        assert_eq!(run.updated_at, "2025-01-15T09:30:02.250Z");
        assert_eq!(run.item_ids, ["stor_000001_0001"]);
        assert_eq!(
            event_types(&store),
            [
                ("task_run.queued".into(), "2025-01-15T09:30:00.000Z".into()),
                ("task_run.running".into(), "2025-01-15T09:30:00.250Z".into()),
                ("storage.created".into(), "2025-01-15T09:30:02.250Z".into()),
                (
                    "task_run.completed".into(),
                    "2025-01-15T09:30:02.250Z".into()
                ),
            ]
        );
        assert!(store.active.is_empty());
    }

    fn webhook_destination(store: &mut Store, url: &str) -> String {
        let fields = json!({
            "name": "d", "status": "active", "type": "webhook", "events": ["*"],
            "webhook": { "url": url, "secret": "whsec_c2VjcmV0LXR3bw==" },
        });
        let view = store.create_doc(
            Kind::EventDestination,
            None,
            fields.as_object().unwrap().clone(),
        );
        view["id"].as_str().unwrap().to_owned()
    }

    fn delivery_statuses(store: &Store) -> Vec<String> {
        store.docs[Kind::Delivery.index()]
            .iter()
            .map(|d| d.str("status").unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn deliveries_queue_up_to_the_bound_and_fail_beyond_it() {
        let mut store = Store::default();
        webhook_destination(&mut store, "http://127.0.0.1:9/hook");
        for i in 0..MAX_QUEUED {
            let name = json!({ "name": format!("a{i}") });
            store.create_doc(Kind::Agent, None, name.as_object().unwrap().clone());
        }
        let statuses = delivery_statuses(&store);
        assert_eq!(statuses.len(), MAX_QUEUED + 1);
        assert_eq!(
            statuses.iter().filter(|s| *s == "pending").count(),
            MAX_QUEUED
        );
        assert_eq!(statuses.last().map(String::as_str), Some("failure"));
        let jobs = store.take_outbox();
        assert_eq!(jobs.len(), MAX_QUEUED);
        assert!(store.take_outbox().is_empty());
        // Room again: the next one queues.
        store.create_doc(Kind::Agent, None, Map::new());
        assert_eq!(store.take_outbox().len(), 1);
    }

    #[test]
    fn deliveries_off_the_machine_are_recorded_as_delivered_and_wake_nothing() {
        let mut store = Store::default();
        let plan = RunPlan::new().queued_for(Duration::from_millis(250));
        store
            .add_task(TaskSeed::new("task_t", "T").run_plan(plan))
            .unwrap();
        store.run_task("task_t", RunRequest::default()).unwrap();
        webhook_destination(&mut store, "https://hooks.example/deck");
        store.create_doc(Kind::Agent, None, Map::new());
        assert_eq!(delivery_statuses(&store), ["success", "success"]);
        assert!(store.take_outbox().is_empty());
        assert_eq!(store.next_wake(), None, "nobody listens");
        let id = webhook_destination(&mut store, "http://localhost:9/");
        assert_eq!(store.next_wake(), Some(BASE_MS + 250));
        // Its own creation is queued for it (and recorded for the remote one).
        assert_eq!(
            delivery_statuses(&store),
            ["success", "success", "success", "pending"]
        );
        let delivery = store.doc(Kind::Delivery, "edlv_000004").unwrap();
        assert_eq!(delivery.body["delivered_at"], Value::Null);
        assert_eq!(delivery.body["attempts"], 0);
        store.record_attempt("edlv_000004", 2, Outcome::Success);
        let delivery = store.doc(Kind::Delivery, "edlv_000004").unwrap();
        assert_eq!(delivery.body["status"], "success");
        assert_eq!(delivery.body["attempts"], 2);
        assert_eq!(delivery.body["delivered_at"], "2025-01-15T09:30:00.000Z");
        store.deactivate_destination(&id);
        assert!(!store.destination_active(&id));
        assert_eq!(store.next_wake(), None);
        let last = store.docs[Kind::Event.index()].iter().last().unwrap();
        assert_eq!(last.str("type"), Some("event_destination.deactivated"));
    }

    #[test]
    fn mutation_stamps_only_move_forward() {
        let mut store = Store::default();
        let a = store.stamp();
        let b = store.stamp();
        assert_eq!((a, b), (BASE_MS, BASE_MS + 1));
        store.settle(BASE_MS + 10);
        assert_eq!(store.stamp(), BASE_MS + 10);
    }
}
