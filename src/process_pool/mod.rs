//! Python's `ProcessPoolExecutor`: named tasks run in worker processes, with the same
//! [`Future`] and the same [`Executor`] trait as the thread pool.
//!
//! Why a Rust program wants processes, with no GIL to escape: isolation from crashes (a
//! segfault in a C library, an `abort`, a `process::exit` in a dependency end one worker and
//! fail its futures with `BrokenProcessPool`, not the program); containing memory growth
//! (`max_tasks_per_child`); libraries that are not thread-safe; per-process resource limits;
//! and the same named tasks moving later to cluster ranks.
//!
//! # How a call travels
//!
//! `submit_task` encodes the argument and queues a task cell (`future/task.rs`) whose job
//! publishes later. The dispatcher (whichever thread changed the pool's state: a submitter,
//! a worker's reader) picks a worker and *claims* the task there: from then on it is
//! RUNNING and cannot be cancelled, as CPython marks a call RUNNING when it moves it to the
//! call queue. The call goes to the worker's writer thread as one frame; the worker's reply
//! comes back on its reader thread, which publishes the outcome.
//!
//! A pool may also *attach* workers it did not start (`worker::Launch::Attach`): the MPI
//! executor's ranks (`src/mpi/`). Their channel is a socket pair like a process's, so every
//! rule below holds for them too; only how they end (C2 of `child.rs`) and what a break
//! says (`BrokenExecutor`) differ.
//!
//! # Pool rules
//!
//! * R1: every state change (a submit, a reply, a worker's handshake or end, a shutdown)
//!   happens under the pool's one lock, and no user code runs under it: the outcomes it
//!   decides (results, cancels, `BrokenProcessPool`) are published after it is released.
//! * R2: no thread holding the lock ever waits on a socket: frames go to each worker's writer
//!   thread through a channel, and each reader only reads. So full sockets in both
//!   directions (megabyte arguments and results) cannot deadlock.
//! * R3 (dispatch): an idle worker takes a queued call first; else a new worker starts, up
//!   to `max_workers`, while more calls wait than workers are starting; only with no worker
//!   left to start does a busy worker take one more call (CPython's `EXTRA_QUEUED_CALLS`),
//!   which hides the round trip.
//! * R4 (nothing pending forever): a worker that ends without being told to (a crash, a
//!   signal, `process::exit`, a broken protocol, a failed initializer, a failed handshake)
//!   breaks the pool at once: every queued and running future ends with
//!   `BrokenProcessPool` naming the worker's pid and how it ended, the other workers'
//!   channels close (so they exit, C2 of `child.rs`), and later submits are refused with
//!   the same reason. All of a break's futures are settled before any callback runs.
//! * R5 (`max_tasks_per_child`): a worker that was given its last call takes no more; once
//!   its calls are answered its channel closes, it exits, and a replacement starts if calls
//!   wait. A backlog never hangs (gh-115634).
//! * R6: a worker exits when its channel closes (`child.rs`, C2): at shutdown, once nothing
//!   is queued for it and its calls are answered; or when this process dies. Every worker
//!   is waited for by its reader thread, so none is left a zombie.
//! * R7 (cancel requests): [`Future::request_cancel`] on a queued call cancels it (the
//!   core's rule); on a claimed one it sets the future's request bit and then, through the
//!   job's `on_request` hook and the pool's registry entry, sends the call's worker a
//!   `Cancel` frame under the pool's lock, where the call's entry is. The lock orders it
//!   after the claim and the send, so a request never misses a call that is in flight;
//!   a call already answered has no entry and gets none. The worker turns the frame into
//!   its call's flag (C4 of `child.rs`).
//! * R8 (back-pressure): with `max_queued(n)`, a submit that finds `n` calls queued (calls
//!   sent to workers do not count) waits on `room`, refuses, or runs the call in the
//!   calling process, as `WhenFull` says. Every dispatch, break and shutdown signals
//!   `room`, under the lock the waiter re-checks under, so no wait outlives the room or
//!   the pool. On a pool's own reader thread a wait could wait for itself (only that
//!   thread reads the replies that make room): there `Block` runs the call here instead.

mod builder;
pub(crate) mod child;
mod dispatch;
mod protocol;
mod worker;

pub use builder::ProcessPoolBuilder;
use dispatch::*;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use child::init;
#[cfg(feature = "mpi")]
pub(crate) use worker::Attached;

use crate::deadline::Deadline;
use crate::error::{BuildError, Exception, ShutdownTimedOut, SubmitError};
use crate::executor::{Entry, Executor, Map, MapOptions, Shutdown, task};
use crate::future::Future;
use crate::future::hooks::{Ended, NoHooks};
use crate::future::task::{self as task_cell, Job, Publisher, TaskRef};
use crate::sync::{Arc, Condvar, Mutex, lock};
use crate::thread_pool::{PoolMetrics, WhenFull};
use protocol::Outcome;

#[cfg(fuzzing)]
pub(crate) use protocol::fuzz_reader;

/// Python's `ProcessPoolExecutor`: runs declared tasks ([`task!`](crate::task)) in up to
/// `max_workers` worker processes, started on demand from this program's own executable.
///
/// Handles are cheap to clone and share one pool. Dropping the last handle shuts the pool
/// down and waits for what was submitted, as Python's `with` block does.
///
/// ```
/// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
///
/// task! {
///     fn square(x: u64) -> u64 {
///         x * x
///     }
/// }
///
/// let pool = ProcessPoolExecutor::new(2).unwrap();
/// let f = pool.submit_task(square, 12).unwrap();
/// assert_eq!(*f.result().unwrap(), 144);
/// ```
#[derive(Clone)]
pub struct ProcessPoolExecutor {
    handle: Arc<Handle>,
}

struct Handle {
    pool: Arc<Pool>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        registry::remove(self.id);
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.pool.shutdown(true, false);
    }
}

struct Settings {
    max_workers: usize,
    max_tasks_per_child: Option<usize>,
    launch: worker::Launch,
    /// What a broken pool's futures fail with.
    kind: Kind,
    /// Run once a waiting shutdown has seen every worker end (an MPI executor finalizes
    /// MPI there).
    finisher: Option<Box<dyn Fn() + Send + Sync>>,
    initializer: Option<(&'static str, Vec<u8>)>,
    /// `max_queued` and what a submit does when the queue is full (R8).
    bound: Option<(usize, WhenFull)>,
}

/// Which executor a pool serves, for what its breaks say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A [`ProcessPoolExecutor`]: `BrokenProcessPool`.
    Processes,
    /// An MPI executor's ranks: `BrokenExecutor`.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    Ranks,
}

impl Kind {
    fn broken(self, reason: impl Into<String>) -> Exception {
        match self {
            Kind::Processes => Exception::broken_process_pool(reason),
            Kind::Ranks => Exception::broken_executor(reason),
        }
    }

    /// What every future of a broken pool fails with (R4).
    fn break_reason(self, reason: &str) -> String {
        match self {
            Kind::Processes => format!(
                "A process in the process pool was terminated abruptly while the future was \
                 running or pending: {reason}"
            ),
            Kind::Ranks => format!(
                "A rank of the MPI executor was lost while the future was running or \
                 pending: {reason}"
            ),
        }
    }
}

pub(crate) struct Pool {
    id: usize,
    settings: Settings,
    state: Mutex<State>,
    /// Signalled when a worker ends (for `shutdown(wait = true)`).
    changed: Condvar,
    /// Signalled when a bounded pool's queue has room, or the pool closes (R8).
    room: Condvar,
    counts: Counts,
}

impl ProcessPoolExecutor {
    /// A pool of at most `max_workers` worker processes. Zero is an error, not a panic.
    pub fn new(max_workers: usize) -> Result<Self, BuildError> {
        Self::builder().max_workers(max_workers).build()
    }

    /// A [`ProcessPoolBuilder`], for the other options.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::default()
    }

    /// The most worker processes this pool runs at once.
    pub fn max_workers(&self) -> usize {
        self.handle.pool.settings.max_workers
    }

    /// How many worker processes this pool has started so far (replacements included).
    pub fn processes_started(&self) -> usize {
        lock(&self.handle.pool.state).started
    }

    /// The pids of the worker processes alive now.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
    ///
    /// task! {
    ///     fn my_pid(_unit: ()) -> u32 {
    ///         std::process::id()
    ///     }
    /// }
    ///
    /// let pool = ProcessPoolExecutor::new(4).unwrap();
    /// assert!(pool.worker_pids().is_empty()); // workers start on demand
    /// let pid = *pool.submit_task(my_pid, ()).unwrap().result().unwrap();
    /// assert_eq!(pool.worker_pids(), [pid]);
    /// assert_eq!((pool.processes_started(), pool.is_broken()), (1, false));
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        let st = lock(&self.handle.pool.state);
        st.workers
            .iter()
            .filter(|w| w.pid != 0)
            .map(|w| w.pid)
            .collect()
    }

    /// The pool's counts, as [`ThreadPoolExecutor::metrics`](crate::ThreadPoolExecutor::metrics)
    /// gives them, for processes: `live_workers` are the worker processes started and not
    /// yet reaped, `busy_workers` those with a call in flight. A chunk of a `map` is one
    /// task, `completed` once its call came back whatever its items did (each item's
    /// outcome is in its own result); a `CallerRuns` call counts as a run; cancelled calls
    /// still in the queue count in `queued` (and in a bounded queue's room) until the
    /// dispatcher takes them off; idle spins and histograms do not apply
    /// (always 0 and `None`). Each count is exact once the pool is quiet.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
    ///
    /// task! {
    ///     fn half(x: u32) -> u32 {
    ///         assert!(x % 2 == 0, "odd");
    ///         x / 2
    ///     }
    /// }
    ///
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// pool.submit_task(half, 4).unwrap().result().unwrap();
    /// pool.submit_task(half, 3).unwrap().exception().unwrap();
    /// let m = pool.metrics();
    /// assert_eq!((m.submitted, m.started, m.completed, m.panicked), (2, 2, 1, 1));
    /// assert_eq!(m.queued, 0);
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        let pool = &self.handle.pool;
        let st = lock(&pool.state);
        let c = &pool.counts;
        let busy = st.workers.iter().filter(|w| !w.inflight.is_empty()).count();
        PoolMetrics {
            submitted: Counts::get(&c.submitted),
            started: Counts::get(&c.started),
            completed: Counts::get(&c.completed),
            failed: Counts::get(&c.failed),
            panicked: Counts::get(&c.panicked),
            cancelled: Counts::get(&c.cancelled),
            queued: st.queue.len(),
            live_workers: st.workers.len(),
            busy_workers: busy,
            idle_workers: st.workers.len() - busy,
            ..PoolMetrics::default()
        }
    }

    /// Python's `shutdown(wait=True, cancel_futures=...)` with a bound: returns `Ok` once
    /// every worker process has exited and been reaped, or `Err` at `timeout` naming the
    /// pids still running. Either way the pool accepts no new tasks; after an `Err`,
    /// [`kill_workers`](Self::kill_workers) ends the stragglers. Python's shutdown can
    /// wait forever (CPython #157215). Called from a callback on one of the pool's reader
    /// threads, which are the ones that see workers end, it only checks (and its own
    /// worker, still listed, makes that an `Err`).
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
    /// use std::time::Duration;
    ///
    /// task! {
    ///     fn nap(ms: u64) -> () {
    ///         std::thread::sleep(Duration::from_millis(ms));
    ///     }
    /// }
    ///
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// let long = pool.submit_task(nap, 60_000).unwrap();
    /// let err = pool.shutdown_timeout(false, Duration::from_millis(50)).unwrap_err();
    /// assert_eq!((err.running, err.pids.len()), (1, 1));
    /// pool.kill_workers();
    /// assert!(long.exception().unwrap().is_some()); // BrokenProcessPool: SIGKILL
    /// pool.shutdown_timeout(false, Duration::from_secs(30)).unwrap();
    /// ```
    pub fn shutdown_timeout(
        &self,
        cancel_futures: bool,
        timeout: std::time::Duration,
    ) -> Result<(), ShutdownTimedOut> {
        let pool = &self.handle.pool;
        pool.shutdown(false, cancel_futures);
        let deadline = if is_pool_thread(pool.id) {
            Deadline::after(std::time::Duration::ZERO)
        } else {
            Deadline::after(timeout)
        };
        let mut st = lock(&pool.state);
        while !st.quiet() {
            match crate::sync::wait_until(&pool.changed, st, deadline) {
                Some(g) => st = g,
                None => {
                    let st = lock(&pool.state);
                    // The last worker may have ended since the wait gave up: then the
                    // shutdown is done, and an error naming nobody would be a lie.
                    if st.quiet() {
                        return Ok(());
                    }
                    return Err(ShutdownTimedOut {
                        running: st.workers.len(),
                        threads: Vec::new(),
                        pids: st
                            .workers
                            .iter()
                            .map(|w| w.pid)
                            .filter(|&p| p != 0)
                            .collect(),
                        processes: true,
                    });
                }
            }
        }
        Ok(())
    }

    /// [`submit_task`](Executor::submit_task) that never waits for room: a bounded pool
    /// ([`ProcessPoolBuilder::max_queued`]) whose queue is full refuses with
    /// [`SubmitError::Full`], whatever its [`WhenFull`] says. On an unbounded pool it is
    /// `submit_task`.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, SubmitError, task};
    ///
    /// task! {
    ///     fn wait_for(path: String) -> () {
    ///         while !std::path::Path::new(&path).exists() {
    ///             std::thread::sleep(std::time::Duration::from_millis(1));
    ///         }
    ///     }
    /// }
    ///
    /// let gate = std::env::temp_dir().join(format!("cf-doc-try-{}", std::process::id()));
    /// let pool = ProcessPoolExecutor::builder().max_workers(1).max_queued(1).build().unwrap();
    /// let path = gate.display().to_string();
    /// let running = pool.submit_task(wait_for, path.clone()).unwrap();
    /// let pipelined = pool.submit_task(wait_for, path.clone()).unwrap();
    /// while !pipelined.running() {
    ///     std::thread::yield_now(); // both calls sent to the one worker
    /// }
    /// let queued = pool.try_submit_task(wait_for, path.clone()).unwrap();
    /// let refused = pool.try_submit_task(wait_for, path.clone());
    /// assert!(matches!(refused, Err(SubmitError::Full { max_queued: 1 })));
    /// std::fs::write(&gate, b"go").unwrap();
    /// for f in [running, pipelined, queued] {
    ///     f.result().unwrap();
    /// }
    /// std::fs::remove_file(&gate).unwrap();
    /// ```
    pub fn try_submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_named(f, arg, true)
    }

    fn submit_named<F, A, R>(
        &self,
        _f: F,
        arg: A,
        never_wait: bool,
    ) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let name = task::name_of::<F>().map_err(SubmitError::NotATask)?;
        let arg = match postcard::to_allocvec(&arg) {
            Ok(bytes) => bytes,
            Err(e) => {
                // CPython fails the future when pickling fails; so does this.
                let fut = Future::new();
                let _ = fut.set_exception(Exception::msg(format!(
                    "the argument of task `{name}` could not be encoded: {e}"
                )));
                return Ok(fut);
            }
        };
        self.handle.pool.submit_encoded(
            RemoteJob {
                name,
                args: vec![arg],
                finish: finish_single::<R>,
            },
            never_wait,
        )
    }

    /// `true` once a worker ended unexpectedly or an initializer failed.
    pub fn is_broken(&self) -> bool {
        lock(&self.handle.pool.state).broken.is_some()
    }

    /// Python 3.14's `terminate_workers()`: shuts the pool down without waiting, cancels
    /// every queued task, and sends SIGTERM to every live worker. Tasks that were running
    /// end with `BrokenProcessPool`; later submits are refused. A no-op for workers never
    /// started or already gone.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
    ///
    /// task! {
    ///     fn forever(_unit: ()) -> () {
    ///         loop {
    ///             std::thread::park();
    ///         }
    ///     }
    /// }
    ///
    /// let pool = ProcessPoolExecutor::new(1).unwrap();
    /// let stuck = pool.submit_task(forever, ()).unwrap();
    /// while !stuck.running() {
    ///     std::thread::yield_now();
    /// }
    /// pool.terminate_workers();
    /// let e = stuck.exception().unwrap().unwrap();
    /// assert!(e.to_string().contains("SIGTERM"), "{e}");
    /// assert!(pool.submit_task(forever, ()).is_err());
    /// ```
    pub fn terminate_workers(&self) {
        self.handle
            .pool
            .force_shutdown(libc::SIGTERM, "terminate_workers");
    }

    /// Python 3.14's `kill_workers()`: as [`terminate_workers`](Self::terminate_workers),
    /// with SIGKILL, which a worker cannot catch or ignore.
    pub fn kill_workers(&self) {
        self.handle
            .pool
            .force_shutdown(libc::SIGKILL, "kill_workers");
    }
}

impl fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics = self.metrics();
        let st = lock(&self.handle.pool.state);
        f.debug_struct("ProcessPoolExecutor")
            .field("max_workers", &self.handle.pool.settings.max_workers)
            .field("workers", &st.workers.len())
            .field("queued", &st.queue.len())
            .field("shutdown", &st.shutdown)
            .field("broken", &st.broken)
            .field("metrics", &metrics)
            .finish()
    }
}

impl Executor for ProcessPoolExecutor {
    fn submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_named(f, arg, false)
    }

    /// Python's `map` on a process pool: `chunksize` items go to a worker as one call (one
    /// frame each way), and their results are yielded one by one, in order, so a failing
    /// item does not swallow the good results of its chunk. `buffersize` counts chunks.
    fn map_task<'a, F, A, R, I>(
        &self,
        _f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<'a, R>, SubmitError>
    where
        Self: Sized + 'a,
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        let name = task::name_of::<F>().map_err(SubmitError::NotATask)?;
        // A handle, not the bare pool: a lazy map keeps the pool open until it is done, as
        // the `Map` doc promises (dropping the last handle is a shutdown).
        let pool = self.clone();
        Map::start_chunked(options, items, move |chunk: Vec<A>| {
            let n = chunk.len();
            let mut args = Vec::with_capacity(n);
            for (i, item) in chunk.iter().enumerate() {
                match postcard::to_allocvec(item) {
                    Ok(bytes) => args.push(bytes),
                    Err(e) => {
                        // The chunk is one call: it fails whole, each item with this error.
                        let fut = Future::new();
                        let _ = fut.set_exception(Exception::msg(format!(
                            "item {i} of a chunk of task `{name}` could not be encoded: {e}"
                        )));
                        return Ok(Entry::Chunk(fut, n));
                    }
                }
            }
            let fut = pool.handle.pool.submit_encoded(
                RemoteJob {
                    name,
                    args,
                    finish: finish_chunk::<R>,
                },
                false,
            )?;
            Ok(Entry::Chunk(fut, n))
        })
    }

    fn clone_handle(&self) -> Self {
        self.clone()
    }

    fn shutdown_with(&self, options: Shutdown) {
        self.handle
            .pool
            .shutdown(options.waits(), options.cancels_futures());
    }
}
