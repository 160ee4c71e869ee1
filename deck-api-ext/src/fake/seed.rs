//! Seeding from code: task runs with their storage items, and tasks.

use super::clock::{BASE_INSTANT, rfc3339};
use super::content::Content;
use super::lifecycle::RunPlan;
use serde_json::Value;
use std::fmt;

/// One storage item of a seeded task run.
///
/// Defaults follow the Storage guide's example: `object: "storage_item"`, `metadata: {}`,
/// `extraction: null`, `purpose: "output"`, `result: "success"`, `file_size` as a JSON integer
/// equal to the content's length, and `created_at`/`fetch_date` a fixed instant that advances
/// five seconds per item (`2025-01-15T09:30:00Z`, `…09:30:05Z`, …).
#[derive(Clone, Debug)]
pub struct ItemSeed {
    pub(crate) id: Option<String>,
    pub(crate) file_name: String,
    pub(crate) file_type: String,
    pub(crate) content: Content,
    pub(crate) object: String,
    pub(crate) metadata: Value,
    pub(crate) extraction: Value,
    pub(crate) purpose: Option<String>,
    pub(crate) result: Option<String>,
    pub(crate) file_size_as_string: bool,
    pub(crate) declared_file_size: Option<i64>,
    pub(crate) created_at: Option<String>,
    pub(crate) fetch_date: Option<String>,
    pub(crate) has_url: bool,
}

impl ItemSeed {
    /// An item named `file_name` of MIME type `file_type` holding `content`.
    pub fn new(
        file_name: impl Into<String>,
        file_type: impl Into<String>,
        content: impl Into<Content>,
    ) -> Self {
        Self {
            id: None,
            file_name: file_name.into(),
            file_type: file_type.into(),
            content: content.into(),
            object: "storage_item".to_owned(),
            metadata: Value::Object(Default::default()),
            extraction: Value::Null,
            purpose: Some("output".to_owned()),
            result: Some("success".to_owned()),
            file_size_as_string: false,
            declared_file_size: None,
            created_at: None,
            fetch_date: None,
            has_url: true,
        }
    }

    /// Uses this storage item ID instead of the derived `stor_<run>_<n>`.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The `object` field: `storage_item` (guide, the default) or `storage` (API reference).
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = object.into();
        self
    }

    /// The `metadata` field (`Value::Null` renders `null`).
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The `extraction` field: the structured data extracted from the file.
    pub fn extraction(mut self, extraction: Value) -> Self {
        self.extraction = extraction;
        self
    }

    /// The `purpose` field (`attachment`, `extraction`, `output`, or any new value).
    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self
    }

    /// Omits `purpose`, as the Storage guide's example does.
    pub fn without_purpose(mut self) -> Self {
        self.purpose = None;
        self
    }

    /// The `result` field. `"failure"` also sets `extraction` to `null`: a failed extraction
    /// has no data.
    pub fn result(mut self, result: impl Into<String>) -> Self {
        let result = result.into();
        if result == "failure" {
            self.extraction = Value::Null;
        }
        self.result = Some(result);
        self
    }

    /// Omits `result`, as the Storage guide's example does.
    pub fn without_result(mut self) -> Self {
        self.result = None;
        self
    }

    /// Renders `file_size` as a decimal string (`"245678"`), which the spec allows.
    pub fn file_size_as_string(mut self) -> Self {
        self.file_size_as_string = true;
        self
    }

    /// Declares a `file_size` different from the served content's length, to test clients that
    /// check downloads against it.
    pub fn declared_file_size(mut self, size: i64) -> Self {
        self.declared_file_size = Some(size);
        self
    }

    /// The `created_at` field, verbatim (RFC 3339 expected by clients).
    pub fn created_at(mut self, created_at: impl Into<String>) -> Self {
        self.created_at = Some(created_at.into());
        self
    }

    /// The `fetch_date` field, verbatim; defaults to `created_at`.
    pub fn fetch_date(mut self, fetch_date: impl Into<String>) -> Self {
        self.fetch_date = Some(fetch_date.into());
        self
    }

    /// Renders `url: null` in every response for this item (the spec allows it), so clients
    /// must cope with an item they cannot download. The storage origin still serves the file to
    /// a URL from [`FakeDeck::signed_url`](super::FakeDeck::signed_url).
    pub fn without_url(mut self) -> Self {
        self.has_url = false;
        self
    }

    /// The `file_size` value this item reports.
    pub(crate) fn file_size(&self) -> i64 {
        self.declared_file_size
            .unwrap_or_else(|| i64::try_from(self.content.len()).unwrap_or(i64::MAX))
    }
}

/// A task run to seed, with its storage items in listing order.
///
/// Defaults: `status: "completed"`, `result: "success"`, `task_id: "task_<run>"`,
/// `agent_id: "agt_fake"`, `created_at: 2025-01-15T09:30:00Z`, no input, output or errors.
///
/// ```
/// use deck_api_ext::fake::{Content, ItemSeed, RunSeed};
/// use serde_json::json;
///
/// let run = RunSeed::new("trun_invoices")
///     .task_id("task_invoices")
///     .item(
///         ItemSeed::new("invoice.pdf", "application/pdf", Content::bytes("%PDF-1.7 ..."))
///             .extraction(json!({ "total": 12.5 })),
///     )
///     .item(
///         ItemSeed::new("scan.png", "image/png", Content::generated(4096, 1))
///             .file_size_as_string(),
///     )
///     .item(ItemSeed::new("broken.pdf", "application/pdf", "%PDF-").result("failure"));
/// assert_eq!(run.run_id(), "trun_invoices");
/// ```
#[derive(Clone, Debug)]
pub struct RunSeed {
    pub(crate) id: String,
    pub(crate) task_id: Option<String>,
    pub(crate) agent_id: String,
    pub(crate) status: String,
    pub(crate) result: Option<String>,
    pub(crate) input: Option<Value>,
    pub(crate) output: Option<Value>,
    pub(crate) errors: Vec<Value>,
    pub(crate) created_at: String,
    pub(crate) items: Vec<ItemSeed>,
}

impl RunSeed {
    /// A run with ID `id` (Deck prefixes run IDs with `trun_`).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            task_id: None,
            agent_id: "agt_fake".to_owned(),
            status: "completed".to_owned(),
            result: Some("success".to_owned()),
            input: None,
            output: None,
            errors: Vec::new(),
            created_at: rfc3339(BASE_INSTANT),
            items: Vec::new(),
        }
    }

    /// The task this run executed.
    pub fn task_id(mut self, task_id: impl Into<String>) -> Self {
        self.task_id = Some(task_id.into());
        self
    }

    /// The agent that executed this run.
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = agent_id.into();
        self
    }

    /// The run status (`completed`, `failed`, `running`, … or any new value).
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = status.into();
        self
    }

    /// The run result (`success`, `failure`, `unknown`); `None` renders `null`.
    pub fn result(mut self, result: Option<&str>) -> Self {
        self.result = result.map(str::to_owned);
        self
    }

    /// The run's input, returned with `include=input`.
    pub fn input(mut self, input: Value) -> Self {
        self.input = Some(input);
        self
    }

    /// The run's output.
    pub fn output(mut self, output: Value) -> Self {
        self.output = Some(output);
        self
    }

    /// Adds an entry to the run's `errors` (same shape as API errors).
    pub fn error(
        mut self,
        error_type: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        self.errors.push(serde_json::json!({
            "type": error_type.into(),
            "code": code.into(),
            "message": message.into(),
        }));
        self
    }

    /// The run's `created_at`, verbatim.
    pub fn created_at(mut self, created_at: impl Into<String>) -> Self {
        self.created_at = created_at.into();
        self
    }

    /// Appends one storage item.
    pub fn item(mut self, item: ItemSeed) -> Self {
        self.items.push(item);
        self
    }

    /// Appends storage items.
    pub fn items(mut self, items: impl IntoIterator<Item = ItemSeed>) -> Self {
        self.items.extend(items);
        self
    }

    /// The run ID.
    pub fn run_id(&self) -> &str {
        &self.id
    }
}

/// A task to seed (tasks can also be created through `POST /v2/tasks`).
///
/// Defaults: `status: "live"`, `agent_id: "agt_fake"`, no prompt or schemas, `storage: null`,
/// `extraction: false`, and runs that follow [`RunPlan::new`].
#[derive(Clone, Debug)]
pub struct TaskSeed {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) agent_id: String,
    pub(crate) status: String,
    pub(crate) prompt: Option<String>,
    pub(crate) input_schema: Value,
    pub(crate) output_schema: Value,
    pub(crate) storage: Option<Value>,
    pub(crate) extraction: bool,
    pub(crate) plan: RunPlan,
}

impl TaskSeed {
    /// A task with ID `id` (Deck prefixes task IDs with `task_`) and display name `name`.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            agent_id: "agt_fake".to_owned(),
            status: "live".to_owned(),
            prompt: None,
            input_schema: Value::Null,
            output_schema: Value::Null,
            storage: None,
            extraction: false,
            plan: RunPlan::new(),
        }
    }

    /// How every run of this task lives (`POST /v2/tasks/{task_id}/run`); default
    /// [`RunPlan::new`].
    pub fn run_plan(mut self, plan: RunPlan) -> Self {
        self.plan = plan;
        self
    }

    /// The agent the task belongs to.
    pub fn agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = agent_id.into();
        self
    }

    /// The task status (`learning`, `test`, `live`, or any new value).
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = status.into();
        self
    }

    /// Instructions for the agent.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// JSON Schema for run input.
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.input_schema = schema;
        self
    }

    /// JSON Schema for run output.
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = schema;
        self
    }

    /// The storage configuration object (`{enabled, extraction, extraction_schema,
    /// deduplication}`); missing keys are filled with their defaults when rendered.
    pub fn storage(mut self, storage: Value) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The top-level `extraction` flag.
    pub fn extraction(mut self, extraction: bool) -> Self {
        self.extraction = extraction;
        self
    }
}

/// The IDs a seeded run received.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeededRun {
    /// The run ID.
    pub run_id: String,
    /// The storage item IDs, in listing order.
    pub item_ids: Vec<String>,
}

/// Why seeding was refused. Nothing is stored when seeding fails.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedError {
    /// A task run with this ID already exists.
    DuplicateRun(String),
    /// A storage item with this ID already exists (or appears twice in the seed).
    DuplicateItem(String),
    /// A task with this ID already exists.
    DuplicateTask(String),
    /// An ID is empty or contains `/`, `?` or `#`, so it cannot appear in a URL path segment
    /// the way Deck's IDs do.
    InvalidId(String),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateRun(id) => write!(f, "fake Deck: task run `{id}` is already seeded"),
            Self::DuplicateItem(id) => {
                write!(f, "fake Deck: storage item `{id}` is already seeded")
            }
            Self::DuplicateTask(id) => write!(f, "fake Deck: task `{id}` is already seeded"),
            Self::InvalidId(id) => write!(
                f,
                "fake Deck: `{id}` cannot be used as an ID (empty, or contains `/`, `?` or `#`)"
            ),
        }
    }
}

impl std::error::Error for SeedError {}

/// Whether `id` can be used as a resource ID in a URL path segment.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '?', '#'])
}
