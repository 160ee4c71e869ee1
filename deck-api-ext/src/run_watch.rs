//! Waiting for many task runs at once without multiplying requests: [`RunWatch`].
//!
//! Polling every run costs one request per run per interval: 100 runs polled once a second
//! would send 1 000 requests per 10 s, five times Deck's limit of 200 per 10 s per
//! organization. A [`RunWatch`] instead reads **one feed** for all the runs it watches, so its
//! request rate stays flat as the number of runs grows, and confirms each finish with exactly one
//! `getTaskRun`.
//!
//! ```no_run
//! # async fn demo(deck: deck_api_ext::Deck, runs: Vec<deck_api_ext::api::types::GetTaskRunResponse>)
//! # -> deck_api_ext::Result<()> {
//! use deck_api_ext::run_wait::RunOutcome;
//!
//! let mut watch = deck.watch_runs().include_storage().with_runs(&runs);
//! while let Some(outcome) = watch.next().await {
//!     match outcome {
//!         Ok(RunOutcome::Finished(run)) => println!("{} {:?}", run.id, run.status),
//!         Ok(RunOutcome::NeedsInput(run)) => println!("{} asks {:?}", run.id, run.interaction),
//!         Ok(RunOutcome::NeedsReview(run)) => println!("{} waits for a review", run.id),
//!         Err(error) => eprintln!("{:?}: {error}", error.run_id()),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # The feed, and what it assumes
//!
//! Every round ([`DEFAULT_WATCH_INTERVAL`], [`RunWatch::interval`]) lists `GET /events` with
//! `type` = `task_run.completed`, `task_run.failed`, `task_run.canceled`,
//! `task_run.interaction_required`, `task_run.review_required` and `created_after` = a low-water
//! mark minus an overlap window ([`DEFAULT_OVERLAP`], [`RunWatch::overlap`]), **every page**,
//! through the generated `list_events()` and `.paginate()`. An event whose `data.id` is a watched
//! run makes that run due for one `getTaskRun` (with `include=storage` when asked); the watch
//! reports the run when that confirmation shows a status that ends waiting (as
//! [`Deck::wait_for_run`](crate::Deck::wait_for_run) does), and keeps watching it otherwise (an
//! `interaction_required` event of a run someone has answered since, for instance).
//!
//! * **The low-water mark** starts at the earliest watched run's `created_at` (its `updated_at`
//!   when a run is added in a later state, e.g. after submitting its interaction; the
//!   confirmation's `created_at` for a run added by id), so no transition of a watched run can
//!   fall before it. After a round that read every page, it moves to the newest event's
//!   `created_at` seen (never backwards, except when an older run is added). Timestamps are
//!   always Deck's own, never this machine's clock.
//! * **Ordering is not documented**, so nothing relies on it: the round reads every page, and
//!   the cursor is used only within that round, never stored (the next round starts afresh from
//!   the mark).
//! * **The overlap window** re-reads events up to the overlap before the mark, for events that
//!   become visible late or were stamped by a clock behind the others. Re-read events are
//!   de-duplicated by id: the ids of events about watched runs are remembered until they fall
//!   out of the window, at most [`MAX_REMEMBERED_EVENTS`].
//! * **Cost**: one `listEvents` per round when the window holds at most 100 matching events (a
//!   page), plus one `getTaskRun` per finish, plus one per sweep (below). The feed holds the
//!   whole organization's run events, so a busy organization means more pages per round, but
//!   never more requests per watched run.
//! * **Sweep**: every [`DEFAULT_SWEEP_INTERVAL`] ([`RunWatch::sweep_interval`]) the run checked
//!   least recently gets one `getTaskRun` anyway, so a finish whose event never shows up (an
//!   event type this client does not know, a lost event) is still seen, slowly, at a flat cost.
//! * **Fallback**: when the feed answers with an error that retrying cannot fix (403 or 404 when
//!   the plan or key has no events, 400, an undecodable page), the watch switches to polling
//!   every run each interval ([`WatchMode::Polling`]), which the client's rate limiter keeps
//!   within budget. A retryable feed failure (after the client's own retries) only delays the
//!   next round, with backoff.
//!
//! # Bounds
//!
//! Every run has a deadline ([`RunWatch::timeout`], from when it was added, default
//! [`DEFAULT_WAIT_TIMEOUT`]): when it passes, the watch yields an
//! [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error naming the run ([`Error::run_id`])
//! and its last status seen, and stops watching it. A confirmation that fails for good yields
//! that error (with the run id) and drops the run; a retryable one is retried next round.
//! [`RunWatch::next`] is cancellation-safe: dropping it mid-round loses no outcome (outcomes are
//! queued the moment they are known) and the round is simply read again. All waiting is
//! `tokio::time`, so tests run it in paused time.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use deck_api::types::{GetEventResponse, GetTaskRunResponse, GetTaskRunResponseStatus};
use futures_util::stream::FuturesUnordered;
use futures_util::{StreamExt, TryStreamExt};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::call::ListExt;
use crate::client::Deck;
use crate::error::{Error, Result};
use crate::events::EventType;
use crate::run_status::{RunPhase, RunStatusExt};
use crate::run_wait::{DEFAULT_WAIT_TIMEOUT, GET_TASK_RUN, RunOutcome, deadline_after, fetch_run};

/// The default time between two rounds of the feed: a finish is seen at most this long after
/// its event (plus one `getTaskRun`).
pub const DEFAULT_WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The default overlap window re-read before the low-water mark.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(30);

/// The default time between two sweeps (one `getTaskRun` for the run checked least recently).
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// At most this many event ids are remembered for de-duplication (the oldest are forgotten
/// first).
pub const MAX_REMEMBERED_EVENTS: usize = 10_000;

/// The longest overlap window: Deck keeps events for 30 days.
const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// The page size of the feed (Deck's maximum).
const EVENTS_PAGE: u32 = 100;

/// At most this many confirmations are in flight at once.
const CONFIRM_CONCURRENCY: usize = 8;

/// The longest wait between rounds after the feed failed repeatedly.
const MAX_FEED_BACKOFF: Duration = Duration::from_secs(60);

/// The events that make a watched run due for confirmation: it may have ended or paused.
const FEED_TYPES: [EventType; 5] = [
    EventType::TaskRunCompleted,
    EventType::TaskRunFailed,
    EventType::TaskRunCanceled,
    EventType::TaskRunInteractionRequired,
    EventType::TaskRunReviewRequired,
];

/// The prefix of task-run event types (`task_run.completed`).
const TASK_RUN_EVENT: &str = "task_run.";

/// How a [`RunWatch`] learns that runs changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchMode {
    /// One `GET /events` feed for all runs, each finish confirmed by one `getTaskRun`.
    Events,
    /// One `getTaskRun` per run per interval: the fallback when the feed is unavailable, or
    /// chosen with [`RunWatch::per_run_polling`].
    Polling,
}

impl Deck {
    /// A watch for many task runs on one feed; add runs with [`RunWatch::with_runs`] /
    /// [`RunWatch::add`] and take outcomes with [`RunWatch::next`]. See the
    /// [module docs](crate::run_watch).
    pub fn watch_runs(&self) -> RunWatch {
        let now = Instant::now();
        RunWatch {
            deck: self.clone(),
            include_storage: false,
            timeout: DEFAULT_WAIT_TIMEOUT,
            interval: DEFAULT_WATCH_INTERVAL,
            overlap: DEFAULT_OVERLAP,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            mode: WatchMode::Events,
            runs: HashMap::new(),
            due: VecDeque::new(),
            ready: VecDeque::new(),
            since: None,
            seen: HashMap::new(),
            next_round: now,
            last_sweep: now,
            feed_failures: 0,
            feed_backoff: Backoff::new(DEFAULT_WATCH_INTERVAL, MAX_FEED_BACKOFF),
        }
    }
}

/// What the watch knows about one run.
struct Watched {
    /// When the run was added: its deadline counts from here.
    added: Instant,
    /// The status last seen, as Deck spelled it.
    last_status: Option<String>,
    /// The last confirmation's retryable failure, quoted when the deadline passes.
    last_error: Option<Error>,
    /// Whether the run is in `due`.
    due: bool,
    /// Whether a confirmation failed retryably; it is retried at the next round.
    retry: bool,
    /// When the run was last confirmed.
    checked: Option<Instant>,
}

/// A watch over many task runs, from [`Deck::watch_runs`]; see the [module docs](self).
#[must_use = "a watch does nothing until `next` is awaited"]
pub struct RunWatch {
    deck: Deck,
    include_storage: bool,
    timeout: Duration,
    interval: Duration,
    overlap: Duration,
    sweep_interval: Duration,
    mode: WatchMode,
    runs: HashMap<String, Watched>,
    /// Runs due for one `getTaskRun`, in order.
    due: VecDeque<String>,
    /// Outcomes known and not yet returned.
    ready: VecDeque<Result<RunOutcome>>,
    /// The low-water mark: every event after it (minus the overlap) is read next round.
    since: Option<DateTime<Utc>>,
    /// Ids of events about watched runs already acted on, with their `created_at`.
    seen: HashMap<String, DateTime<Utc>>,
    next_round: Instant,
    last_sweep: Instant,
    feed_failures: u32,
    feed_backoff: Backoff,
}

impl RunWatch {
    /// Confirm finishes with `include=storage`, so outcomes carry the runs' storage items.
    pub fn include_storage(mut self) -> Self {
        self.include_storage = true;
        self
    }

    /// The deadline of each run, counted from when it was added (default
    /// [`DEFAULT_WAIT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time between two rounds (default [`DEFAULT_WATCH_INTERVAL`]; at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self.feed_backoff = Backoff {
            jitter: self.feed_backoff.jitter,
            ..Backoff::new(self.interval, MAX_FEED_BACKOFF.max(self.interval))
        };
        self
    }

    /// The overlap window re-read before the low-water mark (default [`DEFAULT_OVERLAP`], at
    /// most 30 days, Deck's event retention).
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap.min(MAX_OVERLAP);
        self
    }

    /// The time between two sweeps (default [`DEFAULT_SWEEP_INTERVAL`]); `Duration::MAX`
    /// turns sweeps off.
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Poll every run each interval instead of reading the feed ([`WatchMode::Polling`], the
    /// fallback), e.g. for a key that may not read events.
    pub fn per_run_polling(mut self) -> Self {
        self.mode = WatchMode::Polling;
        self
    }

    /// The random source of the backoff after feed failures, uniform in `[0, 1)`.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.feed_backoff.jitter = std::sync::Arc::new(jitter);
        self
    }

    /// This watch with `runs` added ([`add`](Self::add)).
    pub fn with_runs<'r>(mut self, runs: impl IntoIterator<Item = &'r GetTaskRunResponse>) -> Self {
        for run in runs {
            self.add(run);
        }
        self
    }

    /// Watches `run` (e.g. as `run_task` or `submit_task_run_interaction` returned it). A run
    /// already in a status that ends waiting is confirmed with one `getTaskRun` first thing. A
    /// run already watched is left as it is.
    pub fn add(&mut self, run: &GetTaskRunResponse) {
        if self.runs.contains_key(&run.id) {
            return;
        }
        // The snapshot may be older than the last round: read again from its time.
        self.lower_since(known_since(run));
        self.insert(&run.id, Some(run.status.name().into_owned()));
        if run.status.phase().ends_wait() {
            self.make_due(&run.id);
        }
    }

    /// Watches the run with id `run_id`, known by id only: it is confirmed with one `getTaskRun`
    /// first thing (which also gives its `created_at`, the feed's starting point).
    pub fn add_id(&mut self, run_id: &str) {
        if self.runs.contains_key(run_id) {
            return;
        }
        self.insert(run_id, None);
        self.make_due(run_id);
    }

    /// The ids of the runs still watched (in no particular order).
    pub fn pending(&self) -> impl Iterator<Item = &str> {
        self.runs.keys().map(String::as_str)
    }

    /// How many runs are still watched.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether no run is watched any more (outcomes may still be queued for [`next`](Self::next)).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// How the watch learns of changes now: [`WatchMode::Events`] until the feed fails for good.
    pub fn mode(&self) -> WatchMode {
        self.mode
    }

    /// The next outcome: a run that finished or paused for the caller, or an error about one
    /// run (its deadline, a confirmation that failed for good; [`Error::run_id`] says which).
    /// `None` once every run has been reported. Cancellation-safe.
    pub async fn next(&mut self) -> Option<Result<RunOutcome>> {
        loop {
            if let Some(outcome) = self.ready.pop_front() {
                return Some(outcome);
            }
            if self.runs.is_empty() {
                return None;
            }
            let now = Instant::now();
            if self.expire(now) {
                continue;
            }
            if !self.due.is_empty() {
                self.confirm_due().await;
                continue;
            }
            if now >= self.next_round {
                self.round(now).await;
                continue;
            }
            let wake = self
                .next_round
                .min(self.earliest_deadline().unwrap_or(self.next_round));
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Every remaining outcome, in the order they became known.
    pub async fn wait_all(mut self) -> Vec<Result<RunOutcome>> {
        let mut outcomes = Vec::with_capacity(self.runs.len() + self.ready.len());
        while let Some(outcome) = self.next().await {
            outcomes.push(outcome);
        }
        outcomes
    }

    /// The outcomes as a stream ([`next`](Self::next) until `None`).
    pub fn into_stream(
        self,
    ) -> impl futures_core::Stream<Item = Result<RunOutcome>> + Send + Unpin + 'static {
        Box::pin(futures_util::stream::unfold(self, |mut watch| async move {
            let outcome = watch.next().await?;
            Some((outcome, watch))
        }))
    }

    fn insert(&mut self, run_id: &str, status: Option<String>) {
        self.runs.insert(
            run_id.to_owned(),
            Watched {
                added: Instant::now(),
                last_status: status,
                last_error: None,
                due: false,
                retry: false,
                checked: None,
            },
        );
    }

    fn make_due(&mut self, run_id: &str) {
        if let Some(watched) = self.runs.get_mut(run_id)
            && !watched.due
        {
            watched.due = true;
            self.due.push_back(run_id.to_owned());
        }
    }

    fn lower_since(&mut self, at: DateTime<Utc>) {
        self.since = Some(self.since.map_or(at, |since| since.min(at)));
    }

    fn deadline_of(&self, watched: &Watched) -> Instant {
        deadline_after(watched.added, self.timeout)
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.runs.values().map(|w| self.deadline_of(w)).min()
    }

    /// Reports every run whose deadline has passed; whether there was one.
    fn expire(&mut self, now: Instant) -> bool {
        let mut expired: Vec<(Instant, String)> = self
            .runs
            .iter()
            .map(|(id, w)| (self.deadline_of(w), id))
            .filter(|(deadline, _)| *deadline <= now)
            .map(|(deadline, id)| (deadline, id.clone()))
            .collect();
        expired.sort();
        for (_, run_id) in &expired {
            if let Some(watched) = self.runs.remove(run_id) {
                self.due.retain(|id| id != run_id);
                self.ready.push_back(Err(Error::run_deadline(
                    GET_TASK_RUN,
                    run_id,
                    self.timeout,
                    watched.last_status.as_deref(),
                    watched.last_error,
                )));
            }
        }
        !expired.is_empty()
    }

    /// One `getTaskRun` for each of the first due runs, a few at a time.
    async fn confirm_due(&mut self) {
        let mut in_flight = FuturesUnordered::new();
        for run_id in self.due.iter().take(CONFIRM_CONCURRENCY) {
            let Some(watched) = self.runs.get(run_id) else {
                continue;
            };
            let deadline = self.deadline_of(watched);
            let deck = self.deck.clone();
            let run_id = run_id.clone();
            let include_storage = self.include_storage;
            in_flight.push(async move {
                let fetched = fetch_run(&deck, &run_id, include_storage);
                let result = tokio::time::timeout_at(deadline, fetched).await;
                (run_id, result)
            });
        }
        if in_flight.is_empty() {
            // Only ids of runs no longer watched: drop them.
            let runs = &self.runs;
            self.due.retain(|id| runs.contains_key(id));
            return;
        }
        while let Some((run_id, result)) = in_flight.next().await {
            self.due.retain(|id| *id != run_id);
            if let Some(watched) = self.runs.get_mut(&run_id) {
                watched.due = false;
            }
            match result {
                // The run's deadline passed: the next `expire` reports it.
                Err(_) => {}
                Ok(result) => self.settle(&run_id, result),
            }
        }
    }

    /// What one confirmation of `run_id` says.
    fn settle(&mut self, run_id: &str, result: Result<GetTaskRunResponse>) {
        let Some(watched) = self.runs.get_mut(run_id) else {
            return;
        };
        watched.checked = Some(Instant::now());
        match result {
            Ok(run) => {
                watched.last_error = None;
                watched.last_status = Some(run.status.name().into_owned());
                let known_since = known_since(&run);
                match RunOutcome::of(run) {
                    Ok(outcome) => {
                        self.runs.remove(run_id);
                        self.ready.push_back(Ok(outcome));
                    }
                    Err(phase) => {
                        tracing::debug!(run_id, ?phase, "watched run confirmed still active");
                        self.start_since(known_since);
                    }
                }
            }
            Err(error) if error.is_retryable() => {
                watched.last_error = Some(error);
                watched.retry = true;
            }
            Err(error) => {
                self.runs.remove(run_id);
                self.ready.push_back(Err(error));
            }
        }
    }

    /// Sets the mark to `at` when there is none yet (only runs added by id so far): a fresh
    /// confirmation shows the run as of now, so only later events matter, and an existing mark
    /// is never later than the last round, which came before this confirmation.
    fn start_since(&mut self, at: DateTime<Utc>) {
        if self.since.is_none() {
            self.since = Some(at);
        }
    }

    /// One round: retryable confirmations again, then the feed (or every run, when polling).
    async fn round(&mut self, now: Instant) {
        self.next_round = now.checked_add(self.interval).unwrap_or(now);
        let retries: Vec<String> = self
            .runs
            .iter_mut()
            .filter(|(_, w)| w.retry)
            .map(|(id, w)| {
                w.retry = false;
                id.clone()
            })
            .collect();
        for run_id in retries {
            self.make_due(&run_id);
        }
        match self.mode {
            WatchMode::Polling => {
                let mut all: Vec<String> = self.runs.keys().cloned().collect();
                all.sort();
                for run_id in all {
                    self.make_due(&run_id);
                }
            }
            WatchMode::Events => {
                self.sweep(now);
                self.read_feed().await;
            }
        }
    }

    /// Every sweep interval, the run confirmed least recently is confirmed once more.
    fn sweep(&mut self, now: Instant) {
        let next_sweep = self
            .last_sweep
            .checked_add(self.sweep_interval)
            .unwrap_or(now);
        if now < next_sweep || self.sweep_interval == Duration::MAX {
            return;
        }
        self.last_sweep = now;
        let stalest = self
            .runs
            .iter()
            .filter(|(_, w)| !w.due)
            .min_by(|(a_id, a), (b_id, b)| a.checked.cmp(&b.checked).then(a_id.cmp(b_id)))
            .map(|(id, _)| id.clone());
        if let Some(run_id) = stalest {
            self.make_due(&run_id);
        }
    }

    /// Reads every page of the feed after the low-water mark minus the overlap.
    async fn read_feed(&mut self) {
        let Some(since) = self.since else {
            // Only runs known by id, none confirmed yet: nothing to start the feed from.
            return;
        };
        let created_after = self.window_start(since);
        let types: Vec<String> = FEED_TYPES.iter().map(|t| t.as_str().to_owned()).collect();
        let mut pages = self
            .deck
            .api()
            .list_events()
            .created_after(created_after)
            .type_(types)
            .limit(EVENTS_PAGE)
            .paginate()
            .pages();
        let deadline = self.earliest_deadline();
        let mut newest: Option<DateTime<Utc>> = None;
        loop {
            let page = pages.try_next();
            let page = match deadline {
                Some(deadline) => match tokio::time::timeout_at(deadline, page).await {
                    Ok(page) => page,
                    // A run's deadline: the next `expire` reports it; the round is read again.
                    Err(_) => return,
                },
                None => page.await,
            };
            match page {
                Ok(Some(page)) => {
                    for event in page.data {
                        newest = Some(newest.map_or(event.created_at, |n| n.max(event.created_at)));
                        self.on_event(event);
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    self.feed_failed(error);
                    return;
                }
            }
        }
        self.feed_failures = 0;
        if let Some(newest) = newest {
            self.since = Some(since.max(newest));
        }
        self.forget_old_events();
    }

    /// The `created_after` of a round: `since` minus the overlap.
    fn window_start(&self, since: DateTime<Utc>) -> DateTime<Utc> {
        TimeDelta::from_std(self.overlap)
            .ok()
            .and_then(|overlap| since.checked_sub_signed(overlap))
            .unwrap_or(since)
    }

    /// One event of the feed: a watched run whose event says it may have ended or paused is
    /// due for confirmation, once per event id.
    fn on_event(&mut self, event: GetEventResponse) {
        let Some(kind) = event.type_.strip_prefix(TASK_RUN_EVENT) else {
            return;
        };
        // A server that ignores the `type` filter: progress events need no confirmation. An
        // event type this client does not know does (it may be a new way to end).
        if GetTaskRunResponseStatus::Other(kind.to_owned()).phase() == RunPhase::Active {
            return;
        }
        let Some(run_id) = event
            .data
            .as_ref()
            .and_then(|data| data.get("id"))
            .and_then(serde_json::Value::as_str)
        else {
            return;
        };
        if !self.runs.contains_key(run_id) || self.seen.contains_key(&event.id) {
            return;
        }
        let run_id = run_id.to_owned();
        self.seen.insert(event.id, event.created_at);
        self.make_due(&run_id);
    }

    /// Forgets event ids the next round cannot return (at or before its `created_after`), and
    /// the oldest beyond [`MAX_REMEMBERED_EVENTS`].
    fn forget_old_events(&mut self) {
        if let Some(since) = self.since {
            let start = self.window_start(since);
            self.seen.retain(|_, created_at| *created_at > start);
        }
        if self.seen.len() > MAX_REMEMBERED_EVENTS {
            let mut by_age: Vec<(DateTime<Utc>, String)> =
                self.seen.drain().map(|(id, at)| (at, id)).collect();
            by_age.sort();
            let keep = by_age.split_off(by_age.len() - MAX_REMEMBERED_EVENTS);
            self.seen = keep.into_iter().map(|(at, id)| (id, at)).collect();
        }
    }

    /// The feed failed: retry later with backoff, or poll every run from now on.
    fn feed_failed(&mut self, error: Error) {
        if error.is_retryable() {
            self.feed_failures = self.feed_failures.saturating_add(1);
            let now = Instant::now();
            let wait = self
                .feed_backoff
                .poll_delay(self.feed_failures)
                .max(self.interval);
            self.next_round = now.checked_add(wait).unwrap_or(now);
            tracing::warn!(error = %error, "the events feed failed; the next round is later");
            return;
        }
        tracing::warn!(error = %error, "the events feed is unavailable; polling each run instead");
        self.mode = WatchMode::Polling;
        let mut all: Vec<String> = self.runs.keys().cloned().collect();
        all.sort();
        for run_id in all {
            self.make_due(&run_id);
        }
    }
}

impl fmt::Debug for RunWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunWatch")
            .field("mode", &self.mode)
            .field("runs", &self.runs.len())
            .field("due", &self.due.len())
            .field("ready", &self.ready.len())
            .field("since", &self.since)
            .field("interval", &self.interval)
            .field("overlap", &self.overlap)
            .field("timeout", &self.timeout)
            .field("include_storage", &self.include_storage)
            .finish_non_exhaustive()
    }
}

/// The time from which a run's later transitions show up in the feed: its `updated_at` (the
/// snapshot's latest change), else its `created_at`.
fn known_since(run: &GetTaskRunResponse) -> DateTime<Utc> {
    run.updated_at
        .filter(|updated| *updated >= run.created_at)
        .unwrap_or(run.created_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> RunWatch {
        let deck = Deck::builder()
            .api_key("sk_test_unit")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        deck.watch_runs()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_736_933_400 + seconds, 0).unwrap()
    }

    fn event(id: &str, kind: &str, run_id: &str, seconds: i64) -> GetEventResponse {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "object": "event",
            "type": kind,
            "data": {"id": run_id, "object": "task_run"},
            "created_at": at(seconds),
        }))
        .unwrap()
    }

    fn run(id: &str, status: &str, created: i64, updated: Option<i64>) -> GetTaskRunResponse {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "object": "task_run",
            "status": status,
            "created_at": at(created),
            "updated_at": updated.map(at),
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn only_ending_events_of_watched_runs_make_them_due_once() {
        let mut w = watch();
        w.add(&run("trun_1", "running", 0, Some(5)));
        w.add(&run("trun_2", "queued", 3, None));
        assert!(w.due.is_empty(), "active runs wait for the feed");
        w.on_event(event("evt_a", "task_run.running", "trun_1", 6));
        w.on_event(event("evt_b", "task_run.canceling", "trun_1", 6));
        w.on_event(event("evt_c", "storage.created", "trun_1", 6));
        w.on_event(event("evt_d", "task_run.completed", "trun_other", 6));
        assert!(w.due.is_empty(), "{:?}", w.due);
        w.on_event(event("evt_e", "task_run.completed", "trun_1", 7));
        assert_eq!(w.due, ["trun_1"]);
        // The same event again (overlap), or a second event while due: no second confirmation.
        w.due.clear();
        w.runs.get_mut("trun_1").unwrap().due = false;
        w.on_event(event("evt_e", "task_run.completed", "trun_1", 7));
        assert!(w.due.is_empty());
        // An event type this client does not know may be a new way to end: confirm.
        w.on_event(event("evt_f", "task_run.archived", "trun_2", 8));
        assert_eq!(w.due, ["trun_2"]);
        // The mark is the earliest known change: trun_1's update (5 s) is later than trun_2's
        // creation (3 s).
        assert_eq!(w.since, Some(at(3)));
    }

    #[tokio::test]
    async fn adding_runs_sets_the_mark_and_confirms_runs_that_already_ended() {
        let mut w = watch();
        w.add(&run("trun_1", "running", 100, Some(90)));
        assert_eq!(
            w.since,
            Some(at(100)),
            "an updated_at before creation is ignored"
        );
        w.add(&run("trun_2", "completed", 10, Some(50)));
        assert_eq!(w.since, Some(at(50)));
        assert_eq!(w.due, ["trun_2"]);
        w.add(&run("trun_2", "completed", 0, None));
        assert_eq!(w.since, Some(at(50)), "a run already watched is left alone");
        w.add_id("trun_3");
        assert_eq!(w.due, ["trun_2", "trun_3"]);
        assert_eq!(w.len(), 3);
        w.start_since(at(1));
        assert_eq!(
            w.since,
            Some(at(50)),
            "a confirmation never rewinds an existing mark"
        );
        let mut fresh = watch();
        fresh.start_since(at(7));
        assert_eq!(fresh.since, Some(at(7)));
    }

    #[tokio::test]
    async fn remembered_events_are_pruned_by_the_window_and_bounded() {
        let mut w = watch().overlap(Duration::from_secs(10));
        w.add(&run("trun_1", "running", 0, None));
        for i in 0..(MAX_REMEMBERED_EVENTS as i64 + 500) {
            w.seen.insert(format!("evt_{i}"), at(i));
        }
        w.since = Some(at(5));
        w.forget_old_events();
        assert_eq!(w.seen.len(), MAX_REMEMBERED_EVENTS);
        assert!(
            !w.seen.contains_key("evt_499"),
            "the oldest are forgotten first"
        );
        assert!(w.seen.contains_key("evt_500"));
        w.since = Some(at(10_400));
        w.forget_old_events();
        // Kept: created after 10 390 s (the next round's created_after).
        assert_eq!(w.seen.len(), MAX_REMEMBERED_EVENTS + 500 - 10_391);
        assert_eq!(w.window_start(at(100)), at(90));
        let huge = watch().overlap(Duration::MAX);
        assert_eq!(
            huge.window_start(at(0)),
            at(-30 * 24 * 3600),
            "capped at 30 days"
        );
    }
}
