//! Injectable faults: what can go wrong, where, how many times, and how often it did.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Where a fault applies: one operation of the API, every API operation, or the storage origin.
///
/// There is one variant per operation of `spec/catalogue.json` (named after its operationId,
/// except [`Route::ListStorage`] for `listTaskRunStorage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `GET /v2/test` (`getTest`).
    GetTest,
    /// `GET /v2/agents` (`listAgents`).
    ListAgents,
    /// `POST /v2/agents` (`createAgent`).
    CreateAgent,
    /// `GET /v2/agents/{agent_id}` (`getAgent`).
    GetAgent,
    /// `PATCH /v2/agents/{agent_id}` (`updateAgent`).
    UpdateAgent,
    /// `DELETE /v2/agents/{agent_id}` (`deleteAgent`).
    DeleteAgent,
    /// `GET /v2/sources` (`listSources`).
    ListSources,
    /// `POST /v2/sources` (`createSource`).
    CreateSource,
    /// `GET /v2/sources/{source_id}` (`getSource`).
    GetSource,
    /// `PATCH /v2/sources/{source_id}` (`updateSource`).
    UpdateSource,
    /// `DELETE /v2/sources/{source_id}` (`deleteSource`).
    DeleteSource,
    /// `GET /v2/credentials` (`listCredentials`).
    ListCredentials,
    /// `POST /v2/credentials` (`createCredential`).
    CreateCredential,
    /// `GET /v2/credentials/{credential_id}` (`getCredential`).
    GetCredential,
    /// `PATCH /v2/credentials/{credential_id}` (`updateCredential`).
    UpdateCredential,
    /// `DELETE /v2/credentials/{credential_id}` (`deleteCredential`).
    DeleteCredential,
    /// `GET /v2/tasks` (`listTasks`).
    ListTasks,
    /// `POST /v2/tasks` (`createTask`).
    CreateTask,
    /// `GET /v2/tasks/{task_id}` (`getTask`).
    GetTask,
    /// `PATCH /v2/tasks/{task_id}` (`updateTask`).
    UpdateTask,
    /// `DELETE /v2/tasks/{task_id}` (`deleteTask`).
    DeleteTask,
    /// `POST /v2/tasks/{task_id}/run` (`runTask`).
    RunTask,
    /// `POST /v2/tasks/{task_id}/reset` (`resetTask`).
    ResetTask,
    /// `GET /v2/task-runs` (`listTaskRuns`).
    ListTaskRuns,
    /// `GET /v2/task-runs/{run_id}` (`getTaskRun`).
    GetTaskRun,
    /// `POST /v2/task-runs/{run_id}/cancel` (`cancelTaskRun`).
    CancelTaskRun,
    /// `POST /v2/task-runs/{run_id}/interaction` (`submitTaskRunInteraction`).
    SubmitTaskRunInteraction,
    /// `GET /v2/task-runs/{run_id}/storage` (`listTaskRunStorage`).
    ListStorage,
    /// `GET /v2/storage/{storage_id}` (`getStorageItem`).
    GetStorageItem,
    /// `DELETE /v2/storage/{storage_id}` (`deleteStorageItem`).
    DeleteStorageItem,
    /// `GET /v2/sessions/{session_id}` (`getSession`).
    GetSession,
    /// `POST /v2/sessions/{session_id}/end` (`endSession`).
    EndSession,
    /// `GET /v2/events` (`listEvents`).
    ListEvents,
    /// `GET /v2/events/{event_id}` (`getEvent`).
    GetEvent,
    /// `GET /v2/event-destinations` (`listEventDestinations`).
    ListEventDestinations,
    /// `POST /v2/event-destinations` (`createEventDestination`).
    CreateEventDestination,
    /// `GET /v2/event-destinations/{destination_id}` (`getEventDestination`).
    GetEventDestination,
    /// `PATCH /v2/event-destinations/{destination_id}` (`updateEventDestination`).
    UpdateEventDestination,
    /// `DELETE /v2/event-destinations/{destination_id}` (`deleteEventDestination`).
    DeleteEventDestination,
    /// `GET /v2/event-destinations/{destination_id}/event-deliveries` (`listEventDeliveries`).
    ListEventDeliveries,
    /// `POST /v2/token` (`createSessionToken`).
    CreateSessionToken,
    /// Every API operation above.
    AnyApi,
    /// `GET /files/{storage_id}` on the storage origin (pre-signed downloads).
    StorageDownload,
}

impl Route {
    /// Whether this is an API route (as opposed to the storage origin).
    pub fn is_api(self) -> bool {
        !matches!(self, Self::StorageDownload)
    }

    /// Whether this is a cursor list (where [`Fault::RepeatCursor`] and
    /// [`Fault::HasMoreWithoutCursor`] apply).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Self::ListAgents
                | Self::ListSources
                | Self::ListCredentials
                | Self::ListTasks
                | Self::ListTaskRuns
                | Self::ListStorage
                | Self::ListEvents
                | Self::ListEventDestinations
                | Self::ListEventDeliveries
        )
    }

    /// Whether a fault injected for `self` applies to a request served by `served`.
    pub(crate) fn covers(self, served: Route) -> bool {
        self == served || (self == Self::AnyApi && served.is_api())
    }
}

/// A fault the fake injects instead of, or into, its normal response.
///
/// Faults are armed with [`FakeDeck::inject`](super::FakeDeck::inject) for a [`Route`] and a
/// number of times. On each request at most one [`Fault::Latency`] and one other fault fire
/// (the earliest injected that still has firings left); a fault disappears once it has fired
/// its number of times.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answers `status` instead of serving the request. API routes answer Deck's error
    /// envelope (`429` → `rate_limit`/`rate_limit_exceeded`, `5xx` → `api`/…), the storage
    /// origin an S3-style XML error; `retry_after` is sent verbatim as `Retry-After`.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` header value (seconds or an HTTP date), if any.
        retry_after: Option<String>,
    },
    /// Answers `status` with an HTML page and no `request_id`, as a proxy or load balancer in
    /// front of Deck does.
    GatewayHtml {
        /// The HTTP status code.
        status: u16,
    },
    /// Waits this long before serving the request (virtual time under `tokio::time::pause`).
    Latency(Duration),
    /// Sends the status line, the headers and the full `Content-Length`, then closes the
    /// connection after `after_bytes` bytes of the body (a body no longer than that is sent
    /// whole). The handler runs first, so a cut `POST` has still created its resource; with an
    /// `Idempotency-Key` the retry gets the original response back.
    CutBody {
        /// Body bytes sent before the connection closes.
        after_bytes: u64,
    },
    /// Storage origin: answers `403` as for an expired pre-signed URL. API routes that return
    /// download URLs (list, get item, get task run): the URLs they return are already expired.
    ExpiredUrl,
    /// API routes: answers `200` with a `Content-Type: application/json` body that is not valid
    /// JSON (the real body cut in half).
    MalformedJson,
    /// List routes ([`Route::is_list`]): answers the page with `has_more: true` and a
    /// `next_cursor` equal to the request's `cursor` (on the first page, a cursor that points
    /// back to the first page).
    RepeatCursor,
    /// List routes ([`Route::is_list`]): answers the page with `has_more: true` and
    /// `next_cursor: null`.
    HasMoreWithoutCursor,
    /// Storage origin: ignores `Range` and answers `200` with the whole file.
    IgnoreRange,
    /// API routes: answers `200` with a JSON body that never ends (`{"object":"list","data":[`
    /// and then storage items, forever, in 64 KiB chunks without `Content-Length`), as a
    /// hostile or broken server might; it stops when the client hangs up.
    EndlessBody,
}

impl Fault {
    /// `status` with Deck's error body and no `Retry-After`.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after: None,
        }
    }

    /// `429 Too Many Requests` with Deck's `rate_limit_exceeded` body and an optional
    /// `Retry-After` value.
    pub fn rate_limited(retry_after: Option<&str>) -> Self {
        Self::Status {
            status: 429,
            retry_after: retry_after.map(str::to_owned),
        }
    }

    fn is_latency(&self) -> bool {
        matches!(self, Self::Latency(_))
    }

    /// Why this fault cannot apply to `route`, if it cannot.
    pub(crate) fn unsupported_on(&self, route: Route) -> Option<&'static str> {
        match self {
            Self::Status { .. }
            | Self::GatewayHtml { .. }
            | Self::Latency(_)
            | Self::CutBody { .. } => None,
            Self::MalformedJson | Self::EndlessBody if !route.is_api() => Some("API routes"),
            Self::ExpiredUrl
                if !matches!(
                    route,
                    Route::StorageDownload
                        | Route::ListStorage
                        | Route::GetStorageItem
                        | Route::GetTaskRun
                ) =>
            {
                Some("Route::StorageDownload and the routes that return download URLs")
            }
            Self::RepeatCursor | Self::HasMoreWithoutCursor if !route.is_list() => {
                Some("list routes")
            }
            Self::IgnoreRange if route != Route::StorageDownload => Some("Route::StorageDownload"),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Counter {
    remaining: AtomicUsize,
    hits: AtomicUsize,
}

/// A handle on one injected fault: how often it fired and how often it still will.
#[derive(Clone)]
pub struct FaultHandle {
    route: Route,
    fault: Fault,
    counter: Arc<Counter>,
}

impl FaultHandle {
    /// How many requests this fault has fired on.
    pub fn hits(&self) -> usize {
        self.counter.hits.load(Ordering::SeqCst)
    }

    /// How many more times it will fire.
    pub fn remaining(&self) -> usize {
        self.counter.remaining.load(Ordering::SeqCst)
    }

    /// Stops it from firing again (its hits still count).
    pub fn disarm(&self) {
        self.counter.remaining.store(0, Ordering::SeqCst);
    }

    /// The route it was injected for.
    pub fn route(&self) -> Route {
        self.route
    }

    /// The fault.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }
}

impl fmt::Debug for FaultHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultHandle")
            .field("route", &self.route)
            .field("fault", &self.fault)
            .field("hits", &self.hits())
            .field("remaining", &self.remaining())
            .finish()
    }
}

/// Every fault injected so far, in injection order (exhausted ones stay for counting).
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Mutex<Vec<FaultHandle>>,
}

/// The faults that fire on one request.
#[derive(Debug, Default)]
pub(crate) struct Firing {
    pub(crate) latency: Option<Duration>,
    pub(crate) action: Option<Fault>,
}

impl Faults {
    pub(crate) fn inject(&self, route: Route, fault: Fault, times: usize) -> FaultHandle {
        let handle = FaultHandle {
            route,
            fault,
            counter: Arc::new(Counter {
                remaining: AtomicUsize::new(times),
                hits: AtomicUsize::new(0),
            }),
        };
        self.lock().push(handle.clone());
        handle
    }

    /// Takes the faults that fire on a request served by `route`, counting them.
    pub(crate) fn fire(&self, route: Route) -> Firing {
        let armed = self.lock();
        let mut firing = Firing::default();
        for handle in armed.iter() {
            if !handle.route.covers(route) || handle.remaining() == 0 {
                continue;
            }
            let slot_free = if handle.fault.is_latency() {
                firing.latency.is_none()
            } else {
                firing.action.is_none()
            };
            if !slot_free {
                continue;
            }
            handle.counter.remaining.fetch_sub(1, Ordering::SeqCst);
            handle.counter.hits.fetch_add(1, Ordering::SeqCst);
            match &handle.fault {
                Fault::Latency(d) => firing.latency = Some(*d),
                other => firing.action = Some(other.clone()),
            }
        }
        firing
    }

    /// Total hits of the faults injected for exactly `route`.
    pub(crate) fn hits(&self, route: Route) -> usize {
        self.lock()
            .iter()
            .filter(|h| h.route == route)
            .map(FaultHandle::hits)
            .sum()
    }

    /// Disarms every fault.
    pub(crate) fn clear(&self) {
        for handle in self.lock().iter() {
            handle.disarm();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultHandle>> {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_fire_their_number_of_times_in_order() {
        let faults = Faults::default();
        let a = faults.inject(Route::ListStorage, Fault::status(503), 1);
        let b = faults.inject(Route::AnyApi, Fault::rate_limited(Some("1")), 2);
        let slow = faults.inject(
            Route::ListStorage,
            Fault::Latency(Duration::from_secs(1)),
            1,
        );

        let first = faults.fire(Route::ListStorage);
        assert_eq!(first.action, Some(Fault::status(503)));
        assert_eq!(first.latency, Some(Duration::from_secs(1)));
        assert_eq!(
            faults.fire(Route::GetTask).action,
            Some(Fault::rate_limited(Some("1")))
        );
        assert_eq!(faults.fire(Route::StorageDownload).action, None);
        assert_eq!(
            faults.fire(Route::ListStorage).action,
            Some(Fault::rate_limited(Some("1")))
        );
        let last = faults.fire(Route::ListStorage);
        assert_eq!((last.action, last.latency), (None, None));

        assert_eq!((a.hits(), b.hits(), slow.hits()), (1, 2, 1));
        assert_eq!(faults.hits(Route::ListStorage), 2);
        assert_eq!(faults.hits(Route::AnyApi), 2);
        assert_eq!(b.remaining(), 0);
    }

    #[test]
    fn disarmed_faults_stop_firing_but_keep_counting() {
        let faults = Faults::default();
        let h = faults.inject(Route::StorageDownload, Fault::IgnoreRange, usize::MAX);
        faults.fire(Route::StorageDownload);
        faults.clear();
        assert_eq!(faults.fire(Route::StorageDownload).action, None);
        assert_eq!(h.hits(), 1);
    }

    #[test]
    fn applicability() {
        assert!(
            Fault::IgnoreRange
                .unsupported_on(Route::ListStorage)
                .is_some()
        );
        assert!(Fault::RepeatCursor.unsupported_on(Route::AnyApi).is_some());
        assert!(
            Fault::RepeatCursor
                .unsupported_on(Route::GetEvent)
                .is_some()
        );
        assert!(
            Fault::HasMoreWithoutCursor
                .unsupported_on(Route::ListEventDeliveries)
                .is_none()
        );
        assert!(
            Fault::MalformedJson
                .unsupported_on(Route::StorageDownload)
                .is_some()
        );
        assert!(
            Fault::ExpiredUrl
                .unsupported_on(Route::CreateTask)
                .is_some()
        );
        assert!(
            Fault::ExpiredUrl
                .unsupported_on(Route::GetStorageItem)
                .is_none()
        );
        assert!(
            Fault::status(500)
                .unsupported_on(Route::StorageDownload)
                .is_none()
        );
    }
}
