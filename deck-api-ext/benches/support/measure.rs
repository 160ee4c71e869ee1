//! Timing one run: wall time and the CPU time of the calling thread.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What one run of a case took.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Elapsed real time.
    pub wall: Duration,
    /// CPU time (user + system) of the thread that ran it.
    pub cpu: Duration,
}

/// The user + system CPU time the calling thread has used so far (`getrusage(RUSAGE_THREAD)`).
pub fn thread_cpu_time() -> Duration {
    // SAFETY: `getrusage` only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut usage) != 0 {
            panic!(
                "getrusage(RUSAGE_THREAD) failed: {}",
                std::io::Error::last_os_error()
            );
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A run of a case: a future counting the items it consumed.
pub type Run = Pin<Box<dyn Future<Output = u64>>>;

/// One benchmark case: a name and how to start a run.
pub struct Case {
    /// The row label.
    pub name: String,
    /// Starts one run.
    pub run: Box<dyn Fn() -> Run>,
}

impl Case {
    /// A case named `name` whose runs are `run()`.
    pub fn new<F, Fut>(name: impl Into<String>, run: F) -> Case
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = u64> + 'static,
    {
        Case {
            name: name.into(),
            run: Box::new(move || Box::pin(run())),
        }
    }
}

/// Runs every case `reps` times, interleaved (case order rotates each repetition so no case
/// always runs first), on `runtime`, after one warm-up run each. Every run must consume
/// `expected` items. Returns the samples per case, in case order.
pub fn run_interleaved(
    runtime: &tokio::runtime::Runtime,
    cases: &[Case],
    reps: usize,
    expected: u64,
) -> Vec<Vec<Sample>> {
    let check = |case: &Case, n: u64| {
        assert_eq!(
            n, expected,
            "{}: consumed {n} items, expected {expected}",
            case.name
        );
    };
    for case in cases {
        check(case, runtime.block_on((case.run)()));
    }
    let mut samples = vec![Vec::with_capacity(reps); cases.len()];
    for rep in 0..reps {
        for k in 0..cases.len() {
            let i = (k + rep) % cases.len();
            let case = &cases[i];
            let run = (case.run)();
            let (cpu0, t0) = (thread_cpu_time(), Instant::now());
            let n = runtime.block_on(run);
            let sample = Sample {
                wall: t0.elapsed(),
                cpu: thread_cpu_time() - cpu0,
            };
            check(case, n);
            samples[i].push(sample);
        }
    }
    samples
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}
