//! Borrowing tasks: [`ThreadPoolExecutor::scope`] runs tasks that may borrow from the
//! caller's stack, and returns only once every one of them has ended.
//!
//! # Why it is sound
//!
//! A scope task's closure borrows for `'scope`; the pool's task cells want `'static`, so
//! the closure's lifetime is erased (the one `unsafe` here). That is sound because nothing
//! of the closure outlives the scope:
//!
//! 1. **Every closure is counted while it exists.** A scope task is wrapped in a guard
//!    that holds the closure; the scope's `alive` count goes up before the submit, and
//!    down when the guard drops: after the closure ran (its captures dropped in the call,
//!    also on unwind) or after it was dropped unrun (a cancel, a drain, a refused submit).
//! 2. **The scope returns only when `alive` is zero and every task's future is terminal**,
//!    also when its body or a task panicked (the body's panic is resumed after the wait).
//!    Values (`T: 'static`) and panic payloads (`'static`) borrow nothing.
//! 3. **A wait on one of the pool's own threads helps**: it takes queued tasks and runs
//!    them, so a scope opened inside a task of a one-worker pool cannot wait for a task
//!    that only it could run, nor for the queue entry of a cancelled one to be dropped.
//!
//! On a panic (of the body or of a task) the scope cancels the siblings that have not
//! started and asks the running ones to stop ([`Future::request_cancel`]; a task submitted
//! with [`Scope::submit_cancellable`] sees it on its token), unless the pool was built with
//! `scope_cancels_on_panic(false)`.

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::ThreadPoolExecutor;
use crate::error::SubmitError;
use crate::future::cancel::Erased;
use crate::future::{CancelToken, Future};
use crate::sync::{Arc, AtomicBool, Condvar, Mutex, Ordering, lock};

/// The state a scope and its tasks' guards share.
struct ScopeState {
    /// Closures of this scope's tasks that still exist (rule 1).
    alive: Mutex<usize>,
    ended: Condvar,
    /// Every task's future, to cancel on a panic and to wait for (rule 2).
    handles: Mutex<Vec<Erased>>,
    panicked: AtomicBool,
    cancel_on_panic: bool,
}

impl ScopeState {
    /// A body or a task panicked: cancel what has not started, ask what runs to stop.
    fn abort(&self) {
        if self.panicked.swap(true, Ordering::SeqCst) || !self.cancel_on_panic {
            return;
        }
        // A cancel runs done-callbacks, user code: not under the lock, which a callback's
        // submit to this scope would take. Submits from now on ask their own task.
        let handles = std::mem::take(&mut *lock(&self.handles));
        for h in &handles {
            h.request_cancel();
        }
        lock(&self.handles).extend(handles);
    }

    fn closure_gone(&self) {
        let mut alive = lock(&self.alive);
        *alive -= 1;
        if *alive == 0 {
            self.ended.notify_all();
        }
    }
}

/// Holds a scope task's closure; counts it out when it goes (rule 1). The fields drop in
/// order: an unrun closure (cancelled, drained, refused) first, then the count, which is
/// also taken when the closure's drop panics (drop glue goes on with the next field).
struct Tracked<F> {
    f: Option<F>,
    count: Counted,
}

/// One `alive` count, given back when it drops.
struct Counted(Arc<ScopeState>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.closure_gone();
    }
}

impl<F> Tracked<F> {
    fn call<T>(mut self, run: impl FnOnce(F) -> T) -> T {
        let f = self.f.take().expect("a scope task runs once");
        match catch_unwind(AssertUnwindSafe(|| run(f))) {
            Ok(v) => v,
            Err(payload) => {
                self.count.0.abort();
                resume_unwind(payload)
            }
        }
    }
}

/// A scope of [`ThreadPoolExecutor::scope`]: tasks submitted through it may borrow
/// anything that outlives the scope (`'env`). Its handles are ordinary [`Future`]s.
pub struct Scope<'scope, 'env: 'scope> {
    pool: ThreadPoolExecutor,
    state: Arc<ScopeState>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Schedules `f`, which may borrow from the scope's caller. The returned future works
    /// with `wait` and `as_completed`, and stays readable after the scope ends.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let names = vec!["ada".to_string(), "grace".to_string()];
    /// let total = pool.scope(|s| {
    ///     let a = s.submit(|| names[0].len()).unwrap();
    ///     let b = s.submit(|| names[1].len()).unwrap();
    ///     *a.result().unwrap() + *b.result().unwrap()
    /// });
    /// assert_eq!(total, 8);
    /// ```
    pub fn submit<T, F>(&'scope self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'static,
    {
        let guard = self.track(f);
        let job: Box<dyn FnOnce() -> T + Send + 'scope> = Box::new(move || guard.call(|f| f()));
        // SAFETY: only the lifetime changes. The closure (and everything it borrows) is
        // gone before the scope returns (module doc, rules 1 and 2): `alive` counts it
        // until its guard drops, and `scope` waits for zero. The value `T: 'static` and a
        // panic payload borrow nothing.
        let job: Box<dyn FnOnce() -> T + Send + 'static> = unsafe { std::mem::transmute(job) };
        self.adopt(self.pool.submit(job)?)
    }

    /// [`submit`](Self::submit) for a task that gets its [`CancelToken`]: it sees the
    /// scope's stop request after a panic (module doc), and any `request_cancel`.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let limit = 1_000_000u64;
    /// let counted = pool.scope(|s| {
    ///     let f = s
    ///         .submit_cancellable(|token| (0..limit).take_while(|_| !token.is_requested()).count())
    ///         .unwrap();
    ///     *f.result().unwrap()
    /// });
    /// assert!(counted as u64 <= limit);
    /// ```
    pub fn submit_cancellable<T, F>(&'scope self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce(&CancelToken) -> T + Send + 'scope,
        T: Send + 'static,
    {
        let guard = self.track(f);
        let job: Box<dyn FnOnce(&CancelToken) -> T + Send + 'scope> =
            Box::new(move |token| guard.call(|f| f(token)));
        // SAFETY: as in `submit`: only the lifetime changes, and the closure is gone before
        // the scope returns (rules 1 and 2).
        let job: Box<dyn FnOnce(&CancelToken) -> T + Send + 'static> =
            unsafe { std::mem::transmute(job) };
        self.adopt(self.pool.submit_cancellable(job)?)
    }

    /// Counts a closure in (rule 1).
    fn track<F>(&self, f: F) -> Tracked<F> {
        *lock(&self.state.alive) += 1;
        Tracked {
            f: Some(f),
            count: Counted(self.state.clone()),
        }
    }

    /// Keeps a submitted task's handle, for the panic path and the final wait.
    fn adopt<T: Send + 'static>(&self, fut: Future<T>) -> Result<Future<T>, SubmitError> {
        lock(&self.state.handles).push(Erased::new(&fut));
        if self.state.panicked.load(Ordering::SeqCst) && self.state.cancel_on_panic {
            fut.request_cancel();
        }
        Ok(fut)
    }

    /// `map` inside the scope: submits `f(item)` for every item (which may borrow) and
    /// returns their futures in input order. Every item is submitted before this returns.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let names = vec!["ada".to_string(), "grace".to_string(), "barbara".to_string()];
    /// let lengths: Vec<usize> = pool.scope(|s| {
    ///     let futs = s.map(|n: &String| n.len(), &names).unwrap();
    ///     futs.iter().map(|f| *f.result().unwrap()).collect()
    /// });
    /// assert_eq!(lengths, [3, 5, 7]);
    /// ```
    pub fn map<A, T, F, I>(&'scope self, f: F, items: I) -> Result<Vec<Future<T>>, SubmitError>
    where
        F: Fn(A) -> T + Send + Sync + 'scope,
        A: Send + 'scope,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        let f = Arc::new(f);
        items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.submit(move || f(item))
            })
            .collect()
    }

    /// Waits for every closure to be gone (rule 1), helping on the pool's own threads
    /// (rule 3), then for every future to be terminal (rule 2).
    fn wait_all(&self) {
        let shared = self.pool.shared();
        let on_pool_thread = crate::context::current() == shared.id();
        loop {
            {
                let alive = lock(&self.state.alive);
                if *alive == 0 {
                    break;
                }
                if !on_pool_thread {
                    drop(crate::sync::wait(&self.state.ended, alive));
                    continue;
                }
            }
            match shared.pop() {
                Some(task) => crate::future::hooks::with_inline_hooks(|h| task.run(h)),
                None => {
                    // The rest run on other workers: wait for one to end, looking at the
                    // queue again now and then (a task may queue behind them).
                    let alive = lock(&self.state.alive);
                    if *alive > 0 {
                        drop(crate::sync::wait_timeout(
                            &self.state.ended,
                            alive,
                            std::time::Duration::from_millis(1),
                        ));
                    }
                }
            }
        }
        for h in lock(&self.state.handles).iter() {
            h.wait_done();
        }
    }
}

impl ThreadPoolExecutor {
    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's stack, and
    /// returns `f`'s value once every task submitted through the scope has ended (rayon's
    /// `scope`, std's `thread::scope`, on this pool; Python has no such thing).
    ///
    /// If `f` or a task panics, the tasks that have not started are cancelled and the
    /// running ones asked to stop (unless the pool was built with
    /// [`scope_cancels_on_panic(false)`](super::ThreadPoolBuilder::scope_cancels_on_panic));
    /// the scope still waits for all of them, then resumes `f`'s panic, or returns (a task's
    /// panic is its future's exception).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(4).unwrap();
    /// let mut counts = [0u64; 4];
    /// pool.scope(|s| {
    ///     for (i, slot) in counts.iter_mut().enumerate() {
    ///         s.submit(move || *slot = (i as u64 + 1) * 10).unwrap();
    ///     }
    /// });
    /// assert_eq!(counts, [10, 20, 30, 40]);
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            pool: self.clone(),
            state: Arc::new(ScopeState {
                alive: Mutex::new(0),
                ended: Condvar::new(),
                handles: Mutex::new(Vec::new()),
                panicked: AtomicBool::new(false),
                cancel_on_panic: self.shared().scope_cancels_on_panic,
            }),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
        if result.is_err() {
            scope.state.abort();
        }
        if plant!("scope_returns_without_waiting", false, true) {
            scope.wait_all();
        }
        match result {
            Ok(r) => r,
            Err(payload) => resume_unwind(payload),
        }
    }
}
