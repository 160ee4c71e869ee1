//! The organization rate limit, enforced when asked ([`FakeDeckBuilder::rate_limit`]): at most N
//! accepted API requests in any window, answered beyond that with Deck's `429
//! rate_limit_exceeded` (no `Retry-After`, as Deck documents none). Time is tokio's, so paused
//! tests are deterministic.
//!
//! [`FakeDeckBuilder::rate_limit`]: super::FakeDeckBuilder::rate_limit

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A sliding-window log of accepted requests.
pub(crate) struct RateWindow {
    limit: usize,
    window: Duration,
    accepted: Mutex<VecDeque<Instant>>,
}

impl RateWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        RateWindow {
            limit: limit.max(1) as usize,
            window,
            accepted: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether a request arriving now is within the limit (and counts it if so).
    pub(crate) fn admit(&self) -> bool {
        let now = Instant::now();
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        crate::rate_limit::prune(&mut accepted, now, self.window);
        if accepted.len() >= self.limit {
            return false;
        }
        accepted.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn admits_the_limit_per_window() {
        let window = RateWindow::new(3, Duration::from_secs(1));
        assert!(window.admit() && window.admit() && window.admit());
        assert!(!window.admit());
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!window.admit());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(window.admit());
    }
}
