//! [`ProcessPoolBuilder`]: the pool's settings, checked at build time.

use super::*;
use std::path::PathBuf;

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
    max_queued: Option<usize>,
    when_full: Option<WhenFull>,
}

impl fmt::Debug for ProcessPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPoolBuilder")
            .field("max_workers", &self.max_workers)
            .field("max_tasks_per_child", &self.max_tasks_per_child)
            .field("executable", &self.executable)
            .field("initializer", &self.initializer.is_some())
            .field("max_queued", &self.max_queued)
            .field("when_full", &self.when_full)
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

    /// Back-pressure: at most `n` calls wait in the pool's queue (calls sent to workers,
    /// at most two per worker, do not count); a submit that finds it full does what
    /// [`when_full`](Self::when_full) says, by default it waits for room. Python's queue
    /// is unbounded. Zero is refused by [`build`](Self::build).
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, task};
    ///
    /// task! {
    ///     fn double(x: u32) -> u32 {
    ///         2 * x
    ///     }
    /// }
    ///
    /// let pool = ProcessPoolExecutor::builder().max_workers(2).max_queued(4).build().unwrap();
    /// let futs: Vec<_> = (0..50).map(|i| pool.submit_task(double, i).unwrap()).collect();
    /// assert_eq!(*futs[49].result().unwrap(), 98); // the producer waited for room
    /// ```
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
        self
    }

    /// What a submit does when the queue of a [`max_queued`](Self::max_queued) pool is
    /// full: [`WhenFull::Block`] (the default, with an optional timeout),
    /// [`WhenFull::Reject`], or [`WhenFull::CallerRuns`], which runs the call in the
    /// submitting process (so a crash there is this process's, not one worker's).
    /// Without `max_queued`, [`build`](Self::build) refuses it.
    pub fn when_full(mut self, policy: WhenFull) -> Self {
        self.when_full = Some(policy);
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
        let bound = crate::thread_pool::checked_bound(self.max_queued, self.when_full)?;
        Ok(ProcessPoolExecutor::with(Settings {
            max_workers,
            max_tasks_per_child: self.max_tasks_per_child,
            launch: worker::Launch::Exec(executable),
            kind: Kind::Processes,
            finisher: None,
            initializer,
            bound,
        }))
    }
}

impl ProcessPoolExecutor {
    /// The pool these settings describe, registered (R7); no worker starts yet.
    fn with(settings: Settings) -> Self {
        // A `CallerRuns` call runs here: its panic is captured quietly, as in a worker.
        crate::unwind::install_hook();
        let pool = Arc::new(Pool {
            id: crate::context::new_id(),
            settings,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            room: Condvar::new(),
            counts: Counts::default(),
        });
        registry::add(&pool);
        ProcessPoolExecutor {
            handle: Arc::new(Handle { pool }),
        }
    }
}

impl ProcessPoolExecutor {
    /// A pool over `workers` workers its launcher attaches, all at once, now (an MPI
    /// executor's ranks, rule R4 as for processes but failing with `BrokenExecutor`).
    /// `finisher` runs once a waiting shutdown has seen them all end.
    #[cfg(feature = "mpi")]
    pub(crate) fn attached(
        workers: usize,
        attach: Box<worker::AttachFn>,
        finisher: Box<dyn Fn() + Send + Sync>,
        bound: Option<(usize, WhenFull)>,
    ) -> Self {
        let executor = Self::with(Settings {
            max_workers: workers,
            max_tasks_per_child: None,
            launch: worker::Launch::Attach(attach),
            kind: Kind::Ranks,
            finisher: Some(finisher),
            initializer: None,
            bound,
        });
        executor.handle.pool.start_all();
        executor
    }

    /// Whether this thread is one of the pool's reader threads (a callback's), where a
    /// shutdown cannot wait for the workers.
    #[cfg(feature = "mpi")]
    pub(crate) fn on_reader_thread(&self) -> bool {
        is_pool_thread(self.handle.pool.id)
    }
}
