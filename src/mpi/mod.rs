//! The cluster backend (`--features mpi`): the same [`Executor`] over the ranks of an MPI
//! job, as mpi4py's `MPICommExecutor` gives Python's `concurrent.futures` over MPI.
//!
//! `mpirun -n N program` (or `srun`) starts N copies of one program. Every copy calls
//! [`MpiCommExecutor::new`]: on the root rank it returns the executor; on every other rank
//! it serves the root's tasks and, once the root shuts the executor down, ends the process
//! with exit code 0. So a program written for a [`ProcessPoolExecutor`] runs on a cluster
//! by changing its constructor, and its named tasks ([`task!`](crate::task)), `map`,
//! [`wait`](crate::wait) and [`as_completed`](crate::as_completed) stay as they are.
//!
//! # How it is built
//!
//! Each serving rank is a worker of a process pool (`process_pool/`) that the pool did not
//! start but *attached*: its channel is a socket pair whose far end the MPI thread pumps to
//! and from the rank (`bridge.rs`). A serving rank runs the same server as a worker process
//! (`process_pool/child.rs`) on its main thread. So the frames, the dispatch with one call
//! pipelined per rank, cancel requests, back-pressure, metrics, shutdown and the break
//! rules are the process pool's (R1–R8 of `process_pool/mod.rs`), and the futures are the
//! crate's one [`Future`].
//!
//! Rules of the MPI executor, beside the pump's (B1–B5 of `bridge.rs`):
//! * M1: one thread per process makes every MPI call: it initializes MPI
//!   (`Threading::Funneled`), pumps, and finalizes. MPI is initialized once per process, so
//!   one executor is built per run; a second build is refused.
//! * M2: with one rank (`mpirun -n 1`, or no `mpirun`), there is no one to serve: the root
//!   serves its own tasks on one thread of its own, through the same channel and
//!   encoding. MPI then has nothing to carry, and is finalized at once.
//! * M3 (failure): a task's panic or decode error is that future's exception, and the rank
//!   serves on. A rank that dies ends the whole job (`mpirun` kills it: MPI has no per-rank
//!   fault tolerance). A rank whose process stops answering (stopped, or its MPI thread
//!   cannot run) is *lost* after [`MpiBuilder::lost_after`] without a word (B4): every
//!   queued and running future then fails with `BrokenExecutor` naming the rank, later
//!   submits are refused, and the root lives on; at its exit the job ends with a non-zero
//!   code, since MPI cannot finalize with a lost rank. A rank that never builds the
//!   executor keeps `MPI_Init` waiting on every rank: the build fails with
//!   [`BuildError::Mpi`] after `max(lost_after, 60 s)` instead of hanging. A task stuck in a loop keeps
//!   its rank's heartbeat going; [`MpiCommExecutor::shutdown_timeout`] bounds the wait for
//!   it.
//! * M4 (shutdown): a waiting shutdown (and dropping the last handle) tells every rank to
//!   stop, waits for each to end, then finalizes MPI, so the job exits 0. The root must
//!   do one of them before `main` returns: a handle kept in a static, or a
//!   `shutdown(wait = false)` alone, leaves MPI unfinalized, and the job then ends with a
//!   non-zero code.

mod bridge;

use std::fmt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use mpi::Threading;
use mpi::topology::{Communicator, Rank};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{BuildError, SubmitError};
use crate::executor::{Executor, Map, MapOptions, Shutdown};
use crate::future::Future;
use crate::process_pool::child::{Serving, serve_on};
use crate::process_pool::{Attached, ProcessPoolExecutor};
use crate::sync::lock;
use crate::thread_pool::{PoolMetrics, WhenFull};
use bridge::{Pace, Shared};

/// mpi4py's `MPICommExecutor`: declared tasks ([`task!`](crate::task)) run on the other
/// ranks of the MPI job, with the same [`Future`] and [`Executor`] as the thread and
/// process pools.
///
/// Build it on every rank, first thing in `main`; only the root gets it back. Handles are
/// cheap to clone; dropping the last one shuts the executor down, waits, and ends the job
/// cleanly (M4).
///
/// ```no_run
/// use concurrent_futures::{Executor, MpiCommExecutor, task};
///
/// task! {
///     fn square(x: u64) -> u64 {
///         x * x
///     }
/// }
///
/// // mpirun -n 3 this-program: ranks 1 and 2 serve inside `new` and exit there.
/// let executor = MpiCommExecutor::new().unwrap();
/// let f = executor.submit_task(square, 12).unwrap();
/// assert_eq!(*f.result().unwrap(), 144);
/// executor.shutdown(true, false);
/// ```
#[derive(Clone)]
pub struct MpiCommExecutor {
    pool: ProcessPoolExecutor,
    world: World,
    /// The MPI thread, joined once every rank has ended (M4).
    thread: Arc<Mutex<Option<JoinHandle<bool>>>>,
}

#[derive(Clone, Copy, Debug)]
struct World {
    rank: Rank,
    size: Rank,
}

/// Options of an [`MpiCommExecutor`], with mpi4py's defaults where it has them.
///
/// ```no_run
/// use concurrent_futures::MpiCommExecutor;
/// use std::time::Duration;
///
/// let executor = MpiCommExecutor::builder()
///     .root(0)
///     .heartbeat(Duration::from_millis(500))
///     .lost_after(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// # drop(executor);
/// ```
#[derive(Clone, Debug)]
pub struct MpiBuilder {
    root: Rank,
    pace: Pace,
    max_queued: Option<usize>,
    when_full: Option<WhenFull>,
}

impl Default for MpiBuilder {
    fn default() -> Self {
        MpiBuilder {
            root: 0,
            pace: Pace {
                heartbeat: Duration::from_secs(1),
                lost_after: Duration::from_secs(60),
                backoff: Duration::from_millis(1),
            },
            max_queued: None,
            when_full: None,
        }
    }
}

/// M1: MPI was initialized by this process already.
static BUILT: AtomicU8 = AtomicU8::new(NOT_BUILT);
const NOT_BUILT: u8 = 0;
const BUILT_ONCE: u8 = 1;
/// A build gave up waiting for `MPI_Init`, whose thread is still in it.
const STUCK_IN_INIT: u8 = 2;

/// The least time a build waits for `MPI_Init`, which waits for every rank of the job.
const START_WITHIN: Duration = Duration::from_secs(60);

/// Each option, with the type's example showing them together:
///
/// ```no_run
/// use concurrent_futures::{MpiCommExecutor, WhenFull};
/// use std::time::Duration;
///
/// let executor = MpiCommExecutor::builder()
///     .root(0)
///     .heartbeat(Duration::from_secs(1))
///     .lost_after(Duration::from_secs(300)) // a slow-starting allocation
///     .backoff(Duration::from_micros(500))
///     .max_queued(10_000)
///     .when_full(WhenFull::Block { timeout: None })
///     .build()
///     .unwrap();
/// # drop(executor);
/// ```
impl MpiBuilder {
    /// The rank that gets the executor (default 0). Every rank must give the same.
    pub fn root(mut self, rank: i32) -> Self {
        self.root = rank;
        self
    }

    /// How often a serving rank says it is alive, also while a task runs (default 1 s).
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.pace.heartbeat = interval;
        self
    }

    /// How long the root waits for any word from a rank before the rank is lost and the
    /// executor broken (M3; default 60 s). Must be longer than the heartbeat.
    pub fn lost_after(mut self, limit: Duration) -> Self {
        self.pace.lost_after = limit;
        self
    }

    /// The longest an idle rank sleeps between looks for messages (default 1 ms, as
    /// mpi4py's `MPI4PY_FUTURES_BACKOFF`): the most an arriving call waits to be seen.
    pub fn backoff(mut self, max: Duration) -> Self {
        self.pace.backoff = max;
        self
    }

    /// At most `n` calls wait for a rank; see
    /// [`ThreadPoolBuilder::max_queued`](crate::ThreadPoolBuilder::max_queued).
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
        self
    }

    /// What a submit does when the queue is full ([`WhenFull`]).
    pub fn when_full(mut self, policy: WhenFull) -> Self {
        self.when_full = Some(policy);
        self
    }

    /// Collective: every rank of `MPI_COMM_WORLD` calls it. On the root it returns the
    /// executor; on every other rank it serves until the root shuts down, then ends the
    /// process with exit code 0, and returns only with an `Err` from start-up (a bad
    /// option, MPI not starting within `max(lost_after, 60 s)`, a thread level below
    /// Funneled), which every rank then gets alike.
    pub fn build(self) -> Result<MpiCommExecutor, BuildError> {
        if self.pace.heartbeat.is_zero() || self.pace.backoff.is_zero() {
            return Err(BuildError::InvalidArgument(
                "heartbeat and backoff must be greater than 0",
            ));
        }
        if self.pace.lost_after <= self.pace.heartbeat {
            return Err(BuildError::InvalidArgument(
                "lost_after must be longer than the heartbeat interval",
            ));
        }
        if self.pace.backoff >= self.pace.heartbeat {
            return Err(BuildError::InvalidArgument(
                "backoff must be shorter than the heartbeat interval (a rank beats between \
                 its sleeps)",
            ));
        }
        let bound = crate::thread_pool::checked_bound(self.max_queued, self.when_full)?;
        match BUILT.compare_exchange(NOT_BUILT, BUILT_ONCE, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => {}
            Err(STUCK_IN_INIT) => {
                return Err(BuildError::Mpi(
                    "an earlier build gave up waiting for MPI_Init, which is still waiting \
                     for the other ranks: end this process (and the job)"
                        .into(),
                ));
            }
            Err(_) => {
                return Err(BuildError::Mpi(
                    "MPI is initialized once per process, and an MpiCommExecutor was built \
                     already: build one per run and share its handle (it is Clone)"
                        .into(),
                ));
            }
        }
        let shared = Arc::new(Shared::default());
        let (info_tx, info_rx) = mpsc::channel::<Result<World, String>>();
        let (plan_tx, plan_rx) = mpsc::channel::<Option<Plan>>();
        let pace = self.pace;
        let pump_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("concurrent-futures-mpi".into())
            .spawn(move || mpi_thread(info_tx, plan_rx, pace, pump_shared))
            .map_err(|e| BuildError::Mpi(format!("the MPI thread could not start: {e}")))?;
        let start_within = self.pace.lost_after.max(START_WITHIN);
        let world = match info_rx.recv_timeout(start_within) {
            Ok(Ok(world)) => world,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(BuildError::Mpi(e));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // MPI_Init waits for every rank of the job; the thread is left in it.
                BUILT.store(STUCK_IN_INIT, Ordering::SeqCst);
                return Err(BuildError::Mpi(format!(
                    "MPI did not start within {:.0} s: MPI_Init waits for every rank, so a \
                     rank of the job did not start or did not build the executor; end this \
                     process (and the job)",
                    start_within.as_secs_f64()
                )));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = thread.join();
                return Err(BuildError::Mpi(
                    "the MPI thread ended during start-up".into(),
                ));
            }
        };
        if self.root < 0 || self.root >= world.size {
            let _ = plan_tx.send(None);
            let _ = thread.join();
            return Err(BuildError::InvalidArgument(
                "root must be a rank of MPI_COMM_WORLD (0 to size - 1)",
            ));
        }
        let thread = Arc::new(Mutex::new(Some(thread)));
        if world.rank != self.root {
            serve_rank(self.root, plan_tx, &thread)
        }
        let ranks: Vec<Rank> = (0..world.size).filter(|&r| r != self.root).collect();
        let mut links = Vec::new();
        let mut ends = Vec::new();
        for &r in &ranks {
            let (ours, theirs) = UnixStream::pair().map_err(|e| {
                BuildError::Mpi(format!("a channel for rank {r} could not be made: {e}"))
            })?;
            links.push((r, theirs));
            ends.push(Some((r, ours)));
        }
        let _ = plan_tx.send(Some(Plan {
            links,
            beats_to: None,
        }));
        let finisher = {
            let thread = thread.clone();
            Box::new(move || join(&thread))
        };
        let pool = if ranks.is_empty() {
            // M2: the root serves itself.
            let attach = Box::new(|_key: u64| {
                let (ours, theirs) = UnixStream::pair()?;
                let channel = theirs.try_clone()?;
                let server = std::thread::Builder::new()
                    .name("concurrent-futures-mpi-own-worker".into())
                    .spawn(move || serve_on(theirs, Serving::InProcess))?;
                let worker = OwnWorker {
                    server: Some(server),
                    channel,
                };
                Ok((ours, Box::new(worker) as Box<dyn Attached>))
            });
            ProcessPoolExecutor::attached(1, attach, finisher, bound)
        } else {
            let ends = Mutex::new(ends);
            let shared = shared.clone();
            let attach = Box::new(move |key: u64| {
                let taken = lock(&ends).get_mut(key as usize).and_then(Option::take);
                let (rank, ours) =
                    taken.ok_or_else(|| std::io::Error::other("no rank left to attach"))?;
                Ok((
                    ours,
                    Box::new(RankPeer {
                        rank,
                        shared: shared.clone(),
                    }) as Box<dyn Attached>,
                ))
            });
            ProcessPoolExecutor::attached(ranks.len(), attach, finisher, bound)
        };
        Ok(MpiCommExecutor {
            pool,
            world,
            thread,
        })
    }
}

/// What the MPI thread pumps: its links, and (on a serving rank) whom it beats to.
struct Plan {
    links: Vec<(Rank, UnixStream)>,
    beats_to: Option<Rank>,
}

/// M1: the one thread that calls MPI.
fn mpi_thread(
    info: mpsc::Sender<Result<World, String>>,
    plan: mpsc::Receiver<Option<Plan>>,
    pace: Pace,
    shared: Arc<Shared>,
) -> bool {
    let Some((universe, threading)) = mpi::initialize_with_threading(Threading::Funneled) else {
        let _ = info.send(Err(
            "MPI was initialized already in this process; the executor must initialize it".into(),
        ));
        return false;
    };
    if threading == Threading::Single {
        let _ = info.send(Err(format!(
            "this MPI provides thread level {threading:?}; the executor needs Funneled"
        )));
        return true;
    }
    let world = universe.world();
    let _ = info.send(Ok(World {
        rank: world.rank(),
        size: world.size(),
    }));
    let Ok(Some(plan)) = plan.recv() else {
        return true; // dropping `universe` finalizes
    };
    let clean = bridge::pump(&world, plan.links, plan.beats_to, pace, &shared);
    if !clean {
        // B5: finalizing would wait for the lost rank forever.
        std::mem::forget(universe);
    }
    clean
}

/// A serving rank's life (M3, M4): serve the root's calls on this thread, then let the MPI
/// thread finalize, then end the process.
fn serve_rank(
    root: Rank,
    plan: mpsc::Sender<Option<Plan>>,
    thread: &Mutex<Option<JoinHandle<bool>>>,
) -> ! {
    let code = match UnixStream::pair() {
        Ok((ours, theirs)) => {
            let _ = plan.send(Some(Plan {
                links: vec![(root, theirs)],
                beats_to: Some(root),
            }));
            serve_on(ours, Serving::InProcess)
        }
        Err(e) => {
            eprintln!("concurrent-futures MPI rank: no channel: {e}");
            let _ = plan.send(None);
            3
        }
    };
    join(thread);
    std::process::exit(code)
}

/// Waits for the MPI thread to end (and finalize). Joined under the lock, so a second
/// caller returns only once it has ended too.
fn join(thread: &Mutex<Option<JoinHandle<bool>>>) {
    let mut handle = lock(thread);
    if let Some(handle) = handle.take() {
        let _ = handle.join();
    }
}

/// A serving rank, as the root's pool sees it.
struct RankPeer {
    rank: Rank,
    shared: Arc<Shared>,
}

impl Attached for RankPeer {
    fn who(&self) -> String {
        format!("rank {}", self.rank)
    }

    fn ended(&mut self) -> String {
        format!("rank {} ended", self.rank)
    }

    fn lost(&self) -> Option<String> {
        let lost = lock(&self.shared.lost);
        lost.get(&self.rank).cloned()
    }

    fn end(&mut self, why: &str) {
        // The reason first (B4): the pump's cut, and the cuts of the other links that
        // follow a loss, then name it.
        let mut lost = lock(&self.shared.lost);
        lost.entry(self.rank).or_insert_with(|| why.to_owned());
        drop(lost);
        let mut cut = lock(&self.shared.cut);
        cut.push(self.rank);
    }
}

/// M2: the root's own worker thread, and its end of the channel (to cut it off).
struct OwnWorker {
    server: Option<JoinHandle<i32>>,
    channel: UnixStream,
}

impl Attached for OwnWorker {
    fn who(&self) -> String {
        "the root's own worker (a one-rank world)".into()
    }

    fn ended(&mut self) -> String {
        if let Some(t) = self.server.take() {
            let _ = t.join();
        }
        "the root's own worker ended".into()
    }

    fn lost(&self) -> Option<String> {
        None
    }

    fn end(&mut self, _why: &str) {
        // Its server sees the end and returns, so `ended` does not wait for it forever.
        let _ = self.channel.shutdown(std::net::Shutdown::Both);
    }
}

impl MpiCommExecutor {
    /// Collective, with the default options: see [`MpiBuilder::build`], and the type's
    /// example.
    pub fn new() -> Result<Self, BuildError> {
        Self::builder().build()
    }

    /// An [`MpiBuilder`], for the other options (its example shows them).
    pub fn builder() -> MpiBuilder {
        MpiBuilder::default()
    }

    /// This rank (the root's) in `MPI_COMM_WORLD`; with [`world_size`](Self::world_size)
    /// and [`workers`](Self::workers), what the job looks like from the root.
    ///
    /// ```no_run
    /// use concurrent_futures::MpiCommExecutor;
    ///
    /// // mpirun -n 4 this-program
    /// let executor = MpiCommExecutor::new().unwrap();
    /// assert_eq!(executor.rank(), 0);
    /// assert_eq!((executor.world_size(), executor.workers()), (4, 3));
    /// ```
    pub fn rank(&self) -> i32 {
        self.world.rank
    }

    /// How many ranks the job has, the root included.
    pub fn world_size(&self) -> i32 {
        self.world.size
    }

    /// How many serve tasks: every rank but the root, or 1 in a one-rank world (M2).
    pub fn workers(&self) -> usize {
        self.pool.max_workers()
    }

    /// The executor's counts, as [`ProcessPoolExecutor::metrics`] gives them, with ranks
    /// for worker processes.
    ///
    /// ```no_run
    /// use concurrent_futures::{Executor, MpiCommExecutor, task};
    ///
    /// task! {
    ///     fn double(x: u32) -> u32 {
    ///         2 * x
    ///     }
    /// }
    ///
    /// let executor = MpiCommExecutor::new().unwrap();
    /// executor.submit_task(double, 21).unwrap().result().unwrap();
    /// let m = executor.metrics();
    /// assert_eq!((m.submitted, m.completed), (1, 1));
    /// assert!(!executor.is_broken());
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        self.pool.metrics()
    }

    /// `true` once a rank was lost (M3); see [`metrics`](Self::metrics) for an example.
    pub fn is_broken(&self) -> bool {
        self.pool.is_broken()
    }

    /// A shutdown with a bound (as
    /// [`ProcessPoolExecutor::shutdown_timeout`]): `Ok` once every rank has ended and MPI
    /// is finalized, or `Err` at `timeout` saying how many ranks still run a call. A heartbeat
    /// shows that a rank's process runs, not that its task will end, so this is the bound
    /// for a task stuck in a loop. After an `Err` the job cannot end cleanly: the root's
    /// exit ends it, with a non-zero code.
    ///
    /// ```no_run
    /// use concurrent_futures::MpiCommExecutor;
    /// use std::time::Duration;
    ///
    /// let executor = MpiCommExecutor::new().unwrap();
    /// // ... submit tasks ...
    /// if let Err(e) = executor.shutdown_timeout(false, Duration::from_secs(60)) {
    ///     eprintln!("{e}");
    ///     std::process::exit(1);
    /// }
    /// ```
    pub fn shutdown_timeout(
        &self,
        cancel_futures: bool,
        timeout: Duration,
    ) -> Result<(), crate::ShutdownTimedOut> {
        self.pool.shutdown_timeout(cancel_futures, timeout)?;
        if !self.pool.on_reader_thread() {
            join(&self.thread);
        }
        Ok(())
    }

    /// [`submit_task`](Executor::submit_task) that never waits for room in a bounded queue
    /// ([`MpiBuilder::max_queued`]): a full one refuses with [`SubmitError::Full`].
    ///
    /// ```no_run
    /// use concurrent_futures::{MpiCommExecutor, SubmitError, task};
    ///
    /// task! {
    ///     fn double(x: u32) -> u32 {
    ///         2 * x
    ///     }
    /// }
    ///
    /// let executor = MpiCommExecutor::builder().max_queued(1_000).build().unwrap();
    /// match executor.try_submit_task(double, 21) {
    ///     Ok(f) => assert_eq!(*f.result().unwrap(), 42),
    ///     Err(SubmitError::Full { max_queued }) => eprintln!("{max_queued} calls wait already"),
    ///     Err(e) => panic!("{e}"),
    /// }
    /// ```
    pub fn try_submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.pool.try_submit_task(f, arg)
    }
}

impl fmt::Debug for MpiCommExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MpiCommExecutor")
            .field("rank", &self.world.rank)
            .field("world_size", &self.world.size)
            .field("broken", &self.pool.is_broken())
            .field("metrics", &self.pool.metrics())
            .finish()
    }
}

impl Executor for MpiCommExecutor {
    fn submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.pool.submit_task(f, arg)
    }

    /// Python's `map` over ranks: `chunksize` items go to a rank as one call (one message
    /// each way), as on the process pool.
    fn map_task<'a, F, A, R, I>(
        &self,
        f: F,
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
        self.pool.map_task(f, items, options)
    }

    fn clone_handle(&self) -> Self {
        self.clone()
    }

    /// M4. Called from a callback on one of the executor's reader threads, it does not wait
    /// (the process pool's rule, which also leaves MPI to the last handle's drop).
    fn shutdown_with(&self, options: Shutdown) {
        self.pool.shutdown_with(options);
    }
}
