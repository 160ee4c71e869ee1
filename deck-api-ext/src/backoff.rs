//! The one backoff of the crate, used by API retries ([`RetryConfig`](crate::RetryConfig)) and by
//! download retries ([`DownloadOptions`](crate::storage::DownloadOptions)) alike: full-jitter
//! exponential backoff with an injectable random source.
//!
//! Before retry *n* (1-based) the wait is uniformly random in
//! `[0, min(max, initial × 2^(n-1))]`. Run waits (`run_wait.rs`, `run_watch.rs`) poll with the
//! same ceiling but wait at least half of it (`poll_delay`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A source of uniformly distributed numbers in `[0, 1)`.
pub(crate) type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Full-jitter exponential backoff.
#[derive(Clone)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    pub(crate) jitter: Jitter,
}

impl Backoff {
    /// Backoff from `initial` doubling up to `max`, with `fastrand` jitter.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            jitter: Arc::new(fastrand::f64),
        }
    }

    /// The ceiling before retry number `retry` (1-based): `min(max, initial × 2^(retry-1))`.
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// The wait before retry number `retry` (1-based). Jitter outside `[0, 1]` is clamped; a
    /// non-finite one waits the whole ceiling.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        self.ceiling(retry).mul_f64(self.unit())
    }

    /// The wait before poll number `poll` (1-based) when polling for a change rather than
    /// retrying a failure (run waits): uniformly random in `[ceiling / 2, ceiling]` ("equal
    /// jitter"), so polls of many waiters stay spread out, yet never come faster than half the
    /// ceiling and never later than the ceiling (the worst detection latency).
    pub(crate) fn poll_delay(&self, poll: u32) -> Duration {
        let ceiling = self.ceiling(poll);
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64(self.unit())
    }

    /// The jitter, clamped to `[0, 1]`; a non-finite value counts as 1.
    fn unit(&self) -> f64 {
        let r = (self.jitter)();
        if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("initial", &self.initial)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_exponential_and_capped() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        b.jitter = Arc::new(|| 1.0);
        assert_eq!(b.delay(1), Duration::from_millis(500));
        assert_eq!(b.delay(2), Duration::from_secs(1));
        assert_eq!(b.delay(3), Duration::from_secs(2));
        assert_eq!(b.delay(4), Duration::from_secs(3));
        assert_eq!(b.delay(40), Duration::from_secs(3));
        b.jitter = Arc::new(|| 0.5);
        assert_eq!(b.delay(2), Duration::from_millis(500));
        b.jitter = Arc::new(|| f64::NAN);
        assert_eq!(b.delay(1), Duration::from_millis(500));
        b.jitter = Arc::new(|| -3.0);
        assert_eq!(b.delay(3), Duration::ZERO);
    }

    #[test]
    fn poll_delay_stays_between_half_and_the_whole_ceiling() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        b.jitter = Arc::new(|| 0.0);
        assert_eq!(b.poll_delay(1), Duration::from_millis(500));
        assert_eq!(b.poll_delay(3), Duration::from_secs(2));
        assert_eq!(b.poll_delay(9), Duration::from_millis(2500));
        b.jitter = Arc::new(|| 1.0);
        assert_eq!(b.poll_delay(1), Duration::from_secs(1));
        assert_eq!(b.poll_delay(2), Duration::from_secs(2));
        assert_eq!(b.poll_delay(9), Duration::from_secs(5));
        b.jitter = Arc::new(|| 0.5);
        assert_eq!(b.poll_delay(2), Duration::from_millis(1500));
        b.jitter = Arc::new(|| f64::INFINITY);
        assert_eq!(b.poll_delay(1), Duration::from_secs(1));
        // An odd number of nanoseconds: the halves still add up to the ceiling.
        let b = Backoff {
            jitter: Arc::new(|| 1.0),
            ..Backoff::new(Duration::from_nanos(3), Duration::from_nanos(3))
        };
        assert_eq!(b.poll_delay(1), Duration::from_nanos(3));
    }
}
