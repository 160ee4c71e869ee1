//! How a task run lives: [`RunPlan`] (public, set per task with
//! [`TaskSeed::run_plan`](super::TaskSeed::run_plan)) and the state machine the store settles
//! lazily.
//!
//! Before the fake answers any API request it *settles* every run up to the virtual clock's
//! now, in time order: each transition happens at its planned instant (`since + duration`), not
//! when a request happens to observe it, and emits its event with that instant as
//! `created_at`. Under paused tokio time a test moves the clock with `tokio::time::advance` and
//! sees exact, reproducible timestamps. Nothing runs in the background, except that while a
//! webhook destination the fake sends to is active, its dispatcher (`deliveries`) also settles
//! at each planned transition, so deliveries go out when the run changes, not when someone
//! looks.
//!
//! ```text
//! queued ──queued_for──▶ running ──running_for──▶ completed          (default)
//!                                              ├─▶ failed             (fails)
//!                                              ├─▶ review_required    (needs_review; stays)
//!                                              └─▶ interaction_required (asks; until input)
//!                                                     └─input─▶ running ──running_for──▶ as planned
//! queued | running | interaction_required | review_required
//!        ──cancel──▶ canceling ──canceling_for──▶ canceled
//! ```

use super::clock::duration_ms;
use super::seed::ItemSeed;
use serde_json::Value;
use std::time::Duration;

/// How every run of a task lives. Durations are tokio time: tests run with paused time and
/// move it with `tokio::time::advance`/`sleep`; the fake computes state lazily from
/// `tokio::time::Instant` (with millisecond resolution).
///
/// The default ([`RunPlan::new`]): `queued` for 1 s, `running` for 2 s, then `completed` with
/// result `success`, no output and no storage items; a cancel spends 1 s in `canceling`.
///
/// ```
/// use deck_api_ext::fake::{ItemSeed, RunPlan, TaskSeed};
/// use serde_json::json;
/// use std::time::Duration;
///
/// let task = TaskSeed::new("task_mfa", "Needs a code").run_plan(
///     RunPlan::new()
///         .running_for(Duration::from_secs(5))
///         .asks(json!({ "type": "mfa", "fields": [{ "name": "code", "type": "string" }] }))
///         .items([ItemSeed::new("bill.pdf", "application/pdf", "%PDF-1.7")])
///         .output(json!({ "bill_count": 1 })),
/// );
/// # let _ = task;
/// ```
#[derive(Clone, Debug)]
pub struct RunPlan {
    pub(crate) queued: Duration,
    pub(crate) running: Duration,
    pub(crate) canceling: Duration,
    pub(crate) failure: Option<(String, String)>,
    pub(crate) asks: Option<Value>,
    pub(crate) review: bool,
    pub(crate) items: Vec<ItemSeed>,
    pub(crate) output: Option<Value>,
}

impl Default for RunPlan {
    fn default() -> Self {
        Self::new()
    }
}

impl RunPlan {
    /// `queued` 1 s → `running` 2 s → `completed` (result `success`), no items.
    pub fn new() -> Self {
        Self {
            queued: Duration::from_secs(1),
            running: Duration::from_secs(2),
            canceling: Duration::from_secs(1),
            failure: None,
            asks: None,
            review: false,
            items: Vec::new(),
            output: None,
        }
    }

    /// How long a new run stays `queued`.
    pub fn queued_for(mut self, d: Duration) -> Self {
        self.queued = d;
        self
    }

    /// How long a run stays `running` (before it asks, goes to review or ends; and again after
    /// an interaction).
    pub fn running_for(mut self, d: Duration) -> Self {
        self.running = d;
        self
    }

    /// Ends the run `failed` with result `failure` and
    /// `errors: [{type: "task", code, message}]` (no output, no storage items).
    pub fn fails(mut self, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.failure = Some((code.into(), message.into()));
        self
    }

    /// After `running_for`, the run turns `interaction_required` with `interaction` set to
    /// this value, until `POST /task-runs/{id}/interaction`; then it is `running` for
    /// `running_for` again and ends as planned. It asks once.
    pub fn asks(mut self, interaction: Value) -> Self {
        self.asks = Some(interaction);
        self
    }

    /// After `running_for` (and any interaction), the run turns `review_required` and stays
    /// there: Deck documents no approval endpoint. Takes precedence over the planned ending.
    pub fn needs_review(mut self) -> Self {
        self.review = true;
        self
    }

    /// Storage items created when the run completes (one `storage.created` event each, before
    /// `task_run.completed`). IDs are derived per run (`stor_<run>_<n>`); an item's own
    /// [`ItemSeed::id`] is used only while no other item has it. `created_at` and
    /// `fetch_date` default to the completion instant.
    pub fn items(mut self, items: impl IntoIterator<Item = ItemSeed>) -> Self {
        self.items.extend(items);
        self
    }

    /// The run's `output` once completed (default `null`).
    pub fn output(mut self, output: Value) -> Self {
        self.output = Some(output);
        self
    }

    /// How long a canceled run stays `canceling` before it is `canceled` (default 1 s).
    pub fn canceling_for(mut self, d: Duration) -> Self {
        self.canceling = d;
        self
    }
}

/// Where a run is in its plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A seeded run: it stays as seeded unless canceled.
    Fixed,
    Queued,
    Running {
        /// Whether the run already asked for (and got) its interaction.
        resumed: bool,
    },
    AwaitingInput,
    InReview,
    Canceling,
    Done,
}

/// A transition the clock triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Start,
    Ask,
    Review,
    Complete,
    Fail,
    Cancel,
}

/// A run's plan and phase.
#[derive(Clone, Debug)]
pub(crate) struct Life {
    pub(crate) plan: RunPlan,
    pub(crate) phase: Phase,
    /// When the current phase began (Unix ms, virtual clock).
    pub(crate) since_ms: i64,
}

impl Life {
    /// The next transition the clock will trigger and its instant, if any.
    pub(crate) fn next(&self) -> Option<(i64, Step)> {
        let after = |d: Duration| self.since_ms.saturating_add(duration_ms(d));
        match self.phase {
            Phase::Queued => Some((after(self.plan.queued), Step::Start)),
            Phase::Running { resumed } => {
                let step = if self.plan.asks.is_some() && !resumed {
                    Step::Ask
                } else if self.plan.review {
                    Step::Review
                } else if self.plan.failure.is_some() {
                    Step::Fail
                } else {
                    Step::Complete
                };
                Some((after(self.plan.running), step))
            }
            Phase::Canceling => Some((after(self.plan.canceling), Step::Cancel)),
            Phase::Fixed | Phase::AwaitingInput | Phase::InReview | Phase::Done => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn life(plan: RunPlan, phase: Phase) -> Life {
        Life {
            plan,
            phase,
            since_ms: 1000,
        }
    }

    #[test]
    fn the_default_plan_queues_runs_and_completes() {
        let plan = RunPlan::new();
        assert_eq!(
            life(plan.clone(), Phase::Queued).next(),
            Some((2000, Step::Start))
        );
        assert_eq!(
            life(plan.clone(), Phase::Running { resumed: false }).next(),
            Some((3000, Step::Complete))
        );
        assert_eq!(
            life(plan.clone(), Phase::Canceling).next(),
            Some((2000, Step::Cancel))
        );
        for still in [
            Phase::Fixed,
            Phase::AwaitingInput,
            Phase::InReview,
            Phase::Done,
        ] {
            assert_eq!(life(plan.clone(), still).next(), None);
        }
    }

    #[test]
    fn asking_comes_first_then_review_then_the_ending() {
        let plan = RunPlan::new()
            .running_for(Duration::from_millis(500))
            .asks(json!({ "type": "mfa" }))
            .needs_review()
            .fails("timeout", "Too slow.");
        assert_eq!(
            life(plan.clone(), Phase::Running { resumed: false }).next(),
            Some((1500, Step::Ask))
        );
        assert_eq!(
            life(plan.clone(), Phase::Running { resumed: true }).next(),
            Some((1500, Step::Review))
        );
        let plan = RunPlan::new().fails("timeout", "Too slow.");
        assert_eq!(
            life(plan, Phase::Running { resumed: true }).next(),
            Some((3000, Step::Fail))
        );
    }

    #[test]
    fn huge_durations_saturate() {
        let plan = RunPlan::new().queued_for(Duration::MAX);
        assert_eq!(
            life(plan, Phase::Queued).next(),
            Some((i64::MAX, Step::Start))
        );
    }
}
