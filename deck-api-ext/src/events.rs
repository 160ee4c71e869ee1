//! Typed Deck events: one description for `GET /events`, `GET /events/{id}` and webhook
//! deliveries.
//!
//! An event is `{id, object, type, data, created_at, request_id}`: the generated
//! [`GetEventResponse`](deck_api::types::GetEventResponse) is that wire, and [`Event`] is built
//! from it (`Event` deserialises *through* the generated type, so the envelope is described once,
//! in `spec/`). What this module adds is the part the spec cannot say: `data` is "a summary of the
//! resource that triggered the event", whose shape depends on the type.
//!
//! - [`EventType`] is an open enum of the documented types (Deck's events reference, plus
//!   `storage.deleted`, `task_run.review_required` and `event_destination.*` from the Storage
//!   guide and third-party pages); any other type is [`EventType::Other`], kept as sent.
//! - [`EventData`] is `data` decoded by the resource before the dot, into the type the REST API
//!   returns for that resource: `storage.*` → [`StorageItem`] (with the same `file_size` rules as
//!   everywhere: an integer or a canonical decimal string, exact over `u64`), `task_run.*` →
//!   [`GetTaskRunResponse`](deck_api::types::GetTaskRunResponse), `task.*` →
//!   [`GetTaskResponse`](deck_api::types::GetTaskResponse), and likewise agents, sources,
//!   credentials, sessions and event destinations. A new action of a known resource
//!   (`task_run.archived`) still gets typed data; an unknown resource (`user.created`) gets
//!   [`EventData::Other`] with the raw JSON.
//! - **Event data is a summary, not the REST resource.** It may lack fields, and Deck serialises
//!   empty fields as `""` where the REST API sends `null` (`workflow_id`, `result` of a running
//!   run). Before decoding, every **top-level** field of `data` whose value is `""` is read as
//!   `null`, unless the REST type refuses `null` there (a required string such as `file_name`),
//!   in which case the empty string is kept, as REST would send it. Nested values (extraction
//!   results, metadata, schemas, output) are the user's data and are never rewritten. Data that
//!   still does not fit the REST type does not fail the event: it is
//!   [`EventData::Undecoded`] with the reason and its JSON path, and [`Event::raw_data`] always
//!   holds `data` exactly as sent.
//!
//! Listing typed events uses the generated operation with
//! [`paginate_as`](crate::ListExt::paginate_as); a single one
//! [`call_as`](crate::CallExt::call_as); a webhook delivery `webhook::Webhook::verify`
//! (feature `webhooks`); an event read from a queue destination (SQS, Pub/Sub, …)
//! [`Event::from_json`].
//!
//! ```no_run
//! use deck_api_ext::events::{Event, EventData, EventType};
//! use deck_api_ext::prelude::*;
//! use futures_util::TryStreamExt;
//!
//! # async fn demo(deck: Deck) -> Result<(), Error> {
//! let mut events = deck
//!     .api()
//!     .list_events()
//!     .type_(vec!["storage.created".to_owned()])
//!     .paginate_as::<Event>()
//!     .items();
//! while let Some(event) = events.try_next().await? {
//!     if let EventData::StorageItem(item) = &event.data {
//!         println!("{} {}: {} bytes", event.event_type, item.file_name, item.file_size);
//!     }
//! }
//! let one: Event = deck.api().get_event().event_id("evt_1").call_as(CallOptions::new()).await?;
//! assert_eq!(one.event_type, EventType::StorageCreated);
//! # Ok(()) }
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use deck_api::types;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{Keys, QUOTE_LIMIT, Result, clip, clip_message, decode_json_with};
use crate::storage::StorageItem;

/// A Deck event, from `GET /events`, `GET /events/{id}` or a webhook delivery.
///
/// Deserialises from the wire through the generated
/// [`GetEventResponse`](deck_api::types::GetEventResponse) (and converts from it with `From`).
/// Deliveries are at-least-once and may arrive out of order: deduplicate on [`Event::id`] and
/// order by [`Event::created_at`].
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "types::GetEventResponse")]
#[non_exhaustive]
pub struct Event {
    /// Unique identifier, prefixed with `evt_`.
    pub id: String,
    /// Always `event` (absent in some deliveries).
    pub object: Option<String>,
    /// The event type (`storage.created`, `task_run.completed`, …).
    pub event_type: EventType,
    /// The summary of the resource that triggered the event, decoded by its resource.
    pub data: EventData,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// The request that returned the event (API responses; webhook bodies carry none).
    pub request_id: Option<String>,
    raw_data: Value,
}

impl Event {
    /// Decodes one event from JSON bytes (a webhook body, a queue message), with the crate's
    /// rules: a key given twice in one object is an error, and errors name the JSON path.
    pub fn from_json(bytes: &[u8]) -> Result<Event> {
        decode_json_with("event", bytes, Keys::All)
    }

    /// `data` exactly as sent (`null` when absent), whatever [`Event::data`] made of it.
    pub fn raw_data(&self) -> &Value {
        &self.raw_data
    }

    /// The storage item of a `storage.*` event, if its data decoded.
    pub fn storage_item(&self) -> Option<&StorageItem> {
        match &self.data {
            EventData::StorageItem(item) => Some(item),
            _ => None,
        }
    }

    /// The task run of a `task_run.*` event, if its data decoded.
    pub fn task_run(&self) -> Option<&types::GetTaskRunResponse> {
        match &self.data {
            EventData::TaskRun(run) => Some(run),
            _ => None,
        }
    }

    /// The task of a `task.*` event, if its data decoded.
    pub fn task(&self) -> Option<&types::GetTaskResponse> {
        match &self.data {
            EventData::Task(task) => Some(task),
            _ => None,
        }
    }
}

impl From<types::GetEventResponse> for Event {
    fn from(wire: types::GetEventResponse) -> Self {
        let event_type = EventType::from(wire.type_);
        let raw_data = wire.data.unwrap_or(Value::Null);
        let data = EventData::decode(&event_type, &raw_data);
        Event {
            id: wire.id,
            object: wire.object,
            event_type,
            data,
            created_at: wire.created_at,
            request_id: wire.request_id,
            raw_data,
        }
    }
}

/// An event's `data`, decoded by the resource its type names (the part before the dot).
///
/// Each typed variant holds the type the REST API returns for that resource; event summaries
/// lack some of its fields (`input`, `output`, a download `url`), which are then `None` or
/// empty. See the [module docs](self) for how `""` is read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventData {
    /// `storage.*`: the storage item (`file_size` exact, from an integer or a decimal string).
    StorageItem(Box<StorageItem>),
    /// `task_run.*`: the run as of the event.
    TaskRun(Box<types::GetTaskRunResponse>),
    /// `task.*`: the task as of the event.
    Task(Box<types::GetTaskResponse>),
    /// `agent.*`.
    Agent(Box<types::GetAgentResponse>),
    /// `source.*`.
    Source(Box<types::GetSourceResponse>),
    /// `credential.*` (summaries never carry a password).
    Credential(Box<types::GetCredentialResponse>),
    /// `session.*`.
    Session(Box<types::GetSessionResponse>),
    /// `event_destination.*` (without the webhook signing secret).
    EventDestination(Box<types::EventDestinationResponse>),
    /// A resource this crate does not know (`user.created`), kept as sent.
    Other(Value),
    /// A known resource whose data does not fit its REST type; [`Event::raw_data`] has it.
    Undecoded(DataError),
}

impl EventData {
    fn decode(event_type: &EventType, raw: &Value) -> Self {
        fn typed<T: DeserializeOwned>(
            raw: &Value,
            wrap: impl FnOnce(Box<T>) -> EventData,
        ) -> EventData {
            match decode_summary::<T>(raw) {
                Ok(value) => wrap(Box::new(value)),
                Err(error) => EventData::Undecoded(error),
            }
        }
        match event_type.resource() {
            "storage" => typed(raw, EventData::StorageItem),
            "task_run" => typed(raw, EventData::TaskRun),
            "task" => typed(raw, EventData::Task),
            "agent" => typed(raw, EventData::Agent),
            "source" => typed(raw, EventData::Source),
            "credential" => typed(raw, EventData::Credential),
            "session" => typed(raw, EventData::Session),
            "event_destination" => typed(raw, EventData::EventDestination),
            _ => EventData::Other(raw.clone()),
        }
    }
}

/// Why an event's data did not decode into its resource's type: where (a JSON path from the
/// event, `data.file_size`) and what. `Display` cuts both to one line of bounded length; the
/// fields keep the whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataError {
    /// The JSON path of the offending value, from the event (`data`, `data.file_size`).
    pub path: String,
    /// What was wrong with it.
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {}: {}",
            clip(&self.path, QUOTE_LIMIT),
            clip_message(&self.message)
        )
    }
}

impl std::error::Error for DataError {}

/// Decodes an event summary into `T`, reading top-level `""` as `null` where `T` accepts
/// `null` (see the module docs). At most one retry per blank field.
fn decode_summary<T: DeserializeOwned>(raw: &Value) -> std::result::Result<T, DataError> {
    let mut candidate = raw.clone();
    let mut blanked: Vec<String> = Vec::new();
    if let Value::Object(fields) = &mut candidate {
        for (key, value) in fields.iter_mut() {
            if value.as_str() == Some("") {
                *value = Value::Null;
                blanked.push(key.clone());
            }
        }
    }
    loop {
        let error = match serde_path_to_error::deserialize::<_, T>(&candidate) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let mut segments = error.path().iter();
        let top = match (segments.next(), segments.next()) {
            (Some(serde_path_to_error::Segment::Map { key }), None) => Some(key.as_str()),
            _ => None,
        };
        let restore = top.and_then(|key| blanked.iter().position(|b| b == key));
        match (restore, &mut candidate) {
            (Some(at), Value::Object(fields)) => {
                let key = blanked.swap_remove(at);
                fields.insert(key, Value::String(String::new()));
            }
            _ => {
                let inner = error.path().to_string();
                let path = if inner.is_empty() || inner == "." {
                    "data".to_owned()
                } else {
                    format!("data.{inner}")
                };
                return Err(DataError {
                    path,
                    message: error.into_inner().to_string(),
                });
            }
        }
    }
}

macro_rules! event_types {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// An event type: the documented ones by name, and any other Deck adds.
        ///
        /// Build one from Deck's spelling with `From<String>`, `From<&str>` or `parse`, never
        /// `Other("storage.created")` by hand (that would not equal
        /// [`EventType::StorageCreated`]). Serialises as the string.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventType {
            $( $(#[$doc])* $variant, )*
            /// Any other type, kept as sent.
            Other(String),
        }

        impl EventType {
            /// Every type this crate knows by name, in the events reference's order.
            pub const KNOWN: &'static [EventType] = &[$( EventType::$variant, )*];

            /// The type as Deck spells it (`task_run.completed`).
            pub fn as_str(&self) -> &str {
                match self {
                    $( EventType::$variant => $name, )*
                    EventType::Other(other) => other,
                }
            }

            fn known(name: &str) -> Option<EventType> {
                match name {
                    $( $name => Some(EventType::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    /// `agent.created`.
    AgentCreated = "agent.created",
    /// `agent.updated`.
    AgentUpdated = "agent.updated",
    /// `agent.deleted`.
    AgentDeleted = "agent.deleted",
    /// `source.created`.
    SourceCreated = "source.created",
    /// `source.updated`.
    SourceUpdated = "source.updated",
    /// `source.deleted`.
    SourceDeleted = "source.deleted",
    /// `credential.created`.
    CredentialCreated = "credential.created",
    /// `credential.unverified`.
    CredentialUnverified = "credential.unverified",
    /// `credential.verified`.
    CredentialVerified = "credential.verified",
    /// `credential.invalid`.
    CredentialInvalid = "credential.invalid",
    /// `credential.deleted`.
    CredentialDeleted = "credential.deleted",
    /// `session.queued`.
    SessionQueued = "session.queued",
    /// `session.running`.
    SessionRunning = "session.running",
    /// `session.idle`.
    SessionIdle = "session.idle",
    /// `session.completing`.
    SessionCompleting = "session.completing",
    /// `session.completed`.
    SessionCompleted = "session.completed",
    /// `session.failed`.
    SessionFailed = "session.failed",
    /// `task.created`.
    TaskCreated = "task.created",
    /// `task.updated`.
    TaskUpdated = "task.updated",
    /// `task.reset`: the task is back to learning, its cached plan invalidated.
    TaskReset = "task.reset",
    /// `task.deleted`.
    TaskDeleted = "task.deleted",
    /// `task_run.queued`.
    TaskRunQueued = "task_run.queued",
    /// `task_run.running`.
    TaskRunRunning = "task_run.running",
    /// `task_run.interaction_required`: the run waits for input (MFA code, …).
    TaskRunInteractionRequired = "task_run.interaction_required",
    /// `task_run.review_required`: the run waits for approval.
    TaskRunReviewRequired = "task_run.review_required",
    /// `task_run.completed`.
    TaskRunCompleted = "task_run.completed",
    /// `task_run.failed`.
    TaskRunFailed = "task_run.failed",
    /// `task_run.canceling` (one L in the event name).
    TaskRunCanceling = "task_run.canceling",
    /// `task_run.canceled`.
    TaskRunCanceled = "task_run.canceled",
    /// `storage.created`: a file was captured and is ready for download.
    StorageCreated = "storage.created",
    /// `storage.deleted`: a storage item was permanently removed.
    StorageDeleted = "storage.deleted",
    /// `event_destination.activated`.
    EventDestinationActivated = "event_destination.activated",
    /// `event_destination.deactivated`: deliveries kept failing, the destination is inactive.
    EventDestinationDeactivated = "event_destination.deactivated",
    /// `user.created`.
    UserCreated = "user.created",
}

impl EventType {
    /// The resource the type is about: the part before the first dot (`task_run` for
    /// `task_run.completed`; the whole string when there is no dot).
    pub fn resource(&self) -> &str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(resource, _)| resource)
    }

    /// Whether this crate knows the type by name.
    pub fn is_known(&self) -> bool {
        !matches!(self, EventType::Other(_))
    }
}

impl From<String> for EventType {
    fn from(name: String) -> Self {
        EventType::known(&name).unwrap_or(EventType::Other(name))
    }
}

impl From<&str> for EventType {
    fn from(name: &str) -> Self {
        EventType::known(name).unwrap_or_else(|| EventType::Other(name.to_owned()))
    }
}

impl std::str::FromStr for EventType {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> std::result::Result<Self, Self::Err> {
        Ok(EventType::from(name))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(EventType::from)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(event_type: &str, data: Value) -> Event {
        let body = json!({
            "id": "evt_1",
            "object": "event",
            "type": event_type,
            "data": data,
            "created_at": "2025-01-15T09:31:15Z",
        });
        Event::from_json(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn types_round_trip_and_unknown_ones_are_kept() {
        for known in EventType::KNOWN {
            assert_eq!(&EventType::from(known.as_str()), known);
            assert!(known.is_known());
        }
        let new: EventType = "task_run.archived".parse().unwrap();
        assert_eq!(new, EventType::Other("task_run.archived".into()));
        assert_eq!(new.resource(), "task_run");
        assert_eq!(EventType::Other("ping".into()).resource(), "ping");
        assert_eq!(
            serde_json::to_value(EventType::TaskRunCanceling).unwrap(),
            json!("task_run.canceling")
        );
        assert_eq!(EventType::StorageCreated.to_string(), "storage.created");
    }

    #[test]
    fn the_documented_webhook_example_decodes_with_blank_fields_as_none() {
        // https://docs.deck.co/events/events.md, with the empty fields Deck sends as "".
        let e = event(
            "task_run.completed",
            json!({
                "id": "trun_a1b2c3d4", "object": "task_run", "status": "completed",
                "result": "success", "task_id": "task_a1b2c3d4", "credential_id": "",
                "agent_id": "agt_a1b2c3d4", "source_id": "src_a1b2c3d4", "workflow_id": "",
                "runtime_ms": 12453, "canceled_at": "", "errors": "",
                "created_at": "2025-01-15T09:30:00Z", "updated_at": "2025-01-15T09:31:15Z"
            }),
        );
        assert_eq!(e.event_type, EventType::TaskRunCompleted);
        let run = e.task_run().expect("typed run");
        assert_eq!(run.id, "trun_a1b2c3d4");
        assert_eq!(run.runtime_ms, Some(12_453));
        assert_eq!(run.credential_id, None);
        assert_eq!(run.workflow_id, None);
        assert_eq!(run.canceled_at, None);
        assert!(run.errors.is_none());
        // The raw data is untouched.
        assert_eq!(e.raw_data()["workflow_id"], "");
        assert_eq!(e.created_at.to_rfc3339(), "2025-01-15T09:31:15+00:00");
    }

    #[test]
    fn blanks_stay_where_null_is_refused_and_nested_values_are_never_rewritten() {
        let e = event(
            "storage.created",
            json!({
                "id": "stor_1", "object": "storage_item", "file_name": "", "file_type": "",
                "file_size": "9007199254740993", "url": "", "fetch_date": "",
                "extraction": { "account": "" }, "task_run_id": "trun_1",
                "created_at": "2025-01-15T09:31:15Z"
            }),
        );
        let item = e.storage_item().expect("typed item");
        assert_eq!(item.file_size, 9_007_199_254_740_993);
        assert_eq!(item.file_name, "");
        assert!(item.url.is_none());
        assert!(item.fetch_date.is_none());
        assert_eq!(item.extraction, Some(json!({ "account": "" })));
    }

    #[test]
    fn data_that_does_not_fit_is_kept_raw_with_its_path() {
        let data = json!({
            "id": "stor_1", "file_name": "a.pdf", "file_size": "12kb",
            "created_at": "2025-01-15T09:31:15Z"
        });
        let e = event("storage.created", data.clone());
        let EventData::Undecoded(error) = &e.data else {
            panic!("{:?}", e.data)
        };
        assert_eq!(error.path, "data.file_size");
        assert!(error.message.contains("\"12kb\""), "{error}");
        assert_eq!(e.raw_data(), &data);
        assert!(e.storage_item().is_none());
        assert_eq!(
            error.to_string(),
            "event data.file_size: file_size \"12kb\" is not a non-negative decimal integer"
        );

        // A hostile value is kept whole but never printed whole.
        let long = "9".repeat(10_000) + "x";
        let e = event(
            "storage.created",
            json!({ "id": "s", "file_name": "a", "file_size": long, "created_at": "2025-01-15T09:31:15Z" }),
        );
        let EventData::Undecoded(error) = &e.data else {
            panic!("{:?}", e.data)
        };
        assert!(error.message.len() > 10_000);
        assert!(error.to_string().chars().count() < 400, "{error}");

        // A blank size is not a size either.
        let e = event(
            "storage.deleted",
            json!({ "id": "s", "file_name": "a", "file_size": "", "created_at": "2025-01-15T09:31:15Z" }),
        );
        assert!(matches!(&e.data, EventData::Undecoded(err) if err.path == "data.file_size"));

        // A summary without a field the REST type requires.
        let e = event("task.updated", json!({ "id": "task_1", "object": "task" }));
        assert!(
            matches!(&e.data, EventData::Undecoded(err) if err.path == "data"),
            "{:?}",
            e.data
        );
        let e = event("task_run.running", json!("trun_1"));
        assert!(matches!(&e.data, EventData::Undecoded(_)));
    }

    #[test]
    fn unknown_resources_keep_raw_data_and_new_actions_of_known_ones_are_typed() {
        let e = event("user.created", json!({ "id": "usr_1", "email": "" }));
        assert_eq!(e.event_type, EventType::UserCreated);
        assert!(matches!(&e.data, EventData::Other(v) if v["email"] == ""));
        let e = event("billing.charged", json!({ "amount": 5 }));
        assert_eq!(e.event_type, EventType::Other("billing.charged".into()));
        assert!(matches!(&e.data, EventData::Other(v) if v["amount"] == 5));
        let e = event(
            "task_run.archived",
            json!({ "id": "trun_1", "object": "task_run", "status": "archived", "created_at": "2025-01-15T09:31:15Z" }),
        );
        assert_eq!(e.task_run().map(|r| r.id.as_str()), Some("trun_1"));
    }

    #[test]
    fn the_envelope_is_the_generated_wire() {
        let missing = br#"{"id":"evt_1","type":"storage.created","data":{}}"#;
        let err = Event::from_json(missing).unwrap_err();
        assert!(err.to_string().contains("created_at"), "{err}");
        let twice =
            br#"{"id":"evt_1","id":"evt_2","type":"x","created_at":"2025-01-15T09:31:15Z"}"#;
        assert!(
            Event::from_json(twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let bare = br#"{"id":"evt_1","type":"x.y","created_at":"2025-01-15T09:31:15Z","request_id":"req_1"}"#;
        let e = Event::from_json(bare).unwrap();
        assert_eq!(e.raw_data(), &Value::Null);
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
        assert!(matches!(e.data, EventData::Other(Value::Null)));
    }
}
