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

mod sleep;
mod worker;

use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroUsize;

use crate::error::{BuildError, Exception, SubmitError};
use crate::executor::task;
use crate::executor::{Entry, Executor, Map, MapOptions, Shutdown};
use crate::future::Future;
use crate::future::task::{self as task_cell, TaskRef};
use crate::sync::{
    Arc, AtomicBool, AtomicUsize, Condvar, Injector, JoinHandle, Mutex, OnceLock, Ordering,
    StaticAtomicUsize, lock, yield_now,
};
use crate::unwind::report;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sleep::{Notified, Sleep};

/// Set once `shutdown` was called.
const SHUTDOWN: usize = 1;
/// Set once an initializer failed.
const BROKEN: usize = 2;
/// One submit between its flag check and its push.
const INFLIGHT_ONE: usize = 4;

/// An initializer: runs once on each worker thread before it takes tasks.
pub type Initializer = Arc<dyn Fn() -> Result<(), Box<dyn StdError + Send + Sync>> + Send + Sync>;

static POOL_COUNTER: StaticAtomicUsize = StaticAtomicUsize::new(0);

/// A thread start the OS refused.
pub(crate) struct SpawnFailure {
    error: String,
    /// No worker is left to run the queue.
    none_left: bool,
}

/// The most workers a pool may have: what the sleep counters can count.
const MAX_WORKERS: usize = sleep::MAX_WORKERS;

pub(crate) struct Shared {
    /// This pool's executor id (`context.rs`).
    id: usize,
    /// Open while this pool's threads may run its queued tasks inline; closed for good by
    /// the first drain (pool rule 5).
    pub(crate) inline_gate: Arc<AtomicBool>,
    pub(crate) queue: Injector<TaskRef>,
    pub(crate) sleep: Sleep,
    /// `SHUTDOWN | BROKEN | in-flight submits × INFLIGHT_ONE` (pool rule 1).
    state: AtomicUsize,
    /// Worker threads started or reserved and not yet exited.
    live: AtomicUsize,
    /// Workers blocked in `shutdown(wait = true)` of this pool (pool rule 6).
    waiting_in_shutdown: AtomicUsize,
    /// Taken to signal, with `exits`, that `live` or `waiting_in_shutdown` changed.
    exit_lock: Mutex<()>,
    exits: Condvar,
    /// Threads ever started: the `_i` in their names.
    started: AtomicUsize,
    max_workers: usize,
    prefix: String,
    pub(crate) initializer: Option<Initializer>,
    /// Test hook: every thread start fails, as if the OS refused.
    fail_thread_starts: bool,
    /// Print captured task panics too (builder `print_task_panics`).
    pub(crate) print_task_panics: bool,
    threads: Mutex<Vec<JoinHandle<()>>>,
    broken: OnceLock<String>,
}

impl Shared {
    /// This pool's executor id: its workers enter it, and its tasks carry it.
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    pub(crate) fn closing(&self) -> bool {
        self.state.load(Ordering::SeqCst) & (SHUTDOWN | BROKEN) != 0
    }

    /// Closed, nothing in flight, nothing queued: a worker may exit (pool rule 1).
    pub(crate) fn may_exit(&self) -> bool {
        let s = self.state.load(Ordering::SeqCst);
        s & (SHUTDOWN | BROKEN) != 0 && s < INFLIGHT_ONE && self.queue.is_empty()
    }

    fn refusal(&self, s: usize) -> SubmitError {
        if s & BROKEN != 0 {
            SubmitError::Broken(Exception::broken_thread_pool(
                self.broken.get().cloned().unwrap_or_default(),
            ))
        } else {
            SubmitError::Shutdown
        }
    }

    fn submit_job<T, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Exception> + Send + 'static,
    {
        /// Closes the in-flight window when dropped, also if anything inside unwinds, so
        /// that `close` never waits forever for it (pool rule 1).
        struct InFlight<'a>(&'a AtomicUsize);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(INFLIGHT_ONE, Ordering::SeqCst);
            }
        }
        // ORDERING: SeqCst RMW, totally ordered with `close`'s flag RMW (pool rule 1).
        let prev = self.state.fetch_add(INFLIGHT_ONE, Ordering::SeqCst);
        let window = InFlight(&self.state);
        if prev & (SHUTDOWN | BROKEN) != 0 {
            drop(window);
            return Err(self.refusal(prev));
        }
        let (fut, task) = task_cell::allocate(self.id(), f);
        self.queue.push(task);
        // Still inside the in-flight window: a worker this task needs is reserved (counted
        // in `live`) before shutdown can see the window empty, so `shutdown(wait = true)`
        // waits for it (pool rule 1).
        let failed = self.notify_inner();
        drop(window);
        if let Err(failure) = failed {
            // Outside the window: logging is user code, and breaking the pool waits for
            // in-flight submits to finish.
            self.spawn_failed(failure);
        }
        Ok(fut)
    }

    /// Pool rule 2: after a push, somebody will look at the queue.
    pub(crate) fn notify(&self) {
        if let Err(failure) = self.notify_inner() {
            self.spawn_failed(failure);
        }
    }

    /// Reports a thread start the OS refused, and breaks the pool if no worker is left to
    /// run the queue (rather than strand it).
    fn spawn_failed(&self, failure: SpawnFailure) {
        report(format_args!(
            "could not start a worker thread: {}",
            failure.error
        ));
        if failure.none_left {
            self.break_pool(format!(
                "could not start a worker thread ({}), the thread pool is not usable anymore",
                failure.error
            ));
        }
    }

    /// Wakes or starts a worker if needed. `Err` when the OS refused a thread start; the
    /// caller reports it (outside any in-flight window) with `spawn_failed`.
    fn notify_inner(&self) -> Result<(), SpawnFailure> {
        // "Nobody searching or sleeping" may only mean that a worker already took the task
        // just pushed and is running it: start a thread only if work is still queued. An
        // empty queue means every pushed task has a runner, so nothing is stranded.
        if self.sleep.notify_one() == Notified::Nobody && !self.queue.is_empty() {
            self.spawn_worker()
        } else {
            Ok(())
        }
    }

    /// Starts one more worker if below `max_workers`.
    fn spawn_worker(&self) -> Result<(), SpawnFailure> {
        let mut n = self.live.load(Ordering::SeqCst);
        loop {
            if n >= self.max_workers {
                return Ok(());
            }
            match self
                .live
                .compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) => n = actual,
            }
        }
        // Counted as searching before it runs, so concurrent submitters do not start more.
        self.sleep.start_searching();
        let i = self.started.fetch_add(1, Ordering::SeqCst);
        let shared = self.arc();
        let started = if self.fail_thread_starts {
            drop(shared);
            Err(std::io::Error::other("thread start refused (test hook)"))
        } else {
            crate::sync::spawn_named(format!("{}_{i}", self.prefix), move || worker::main(shared))
        };
        match started {
            Ok(handle) => {
                lock(&self.threads).push(handle);
                Ok(())
            }
            Err(e) => {
                self.sleep.stop_searching();
                let none_left = self.live.fetch_sub(1, Ordering::SeqCst) == 1;
                self.signal_exit();
                Err(SpawnFailure {
                    error: e.to_string(),
                    none_left,
                })
            }
        }
    }

    /// An `Arc` to this `Shared`, for a new worker. Every `Shared` lives in an `Arc`.
    fn arc(&self) -> Arc<Shared> {
        // SAFETY: `self` is inside an `Arc<Shared>` (created only by `build`), and the caller
        // holds a reference through that Arc (a handle or a worker), so the count is ≥ 1.
        unsafe {
            let ptr = self as *const Shared;
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }

    pub(crate) fn worker_exited(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.signal_exit();
    }

    /// Wakes the workers waiting in `shutdown(wait = true)` to re-check their condition.
    fn signal_exit(&self) {
        // Taking the lock orders this with a waiter's check-then-wait: it either sees the new
        // counts or is already waiting when the notify comes.
        drop(lock(&self.exit_lock));
        self.exits.notify_all();
    }

    /// Sets `flag` and waits until no submit is in flight (pool rule 1).
    fn close(&self, flag: usize) -> usize {
        let prev = self.state.fetch_or(flag, Ordering::SeqCst);
        while self.state.load(Ordering::SeqCst) >= INFLIGHT_ONE {
            yield_now();
        }
        prev
    }

    /// An initializer failed, or no thread could be started: fail every queued task with
    /// BrokenThreadPool (a fresh exception each), refuse new ones, and let the workers exit.
    pub(crate) fn break_pool(&self, reason: String) {
        let _ = self.broken.set(reason.clone());
        let prev = self.close(BROKEN);
        if prev & BROKEN == 0 {
            report(format_args!("{reason}"));
        }
        self.drain_queue(|| Some(Exception::broken_thread_pool(reason.clone())));
        self.sleep.wake_all();
    }

    /// Ends every queued task with `outcome()` (`None`: cancelled) in two phases (pool
    /// rule 5): all are ended before any callback or closure drop runs.
    fn drain_queue(&self, outcome: impl Fn() -> Option<Exception>) {
        // ORDERING: SeqCst, paired with `context::current_for_inline`: from here on no thread
        // of this pool claims a queued task inline, so a task another drain popped but has
        // not ended yet cannot run on a callback's thread.
        self.inline_gate.store(false, Ordering::SeqCst);
        let mut ended = Vec::new();
        while let Some(t) = self.queue.pop() {
            let e = t.end(outcome());
            ended.push((t, e));
        }
        for (t, e) in ended {
            t.finish_ended(e);
        }
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.close(SHUTDOWN);
        if cancel_futures {
            self.drain_queue(|| None);
        }
        self.sleep.wake_all();
        if wait {
            self.join_workers();
        }
    }

    /// Waits for the workers to exit: joins them from any other thread; on one of the
    /// pool's own workers, waits without joining (pool rule 6).
    fn join_workers(&self) {
        if crate::context::current() == self.id() {
            self.wait_for_other_workers();
            return;
        }
        loop {
            let handles = std::mem::take(&mut *lock(&self.threads));
            if handles.is_empty() {
                // A worker reserved but not yet registered its handle: wait for it.
                if self.live.load(Ordering::SeqCst) == 0 {
                    return;
                }
                yield_now();
                continue;
            }
            for h in handles {
                let _ = h.join();
            }
        }
    }

    /// `shutdown(wait = true)` on one of this pool's workers: returns once every other worker
    /// has exited or is itself waiting here. The caller cannot wait for itself, and two
    /// workers that joined each other would wait forever; a waiting worker counts as done,
    /// so no cycle can form. The threads stay in the list for a later join from outside.
    fn wait_for_other_workers(&self) {
        struct Waiting<'a>(&'a Shared);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.waiting_in_shutdown.fetch_sub(1, Ordering::SeqCst);
                self.0.signal_exit();
            }
        }
        self.waiting_in_shutdown.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(self);
        self.signal_exit();
        let mut g = lock(&self.exit_lock);
        while self.live.load(Ordering::SeqCst) > self.waiting_in_shutdown.load(Ordering::SeqCst) {
            g = crate::sync::wait(&self.exits, g);
        }
    }
}

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

/// Builds a [`ThreadPoolExecutor`].
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(2)
///     .thread_name_prefix("crunch")
///     .initializer(|| Ok(()))
///     .build()
///     .unwrap();
/// let name = pool.submit(|| std::thread::current().name().unwrap().to_owned()).unwrap();
/// assert_eq!(name.result().unwrap(), "crunch_0");
/// ```
#[derive(Default)]
pub struct ThreadPoolBuilder {
    max_workers: Option<usize>,
    prefix: Option<String>,
    initializer: Option<Initializer>,
    fail_thread_starts: bool,
    print_task_panics: bool,
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("max_workers", &self.max_workers)
            .field("thread_name_prefix", &self.prefix)
            .field("initializer", &self.initializer.is_some())
            .finish()
    }
}

impl ThreadPoolBuilder {
    /// At most this many threads. Default: `min(32, available parallelism + 4)`, as Python.
    /// Zero is refused by [`build`](Self::build).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// Threads are named `{prefix}_{i}`. Default (and for an empty prefix, as in Python):
    /// `ThreadPoolExecutor-{pool}_{i}`. A prefix with a NUL byte is refused by
    /// [`build`](Self::build): no thread could carry the name.
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Runs on each worker thread before its first task. An `Err` or a panic breaks the
    /// pool: every queued task fails with `BrokenThreadPool`, and later submits return
    /// [`SubmitError::Broken`].
    pub fn initializer<F>(mut self, f: F) -> Self
    where
        F: Fn() -> Result<(), Box<dyn StdError + Send + Sync>> + Send + Sync + 'static,
    {
        self.initializer = Some(Arc::new(f));
        self
    }

    /// Print the panic message of a task that panics, as Rust does for any thread, besides
    /// keeping it in the future's exception (with its location). By default a captured
    /// task panic prints nothing, as Python prints nothing for an exception a future holds;
    /// the environment variable `CONCURRENT_FUTURES_PRINT_PANICS=1` turns printing on for
    /// every pool. Panics the pool does not capture (outside tasks) always print.
    pub fn print_task_panics(mut self, print: bool) -> Self {
        self.print_task_panics = print;
        self
    }

    /// Test hook: every thread start fails, as if the OS refused one, so tests can show
    /// that the futures fail with `BrokenThreadPool` instead of staying pending.
    #[doc(hidden)]
    pub fn fail_thread_starts_for_tests(mut self) -> Self {
        self.fail_thread_starts = true;
        self
    }

    /// Builds the pool; no thread starts until the first task arrives.
    ///
    /// ```
    /// use concurrent_futures::{BuildError, ThreadPoolExecutor};
    ///
    /// let err = ThreadPoolExecutor::builder().max_workers(0).build().unwrap_err();
    /// assert!(matches!(err, BuildError::InvalidArgument(_)));
    /// assert_eq!(err.to_string(), "invalid argument: max_workers must be greater than 0");
    /// ```
    ///
    /// Everything is checked here, before any thread starts: a zero or impossibly large
    /// `max_workers`, and a thread name prefix with a NUL byte.
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        let max_workers = match self.max_workers {
            Some(0) => {
                return Err(BuildError::InvalidArgument(
                    "max_workers must be greater than 0",
                ));
            }
            Some(n) if n > MAX_WORKERS => {
                return Err(BuildError::InvalidArgument(sleep::MAX_WORKERS_MESSAGE));
            }
            Some(n) => n,
            None => default_max_workers(),
        };
        if self.prefix.as_deref().is_some_and(|p| p.contains('\0')) {
            return Err(BuildError::InvalidArgument(
                "thread_name_prefix must not contain a NUL byte (\\0): thread names cannot",
            ));
        }
        crate::unwind::install_hook();
        let n = POOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            id: crate::context::new_id(),
            inline_gate: Arc::new(AtomicBool::new(true)),
            queue: Injector::new(),
            sleep: Sleep::new(),
            state: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            waiting_in_shutdown: AtomicUsize::new(0),
            exit_lock: Mutex::new(()),
            exits: Condvar::new(),
            started: AtomicUsize::new(0),
            max_workers,
            prefix: self
                .prefix
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| format!("ThreadPoolExecutor-{n}")),
            initializer: self.initializer,
            fail_thread_starts: self.fail_thread_starts,
            print_task_panics: self.print_task_panics,
            threads: Mutex::new(Vec::new()),
            broken: OnceLock::new(),
        });
        Ok(ThreadPoolExecutor {
            handle: Arc::new(PoolHandle { shared }),
        })
    }
}

/// Python's default: `min(32, (os.process_cpu_count() or 1) + 4)`.
pub fn default_max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    (cpus + 4).min(32)
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
        self.shared().submit_job(move || Ok(f()))
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
        self.shared().submit_job(move || {
            f().map_err(|e| Exception::from_boxed_as(e.into(), std::any::type_name::<E>()))
        })
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
        // Each value moves straight out of its task's future, which the pool keeps no
        // handle to: one allocation per item. The map holds its own handle to the pool, so
        // it borrows nothing but its input.
        let pool = self.clone();
        Map::start(options, items, f, move |f, item| {
            pool.submit(move || f(item)).map(Entry::Direct)
        })
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
            .field("live_threads", &s.live.load(Ordering::SeqCst))
            .field("searching", &searching)
            .field("sleeping", &sleeping)
            .field("closing", &s.closing())
            .finish()
    }
}

impl Executor for ThreadPoolExecutor {
    /// On a thread pool the declared function is called directly; nothing is encoded.
    fn submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        task::name_of::<F>().map_err(SubmitError::NotATask)?;
        self.submit(move || f(arg))
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
