//! The pool's counts ([`PoolMetrics`]): cheap enough to stay on.
//!
//! * Each worker counts what it runs in its own [`WorkerCounts`], on its own cache line,
//!   and is the only thread that writes them (a task a worker runs inline while it waits
//!   runs on that worker's thread too), so a count is a relaxed load and store, no
//!   read-modify-write.
//! * Submits are not counted as they happen, so a submit costs nothing more: every
//!   accepted task has begun, or ended before it began, or is still queued, so a snapshot
//!   adds those up.
//! * The drains of `shutdown(cancel_futures = true)` and of a broken pool count on a shared
//!   counter (rare, and on whatever thread drains).
//!
//! A snapshot adds them up with relaxed loads: each figure is exact once the pool is quiet.
//! While it is busy each is a recent value, and `submitted` may briefly count twice a task
//! that a pool thread runs inline while its queue entry is still queued. No count
//! synchronizes anything, so the loom models leave them out.
//!
//! Every queue entry is counted once, when it is consumed: run by a worker (completed,
//! failed or panicked), found cancelled by the worker that pops it or by a drain
//! (cancelled), failed by a broken pool's drain (failed), or already run inline by a thread
//! of the pool that waited on it (counted by that run).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::histogram::Histogram;
use super::spin::SpinEnd;
use crate::future::hooks::{Ended, RunHooks};

/// A snapshot of a pool's counts ([`ThreadPoolExecutor::metrics`](crate::ThreadPoolExecutor::metrics)).
///
/// The task counts only grow. Once every submitted task has ended,
/// `submitted == completed + failed + panicked + cancelled`; while tasks are queued or
/// running, the difference is `queued` plus the running ones.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::new(2).unwrap();
/// pool.submit(|| 1).unwrap().result().unwrap();
/// let failed = pool.submit_fallible(|| "x".parse::<u8>()).unwrap();
/// assert!(failed.exception().unwrap().is_some());
/// let m = pool.metrics();
/// assert_eq!((m.submitted, m.completed, m.failed), (2, 1, 1));
/// assert_eq!(m.queued, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Tasks accepted by `submit` (and every form of it, `map`'s included): those that
    /// began, those that ended before they began, and those queued now.
    pub submitted: u64,
    /// Tasks whose body began.
    pub started: u64,
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that ended with an exception other than a panic: an `Err` of
    /// `submit_fallible`, or a queued task failed by a broken pool.
    pub failed: u64,
    /// Tasks whose body panicked.
    pub panicked: u64,
    /// Tasks cancelled before they started (`Future::cancel`, a dropped `Map`,
    /// `shutdown(cancel_futures = true)`).
    pub cancelled: u64,
    /// Tasks in the queue now (approximate while submits and pops race).
    pub queued: usize,
    /// Worker threads alive now (started, not yet exited).
    pub live_workers: usize,
    /// Workers running a task (or user code after one) now.
    pub busy_workers: usize,
    /// Workers looking for work or asleep now.
    pub idle_workers: usize,
    /// Idle spins (a worker polling the empty queue before it sleeps, as the
    /// [`WakePolicy`](crate::WakePolicy) says) that found a task: each saved a wake-up.
    pub spins_caught: u64,
    /// Idle spins that ended with no task: CPU spent for nothing.
    pub spins_missed: u64,
    /// How long tasks waited in the queue, if the pool was built with
    /// [`timing_histograms(true)`](crate::ThreadPoolBuilder::timing_histograms).
    pub queue_wait: Option<Histogram>,
    /// How long task bodies ran, likewise.
    pub run_time: Option<Histogram>,
}

/// One worker's counts; written only by that worker's thread.
#[derive(Default)]
pub(crate) struct WorkerCounts {
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    cancelled: AtomicU64,
    spins_caught: AtomicU64,
    spins_missed: AtomicU64,
}

/// One more on a counter only this thread writes.
#[inline]
fn bump(c: &AtomicU64) {
    // ORDERING: Relaxed load and store, no RMW: this counter has one writer (module doc),
    // and its readers want a count, not an order.
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl WorkerCounts {
    #[inline]
    pub(crate) fn claimed(&self) {
        bump(&self.started);
    }

    #[inline]
    pub(crate) fn ended(&self, ended: Ended) {
        match ended {
            Ended::Value => bump(&self.completed),
            Ended::Exception => bump(&self.failed),
            Ended::Panic => bump(&self.panicked),
            Ended::Cancelled => bump(&self.cancelled),
            // Counted by the run that took it, or by the thread that publishes.
            Ended::Elsewhere | Ended::Detached => {}
        }
    }

    #[inline]
    pub(crate) fn spun(&self, end: SpinEnd) {
        match end {
            SpinEnd::NoSpin => {}
            SpinEnd::Caught => bump(&self.spins_caught),
            SpinEnd::Missed => bump(&self.spins_missed),
        }
    }
}

/// A pool's counters.
pub(crate) struct Counters {
    pub(super) on: bool,
    drained_cancelled: AtomicU64,
    drained_failed: AtomicU64,
    /// Every worker's counts, also of workers that have exited.
    workers: std::sync::Mutex<Vec<std::sync::Arc<CachePadded<WorkerCounts>>>>,
    /// Tasks run on their submitting threads (`WhenFull::CallerRuns`); the lock makes its
    /// holder the one writer.
    caller: std::sync::Mutex<WorkerCounts>,
}

/// What a task run on its submitting thread reports: only the counts.
pub(super) struct CallerHooks<'a>(&'a Counters);

impl RunHooks for CallerHooks<'_> {
    fn claimed(&self) {
        if self.0.on {
            self.0.caller_counts().claimed();
        }
    }
    fn body_done(&self, ended: Ended) {
        if self.0.on {
            self.0.caller_counts().ended(ended);
        }
    }
    fn user_code_begins(&self) {}
    fn user_code_ends(&self) {}
}

impl Counters {
    pub(super) fn new(on: bool) -> Self {
        Counters {
            on,
            drained_cancelled: AtomicU64::new(0),
            drained_failed: AtomicU64::new(0),
            workers: std::sync::Mutex::new(Vec::new()),
            caller: std::sync::Mutex::new(WorkerCounts::default()),
        }
    }

    /// The hooks of a run on a submitting thread.
    pub(super) fn caller_hooks(&self) -> CallerHooks<'_> {
        CallerHooks(self)
    }

    fn caller_counts(&self) -> std::sync::MutexGuard<'_, WorkerCounts> {
        self.caller.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A drain ended a queued task: `failed` if it failed it (a broken pool), else cancelled.
    pub(super) fn drained(&self, failed: bool) {
        if self.on {
            let c = if failed {
                &self.drained_failed
            } else {
                &self.drained_cancelled
            };
            // ORDERING: Relaxed: a count (module doc).
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A new worker's counts, registered for snapshots; `None` with metrics off.
    pub(super) fn worker(&self) -> Option<std::sync::Arc<CachePadded<WorkerCounts>>> {
        if !self.on {
            return None;
        }
        let c = std::sync::Arc::new(CachePadded::new(WorkerCounts::default()));
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(c.clone());
        Some(c)
    }

    /// The task counts, summed, with `queued` tasks in the queue now; the caller fills in
    /// the worker gauges.
    pub(super) fn snapshot(&self, queued: usize) -> PoolMetrics {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut m = PoolMetrics {
            queued,
            failed: load(&self.drained_failed),
            cancelled: load(&self.drained_cancelled),
            ..PoolMetrics::default()
        };
        let caller = self.caller_counts();
        let workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        for w in workers.iter().map(|w| &***w).chain([&*caller]) {
            m.started += load(&w.started);
            m.completed += load(&w.completed);
            m.failed += load(&w.failed);
            m.panicked += load(&w.panicked);
            m.cancelled += load(&w.cancelled);
            m.spins_caught += load(&w.spins_caught);
            m.spins_missed += load(&w.spins_missed);
        }
        if self.on {
            // Every accepted task has begun, or ended unstarted (cancelled, or failed by a
            // broken pool's drain), or is queued.
            m.submitted = m.started + m.cancelled + load(&self.drained_failed) + queued as u64;
        }
        m
    }
}

impl fmt::Display for PoolMetrics {
    /// One line, for logs.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// pool.submit(|| ()).unwrap().result().unwrap();
    /// let line = pool.metrics().to_string();
    /// assert!(line.starts_with("submitted 1, started 1, completed 1,"), "{line}");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "submitted {}, started {}, completed {}, failed {}, panicked {}, cancelled {}; \
             queued {}; workers {} ({} busy, {} idle); spins {} caught, {} missed",
            self.submitted,
            self.started,
            self.completed,
            self.failed,
            self.panicked,
            self.cancelled,
            self.queued,
            self.live_workers,
            self.busy_workers,
            self.idle_workers,
            self.spins_caught,
            self.spins_missed
        )
    }
}
