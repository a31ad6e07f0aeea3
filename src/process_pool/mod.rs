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

mod child;
mod protocol;
mod worker;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use child::init;

use crate::error::{BuildError, Exception, SubmitError};
use crate::executor::{Entry, Executor, Map, MapOptions, Shutdown, task};
use crate::future::Future;
use crate::future::hooks::NoHooks;
use crate::future::task::{self as task_cell, Job, Publisher, TaskRef};
use crate::sync::{Arc, Condvar, Mutex, lock};
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

impl Drop for Handle {
    fn drop(&mut self) {
        self.pool.shutdown(true, false);
    }
}

struct Settings {
    max_workers: usize,
    max_tasks_per_child: Option<usize>,
    executable: PathBuf,
    initializer: Option<(&'static str, Vec<u8>)>,
}

pub(crate) struct Pool {
    id: usize,
    settings: Settings,
    state: Mutex<State>,
    /// Signalled when a worker ends (for `shutdown(wait = true)`).
    changed: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<TaskRef>,
    workers: Vec<Slot>,
    next_key: u64,
    next_call: u64,
    shutdown: bool,
    /// `terminate_workers` or `kill_workers` was called: the workers' ends are expected.
    forced: Option<&'static str>,
    broken: Option<String>,
    started: usize,
}

/// One worker, as the pool's state holds it.
struct Slot {
    key: u64,
    /// Its process id; 0 once its reader saw it end (it may be reaped: never signal it).
    pid: u32,
    /// The handshake succeeded: it may take calls.
    ready: bool,
    /// Its writer's channel; `None` once closed (the worker is told to exit).
    tx: Option<mpsc::Sender<Vec<u8>>>,
    /// Calls sent and not answered, with how to publish each.
    inflight: HashMap<u64, Publish>,
    /// Calls ever sent (for `max_tasks_per_child`).
    sent: usize,
}

impl Slot {
    fn open(&self) -> bool {
        self.tx.is_some()
    }
}

/// What a worker's reader (or a break) hands to a dispatched call.
pub(crate) enum Reply {
    Done(Vec<Outcome>),
    Failed(Exception),
}

/// Settles a dispatched call's future with a reply (running no user code, R1) and returns
/// what wakes its listeners.
type Publish = Box<dyn FnOnce(Reply) -> Notify + Send>;

/// Wakes a settled future's listeners: user code, run after every future of the batch is
/// settled.
type Notify = Box<dyn FnOnce() + Send>;

/// Work decided under the lock and done after it (R1).
#[derive(Default)]
struct Later {
    publish: Vec<(Publish, Reply)>,
    /// Queued tasks to end: `Some` fails them, `None` cancels them.
    end: Vec<(TaskRef, Option<Exception>)>,
}

impl Later {
    /// Two phases, as the thread pool's drains: every future of the batch is settled
    /// (FINISHED or CANCELLED) before any callback of one of them runs, so a callback that
    /// waits on another of the batch finds it done.
    fn run(self) {
        let notify: Vec<Notify> = self
            .publish
            .into_iter()
            .map(|(publish, reply)| publish(reply))
            .collect();
        let ended: Vec<(TaskRef, bool)> = self
            .end
            .into_iter()
            .map(|(t, e)| {
                let ended = t.end(e);
                (t, ended)
            })
            .collect();
        for n in notify {
            n();
        }
        for (t, ended) in ended {
            t.finish_ended(ended);
        }
    }
}

/// A claimed call: the task's name, its encoded arguments, and how to publish its reply.
type Claimed = (&'static str, Vec<Vec<u8>>, Publish);

thread_local! {
    /// The call a [`RemoteJob`] just claimed, for the dispatcher that ran it.
    static HANDOFF: RefCell<Option<Claimed>> = const { RefCell::new(None) };
    /// The id of the pool whose reader thread this is (0: none): it must not wait for that
    /// pool's workers to end.
    static POOL_THREAD: Cell<usize> = const { Cell::new(0) };
}

fn on_pool_thread(pool: usize) {
    POOL_THREAD.with(|c| c.set(pool));
}

/// How a call's replies become its future's outcome.
type Finish<T> = fn(Vec<Outcome>) -> Result<T, Exception>;

/// A queued call: the task's name and encoded arguments, and how its replies become `T`.
struct RemoteJob<T> {
    name: &'static str,
    args: Vec<Vec<u8>>,
    finish: Finish<T>,
}

impl<T: Send + 'static> Job<T> for RemoteJob<T> {
    const INLINE: bool = false;

    fn run(self, publisher: Publisher<'_, T>) {
        let publisher = publisher.detach();
        let finish = self.finish;
        let publish: Publish = Box::new(move |reply| {
            let outcome = match reply {
                // Decoding runs the result type's `Deserialize`, user code: a panic there is
                // that future's exception, never the reader thread's end.
                Reply::Done(results) => crate::unwind::capture(|| finish(results)).and_then(|r| r),
                Reply::Failed(e) => Err(e),
            };
            let settled = publisher.settle(outcome);
            Box::new(move || settled.finish())
        });
        HANDOFF.with(|h| *h.borrow_mut() = Some((self.name, self.args, publish)));
    }
}

/// One argument's reply, decoded.
fn decode_one<R: DeserializeOwned>(reply: Outcome) -> Result<R, Exception> {
    match reply {
        Ok(bytes) => postcard::from_bytes(&bytes)
            .map_err(|e| Exception::msg(format!("a task's result could not be decoded here: {e}"))),
        Err(record) => Err(Exception::from_record(*record)),
    }
}

fn finish_single<R: DeserializeOwned>(results: Vec<Outcome>) -> Result<R, Exception> {
    match results.into_iter().next() {
        Some(reply) => decode_one(reply),
        None => Err(Exception::msg("a worker answered a call with no result")),
    }
}

fn finish_chunk<R: DeserializeOwned>(
    results: Vec<Outcome>,
) -> Result<Vec<Result<R, Exception>>, Exception> {
    Ok(results.into_iter().map(decode_one).collect())
}

impl Pool {
    fn submit_encoded<T: Send + 'static>(
        self: &Arc<Self>,
        job: RemoteJob<T>,
    ) -> Result<Future<T>, SubmitError> {
        let mut later = Later::default();
        let fut = {
            let mut st = lock(&self.state);
            if st.shutdown {
                return Err(SubmitError::Shutdown);
            }
            if let Some(reason) = &st.broken {
                return Err(SubmitError::Broken(Exception::broken_process_pool(
                    reason.clone(),
                )));
            }
            let (fut, task) = task_cell::allocate_job(self.id, job);
            st.queue.push_back(task);
            self.dispatch(&mut st, &mut later);
            fut
        };
        later.run();
        Ok(fut)
    }

    /// R3: hands queued calls to workers, starting workers as needed.
    fn dispatch(self: &Arc<Self>, st: &mut State, later: &mut Later) {
        while st.broken.is_none() && !st.queue.is_empty() {
            let idle = st
                .workers
                .iter()
                .position(|w| w.ready && w.open() && w.inflight.is_empty() && !self.retired(w));
            if let Some(i) = idle {
                self.send_one(st, i, later);
                continue;
            }
            let starting = st.workers.iter().filter(|w| !w.ready && w.open()).count();
            let live = st.workers.iter().filter(|w| w.open()).count();
            if st.queue.len() > starting && live < self.settings.max_workers {
                self.start_worker(st, later);
                continue;
            }
            if starting == 0 {
                let busy = st
                    .workers
                    .iter()
                    .position(|w| w.ready && w.open() && w.inflight.len() == 1 && !self.retired(w));
                if let Some(i) = busy {
                    self.send_one(st, i, later);
                    continue;
                }
            }
            break;
        }
        self.close_finished(st);
    }

    fn retired(&self, w: &Slot) -> bool {
        self.settings
            .max_tasks_per_child
            .is_some_and(|m| w.sent >= m)
    }

    /// Claims the first queued task for worker `i` and sends its call.
    fn send_one(self: &Arc<Self>, st: &mut State, i: usize, later: &mut Later) {
        let Some(task) = st.queue.pop_front() else {
            return;
        };
        // The claim (PENDING → RUNNING); a cancelled task is dropped here, running no user
        // code (its job holds only bytes).
        task.run(&NoHooks);
        let Some((name, args, publish)) = HANDOFF.with(|h| h.borrow_mut().take()) else {
            return;
        };
        let id = st.next_call;
        st.next_call += 1;
        let call = protocol::ToWorker::Call {
            id,
            name: name.to_owned(),
            args,
        };
        let frame = match protocol::encode(&call) {
            Ok(frame) => frame,
            Err(reason) => {
                let e = Exception::msg(format!("the call of `{name}` cannot be sent: {reason}"));
                later.publish.push((publish, Reply::Failed(e)));
                return;
            }
        };
        let w = &mut st.workers[i];
        w.sent += 1;
        w.inflight.insert(id, publish);
        if let Some(tx) = &w.tx {
            // A closed writer means the worker is ending; its reader breaks the pool (R4),
            // which fails this call with the rest.
            let _ = tx.send(frame);
        }
    }

    fn start_worker(self: &Arc<Self>, st: &mut State, later: &mut Later) {
        let key = st.next_key;
        st.next_key += 1;
        match worker::start(self, key) {
            Ok(started) => {
                st.started += 1;
                let mut tx = Some(started.tx);
                if let Some((name, arg)) = &self.settings.initializer {
                    let init = protocol::ToWorker::Init {
                        name: (*name).to_owned(),
                        arg: arg.clone(),
                    };
                    match protocol::encode(&init) {
                        Ok(frame) => {
                            let _ = tx.as_ref().map(|t| t.send(frame));
                        }
                        Err(_) => tx = None,
                    }
                }
                st.workers.push(Slot {
                    key,
                    pid: started.pid,
                    ready: false,
                    tx,
                    inflight: HashMap::new(),
                    sent: 0,
                });
            }
            Err(e) => self.break_pool(
                st,
                format!(
                    "a worker process could not be started from {}: {e}",
                    self.settings.executable.display()
                ),
                later,
            ),
        }
    }

    /// R5, R6: closes the channel of every worker that will get no more calls and has none
    /// left to answer.
    fn close_finished(&self, st: &mut State) {
        let nothing_queued = st.queue.is_empty();
        for w in &mut st.workers {
            let done_with = self.retired(w) || (st.shutdown && nothing_queued);
            if w.open() && w.inflight.is_empty() && done_with {
                w.tx = None;
            }
        }
    }

    /// R4: the pool is broken; everything queued or running fails with `reason`.
    fn break_pool(&self, st: &mut State, reason: String, later: &mut Later) {
        if st.broken.is_some() {
            return;
        }
        let e = Exception::broken_process_pool(format!(
            "A process in the process pool was terminated abruptly while the future was \
             running or pending: {reason}"
        ));
        st.broken = Some(e.to_string());
        for w in &mut st.workers {
            for (_, publish) in w.inflight.drain() {
                later.publish.push((publish, Reply::Failed(e.clone())));
            }
            // Its channel closes, and the worker exits at once, even mid-task (C2 of
            // `child.rs`); no signal is sent, so no pid its reader already reaped (and the
            // system may reuse) is ever signalled.
            w.tx = None;
        }
        for task in st.queue.drain(..) {
            later.end.push((task, Some(e.clone())));
        }
    }

    fn on_ready(self: &Arc<Self>, key: u64, pid: u32) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            if let Some(w) = st.workers.iter_mut().find(|w| w.key == key) {
                // The pid signalled and reported stays the one this pool started and its
                // reader reaps (`child.id()`), whatever the worker says of itself.
                let _ = pid;
                w.ready = true;
            }
            self.dispatch(&mut st, &mut later);
        }
        later.run();
    }

    fn on_done(self: &Arc<Self>, key: u64, id: u64, results: Vec<Outcome>) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            let publish = st
                .workers
                .iter_mut()
                .find(|w| w.key == key)
                .and_then(|w| w.inflight.remove(&id));
            if let Some(publish) = publish {
                later.publish.push((publish, Reply::Done(results)));
            }
            self.dispatch(&mut st, &mut later);
        }
        later.run();
    }

    /// A worker's reader reached the end of its channel: the process has ended or is
    /// ending, and will be reaped next, so its pid must not be signalled any more.
    fn on_eof(&self, key: u64) {
        let mut st = lock(&self.state);
        if let Some(w) = st.workers.iter_mut().find(|w| w.key == key) {
            w.pid = 0;
        }
    }

    /// Python 3.14's `terminate_workers` / `kill_workers`: shut down without waiting,
    /// cancel what is queued, and signal every live worker. Running futures end with
    /// `BrokenProcessPool` once their workers are seen to end.
    fn force_shutdown(self: &Arc<Self>, signal: libc::c_int, name: &'static str) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            st.shutdown = true;
            st.forced = Some(name);
            for task in st.queue.drain(..) {
                later.end.push((task, None));
            }
            for w in &st.workers {
                if w.pid != 0 {
                    // SAFETY: kill(2) on a worker this pool started whose reader has not
                    // reached EOF (`pid != 0`, under the lock), so it is not reaped and the
                    // pid is still that process's.
                    unsafe { libc::kill(w.pid as libc::pid_t, signal) };
                }
            }
        }
        later.run();
    }

    /// A worker's reader saw it end. `failed`: it broke the protocol or its handshake.
    fn on_exit(self: &Arc<Self>, key: u64, how: String, failed: bool) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            if let Some(i) = st.workers.iter().position(|w| w.key == key) {
                let w = st.workers.swap_remove(i);
                let told_to = !w.open() && w.inflight.is_empty();
                if failed || !told_to {
                    let how = match st.forced {
                        Some(op) => format!("the pool was forcefully shut down ({op}): {how}"),
                        None => how,
                    };
                    st.workers.push(w); // break_pool fails its calls too
                    self.break_pool(&mut st, how, &mut later);
                    st.workers.retain(|w| w.key != key);
                } else {
                    self.dispatch(&mut st, &mut later);
                }
            }
            self.changed.notify_all();
        }
        later.run();
    }

    fn shutdown(self: &Arc<Self>, wait: bool, cancel_futures: bool) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            st.shutdown = true;
            if cancel_futures {
                for task in st.queue.drain(..) {
                    later.end.push((task, None));
                }
            }
            self.dispatch(&mut st, &mut later);
        }
        later.run();
        // A reader thread (a callback run by it) cannot wait for workers to end: it is the
        // one that would see them end.
        if wait && POOL_THREAD.with(Cell::get) != self.id {
            let mut st = lock(&self.state);
            while !st.workers.is_empty() {
                st = crate::sync::wait(&self.changed, st);
            }
        }
    }
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
    pub fn worker_pids(&self) -> Vec<u32> {
        let st = lock(&self.handle.pool.state);
        st.workers
            .iter()
            .filter(|w| w.pid != 0)
            .map(|w| w.pid)
            .collect()
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
        let st = lock(&self.handle.pool.state);
        f.debug_struct("ProcessPoolExecutor")
            .field("max_workers", &self.handle.pool.settings.max_workers)
            .field("workers", &st.workers.len())
            .field("queued", &st.queue.len())
            .field("shutdown", &st.shutdown)
            .field("broken", &st.broken)
            .finish()
    }
}

impl Executor for ProcessPoolExecutor {
    fn submit_task<F, A, R>(&self, _f: F, arg: A) -> Result<Future<R>, SubmitError>
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
        self.handle.pool.submit_encoded(RemoteJob {
            name,
            args: vec![arg],
            finish: finish_single::<R>,
        })
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
            let fut = pool.handle.pool.submit_encoded(RemoteJob {
                name,
                args,
                finish: finish_chunk::<R>,
            })?;
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

/// Builds a [`ProcessPoolExecutor`].
///
/// ```
/// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
///
/// task! {
///     fn pid(_unit: ()) -> u32 {
///         std::process::id()
///     }
/// }
///
/// let pool = ProcessPoolExecutor::builder().max_workers(1).max_tasks_per_child(1).build().unwrap();
/// let a = *pool.submit_task(pid, ()).unwrap().result().unwrap();
/// let b = *pool.submit_task(pid, ()).unwrap().result().unwrap();
/// assert_ne!(a, b, "each worker runs one task, then a new one replaces it");
/// assert_ne!(a, std::process::id());
/// ```
#[derive(Default)]
pub struct ProcessPoolBuilder {
    max_workers: Option<usize>,
    max_tasks_per_child: Option<usize>,
    executable: Option<PathBuf>,
    initializer: Option<Result<(&'static str, Vec<u8>), BuildError>>,
}

impl fmt::Debug for ProcessPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPoolBuilder")
            .field("max_workers", &self.max_workers)
            .field("max_tasks_per_child", &self.max_tasks_per_child)
            .field("executable", &self.executable)
            .field("initializer", &self.initializer.is_some())
            .finish()
    }
}

impl ProcessPoolBuilder {
    /// The most worker processes (default: the available parallelism). Zero is an error.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// A worker exits after this many calls and a new one replaces it (Python's
    /// `max_tasks_per_child`). Zero is an error.
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n);
        self
    }

    /// The worker executable (default: this program's own, `std::env::current_exe()`). It
    /// must be the same build: the handshake refuses another task registry.
    pub fn worker_executable(mut self, path: impl Into<PathBuf>) -> Self {
        self.executable = Some(path.into());
        self
    }

    /// A declared task each worker runs on `arg` once, before any call. If it panics, the
    /// pool is broken (Python's initializer raising).
    pub fn initializer<F, A>(mut self, f: F, arg: A) -> Self
    where
        F: Fn(A) + Send + Sync + 'static,
        A: Serialize,
    {
        let _ = &f;
        self.initializer = Some(task::name_of::<F>().map_err(BuildError::NotATask).and_then(
            |name| {
                postcard::to_allocvec(&arg)
                    .map(|bytes| (name, bytes))
                    .map_err(|_| {
                        BuildError::InvalidArgument("initializer argument: it could not be encoded")
                    })
            },
        ));
        self
    }

    /// Builds the pool; no process starts until a task is submitted.
    pub fn build(self) -> Result<ProcessPoolExecutor, BuildError> {
        if child::is_unserved_worker() {
            return Err(BuildError::InvalidArgument(
                "this process was started as a pool worker, but its worker hook did not run: \
                 call concurrent_futures::process_worker_init() first in main",
            ));
        }
        let max_workers = match self.max_workers {
            Some(0) => {
                return Err(BuildError::InvalidArgument(
                    "max_workers must be greater than 0",
                ));
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_tasks_per_child == Some(0) {
            return Err(BuildError::InvalidArgument(
                "max_tasks_per_child must be >= 1",
            ));
        }
        let executable = match self.executable {
            Some(p) => p,
            None => std::env::current_exe().map_err(|_| {
                BuildError::InvalidArgument(
                    "worker_executable: this program's own path is unknown; give one",
                )
            })?,
        };
        let initializer = self.initializer.transpose()?;
        let pool = Arc::new(Pool {
            id: crate::context::new_id(),
            settings: Settings {
                max_workers,
                max_tasks_per_child: self.max_tasks_per_child,
                executable,
                initializer,
            },
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        Ok(ProcessPoolExecutor {
            handle: Arc::new(Handle { pool }),
        })
    }
}
