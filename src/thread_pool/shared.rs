//! The pool's shared state: the queue, the sleep counters, the lifecycle word (pool rules 1,
//! 2 and 5 of `thread_pool/mod.rs`), thread starts, breaking, and shutdown.

use super::*;

/// Set once `shutdown` was called.
pub(super) const SHUTDOWN: usize = 1;
/// Set once an initializer failed.
pub(super) const BROKEN: usize = 2;
/// One submit between its flag check and its push.
pub(super) const INFLIGHT_ONE: usize = 4;

pub(super) static POOL_COUNTER: StaticAtomicUsize = StaticAtomicUsize::new(0);

/// A thread start the OS refused.
pub(crate) struct SpawnFailure {
    error: String,
    /// No worker is left to run the queue.
    none_left: bool,
}

/// The most workers a pool may have: what the sleep counters can count.
pub(super) const MAX_WORKERS: usize = sleep::MAX_WORKERS;

pub(crate) struct Shared {
    /// This pool's executor id (`context.rs`).
    pub(super) id: usize,
    /// Open while this pool's threads may run its queued tasks inline; closed for good by
    /// the first drain (pool rule 5).
    pub(crate) inline_gate: Arc<AtomicBool>,
    pub(crate) queue: Injector<TaskRef>,
    pub(crate) sleep: Sleep,
    /// `SHUTDOWN | BROKEN | in-flight submits × INFLIGHT_ONE` (pool rule 1).
    pub(super) state: AtomicUsize,
    /// Worker threads started or reserved and not yet exited.
    pub(super) live: AtomicUsize,
    /// Workers blocked in `shutdown(wait = true)` of this pool (pool rule 6).
    pub(super) waiting_in_shutdown: AtomicUsize,
    /// Taken to signal, with `exits`, that `live` or `waiting_in_shutdown` changed.
    pub(super) exit_lock: Mutex<()>,
    pub(super) exits: Condvar,
    /// Threads ever started: the `_i` in their names.
    pub(super) started: AtomicUsize,
    pub(super) max_workers: usize,
    pub(super) prefix: String,
    pub(crate) initializer: Option<Initializer>,
    /// Test hook: every thread start fails, as if the OS refused.
    pub(super) fail_thread_starts: bool,
    /// Print captured task panics too (builder `print_task_panics`).
    pub(crate) print_task_panics: bool,
    /// How idle workers wait (builder `wake_policy`).
    pub(crate) wake_policy: WakePolicy,
    /// The queue's bound (builder `max_queued`); `None`: unbounded.
    pub(crate) bound: Option<Bound>,
    /// A panic in a scope cancels its other tasks (builder `scope_cancels_on_panic`).
    pub(crate) scope_cancels_on_panic: bool,
    /// Queue-wait and run-time histograms (builder `timing_histograms`).
    pub(crate) timings: Option<Arc<Timings>>,
    /// The task counts (`metrics.rs`).
    pub(crate) counters: Counters,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(super) broken: OnceLock<String>,
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

    pub(super) fn submit_job<T, F>(&self, f: F, slot: Slot) -> Result<Future<T>, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, Exception> + Send + 'static,
    {
        match &self.timings {
            None => self.submit_allocated(move |id| task_cell::allocate(id, f), slot),
            Some(t) => {
                let stamp = Timings::stamp(t);
                let f = move || stamp.run(f);
                self.submit_allocated(move |id| task_cell::allocate(id, f), slot)
            }
        }
    }

    /// A task whose closure gets its cancel token (`future/cancel.rs`).
    pub(super) fn submit_cancellable<T, F>(
        &self,
        f: F,
        slot: Slot,
    ) -> Result<Future<T>, SubmitError>
    where
        T: Send + 'static,
        F: FnOnce(&CancelToken) -> Result<T, Exception> + Send + 'static,
    {
        match &self.timings {
            None => self.submit_allocated(move |id| task_cell::allocate_cancellable(id, f), slot),
            Some(t) => {
                let stamp = Timings::stamp(t);
                let f = move |token: &CancelToken| stamp.run(|| f(token));
                self.submit_allocated(move |id| task_cell::allocate_cancellable(id, f), slot)
            }
        }
    }

    /// Takes an entry off the queue, freeing its slot in a bounded pool (`bound.rs`).
    #[inline]
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        let t = self.queue.pop();
        if t.is_some() {
            if let Some(b) = &self.bound {
                b.release();
            }
        }
        t
    }

    /// Accepts the task `allocate` makes for this pool's id (pool rules 1 and 2), after a
    /// queue slot of a bounded pool, as `slot` says (`bound.rs`).
    fn submit_allocated<T>(
        &self,
        allocate: impl FnOnce(usize) -> (Future<T>, TaskRef),
        slot: Slot,
    ) -> Result<Future<T>, SubmitError> {
        let reserved = match &self.bound {
            None => false,
            Some(_) if slot == Slot::Reserved => true,
            // Closed: the window below refuses with the right error.
            Some(_) if self.closing() => false,
            Some(b) => {
                let got = match (slot, b.when_full) {
                    (Slot::TryOnly, _) | (_, WhenFull::Reject) => b.try_reserve(),
                    (_, WhenFull::CallerRuns) => {
                        if !b.try_reserve() {
                            return self.run_in_caller(allocate);
                        }
                        true
                    }
                    // On one of this pool's own threads a wait for room could wait for
                    // the very thread that would make it (pool rule 3): run the task here
                    // instead, as `CallerRuns` does.
                    (_, WhenFull::Block { .. }) if crate::context::current() == self.id() => {
                        if !b.try_reserve() {
                            return self.run_in_caller(allocate);
                        }
                        true
                    }
                    (_, WhenFull::Block { timeout }) => {
                        match b.reserve_until(Deadline::from_timeout(timeout), || self.closing()) {
                            Room::Reserved => true,
                            Room::Full => false,
                            Room::Closed => return Err(self.refusal(self.state())),
                        }
                    }
                };
                if !got {
                    return Err(SubmitError::Full { max_queued: b.max });
                }
                true
            }
        };
        // A reserved slot not used by a push goes back, also on unwind.
        let mut slot_guard = SlotGuard(reserved.then_some(self.bound.as_ref()).flatten());
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
        let (fut, task) = allocate(self.id());
        let window = plant!(
            "in_flight_released_before_the_push",
            {
                drop(window);
                None
            },
            Some(window)
        );
        self.queue.push(task);
        slot_guard.0 = None; // the queued entry holds the slot now; its pop frees it
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

    /// `WhenFull::CallerRuns` with a full queue: runs the task here, now, unless the pool
    /// is closed. Counted in the pool's metrics as a worker's run is.
    fn run_in_caller<T>(
        &self,
        allocate: impl FnOnce(usize) -> (Future<T>, TaskRef),
    ) -> Result<Future<T>, SubmitError> {
        let s = self.state();
        if s & (SHUTDOWN | BROKEN) != 0 {
            return Err(self.refusal(s));
        }
        let (fut, task) = allocate(self.id());
        task.run(&self.counters.caller_hooks());
        Ok(fut)
    }

    fn state(&self) -> usize {
        self.state.load(Ordering::SeqCst)
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
        // Submitters waiting for room find the pool closed (`bound.rs`, rule 2). They wait
        // outside the in-flight window, so the wait below does not wait for them.
        if let Some(b) = &self.bound {
            b.wake_all();
        }
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
        while let Some(t) = self.pop() {
            let e = t.end(outcome());
            // Counted here if this drain ended it, or if it was cancelled before; else a
            // thread of the pool ran it inline and counted it.
            if e || t.is_cancelled() {
                self.counters.drained(!t.is_cancelled());
            }
            ended.push((t, e));
        }
        for (t, e) in ended {
            t.finish_ended(e);
        }
    }

    pub(super) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.close(SHUTDOWN);
        if cancel_futures {
            self.drain_queue(|| None);
        }
        self.sleep.wake_all();
        if wait {
            self.join_workers();
        }
    }

    /// `shutdown(wait = true)` that gives up at `deadline`, naming the workers still
    /// running. On success every worker has exited and been joined (its thread-locals
    /// destroyed), as after `shutdown(wait = true)`.
    pub(super) fn shutdown_until(
        &self,
        cancel_futures: bool,
        deadline: Deadline,
    ) -> Result<(), ShutdownTimedOut> {
        self.shutdown(false, cancel_futures);
        let on_own_worker = crate::context::current() == self.id();
        let done = if on_own_worker {
            self.wait_for_other_workers(deadline)
        } else {
            self.wait_for_exits(deadline, |s| s.live.load(Ordering::SeqCst) == 0)
        };
        if !done {
            let report = self.still_running(on_own_worker);
            // The last worker may have exited since the check: then it is done after all,
            // and an error naming nobody would be a lie.
            if plant!(
                "timed_out_shutdown_without_a_recount",
                true,
                report.running > 0
            ) {
                return Err(report);
            }
        }
        if !on_own_worker {
            // Every worker has exited: the joins return at once, after its thread-locals.
            self.join_workers();
        }
        Ok(())
    }

    /// Which workers have not exited yet.
    fn still_running(&self, on_own_worker: bool) -> ShutdownTimedOut {
        let me = crate::sync::current_thread().id();
        let threads = lock(&self.threads)
            .iter()
            .filter(|h| {
                let caller = on_own_worker && h.thread().id() == me;
                !handle_finished(h) && !caller
            })
            .filter_map(|h| h.thread().name().map(str::to_owned))
            .collect();
        ShutdownTimedOut {
            running: self
                .live
                .load(Ordering::SeqCst)
                .saturating_sub(usize::from(on_own_worker)),
            threads,
            pids: Vec::new(),
            processes: false,
        }
    }

    /// Waits for the workers to exit: joins them from any other thread; on one of the
    /// pool's own workers, waits without joining (pool rule 6).
    fn join_workers(&self) {
        if crate::context::current() == self.id() {
            self.wait_for_other_workers(Deadline::Never);
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
    /// `false` if `deadline` passed first.
    fn wait_for_other_workers(&self, deadline: Deadline) -> bool {
        struct Waiting<'a>(&'a Shared);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.waiting_in_shutdown.fetch_sub(1, Ordering::SeqCst);
                self.0.signal_exit();
            }
        }
        // The plant neither counts this waiter nor uncounts it.
        let _waiting = plant!("shutdown_waiter_not_counted", None, {
            self.waiting_in_shutdown.fetch_add(1, Ordering::SeqCst);
            Some(Waiting(self))
        });
        self.signal_exit();
        self.wait_for_exits(deadline, |s| {
            s.live.load(Ordering::SeqCst) <= s.waiting_in_shutdown.load(Ordering::SeqCst)
        })
    }

    /// Waits until `done` holds, re-checked on every exit signal (`signal_exit`); `false` if
    /// `deadline` passed first.
    fn wait_for_exits(&self, deadline: Deadline, done: impl Fn(&Shared) -> bool) -> bool {
        let mut g = lock(&self.exit_lock);
        while !done(self) {
            match crate::sync::wait_until(&self.exits, g, deadline) {
                Some(next) => g = next,
                None => return false,
            }
        }
        true
    }
}

#[cfg(not(concurrent_futures_loom))]
fn handle_finished(h: &JoinHandle<()>) -> bool {
    h.is_finished()
}

#[cfg(concurrent_futures_loom)]
fn handle_finished(_: &JoinHandle<()>) -> bool {
    false
}

/// How a submit may take a slot of a bounded pool's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// As the pool's `WhenFull` says.
    Policy,
    /// Never wait (`try_submit`).
    TryOnly,
    /// The caller reserved one already (an async submit).
    Reserved,
}

/// Gives a reserved slot back unless a push took it.
struct SlotGuard<'a>(Option<&'a Bound>);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.0 {
            b.release();
        }
    }
}
