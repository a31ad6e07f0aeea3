//! [`ThreadPoolExecutor`]: Python's `concurrent.futures.ThreadPoolExecutor`.
//!
//! Tasks are one allocation each (`future/task.rs`), pushed on a lock-free injector queue
//! that every worker pulls from. Threads start lazily, one at a time as work arrives, and an
//! idle one is always used before a new one starts (`sleep.rs`). `docs/sleep.md` gives the
//! wake-up protocol and why it loses nothing.
//!
//! # Pool rules
//!
//! 1. **Accepted means run (or cancelled, or failed), never lost.** A submit first adds one
//!    to the in-flight count in the pool's state word, in the same RMW that checks the
//!    `SHUTDOWN` and `BROKEN` flags, and removes it after the push *and* after reserving any
//!    worker the task needs. Workers exit, a broken pool drains its queue, and
//!    `shutdown(wait = true)` starts joining only after seeing the flag set with no submit in
//!    flight, so every accepted task is queued and has a worker (counted in `live`) by then.
//! 2. **No lost wake-up.** After every push the submitter runs the notify protocol of
//!    `sleep.rs`: someone searching, or a sleeper woken, or a thread started.
//! 3. **Waiting on your own pool never deadlocks.** A worker that waits on a pending task of
//!    its own pool (`result`, `wait`, `as_completed`) claims it and runs it inline: the
//!    pool's threads enter its id (`context::Enter`), and its tasks carry it.
//! 4. **A worker counts as free only while it runs no user code.** It counts itself searching
//!    from the end of a task's body (so whoever the result wakes and submits at once reuses
//!    it), and stops counting around every piece of user code that runs on it after the
//!    publish (done-callbacks, wakers, the value's drop: `future/hooks.rs`) and around its
//!    initializer; a task submitted meanwhile gets another thread, as CPython's would.
//! 5. **Ending queued tasks is two-phase, behind a closed gate.** A drain
//!    (`shutdown(cancel_futures = true)`, a broken pool) first closes the pool's inline gate
//!    (`context::current_for_inline`), so that none of its threads claims a queued task
//!    inline any more; then ends every task it pops (cancelled, or failed), running no user
//!    code; and only then wakes their listeners and drops their closures (a value's
//!    panicking drop is caught there). A callback of one that waits on another finds it
//!    ended, or waits for the worker that popped it: never runs it.
//! 6. **Shutdown never waits for itself.** `shutdown(wait = true)` on one of the pool's own
//!    workers joins no thread: it waits until every other worker has exited or is itself
//!    waiting in such a shutdown, so any number of tasks, callbacks and drops may shut the
//!    pool down at once. Only other threads join.

mod bound;
mod builder;
mod histogram;
mod metrics;
mod scope;
mod shared;
mod sleep;
mod spin;
mod worker;

#[cfg_attr(concurrent_futures_loom, allow(unused_imports))] // the process pool's too
pub(crate) use bound::checked_bound;
use bound::{Bound, Room};
pub use bound::{SubmitAsync, WhenFull};
pub use builder::{Initializer, ThreadPoolBuilder, default_max_workers};
pub use histogram::Histogram;
use histogram::Timings;
use metrics::Counters;
pub use metrics::PoolMetrics;
pub use scope::Scope;
pub(crate) use shared::Shared;
use shared::*;
pub use spin::WakePolicy;

use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{BuildError, Exception, ShutdownTimedOut, SubmitError};
use crate::executor::task;
use crate::executor::{Entry, Executor, Map, MapOptions, Shutdown};
use crate::future::task::{self as task_cell, TaskRef};
use crate::future::{CancelToken, Future};
use crate::sync::{
    Arc, AtomicBool, AtomicUsize, Condvar, Injector, JoinHandle, Mutex, OnceLock, Ordering,
    StaticAtomicUsize, lock, yield_now,
};
use crate::unwind::report;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sleep::{Notified, Sleep};

/// Python's `ThreadPoolExecutor`: runs tasks on up to `max_workers` threads.
///
/// Handles are cheap to clone and share one pool. Dropping the last handle shuts the pool
/// down and waits for queued tasks, as Python's `with` block does; dropping it on one of the
/// pool's own workers does not join that worker.
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(4).unwrap();
/// let fut = pool.submit(|| 2u64.pow(8)).unwrap();
/// assert_eq!(*fut.result().unwrap(), 256);
/// ```
#[derive(Clone)]
pub struct ThreadPoolExecutor {
    handle: Arc<PoolHandle>,
}

struct PoolHandle {
    shared: Arc<Shared>,
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        self.shared.shutdown(true, false);
    }
}

impl Default for ThreadPoolExecutor {
    /// Python's `ThreadPoolExecutor()`: [`default_max_workers`] threads at most, started
    /// lazily.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::default();
    /// assert_eq!(pool.max_workers(), concurrent_futures::default_max_workers());
    /// assert_eq!(*pool.submit(|| 1 + 1).unwrap().result().unwrap(), 2);
    /// ```
    fn default() -> Self {
        Self::builder()
            .build()
            .expect("the default settings are valid")
    }
}

impl ThreadPoolExecutor {
    /// A pool of at most `max_workers` threads. Zero is an error, not a panic.
    pub fn new(max_workers: usize) -> Result<Self, BuildError> {
        Self::builder().max_workers(max_workers).build()
    }

    /// A builder for the other options.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::default()
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// The most threads this pool starts.
    pub fn max_workers(&self) -> usize {
        self.shared().max_workers
    }

    /// The [`WakePolicy`] the pool was built with.
    ///
    /// ```
    /// use concurrent_futures::{ThreadPoolExecutor, WakePolicy};
    ///
    /// assert_eq!(ThreadPoolExecutor::new(1).unwrap().wake_policy(), WakePolicy::Balanced);
    /// ```
    pub fn wake_policy(&self) -> WakePolicy {
        self.shared().wake_policy
    }

    /// A snapshot of the pool's counts: tasks submitted, started, completed, failed,
    /// panicked and cancelled, the queue's depth, and its busy and idle workers. All zero
    /// for the task counts when the pool was built with
    /// [`metrics(false)`](ThreadPoolBuilder::metrics).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// pool.submit(|| panic!("boom")).unwrap().exception().unwrap();
    /// let m = pool.metrics();
    /// assert_eq!((m.submitted, m.started, m.panicked), (1, 1, 1));
    /// assert_eq!(m.live_workers, m.busy_workers + m.idle_workers);
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        let s = self.shared();
        let (searching, sleeping) = s.sleep.counts();
        let live = s.live.load(Ordering::SeqCst);
        let idle = (searching + sleeping).min(live);
        let (queue_wait, run_time) = s.timings.as_ref().map(|t| t.snapshot()).unzip();
        PoolMetrics {
            live_workers: live,
            busy_workers: live - idle,
            idle_workers: idle,
            queue_wait,
            run_time,
            ..s.counters.snapshot(s.queue.len())
        }
    }

    /// Python's `shutdown(wait=True, cancel_futures=...)` with a bound: returns `Ok` once
    /// every worker thread has exited, or `Err` at `timeout` naming the ones still running
    /// a task. Either way the pool accepts no new tasks. Python's shutdown can wait forever
    /// on a task that never returns (CPython #157215), rayon's offers no wait at all.
    ///
    /// After `Ok`, every worker thread has been joined: its thread-locals have been
    /// destroyed, as after `shutdown(wait = true)`. Called on one of the pool's own threads
    /// it waits for the others, as `shutdown` does (pool rule 6). A zero timeout only
    /// checks.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::Duration;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let stuck = pool.submit(move || rx.recv().ok()).unwrap();
    /// let err = pool.shutdown_timeout(false, Duration::from_millis(20)).unwrap_err();
    /// assert_eq!(err.running, 1);
    /// drop(tx); // the task returns
    /// pool.shutdown_timeout(false, Duration::from_secs(30)).unwrap();
    /// assert_eq!(*stuck.result().unwrap(), None);
    /// ```
    pub fn shutdown_timeout(
        &self,
        cancel_futures: bool,
        timeout: Duration,
    ) -> Result<(), ShutdownTimedOut> {
        self.shared()
            .shutdown_until(cancel_futures, Deadline::after(timeout))
    }

    /// Threads started so far (they are never retired before shutdown).
    pub fn threads_started(&self) -> usize {
        self.shared().started.load(Ordering::SeqCst)
    }

    /// Workers (searching, sleeping) right now. For tests and models.
    #[doc(hidden)]
    pub fn idle_counts(&self) -> (usize, usize) {
        self.shared().sleep.counts()
    }

    /// Schedules the closure `f` and returns the future of its result: Python's
    /// `submit(fn, *args)`, with the arguments captured. A panic in `f` finishes the future
    /// with an exception ([`Exception::is_panic`]). Closures stay in this process: for
    /// code that must also run on other backends, use [`Executor::submit_task`].
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let (a, b) = (6u64, 7u64);
    /// assert_eq!(*pool.submit(move || a * b).unwrap().result().unwrap(), 42);
    /// ```
    pub fn submit<T, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared().submit_job(move || Ok(f()), Slot::Policy)
    }

    /// Schedules `f`, lending it a [`CancelToken`] through which it learns that
    /// [`Future::request_cancel`] asked it to stop: Python cannot stop a running task
    /// (tokio #4811 and rayon #1014 ask for this). The task decides how to end; its future
    /// finishes as with [`submit`](Self::submit), never `CANCELLED` once it has started.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let fut = pool
    ///     .submit_cancellable(|token| {
    ///         let mut done = 0;
    ///         for _ in 0..1_000 {
    ///             if token.is_requested() {
    ///                 break; // stop early, with a partial result
    ///             }
    ///             done += 1;
    ///         }
    ///         done
    ///     })
    ///     .unwrap();
    /// assert!(*fut.result().unwrap() <= 1_000);
    /// ```
    pub fn submit_cancellable<T, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce(&CancelToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared()
            .submit_cancellable(move |token| Ok(f(token)), Slot::Policy)
    }

    /// Schedules a fallible `f`: an `Err` finishes the future with that error as its
    /// exception (its type kept for [`Exception::downcast_ref`] and
    /// [`Exception::type_name`]), so `wait(…, FirstException)` fires on it, as on a panic.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let fut = pool.submit_fallible(|| "x".parse::<u32>()).unwrap();
    /// let e = fut.exception().unwrap().unwrap();
    /// assert!(e.downcast_ref::<std::num::ParseIntError>().is_some());
    /// assert_eq!(e.type_name(), "ParseIntError");
    /// assert_eq!(e.to_string(), "invalid digit found in string");
    /// ```
    pub fn submit_fallible<T, E, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.shared().submit_job(
            move || f().map_err(|e| Exception::from_boxed_as(e.into(), std::any::type_name::<E>())),
            Slot::Policy,
        )
    }

    /// Python's `map(fn, items)` with a closure: calls `f` on every item and yields the
    /// results in input order. Every item is submitted before this returns, as in Python;
    /// one item's failure is yielded as its `Err` and does not cancel the others. Dropping
    /// the iterator before its first `next()` cancels nothing (so `pool.map(f, items);`
    /// runs every item, as in Python); after it, dropping cancels what has not started
    /// (CPython ≤ 3.14), and [`Map::cancel`] does so at any time.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let squares: Vec<u64> = pool.map(|x: u64| x * x, 0..5).unwrap().map(Result::unwrap).collect();
    /// assert_eq!(squares, [0, 1, 4, 9, 16]);
    /// ```
    pub fn map<'a, A, T, F, I>(&self, f: F, items: I) -> Result<Map<'a, T>, SubmitError>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        self.map_with(f, items, MapOptions::default())
    }

    /// `map` with a timeout, a chunk size or a buffer size ([`MapOptions`]).
    ///
    /// With a `buffersize` of n, at most n items are submitted at a time, the next one as
    /// each result is taken, so an endless iterator works. If the pool refuses one of those
    /// later submits (it was shut down, or broke), that item and every later one is yielded
    /// as an `Err` carrying the [`SubmitError`]: no input goes missing.
    ///
    /// ```
    /// use concurrent_futures::{MapOptions, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let first: Vec<u64> = pool
    ///     .map_with(|x: u64| x + 1, 0.., MapOptions::default().buffersize(2))
    ///     .unwrap()
    ///     .take(3)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(first, [1, 2, 3]);
    /// ```
    pub fn map_with<'a, A, T, F, I>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<'a, T>, SubmitError>
    where
        F: Fn(A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        // A cancellable task that ignores its token: the same one allocation per item.
        self.map_cancellable(move |_, item| f(item), items, options)
    }

    /// [`map_with`](Self::map_with) whose tasks get their [`CancelToken`]: when the map
    /// times out, or a task's future is asked with [`Future::request_cancel`], the running
    /// items can stop early, where Python's map lets them run on (CPython #95166).
    ///
    /// ```
    /// use concurrent_futures::{Error, MapOptions, ThreadPoolExecutor};
    /// use std::time::Duration;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let slow = |token: &concurrent_futures::CancelToken, _: u32| {
    ///     while !token.is_requested() {
    ///         std::thread::yield_now();
    ///     }
    /// };
    /// let options = MapOptions::default().timeout(Duration::from_millis(20));
    /// let mut it = pool.map_cancellable(slow, 0..4, options).unwrap();
    /// assert!(matches!(it.next(), Some(Err(Error::Timeout { .. }))));
    /// drop(it);
    /// // The running items saw the request and returned: the pool shuts down at once.
    /// pool.shutdown_timeout(false, Duration::from_secs(30)).unwrap();
    /// ```
    pub fn map_cancellable<'a, A, T, F, I>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<'a, T>, SubmitError>
    where
        F: Fn(&CancelToken, A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        // Each value moves straight out of its task's future, which the pool keeps no
        // handle to: one allocation per item. The map holds its own handle to the pool, so
        // it borrows nothing but its input.
        let pool = self.clone();
        Map::start(options, items, f, move |f, item| {
            pool.submit_cancellable(move |token| f(token, item))
                .map(Entry::Direct)
        })
    }

    /// Schedules a cancellable `f` with a deadline: it is cancelled if it has not started
    /// by `at`, and asked to stop if it still runs then ([`Future::cancel_at`]).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let at = Instant::now() + Duration::from_millis(10);
    /// let fut = pool
    ///     .submit_with_deadline(at, |token| {
    ///         let mut rounds = 0u64;
    ///         while !token.is_requested() {
    ///             rounds += 1;
    ///             std::thread::yield_now();
    ///         }
    ///         rounds
    ///     })
    ///     .unwrap();
    /// fut.result().unwrap();
    /// assert!(Instant::now() >= at && fut.cancel_requested());
    /// ```
    pub fn submit_with_deadline<T, F>(
        &self,
        at: std::time::Instant,
        f: F,
    ) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce(&CancelToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let fut = self.submit_cancellable(f)?;
        fut.cancel_at(at);
        Ok(fut)
    }

    /// `true` once an initializer failed.
    pub fn is_broken(&self) -> bool {
        self.shared().state.load(Ordering::SeqCst) & BROKEN != 0
    }
}

impl fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared();
        let (searching, sleeping) = s.sleep.counts();
        f.debug_struct("ThreadPoolExecutor")
            .field("prefix", &s.prefix)
            .field("max_workers", &s.max_workers)
            .field("wake_policy", &s.wake_policy)
            .field("live_threads", &s.live.load(Ordering::SeqCst))
            .field("searching", &searching)
            .field("sleeping", &sleeping)
            .field("closing", &s.closing())
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Executor for ThreadPoolExecutor {
    /// On a thread pool the declared function is called directly; nothing is encoded. It
    /// runs as a cancellable task, so [`cancel_requested`](crate::cancel_requested) inside
    /// it sees [`Future::request_cancel`], as it does in a process pool's worker.
    fn submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        task::name_of::<F>().map_err(SubmitError::NotATask)?;
        self.submit_cancellable(move |_| f(arg))
    }

    /// The declared function is called directly, and each value moves straight out of its
    /// future (the pool keeps no handle to it).
    fn map_task<'a, F, A, R, I>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<'a, R>, SubmitError>
    where
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        task::name_of::<F>().map_err(SubmitError::NotATask)?;
        self.map_with(f, items, options)
    }

    fn clone_handle(&self) -> Self {
        self.clone()
    }

    fn shutdown_with(&self, options: Shutdown) {
        self.shared()
            .shutdown(options.waits(), options.cancels_futures());
    }
}
