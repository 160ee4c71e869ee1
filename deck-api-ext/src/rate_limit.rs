//! Staying under Deck's organization rate limit: [`RateLimit`] and the limiter every API request
//! waits on.
//!
//! Deck allows **200 requests per 10 seconds per organization**, shared by every key and every
//! service of the organization, answers `429 rate_limit_exceeded` beyond it, and documents no
//! `Retry-After` or rate-limit headers. So the client does not only react to 429s: every request
//! to the Deck API (never a pre-signed storage URL) first takes a permit from a limiter shared by
//! all clones of a [`Deck`](crate::Deck).
//!
//! # The guarantee
//!
//! The limiter keeps the times of the permits it granted within the last window. A request is let
//! through only while fewer than the allowed number were granted in the window before it, so **no
//! window of that length ever holds more than the budget** — unlike a token bucket, whose full
//! burst plus a window of refill lets twice the budget through. Within that cap permits are also
//! **paced**: they go out evenly at the allowed rate, at most a tenth of the allowance at once
//! ahead of that schedule (GCRA). A client that spent its whole allowance in a burst would make
//! clients sharing the budget race for it, and each would then judge its share from a race it
//! happened to lose. A small margin
//! ([`RateLimit::margin`], default 2 %) absorbs the difference between when the client sends and
//! when Deck counts.
//!
//! # Adapting when the budget is shared
//!
//! Other services of the organization spend the same budget. On a `429 rate_limit_exceeded` the
//! allowed number per window drops by a factor ([`RateLimit::decrease`], default 0.7), and
//! further, down to what Deck accepted from this client in the last window (its observed share),
//! at most once per window's worth of grants; a 429 that carries `Retry-After` is followed as
//! the server says, without lowering the rate. Decreases count once per window's worth of grants, so a volley of 429s from one overshoot counts once. While
//! requests succeed it grows back by 10 % of the budget per window's worth of successes (additive
//! increase), never above the configured budget. `session_limit_exceeded` (the concurrency limit on
//! runs) is not a request-rate signal and changes nothing. A 429 retried with the limiter on waits
//! for a permit (at the rate that just dropped) instead of stacking an exponential backoff on top.
//!
//! # Waiting
//!
//! A permit wait respects an explicit per-call deadline
//! ([`CallOptions::timeout`](crate::CallOptions::timeout)): when the next permit is further away
//! than the deadline, the call fails at once with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)
//! and sends nothing. The default per-attempt timeouts and the client-wide call deadline do not
//! count permit waits: a long bulk job is slowed by the limiter, never failed by it. Waits use
//! `tokio::time`, so tests run in paused time. A tracing event (target `deck_api_ext::rate_limit`)
//! reports throttling at most once per second and every change of the allowed rate; the
//! `deck.request` span records the wait as `permit_wait_ms`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Deck's documented budget: requests per window.
pub const DECK_REQUESTS_PER_WINDOW: u32 = 200;
/// Deck's documented window.
pub const DECK_WINDOW: Duration = Duration::from_secs(10);

/// How fast requests to the Deck API may go. See the [module documentation](self).
///
/// ```
/// use std::time::Duration;
/// use deck_api_ext::rate_limit::RateLimit;
///
/// let default = RateLimit::default(); // Deck's documented 200 per 10 s
/// assert_eq!(default.requests(), Some(200));
/// let shared = RateLimit::per(100, Duration::from_secs(10)); // half the budget for this service
/// assert!(RateLimit::off().requests().is_none());
/// # let _ = shared;
/// ```
#[derive(Clone, PartialEq)]
pub struct RateLimit {
    /// `None` when off.
    budget: Option<(u32, Duration)>,
    margin: f64,
    decrease: f64,
}

impl Default for RateLimit {
    /// Deck's documented limit: 200 requests per 10 s, 2 % margin, ×0.7 on a 429.
    fn default() -> Self {
        RateLimit::per(DECK_REQUESTS_PER_WINDOW, DECK_WINDOW)
    }
}

impl RateLimit {
    /// At most `requests` (at least 1) in any `window` (at least 1 ms).
    pub fn per(requests: u32, window: Duration) -> Self {
        RateLimit {
            budget: Some((requests.max(1), window.max(Duration::from_millis(1)))),
            margin: 0.02,
            decrease: 0.7,
        }
    }

    /// No client-side limit: requests go out at once and only 429s slow them down.
    pub fn off() -> Self {
        RateLimit {
            budget: None,
            ..RateLimit::default()
        }
    }

    /// The share of the budget held back for clock differences between client and server
    /// (default 0.02; clamped to 0–0.5).
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = if margin.is_finite() {
            margin.clamp(0.0, 0.5)
        } else {
            0.02
        };
        self
    }

    /// The factor the allowed rate is multiplied by on a `429 rate_limit_exceeded` (default 0.7;
    /// clamped to 0.1–1).
    pub fn decrease(mut self, factor: f64) -> Self {
        self.decrease = if factor.is_finite() {
            factor.clamp(0.1, 1.0)
        } else {
            0.7
        };
        self
    }

    /// Requests per window, `None` when off.
    pub fn requests(&self) -> Option<u32> {
        self.budget.map(|(n, _)| n)
    }

    /// The window, `None` when off.
    pub fn window(&self) -> Option<Duration> {
        self.budget.map(|(_, w)| w)
    }

    /// Parses `off`, `200/10s`, `50/1m`, `100/500ms` (the `deck` program's `DECK_RATE_LIMIT`).
    pub fn parse(text: &str) -> Result<RateLimit, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(RateLimit::off());
        }
        let expected = || format!("expected `off` or REQUESTS/WINDOW like `200/10s`, got {text:?}");
        let (n, window) = text.split_once('/').ok_or_else(expected)?;
        let n: u32 = n.trim().parse().map_err(|_| expected())?;
        let window = window.trim();
        let (digits, unit) = window
            .find(|c: char| !c.is_ascii_digit())
            .map(|i| window.split_at(i))
            .ok_or_else(expected)?;
        let amount: u64 = digits.parse().map_err(|_| expected())?;
        let window = match unit {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount.saturating_mul(60)),
            _ => return Err(expected()),
        };
        if n == 0 || window.is_zero() {
            return Err(expected());
        }
        Ok(RateLimit::per(n, window))
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.budget {
            None => f.write_str("RateLimit(off)"),
            Some((n, w)) => write!(
                f,
                "RateLimit({n} per {w:?}, margin {}, decrease {})",
                self.margin, self.decrease
            ),
        }
    }
}

/// The share of the ceiling regained per window's worth of successes after a decrease.
const RECOVERY_STEP: f64 = 0.10;

/// The share of the allowed permits that may go out at once, ahead of the even schedule.
const BURST_SHARE: usize = 10;

/// The even spacing of `allowed` permits over `window`, and how far ahead of that schedule a
/// burst may run (a tenth of the allowed permits, at least one).
fn pacing(window: Duration, allowed: usize) -> (Duration, Duration) {
    let allowed = u32::try_from(allowed.max(1)).unwrap_or(u32::MAX);
    let spacing = window / allowed;
    let burst = (allowed as usize / BURST_SHARE).max(1) - 1;
    (spacing, spacing * u32::try_from(burst).unwrap_or(u32::MAX))
}

/// Why no permit was granted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PermitTooLate {
    /// How long the wait would have been.
    pub(crate) wait: Duration,
}

/// The shared limiter (see the module docs). Cheap when off.
pub(crate) struct Limiter {
    config: RateLimit,
    state: Mutex<State>,
}

struct State {
    /// Times of the permits granted within the last window, oldest first.
    granted: VecDeque<Instant>,
    /// Times of the responses within the last window that were not rate-limit rejections.
    accepted: VecDeque<Instant>,
    /// The allowed permits per window now (≤ the budget less the margin).
    allowed: f64,
    /// Successes counted toward the next additive increase.
    successes: u32,
    /// Grants since the last decrease (a decrease needs a window's worth in between).
    since_decrease: u32,
    /// The pacing schedule (GCRA's theoretical arrival time): the instant the next permit would
    /// be due if permits went out evenly at `allowed` per window.
    paced_until: Option<Instant>,
    last_throttle_event: Option<Instant>,
}

impl Limiter {
    pub(crate) fn new(config: RateLimit) -> Self {
        let ceiling = Self::ceiling_of(&config);
        Limiter {
            state: Mutex::new(State {
                granted: VecDeque::new(),
                accepted: VecDeque::new(),
                allowed: ceiling,
                successes: 0,
                since_decrease: u32::MAX,
                paced_until: None,
                last_throttle_event: None,
            }),
            config,
        }
    }

    fn ceiling_of(config: &RateLimit) -> f64 {
        config.budget.map_or(f64::INFINITY, |(n, _)| {
            (f64::from(n) * (1.0 - config.margin)).max(1.0)
        })
    }

    /// The window permits and acceptances are counted over, `None` when off. The margin also
    /// stretches it: a permit frees a little after the server's window would, so transit jitter
    /// does not land a request in the previous window.
    fn window(&self) -> Option<Duration> {
        self.config
            .budget
            .map(|(_, window)| window.mul_f64(1.0 + self.config.margin))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a permit; `deadline` bounds the wait (an error at once when the next permit is
    /// later than that). Returns how long it waited.
    pub(crate) async fn acquire(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Duration, PermitTooLate> {
        let Some(window) = self.window() else {
            return Ok(Duration::ZERO);
        };
        let started = Instant::now();
        loop {
            let now = Instant::now();
            let wake = {
                let mut state = self.state();
                prune(&mut state.granted, now, window);
                let allowed = state.allowed.floor().max(1.0) as usize;
                let (spacing, burst) = pacing(window, allowed);
                // Pacing: ahead of the even schedule by at most the burst allowance.
                let paced = state
                    .paced_until
                    .map_or(now, |due| due.checked_sub(burst).unwrap_or(now).max(now));
                if state.granted.len() < allowed && paced <= now {
                    state.granted.push_back(now);
                    state.paced_until =
                        Some(state.paced_until.map_or(now, |due| due.max(now)) + spacing);
                    state.since_decrease = state.since_decrease.saturating_add(1);
                    return Ok(now.duration_since(started));
                }
                // The permit that frees a slot: the one `allowed` places from the newest.
                let freed = if state.granted.len() < allowed {
                    now
                } else {
                    state.granted[state.granted.len() - allowed] + window
                };
                let wake = freed.max(paced);
                let quiet = state
                    .last_throttle_event
                    .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1));
                if !quiet {
                    state.last_throttle_event = Some(now);
                    tracing::debug!(
                        target: "deck_api_ext::rate_limit",
                        allowed_per_window = allowed,
                        window_ms = window.as_millis() as u64,
                        wait_ms = wake.saturating_duration_since(now).as_millis() as u64,
                        "rate limiter: waiting for a permit"
                    );
                }
                wake
            };
            if let Some(deadline) = deadline
                && wake > deadline
            {
                return Err(PermitTooLate {
                    wait: wake.saturating_duration_since(now),
                });
            }
            tokio::time::sleep_until(wake).await;
        }
    }

    /// A response that was not a rate-limit rejection: additive increase.
    pub(crate) fn on_success(&self) {
        let Some(window) = self.window() else {
            return;
        };
        let ceiling = Self::ceiling_of(&self.config);
        let now = Instant::now();
        let mut state = self.state();
        prune(&mut state.accepted, now, window);
        state.accepted.push_back(now);
        if state.accepted.len() > ceiling as usize + 1 {
            state.accepted.pop_front();
        }
        if state.allowed >= ceiling {
            return;
        }
        state.successes += 1;
        if f64::from(state.successes) >= state.allowed {
            state.successes = 0;
            state.allowed = (state.allowed + (ceiling * RECOVERY_STEP).max(1.0)).min(ceiling);
            tracing::debug!(
                target: "deck_api_ext::rate_limit",
                allowed_per_window = state.allowed,
                "rate limiter: rate recovering"
            );
        }
    }

    /// A `429 rate_limit_exceeded`: multiplicative decrease, once per window's worth of grants,
    /// and never above what Deck accepted from this client in the last window (its share of the
    /// budget, as observed).
    pub(crate) fn on_rate_limited(&self) {
        let Some(window) = self.window() else {
            return;
        };
        let now = Instant::now();
        let mut state = self.state();
        if f64::from(state.since_decrease) < state.allowed.min(f64::from(u32::MAX)) {
            return;
        }
        prune(&mut state.accepted, now, window);
        let observed = state.accepted.len() as f64;
        state.since_decrease = 0;
        state.successes = 0;
        // What Deck accepted from this client in the last window is its share of the budget.
        state.allowed = (state.allowed * self.config.decrease)
            .min(observed)
            .max(1.0);
        tracing::info!(
            target: "deck_api_ext::rate_limit",
            allowed_per_window = state.allowed,
            "rate limiter: Deck answered 429 rate_limit_exceeded; rate lowered"
        );
    }

    /// Whether the limiter paces requests (so a 429 needs no backoff of its own).
    pub(crate) fn is_on(&self) -> bool {
        self.config.budget.is_some()
    }

    /// The allowed permits per window now.
    #[cfg(test)]
    pub(crate) fn allowed(&self) -> f64 {
        self.state().allowed
    }
}

/// Drops the times older than `window` before `now` (the oldest first): the sliding-window log
/// of the limiter and of the fake server's enforcement.
pub(crate) fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_environment_form() {
        assert_eq!(
            RateLimit::parse("200/10s").unwrap(),
            RateLimit::per(200, Duration::from_secs(10))
        );
        assert_eq!(
            RateLimit::parse(" 50 / 1m ").unwrap(),
            RateLimit::per(50, Duration::from_secs(60))
        );
        assert_eq!(
            RateLimit::parse("100/500ms").unwrap(),
            RateLimit::per(100, Duration::from_millis(500))
        );
        assert_eq!(RateLimit::parse("OFF").unwrap(), RateLimit::off());
        for bad in [
            "", "200", "200/", "x/10s", "0/10s", "200/0s", "200/10h", "-1/10s",
        ] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_budget() {
        let limiter = Limiter::new(RateLimit::per(10, Duration::from_secs(1)).margin(0.0));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..35 {
            limiter.acquire(None).await.unwrap();
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times
                .iter()
                .filter(|u| **u >= *t && **u < *t + Duration::from_secs(1))
                .count();
            assert!(in_window <= 10, "window from permit {i} holds {in_window}");
        }
        // 10 per second with a burst allowance of one: paced every 100 ms.
        assert_eq!(times[34], Duration::from_millis(3400));
        assert!(
            times
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_millis(100))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_permit_beyond_the_deadline_fails_at_once() {
        let limiter = Limiter::new(RateLimit::per(2, Duration::from_secs(10)).margin(0.0));
        limiter.acquire(None).await.unwrap();
        // Two per 10 s are paced 5 s apart.
        assert_eq!(limiter.acquire(None).await.unwrap(), Duration::from_secs(5));
        let start = Instant::now();
        let err = limiter
            .acquire(Some(start + Duration::from_secs(3)))
            .await
            .unwrap_err();
        assert_eq!(err.wait, Duration::from_secs(5));
        assert_eq!(start.elapsed(), Duration::ZERO, "no waiting for nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_drops_on_429_once_per_window_and_recovers() {
        let limiter = Limiter::new(RateLimit::per(100, Duration::from_secs(10)).margin(0.0));
        for _ in 0..100 {
            limiter.acquire(None).await.unwrap();
        }
        for _ in 0..80 {
            limiter.on_success(); // at the ceiling: nothing to recover, but counted as accepted
        }
        limiter.on_rate_limited();
        assert_eq!(limiter.allowed(), 70.0, "×0.7, below the 80 Deck accepted");
        limiter.on_rate_limited(); // the same overshoot: counted once
        assert_eq!(limiter.allowed(), 70.0);
        for _ in 0..70 {
            limiter.on_success();
        }
        assert_eq!(
            limiter.allowed(),
            80.0,
            "+10 % of the budget per window's worth"
        );
        for _ in 0..10_000 {
            limiter.on_success();
        }
        assert_eq!(limiter.allowed(), 100.0, "never above the budget");

        // A 429 after Deck accepted only 30 in the window: down to that share at once.
        tokio::time::advance(Duration::from_secs(11)).await;
        for _ in 0..100 {
            limiter.acquire(None).await.unwrap();
        }
        for _ in 0..30 {
            limiter.on_success();
        }
        limiter.on_rate_limited();
        assert_eq!(limiter.allowed(), 30.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenth_of_the_allowance_goes_at_once_then_permits_are_paced() {
        let limiter = Limiter::new(RateLimit::per(100, Duration::from_secs(10)).margin(0.0));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..30 {
            limiter.acquire(None).await.unwrap();
            times.push(start.elapsed());
        }
        assert!(times[..10].iter().all(|t| t.is_zero()), "{times:?}");
        for (k, t) in times.iter().enumerate().skip(10) {
            // Permit k is due at k × 100 ms, at most 9 spacings early.
            assert_eq!(
                *t,
                Duration::from_millis(100) * (k as u32 - 9),
                "permit {k}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn off_never_waits() {
        let limiter = Limiter::new(RateLimit::off());
        for _ in 0..10_000 {
            assert_eq!(limiter.acquire(None).await.unwrap(), Duration::ZERO);
        }
        assert!(!limiter.is_on());
    }
}
