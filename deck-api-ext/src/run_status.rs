//! Task-run statuses, read tolerantly: [`RunStatusExt`] on the generated open enum
//! [`GetTaskRunResponseStatus`].
//!
//! Deck documents a run's status as `queued`, `running`, `canceling` (spelled `cancelling` in the
//! API-reference field descriptions), `interaction_required`, `review_required`, `completed`,
//! `canceled` or `failed`. The generated type keeps both cancel spellings as known variants and
//! any other value as `Other(String)`, so a status Deck adds tomorrow decodes. This module says
//! what a status means for a caller that waits on a run:
//!
//! | status | [`RunPhase`] | |
//! |---|---|---|
//! | `queued`, `running`, `canceling` / `cancelling` | [`Active`](RunPhase::Active) | keep waiting |
//! | `interaction_required` | [`NeedsInput`](RunPhase::NeedsInput) | submit input (`submit_task_run_interaction`) |
//! | `review_required` | [`NeedsReview`](RunPhase::NeedsReview) | a person must approve it; Deck documents no approval endpoint |
//! | `completed`, `failed`, `canceled` | [`Terminal`](RunPhase::Terminal) | the run is over |
//! | anything else | [`Unknown`](RunPhase::Unknown) | kept as sent; waits treat it as still active |
//!
//! ```
//! use deck_api_ext::api::types::{GetTaskRunResponseStatus, GetTaskRunResponseStatusKnown};
//! use deck_api_ext::run_status::{RunPhase, RunStatusExt};
//!
//! let status: GetTaskRunResponseStatus = serde_json::from_str(r#""cancelling""#).unwrap();
//! assert_eq!(status.known(), Some(GetTaskRunResponseStatusKnown::Canceling));
//! assert!(status.is_canceling() && !status.is_terminal());
//!
//! let status: GetTaskRunResponseStatus = serde_json::from_str(r#""paused_by_owner""#).unwrap();
//! assert_eq!(status.phase(), RunPhase::Unknown);
//! assert_eq!(status.name(), "paused_by_owner");
//! ```

use std::borrow::Cow;

use deck_api::types::{GetTaskRunResponseStatus, GetTaskRunResponseStatusKnown as Known};

/// What a run's status means to a caller waiting on it; see the [module table](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunPhase {
    /// `queued`, `running` or `canceling` (either spelling): the run will move on by itself.
    Active,
    /// `interaction_required`: paused until input is submitted (e.g. an MFA code).
    NeedsInput,
    /// `review_required`: paused until a person approves it (no approval endpoint is documented).
    NeedsReview,
    /// `completed`, `failed` or `canceled`: the run is over and will not change.
    Terminal,
    /// A status this client does not know; it is kept as sent ([`RunStatusExt::name`]).
    Unknown,
}

impl RunPhase {
    /// Whether a wait ends here: the run is over or paused for the caller
    /// ([`Terminal`](Self::Terminal), [`NeedsInput`](Self::NeedsInput),
    /// [`NeedsReview`](Self::NeedsReview)).
    pub fn ends_wait(self) -> bool {
        matches!(
            self,
            RunPhase::Terminal | RunPhase::NeedsInput | RunPhase::NeedsReview
        )
    }
}

/// Helpers on the generated run status (and on its known half); see the [module docs](self).
///
/// Implemented as an extension trait because the type lives in `deck-api`.
pub trait RunStatusExt {
    /// The status as a known value, with `cancelling` folded into
    /// [`Canceling`](Known::Canceling); `None` for a status this client does not know. An
    /// `Other` holding a known spelling (built by hand) is recognised too.
    fn known(&self) -> Option<Known>;

    /// The status as Deck spelled it (`"cancelling"` stays `"cancelling"`).
    fn name(&self) -> Cow<'_, str>;

    /// What the status means for a waiting caller.
    fn phase(&self) -> RunPhase {
        match self.known() {
            None => RunPhase::Unknown,
            Some(Known::InteractionRequired) => RunPhase::NeedsInput,
            Some(Known::ReviewRequired) => RunPhase::NeedsReview,
            Some(Known::Completed | Known::Failed | Known::Canceled) => RunPhase::Terminal,
            Some(_) => RunPhase::Active,
        }
    }

    /// `completed`, `failed` or `canceled`: the run is over.
    fn is_terminal(&self) -> bool {
        self.phase() == RunPhase::Terminal
    }

    /// `interaction_required`: the run waits for input.
    fn is_waiting_for_input(&self) -> bool {
        self.phase() == RunPhase::NeedsInput
    }

    /// `review_required`: the run waits for a person's approval.
    fn is_waiting_for_review(&self) -> bool {
        self.phase() == RunPhase::NeedsReview
    }

    /// `canceling` or `cancelling`: cancellation was requested and the agent is stopping (not
    /// terminal: `canceled` follows).
    fn is_canceling(&self) -> bool {
        self.known() == Some(Known::Canceling)
    }

    /// A status this client does not know (kept as sent, never an error).
    fn is_unknown(&self) -> bool {
        self.known().is_none()
    }

    /// Whether two statuses are the same state: `cancelling` equals `canceling`; unknown
    /// statuses compare by their text.
    fn same_state(&self, other: &Self) -> bool {
        match (self.known(), other.known()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.name() == other.name(),
            _ => false,
        }
    }
}

impl RunStatusExt for Known {
    fn known(&self) -> Option<Known> {
        Some(match self {
            Known::Cancelling => Known::Canceling,
            other => *other,
        })
    }

    fn name(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

impl RunStatusExt for GetTaskRunResponseStatus {
    fn known(&self) -> Option<Known> {
        match self {
            GetTaskRunResponseStatus::Known(known) => known.known(),
            GetTaskRunResponseStatus::Other(text) => parse(text),
            // A shape a later generator may add: read it from its wire form.
            other => parse(&serialized(other)),
        }
    }

    fn name(&self) -> Cow<'_, str> {
        match self {
            GetTaskRunResponseStatus::Known(known) => known.name(),
            GetTaskRunResponseStatus::Other(text) => Cow::Borrowed(text),
            other => Cow::Owned(serialized(other)),
        }
    }
}

fn parse(text: &str) -> Option<Known> {
    text.parse::<Known>().ok().and_then(|k| k.known())
}

/// The status as it serialises (a JSON string for every shape of the open enum).
fn serialized(status: &GetTaskRunResponseStatus) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(text: &str) -> GetTaskRunResponseStatus {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).expect("any string")
    }

    #[test]
    fn every_documented_status_has_its_phase() {
        let cases = [
            ("queued", RunPhase::Active),
            ("running", RunPhase::Active),
            ("canceling", RunPhase::Active),
            ("cancelling", RunPhase::Active),
            ("interaction_required", RunPhase::NeedsInput),
            ("review_required", RunPhase::NeedsReview),
            ("completed", RunPhase::Terminal),
            ("failed", RunPhase::Terminal),
            ("canceled", RunPhase::Terminal),
            ("pending", RunPhase::Unknown),
            ("Completed", RunPhase::Unknown),
            ("", RunPhase::Unknown),
        ];
        for (text, phase) in cases {
            let s = status(text);
            assert_eq!(s.phase(), phase, "{text}");
            assert_eq!(s.name(), text, "the spelling is kept");
            assert_eq!(s.is_terminal(), phase == RunPhase::Terminal, "{text}");
            assert_eq!(s.is_waiting_for_input(), phase == RunPhase::NeedsInput);
            assert_eq!(s.is_waiting_for_review(), phase == RunPhase::NeedsReview);
            assert_eq!(s.is_unknown(), phase == RunPhase::Unknown);
            assert_eq!(
                phase.ends_wait(),
                matches!(
                    phase,
                    RunPhase::Terminal | RunPhase::NeedsInput | RunPhase::NeedsReview
                )
            );
        }
    }

    #[test]
    fn both_cancel_spellings_are_one_state() {
        let (one, two) = (status("canceling"), status("cancelling"));
        assert!(matches!(
            one,
            GetTaskRunResponseStatus::Known(Known::Canceling)
        ));
        assert!(matches!(
            two,
            GetTaskRunResponseStatus::Known(Known::Cancelling)
        ));
        assert!(one.is_canceling() && two.is_canceling());
        assert!(one.same_state(&two) && two.same_state(&one));
        assert_eq!(two.known(), Some(Known::Canceling));
        assert_eq!(Known::Cancelling.known(), Some(Known::Canceling));
        assert!(!one.same_state(&status("canceled")));
        assert!(!status("canceled").is_canceling());
    }

    #[test]
    fn unknown_statuses_are_kept_and_compared_by_text() {
        let new = status("paused");
        assert!(matches!(&new, GetTaskRunResponseStatus::Other(t) if t == "paused"));
        assert!(new.same_state(&status("paused")));
        assert!(!new.same_state(&status("Paused")));
        assert!(!new.same_state(&status("running")));
        // An `Other` built by hand with a known spelling is still recognised.
        let by_hand = GetTaskRunResponseStatus::Other("completed".to_owned());
        assert!(by_hand.is_terminal());
        assert!(by_hand.same_state(&status("completed")));
        let serialized = serde_json::to_string(&new).unwrap();
        assert_eq!(serialized, r#""paused""#, "re-serialised unchanged");
    }
}
