//! Which cursors a listing has already followed, in constant memory.
//!
//! A listing must never follow a cursor twice: the server would serve the same pages again,
//! forever. Remembering every cursor would make memory grow with the listing, so the history
//! keeps two things of fixed size:
//!
//! * the [`RECENT_CURSORS`] most recent cursors, exactly: any cursor repeated within that many
//!   pages (25,600 items at 100 a page) is caught before it is requested;
//! * one checkpoint cursor, moved to the current cursor after 1, 2, 4, 8, … pages (Brent's cycle
//!   detection): a loop longer than the window is caught the second time the listing reaches
//!   the checkpoint, so some of its pages are delivered twice, but the listing still stops.
//!
//! Cursors are stored as 64-bit fingerprints (SipHash with fixed keys). Two different cursors
//! share one with probability about `n² / 2⁶⁵` among `n` remembered cursors (below 10⁻¹⁴ here).

use std::hash::{DefaultHasher, Hash, Hasher};

/// How many of the most recent cursors a listing remembers exactly.
pub const RECENT_CURSORS: usize = 256;

/// The cursors a listing has followed; see the module docs.
#[derive(Debug)]
pub(crate) struct CursorHistory {
    /// A ring of the most recent fingerprints (a linear scan of 256 words per page costs far
    /// less than the request that follows it).
    recent: Vec<u64>,
    /// Where the next fingerprint goes once the ring is full.
    next_slot: usize,
    checkpoint: Option<u64>,
    /// Pages until the checkpoint moves.
    until_move: u64,
    /// Pages between this and the next checkpoint move.
    period: u64,
}

impl Default for CursorHistory {
    fn default() -> Self {
        CursorHistory {
            // Full size up front, so memory does not grow with the listing.
            recent: Vec::with_capacity(RECENT_CURSORS),
            next_slot: 0,
            checkpoint: None,
            until_move: 1,
            period: 1,
        }
    }
}

impl CursorHistory {
    /// Records `cursor` as followed; `false` if it was followed before (as far as the history
    /// can tell; see the module docs).
    pub(crate) fn insert(&mut self, cursor: &str) -> bool {
        let fp = fingerprint(cursor);
        if self.checkpoint == Some(fp) || self.recent.contains(&fp) {
            return false;
        }
        if self.recent.len() < RECENT_CURSORS {
            self.recent.push(fp);
        } else {
            self.recent[self.next_slot] = fp;
            self.next_slot = (self.next_slot + 1) % RECENT_CURSORS;
        }
        self.until_move -= 1;
        if self.until_move == 0 {
            self.checkpoint = Some(fp);
            self.period = self.period.saturating_mul(2);
            self.until_move = self.period;
        }
        true
    }
}

fn fingerprint(cursor: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    cursor.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Follows `next` from cursor 0 until the history reports a repeat; returns how many
    /// cursors were followed, or `None` if `limit` steps pass without one.
    fn steps_until_repeat(next: impl Fn(u64) -> u64, limit: u64) -> Option<u64> {
        let mut history = CursorHistory::default();
        let mut cursor = 0;
        for step in 0..limit {
            if !history.insert(&cursor.to_string()) {
                return Some(step);
            }
            cursor = next(cursor);
        }
        None
    }

    #[test]
    fn distinct_cursors_are_never_repeats() {
        assert_eq!(steps_until_repeat(|c| c + 1, 100_000), None);
    }

    #[test]
    fn a_repeat_within_the_window_is_caught_at_once() {
        for cycle in [1, 2, 17, RECENT_CURSORS as u64] {
            // 5 pages lead into a loop of `cycle` pages.
            let next = |c: u64| if c + 1 < 5 + cycle { c + 1 } else { 5 };
            assert_eq!(
                steps_until_repeat(next, 100_000),
                Some(5 + cycle),
                "cycle {cycle}"
            );
        }
    }

    #[test]
    fn a_loop_longer_than_the_window_is_still_caught() {
        for cycle in [RECENT_CURSORS as u64 + 1, 1_000, 5_000] {
            let next = |c: u64| if c + 1 < 3 + cycle { c + 1 } else { 3 };
            let steps = steps_until_repeat(next, 100_000).expect("caught");
            // Brent: within one lap after the checkpoint period reaches the loop length.
            assert!(steps <= 3 + 3 * cycle, "cycle {cycle}: {steps} steps");
        }
    }

    #[test]
    fn memory_is_bounded() {
        let mut history = CursorHistory::default();
        let capacity = history.recent.capacity();
        for c in 0..10_000u64 {
            history.insert(&c.to_string());
        }
        assert_eq!(history.recent.len(), RECENT_CURSORS);
        assert_eq!(history.recent.capacity(), capacity, "no reallocation");
    }
}
