//! The one backoff of the crate, used by API retries ([`RetryConfig`](crate::RetryConfig)) and by
//! download retries ([`DownloadOptions`](crate::storage::DownloadOptions)) alike: full-jitter
//! exponential backoff with an injectable random source.
//!
//! Before retry *n* (1-based) the wait is uniformly random in
//! `[0, min(max, initial × 2^(n-1))]`.

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
        let r = (self.jitter)();
        let r = if r.is_finite() {
            r.clamp(0.0, 1.0)
        } else {
            1.0
        };
        self.ceiling(retry).mul_f64(r)
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
}
