//! `deck events list` and `deck events tail`.
//!
//! `tail` works like `tail -f` on Deck's events feed: it prints the latest events (or every
//! event after `--since`), then asks for newer ones every interval and prints each new event
//! once, oldest first. It never reads this machine's clock: each round lists the events
//! created after a mark taken from Deck's own `created_at`s (the newest seen), minus an
//! [`OVERLAP`] that re-reads events which became visible late or carry a slightly older time.
//! Re-read events are recognised by their `id` and not printed again; the ids are remembered
//! only while they are inside the overlap (at most [`MAX_REMEMBERED`]), so memory stays
//! bounded however long it runs. Without `--since`, the first page (100 events) is taken as the
//! latest events, which holds when Deck lists events newest first, as the fake does (Deck does
//! not document the order; whatever it is, the mark is the newest `created_at` on that page, and
//! when more pages follow, events older than the page's oldest count as past and are never
//! printed). A failure that retrying may fix (after the client's own retries) is reported on
//! stderr and the round is tried again; any other failure ends the command.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use deck_api_ext::paginate::MAX_LIMIT;
use deck_api_ext::{Deck, ListExt, Paginator};
use futures_util::TryStreamExt;

use super::show;
use crate::failure::{Failure, one_line};
use crate::output::JsonLines;
use crate::raw_json::RawObject;

/// How far before the mark each round reads again.
pub const OVERLAP: Duration = Duration::from_secs(30);

/// At most this many event ids are remembered (the oldest are forgotten first).
pub const MAX_REMEMBERED: usize = 10_000;

/// `deck events list`: every event matching the filters, NDJSON, in the API's order.
pub async fn list<W: Write>(
    deck: &Deck,
    types: &[String],
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: u32,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    show::list(listing(deck, types, since, until).limit(limit), out).await
}

/// The events listing with these filters, items kept as sent.
fn listing(
    deck: &Deck,
    types: &[String],
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
) -> Paginator<RawObject> {
    let mut request = deck.api().list_events();
    if !types.is_empty() {
        request = request.type_(types.to_vec());
    }
    if let Some(at) = after {
        request = request.created_after(at);
    }
    if let Some(at) = before {
        request = request.created_before(at);
    }
    request.paginate_as::<RawObject>()
}

/// Where `deck events tail` starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// With the last N events (possibly none).
    Last(u32),
    /// With every event created after this instant.
    Since(DateTime<Utc>),
}

/// `deck events tail`: see the [module docs](self). Runs until interrupted or stdout closes.
pub async fn tail<W: Write>(
    deck: &Deck,
    types: &[String],
    start: Start,
    interval: Duration,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let mut feed = Feed::default();
    let first = match start {
        Start::Last(n) => {
            // A whole page, so that the events just before the last N are known too and not
            // printed later as new.
            let mut pages = listing(deck, types, None, None).limit(MAX_LIMIT).pages();
            let page = pages.try_next().await?;
            let (events, has_more) = page.map_or((Vec::new(), false), |p| (p.data, p.has_more));
            if has_more {
                // Older events than the page holds existed before the tail started.
                feed.floor = events.iter().filter_map(created_at).min();
            }
            let mut events = feed.admit(events);
            let keep = usize::try_from(n).unwrap_or(usize::MAX);
            events.drain(..events.len().saturating_sub(keep));
            events
        }
        Start::Since(at) => {
            feed.floor = Some(at);
            feed.mark = Some(at);
            let events = listing(deck, types, Some(at), None)
                .limit(MAX_LIMIT)
                .items()
                .try_collect()
                .await?;
            feed.admit(events)
        }
    };
    print(&first, out)?;

    let mut failures: u32 = 0;
    loop {
        tokio::time::sleep(retry_delay(interval, failures)).await;
        let after = feed.mark.map(before_overlap);
        let round: Result<Vec<RawObject>, _> = listing(deck, types, after, None)
            .limit(MAX_LIMIT)
            .items()
            .try_collect()
            .await;
        match round {
            Ok(events) => {
                failures = 0;
                let new = feed.admit(events);
                print(&new, out)?;
            }
            Err(error) if error.is_retryable() => {
                failures = failures.saturating_add(1);
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "deck: {} (trying again)",
                    one_line(&error.to_string())
                );
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// The wait before the next round: the interval, doubled per failed round in a row (at most
/// a minute).
fn retry_delay(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32.checked_shl(failures.min(6)).unwrap_or(64);
    interval
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(60).max(interval))
}

/// `at` minus the [`OVERLAP`] (the earliest instant for a time that close to the minimum).
fn before_overlap(at: DateTime<Utc>) -> DateTime<Utc> {
    TimeDelta::from_std(OVERLAP)
        .ok()
        .and_then(|overlap| at.checked_sub_signed(overlap))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn print<W: Write>(events: &[RawObject], out: &mut JsonLines<W>) -> Result<(), Failure> {
    if events.is_empty() {
        return Ok(());
    }
    for event in events {
        out.write(event)?;
    }
    out.flush()
}

/// What the tail has seen: the mark and the events inside the overlap.
#[derive(Debug, Default)]
struct Feed {
    /// The newest `created_at` seen.
    mark: Option<DateTime<Utc>>,
    /// Events created at or before this instant are not printed: they are before `--since`,
    /// or older than the first page, which existed before the tail started.
    floor: Option<DateTime<Utc>>,
    /// The events seen, by key, with the time they are forgotten after.
    seen: HashMap<String, DateTime<Utc>>,
}

impl Feed {
    /// The events of `listed` not seen before, oldest first; they are remembered and the mark
    /// moves to the newest `created_at`.
    fn admit(&mut self, listed: Vec<RawObject>) -> Vec<RawObject> {
        let mut new: Vec<(Option<DateTime<Utc>>, String, RawObject)> = Vec::new();
        for event in listed {
            let key = key(&event);
            if self.seen.contains_key(&key) || new.iter().any(|(_, k, _)| *k == key) {
                continue;
            }
            let at = created_at(&event);
            if at.zip(self.floor).is_some_and(|(at, floor)| at <= floor) {
                continue;
            }
            new.push((at, key, event));
        }
        // Oldest first; an event without a readable time after those with one.
        new.sort_by(|(a, ka, _), (b, kb, _)| match (a, b) {
            (Some(a), Some(b)) => a.cmp(b).then_with(|| ka.cmp(kb)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => ka.cmp(kb),
        });
        let newest = new.iter().filter_map(|(at, _, _)| *at).max();
        self.mark = self.mark.max(newest);
        let fallback = self.mark.unwrap_or(DateTime::<Utc>::MIN_UTC);
        for (at, key, _) in &new {
            self.seen.insert(key.clone(), at.unwrap_or(fallback));
        }
        self.forget();
        new.into_iter().map(|(_, _, event)| event).collect()
    }

    /// Forgets events that fell out of the overlap, then the oldest beyond [`MAX_REMEMBERED`].
    fn forget(&mut self) {
        if let Some(mark) = self.mark {
            let horizon = before_overlap(mark);
            self.seen.retain(|_, at| *at >= horizon);
        }
        if self.seen.len() > MAX_REMEMBERED {
            let mut times: Vec<DateTime<Utc>> = self.seen.values().copied().collect();
            times.sort_unstable();
            let cut = times[self.seen.len() - MAX_REMEMBERED];
            self.seen.retain(|_, at| *at >= cut);
            // Ties at the cut may keep a few more; drop arbitrary ones to stay bounded.
            let extra = self.seen.len().saturating_sub(MAX_REMEMBERED);
            let drop: Vec<String> = self
                .seen
                .iter()
                .filter(|(_, at)| **at == cut)
                .map(|(k, _)| k.clone())
                .take(extra)
                .collect();
            for key in drop {
                self.seen.remove(&key);
            }
        }
    }
}

/// An event's identity: its `id`, or for an event without one its whole text.
fn key(event: &RawObject) -> String {
    event
        .str_field("id")
        .unwrap_or_else(|| serde_json::to_string(event).unwrap_or_default())
}

/// An event's `created_at`, when it is an RFC 3339 string.
fn created_at(event: &RawObject) -> Option<DateTime<Utc>> {
    let text = event.str_field("created_at")?;
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, at: &str) -> RawObject {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","object":"event","type":"task_run.queued","created_at":"{at}","zeta":1}}"#
        ))
        .unwrap()
    }

    fn ids(events: &[RawObject]) -> Vec<String> {
        events.iter().map(|e| e.str_field("id").unwrap()).collect()
    }

    #[test]
    fn new_events_once_oldest_first_and_the_mark_follows_deck_times() {
        let mut feed = Feed::default();
        let first = feed.admit(vec![
            event("evt_3", "2025-01-15T09:30:02Z"),
            event("evt_2", "2025-01-15T09:30:01Z"),
            event("evt_1", "2025-01-15T09:30:01Z"),
        ]);
        assert_eq!(ids(&first), ["evt_1", "evt_2", "evt_3"]);
        assert_eq!(feed.mark.unwrap().to_rfc3339(), "2025-01-15T09:30:02+00:00");
        // The next round re-reads the overlap: only evt_4 is new, even though it is older
        // than the mark (it became visible late).
        let next = feed.admit(vec![
            event("evt_4", "2025-01-15T09:30:01.500Z"),
            event("evt_3", "2025-01-15T09:30:02Z"),
            event("evt_2", "2025-01-15T09:30:01Z"),
        ]);
        assert_eq!(ids(&next), ["evt_4"]);
        assert_eq!(feed.mark.unwrap().to_rfc3339(), "2025-01-15T09:30:02+00:00");
        assert!(
            feed.admit(vec![event("evt_4", "2025-01-15T09:30:01.500Z")])
                .is_empty()
        );
        // Printed as sent.
        assert_eq!(
            serde_json::to_string(&next[0]).unwrap(),
            r#"{"id":"evt_4","object":"event","type":"task_run.queued","created_at":"2025-01-15T09:30:01.500Z","zeta":1}"#
        );
    }

    #[test]
    fn nothing_at_or_before_the_floor_is_printed() {
        let mut feed = Feed {
            floor: Some(instant("2025-01-15T09:30:00Z")),
            ..Feed::default()
        };
        let new = feed.admit(vec![
            event("evt_1", "2025-01-15T09:29:59Z"),
            event("evt_2", "2025-01-15T09:30:00Z"),
            event("evt_3", "2025-01-15T09:30:00.001Z"),
        ]);
        assert_eq!(ids(&new), ["evt_3"]);
    }

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn events_outside_the_overlap_are_forgotten() {
        let mut feed = Feed::default();
        feed.admit(vec![event("evt_1", "2025-01-15T09:30:00Z")]);
        feed.admit(vec![event("evt_2", "2025-01-15T09:31:00Z")]);
        assert_eq!(
            feed.seen.len(),
            1,
            "evt_1 is more than 30 s before the mark"
        );
        assert!(feed.seen.contains_key("evt_2"));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut feed = Feed::default();
        let events: Vec<RawObject> = (0..MAX_REMEMBERED + 50)
            .map(|i| event(&format!("evt_{i}"), "2025-01-15T09:30:00Z"))
            .collect();
        assert_eq!(feed.admit(events).len(), MAX_REMEMBERED + 50);
        assert_eq!(feed.seen.len(), MAX_REMEMBERED);
    }

    #[test]
    fn events_without_id_or_time_are_kept_and_deduplicated() {
        let mut feed = Feed::default();
        let odd: RawObject = serde_json::from_str(r#"{"type":"x","created_at":"soon"}"#).unwrap();
        let new = feed.admit(vec![odd.clone(), event("evt_1", "2025-01-15T09:30:00Z")]);
        assert_eq!(new.len(), 2);
        assert_eq!(new[0].str_field("id").as_deref(), Some("evt_1"));
        assert!(feed.admit(vec![odd]).is_empty());
    }

    #[test]
    fn failed_rounds_back_off_up_to_a_minute() {
        let s = Duration::from_secs;
        assert_eq!(retry_delay(s(2), 0), s(2));
        assert_eq!(retry_delay(s(2), 1), s(4));
        assert_eq!(retry_delay(s(2), 5), s(60));
        assert_eq!(retry_delay(s(2), u32::MAX), s(60));
        assert_eq!(retry_delay(s(90), 3), s(90));
    }
}
