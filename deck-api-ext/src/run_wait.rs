//! Starting a task run and waiting for one: [`Deck::run_task`], [`Deck::wait_for_run`],
//! [`RunOutcome`]. Many runs at once: [`RunWatch`](crate::run_watch::RunWatch).
//!
//! ```no_run
//! # async fn demo(deck: deck_api_ext::Deck) -> deck_api_ext::Result<()> {
//! use deck_api_ext::prelude::*;
//! use deck_api_ext::run_wait::RunOutcome;
//!
//! // POST /tasks/{task_id}/run: the generated builder, pre-filled with the task id.
//! let run = deck
//!     .run_task("task_statements")
//!     .body_map(|body| {
//!         body.credential_id("cred_1".to_owned())
//!             .input(serde_json::json!({"month": "2025-01"}))
//!     })
//!     .call()
//!     .await?;
//! match deck.wait_for_run(&run.id).include_storage().await? {
//!     RunOutcome::Finished(run) => println!("{}: {:?}, {} files", run.id, run.result, run.storage.len()),
//!     RunOutcome::NeedsInput(run) => println!("{} asks: {:?}", run.id, run.interaction),
//!     RunOutcome::NeedsReview(run) => println!("{} waits for a review in the Deck console", run.id),
//! }
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! * **Starting is idempotent.** [`Deck::run_task`] returns the generated `RunTask` builder;
//!   its `.call()` sends one `Idempotency-Key` per call, reused by every retry, so a retried
//!   request never starts a second run. Set `.idempotency_key(..)` for a key that also survives
//!   a restart of your process.
//! * **Waiting polls `getTaskRun`** (with `include=storage` when asked) with backoff: before
//!   poll *n* it sleeps a random time in `[c/2, c]` with `c = min(max, first × 2^(n-1))`
//!   (defaults: [`DEFAULT_FIRST_POLL`] doubling up to [`DEFAULT_MAX_POLL`]), so a run is seen at
//!   most one ceiling after it changed and one waiter sends at most one request per half
//!   ceiling.
//! * **It ends** on a terminal status (`completed`, `failed`, `canceled`) with
//!   [`RunOutcome::Finished`], on `interaction_required` with [`RunOutcome::NeedsInput`] (submit
//!   the input with `submit_task_run_interaction`, then wait again) and on `review_required`
//!   with [`RunOutcome::NeedsReview`] (a person approves the run in Deck; no approval endpoint
//!   is documented, so returning is the only way not to hang). `queued`, `running`,
//!   `canceling`/`cancelling` and statuses this client does not know keep it polling.
//! * **It is bounded** by a deadline ([`DEFAULT_WAIT_TIMEOUT`], [`RunWait::timeout`]): then it
//!   fails with an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error naming the run
//!   ([`Error::run_id`]) and the last status seen. A poll that fails with a retryable error
//!   (after the client's own retries) is tolerated until the deadline, which then quotes it; any
//!   other failure ends the wait at once, with the run id.
//! * **It is cancellation-safe**: it holds no state but its own; dropping the future stops it.
//!   Sleeps use `tokio::time`, so tests run it in paused time.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use deck_api::operation::Operation;
use deck_api::types::GetTaskRunResponse;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::call::CallExt;
use crate::client::Deck;
use crate::error::{Error, Result};
use crate::run_status::{RunPhase, RunStatusExt};
use crate::storage::StorageItem;

/// The default deadline of a wait: one hour (Deck's default task timeout is 30 minutes, and a
/// run may queue first).
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(3600);

/// The default ceiling of the first poll's wait.
pub const DEFAULT_FIRST_POLL: Duration = Duration::from_secs(1);

/// The default cap of the poll ceiling: a run is seen at most this long after it changed.
pub const DEFAULT_MAX_POLL: Duration = Duration::from_secs(5);

/// The operation a wait polls.
pub(crate) const GET_TASK_RUN: &str =
    <deck_api::builder::GetTaskRun<'static> as Operation<'static>>::OPERATION_ID;

/// How a wait for one run ended: the run as last fetched, in a status that ends waiting.
#[derive(Debug, Clone)]
pub enum RunOutcome {
    /// `completed`, `failed` or `canceled`: the run is over (`result`, `output`, `errors` and,
    /// when asked, `storage` say how).
    Finished(GetTaskRunResponse),
    /// `interaction_required`: the run is paused until its `interaction` is answered with
    /// `submit_task_run_interaction`; wait again after submitting.
    NeedsInput(GetTaskRunResponse),
    /// `review_required`: the run is paused until a person approves it (Deck documents no
    /// approval endpoint); wait again afterwards if you need its end.
    NeedsReview(GetTaskRunResponse),
}

impl RunOutcome {
    /// The outcome for `run` when its status ends a wait, else the (active or unknown) phase it
    /// is in (`run` is dropped).
    pub(crate) fn of(run: GetTaskRunResponse) -> std::result::Result<RunOutcome, RunPhase> {
        match run.status.phase() {
            RunPhase::Terminal => Ok(RunOutcome::Finished(run)),
            RunPhase::NeedsInput => Ok(RunOutcome::NeedsInput(run)),
            RunPhase::NeedsReview => Ok(RunOutcome::NeedsReview(run)),
            phase => Err(phase),
        }
    }

    /// The run.
    pub fn run(&self) -> &GetTaskRunResponse {
        match self {
            RunOutcome::Finished(run)
            | RunOutcome::NeedsInput(run)
            | RunOutcome::NeedsReview(run) => run,
        }
    }

    /// The run, owned.
    pub fn into_run(self) -> GetTaskRunResponse {
        match self {
            RunOutcome::Finished(run)
            | RunOutcome::NeedsInput(run)
            | RunOutcome::NeedsReview(run) => run,
        }
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run().id
    }

    /// Whether the run is over ([`Finished`](Self::Finished)).
    pub fn is_finished(&self) -> bool {
        matches!(self, RunOutcome::Finished(_))
    }

    /// The run's storage items as this crate's [`StorageItem`] (present when the wait asked for
    /// them with `include_storage`), e.g. to decode extractions with
    /// [`StorageItem::extraction_as`]. To download them, [`Deck::pull_run`] with
    /// [`run_id`](Self::run_id) lists them afresh with download URLs. Fails (a decode error naming
    /// the item) for a negative `file_size`.
    pub fn storage_items(&self) -> Result<Vec<StorageItem>> {
        self.run()
            .storage
            .iter()
            .cloned()
            .map(StorageItem::try_from)
            .collect()
    }
}

impl Deck {
    /// Starts task `task_id` (`POST /tasks/{task_id}/run`): the generated `RunTask` builder with
    /// the task id set and an empty body. Add `credential_id`, `source_id`, `session_id` and
    /// `input` with `.body_map(|b| ..)` (or a whole `RunTaskRequest` with `.body(..)`), then
    /// `.call().await?` returns the new run (`queued`). The call is idempotent: one generated
    /// `Idempotency-Key` per call, reused by its retries (or `.idempotency_key(..)` for your own).
    /// Wait for the run with [`wait_for_run`](Self::wait_for_run), many runs with
    /// [`watch_runs`](Self::watch_runs).
    pub fn run_task(&self, task_id: &str) -> deck_api::builder::RunTask<'_> {
        self.api().run_task().task_id(task_id)
    }

    /// Waits until task run `run_id` finishes or pauses for the caller; see the
    /// [module docs](crate::run_wait) for the polling, the outcomes and the deadline. Awaiting the
    /// returned [`RunWait`] gives the [`RunOutcome`].
    pub fn wait_for_run(&self, run_id: &str) -> RunWait {
        RunWait {
            deck: self.clone(),
            run_id: run_id.to_owned(),
            include_storage: false,
            timeout: DEFAULT_WAIT_TIMEOUT,
            backoff: Backoff::new(DEFAULT_FIRST_POLL, DEFAULT_MAX_POLL),
            on_poll: None,
        }
    }
}

/// What [`RunWait::on_poll`] calls.
#[derive(Clone)]
struct OnPoll(Arc<dyn Fn(&GetTaskRunResponse) + Send + Sync>);

impl std::fmt::Debug for OnPoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnPoll")
    }
}

/// A wait for one task run, from [`Deck::wait_for_run`]; await it for the [`RunOutcome`].
#[must_use = "a wait does nothing until awaited"]
#[derive(Debug, Clone)]
pub struct RunWait {
    deck: Deck,
    run_id: String,
    include_storage: bool,
    timeout: Duration,
    backoff: Backoff,
    on_poll: Option<OnPoll>,
}

impl RunWait {
    /// Calls `observe` with the run every time a poll fetched it, the last one included, before
    /// the wait decides whether to go on: e.g. to report each status change as it is seen.
    pub fn on_poll(
        mut self,
        observe: impl Fn(&GetTaskRunResponse) + Send + Sync + 'static,
    ) -> Self {
        self.on_poll = Some(OnPoll(Arc::new(observe)));
        self
    }

    /// Fetch the run with `include=storage`, so the outcome carries its storage items
    /// ([`RunOutcome::storage_items`]).
    pub fn include_storage(mut self) -> Self {
        self.include_storage = true;
        self
    }

    /// The deadline of the whole wait (default [`DEFAULT_WAIT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The poll schedule: the first wait's ceiling `first`, doubling up to `max` (defaults
    /// [`DEFAULT_FIRST_POLL`], [`DEFAULT_MAX_POLL`]). Each wait is random in
    /// `[ceiling / 2, ceiling]`. A zero `first` is taken as 1 ms, a `max` below `first` as
    /// `first`.
    pub fn poll_interval(mut self, first: Duration, max: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        self.backoff = Backoff {
            jitter: self.backoff.jitter,
            ..Backoff::new(first, max.max(first))
        };
        self
    }

    /// The random source of the poll waits, uniform in `[0, 1)` (default `fastrand`); a
    /// constant makes the schedule deterministic in tests.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.backoff.jitter = Arc::new(jitter);
        self
    }

    async fn run(self) -> Result<RunOutcome> {
        let started = Instant::now();
        let deadline = deadline_after(started, self.timeout);
        let mut last_status: Option<String> = None;
        let mut last_error: Option<Error> = None;
        let mut poll: u32 = 0;
        loop {
            let fetched = fetch_run(&self.deck, &self.run_id, self.include_storage);
            match tokio::time::timeout_at(deadline, fetched).await {
                Err(_) => break,
                Ok(Ok(run)) => {
                    last_error = None;
                    if let Some(OnPoll(observe)) = &self.on_poll {
                        observe(&run);
                    }
                    let status = run.status.name().into_owned();
                    match RunOutcome::of(run) {
                        Ok(outcome) => return Ok(outcome),
                        Err(phase) => {
                            tracing::debug!(run_id = %self.run_id, status = %status, ?phase, "run still active");
                            last_status = Some(status);
                        }
                    }
                }
                Ok(Err(error)) if error.is_retryable() => last_error = Some(error),
                Ok(Err(error)) => return Err(error),
            }
            poll = poll.saturating_add(1);
            let next = Instant::now()
                .checked_add(self.backoff.poll_delay(poll))
                .unwrap_or(deadline);
            if next >= deadline {
                tokio::time::sleep_until(deadline).await;
                break;
            }
            tokio::time::sleep_until(next).await;
        }
        Err(Error::run_deadline(
            GET_TASK_RUN,
            &self.run_id,
            self.timeout,
            last_status.as_deref(),
            last_error,
        ))
    }
}

impl IntoFuture for RunWait {
    type Output = Result<RunOutcome>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<RunOutcome>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// `start + timeout`, or a century on when that overflows the clock.
pub(crate) fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .or_else(|| start.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(start)
}

/// One `getTaskRun` for `run_id` through the generated builder; the answer must be about that
/// run. Errors carry the run id.
pub(crate) async fn fetch_run(
    deck: &Deck,
    run_id: &str,
    include_storage: bool,
) -> Result<GetTaskRunResponse> {
    let mut request = deck.api().get_task_run().run_id(run_id);
    if include_storage {
        request = request.include("storage");
    }
    let run = request.call().await.map_err(|e| e.with_run_id(run_id))?;
    if run.id != run_id {
        return Err(Error::decode(
            GET_TASK_RUN,
            "id".to_owned(),
            format!(
                "the response is about task run \"{}\", not the one requested",
                crate::error::clip(&run.id, crate::error::QUOTE_LIMIT)
            ),
            None,
        )
        .with_run_id(run_id));
    }
    Ok(run)
}
