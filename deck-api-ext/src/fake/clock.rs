//! Time in the fake: the virtual clock of resources and runs, the URL clock (real time plus a
//! test-controlled skew), and RFC 3339 rendering.
//!
//! Resource timestamps (`created_at`, `updated_at`) never read the wall clock. Seeded items and
//! runs get fixed instants; everything created through the API is stamped by the
//! [`VirtualClock`]: [`BASE_INSTANT`] plus the tokio time elapsed since the fake started, with
//! millisecond precision, so under paused time (`#[tokio::test(start_paused = true)]`) every
//! response body is reproducible and runs change state at exact planned instants. Only
//! pre-signed URL expiry uses real time, because a download URL must age while a test runs;
//! tests can age it instantly with a skew instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2025-01-15T09:30:00Z`, the instant the Storage guide's examples use, as Unix seconds.
pub(crate) const BASE_INSTANT: i64 = 1_736_933_400;
/// [`BASE_INSTANT`] in milliseconds.
pub(crate) const BASE_MS: i64 = BASE_INSTANT * 1000;

/// The fake's own clock: [`BASE_MS`] at the moment the fake started, then moving with tokio
/// time (so paused tests move it with `tokio::time::advance`).
#[derive(Debug)]
pub(crate) struct VirtualClock {
    start: tokio::time::Instant,
}

impl VirtualClock {
    pub(crate) fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }

    /// Unix milliseconds now, on the virtual clock.
    pub(crate) fn now_ms(&self) -> i64 {
        BASE_MS.saturating_add(duration_ms(self.start.elapsed()))
    }

    /// The tokio instant at which the virtual clock reads `unix_ms` (the start for any earlier
    /// instant; `None` beyond what an `Instant` can hold).
    pub(crate) fn instant_at(&self, unix_ms: i64) -> Option<tokio::time::Instant> {
        let after = u64::try_from(unix_ms.saturating_sub(BASE_MS)).unwrap_or(0);
        self.start.checked_add(Duration::from_millis(after))
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Formats Unix milliseconds as RFC 3339 UTC with millisecond precision
/// (`2025-01-15T09:30:01.250Z`).
pub(crate) fn rfc3339_ms(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let millis = unix_ms.rem_euclid(1000);
    let whole = rfc3339(secs);
    format!("{}.{millis:03}Z", whole.trim_end_matches('Z'))
}

/// Parses an RFC 3339 timestamp into Unix microseconds (`None` if it does not parse or does
/// not fit).
pub(crate) fn parse_micros(text: &str) -> Option<i64> {
    let at = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(at.timestamp_micros())
}

/// Real time plus a skew that only ever moves forward.
#[derive(Debug, Default)]
pub(crate) struct UrlClock {
    skew_secs: AtomicI64,
}

impl UrlClock {
    /// Seconds since the Unix epoch, as the fake's storage origin sees them.
    pub(crate) fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        real.saturating_add(self.skew_secs.load(Ordering::SeqCst))
    }

    /// Moves the clock forward so that `now() >= instant`.
    pub(crate) fn advance_to(&self, instant: i64) {
        let gap = instant.saturating_sub(self.now());
        if gap > 0 {
            self.skew_secs.fetch_add(gap, Ordering::SeqCst);
        }
    }
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp (`2025-01-15T09:30:00Z`).
pub(crate) fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs_of_day / 3600,
        secs_of_day % 3600 / 60,
        secs_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(BASE_INSTANT), "2025-01-15T09:30:00Z");
        assert_eq!(rfc3339(BASE_INSTANT + 5), "2025-01-15T09:30:05Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_ms(BASE_MS + 1250), "2025-01-15T09:30:01.250Z");
        assert_eq!(rfc3339_ms(BASE_MS), "2025-01-15T09:30:00.000Z");
        assert_eq!(
            parse_micros("2025-01-15T09:30:01.250Z"),
            Some((BASE_MS + 1250) * 1000)
        );
        assert_eq!(
            parse_micros("2025-01-15T10:30:00+01:00"),
            Some(BASE_MS * 1000)
        );
        assert_eq!(parse_micros("yesterday"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_virtual_clock_follows_tokio_time() {
        let clock = VirtualClock::start();
        assert_eq!(clock.now_ms(), BASE_MS);
        let at = clock.instant_at(BASE_MS + 1250).unwrap();
        assert_eq!(
            clock.instant_at(BASE_MS - 5),
            Some(tokio::time::Instant::now())
        );
        assert!(clock.instant_at(i64::MAX).is_none_or(|far| far > at));
        tokio::time::advance(Duration::from_millis(1250)).await;
        assert_eq!(clock.now_ms(), BASE_MS + 1250);
        assert_eq!(tokio::time::Instant::now(), at);
    }

    #[test]
    fn skew_moves_forward_only() {
        let clock = UrlClock::default();
        let start = clock.now();
        clock.advance_to(start - 100);
        assert!(clock.now() - start < 5);
        clock.advance_to(start + 3600);
        assert!(clock.now() >= start + 3600);
    }
}
