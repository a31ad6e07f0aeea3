//! [`ThreadPoolBuilder`]: the pool's settings, checked at build time, and Python's default
//! worker count.

use super::*;

/// An initializer: runs once on each worker thread before it takes tasks.
pub type Initializer = Arc<dyn Fn() -> Result<(), Box<dyn StdError + Send + Sync>> + Send + Sync>;

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
    wake_policy: WakePolicy,
    no_metrics: bool,
    max_queued: Option<usize>,
    when_full: Option<WhenFull>,
    scope_lets_siblings_run: bool,
    timing_histograms: bool,
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("max_workers", &self.max_workers)
            .field("thread_name_prefix", &self.prefix)
            .field("initializer", &self.initializer.is_some())
            .field("print_task_panics", &self.print_task_panics)
            .field("wake_policy", &self.wake_policy)
            .field("metrics", &!self.no_metrics)
            .field("max_queued", &self.max_queued)
            .field("when_full", &self.when_full)
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

    /// How idle workers wait for the next task: spin always ([`WakePolicy::Latency`]), spin
    /// while spinning pays ([`WakePolicy::Balanced`], the default), or sleep at once
    /// ([`WakePolicy::Efficiency`]). `docs/sleep.md` shows what each costs and gains.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor, WakePolicy};
    ///
    /// let pool = ThreadPoolExecutor::builder()
    ///     .wake_policy(WakePolicy::Latency)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.wake_policy(), WakePolicy::Latency);
    /// assert_eq!(*pool.submit(|| 1).unwrap().result().unwrap(), 1);
    /// ```
    pub fn wake_policy(mut self, policy: WakePolicy) -> Self {
        self.wake_policy = policy;
        self
    }

    /// Whether the pool keeps its task counts ([`ThreadPoolExecutor::metrics`]). On by
    /// default: each count is a relaxed store on a line only its worker writes (the
    /// harness's W1 and W2 measure the difference, `docs/performance.md`). Off, the task
    /// counts stay zero; the queue and worker gauges still read live values.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().metrics(false).build().unwrap();
    /// pool.submit(|| ()).unwrap().result().unwrap();
    /// assert_eq!(pool.metrics().submitted, 0);
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.no_metrics = !on;
        self
    }

    /// Back-pressure: at most `n` tasks wait in the queue (running ones do not count); a
    /// submit that finds it full does what [`when_full`](Self::when_full) says (by default
    /// it waits for room). Python's queue is unbounded (tokio #7261 and rayon #835 ask for
    /// this). Zero is refused by [`build`](Self::build). Unbounded pools pay nothing.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(2).max_queued(100).build().unwrap();
    /// let results: Vec<_> = (0..1000).map(|i| pool.submit(move || i).unwrap()).collect();
    /// assert_eq!(*results[999].result().unwrap(), 999); // the producer waited for room
    /// ```
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
        self
    }

    /// What a submit does when the queue of a [`max_queued`](Self::max_queued) pool is
    /// full: [`WhenFull::Block`] (the default, with an optional timeout),
    /// [`WhenFull::Reject`] or [`WhenFull::CallerRuns`]. Without `max_queued`,
    /// [`build`](Self::build) refuses it: nothing is ever full.
    pub fn when_full(mut self, policy: WhenFull) -> Self {
        self.when_full = Some(policy);
        self
    }

    /// Keep histograms of how long tasks wait in the queue and how long they run
    /// ([`PoolMetrics::queue_wait`], [`PoolMetrics::run_time`]). Off by default: on, each
    /// task costs two clock reads and two relaxed RMWs on counters the workers share.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().timing_histograms(true).build().unwrap();
    /// pool.submit(|| ()).unwrap().result().unwrap();
    /// let m = pool.metrics();
    /// assert_eq!(m.queue_wait.unwrap().count(), 1);
    /// assert!(ThreadPoolExecutor::new(1).unwrap().metrics().run_time.is_none());
    /// ```
    pub fn timing_histograms(mut self, on: bool) -> Self {
        self.timing_histograms = on;
        self
    }

    /// What a [`scope`](ThreadPoolExecutor::scope) does when its body or one of its tasks
    /// panics: by default (`true`) it cancels its tasks that have not started and asks the
    /// running ones to stop; `false` lets them all run. Either way the scope waits for
    /// every task before it returns.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .scope_cancels_on_panic(false)
    ///     .build()
    ///     .unwrap();
    /// let ran = pool.scope(|s| {
    ///     let boom = s.submit(|| -> u8 { panic!("one task fails") }).unwrap();
    ///     let next = s.submit(|| 2u8).unwrap();
    ///     assert!(boom.exception().unwrap().is_some());
    ///     *next.result().unwrap()
    /// });
    /// assert_eq!(ran, 2, "the sibling ran anyway");
    /// ```
    pub fn scope_cancels_on_panic(mut self, cancel: bool) -> Self {
        self.scope_lets_siblings_run = !cancel;
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
        let bound = super::bound::checked_bound(self.max_queued, self.when_full)?
            .map(|(n, policy)| Bound::new(n, policy));
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
            wake_policy: self.wake_policy,
            counters: Counters::new(!self.no_metrics),
            bound,
            scope_cancels_on_panic: !self.scope_lets_siblings_run,
            timings: self.timing_histograms.then(|| Arc::new(Timings::new())),
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
