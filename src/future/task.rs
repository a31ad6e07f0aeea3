//! An executor's task: the future's `Inner<T>`, the owning pool's id and the closure in one
//! allocation (as tokio's and async-task's task cells), reached from the queue through a
//! [`TaskRef`] that carries the executor's reference (`TASK_REF`).
//!
//! The runner is whoever wins PENDING → RUNNING: the worker that pops the task, or a worker
//! of the same pool that is waiting on the future and runs it inline (rule 8 in
//! `future/mod.rs`). It alone takes the closure, writes the slot and publishes.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use super::slot::Outcome;
use super::state::{
    COMPLETING, Claim, REF_ONE, RUNNING, TASK_REF, TransitionToCompleting, TransitionToRunning,
};
use super::waiters::{Header, Vtable};
use super::{Future, Inner};
use crate::error::Exception;
use crate::sync::UnsafeCell;

/// Drops a user value (a closure and its captures) on one of the pool's own paths, where a
/// panic must not unwind into the pool's bookkeeping: it is caught and logged instead.
fn drop_quietly<V>(v: V) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(v))) {
        log::error!(
            target: "concurrent_futures",
            "dropping a task's closure panicked: {}",
            Exception::from_panic(payload)
        );
    }
}

/// The work of a task: produces its outcome (a panic is caught by the runner).
pub(crate) trait Job<T>: FnOnce() -> Result<T, Exception> + Send + 'static {}
impl<T, F: FnOnce() -> Result<T, Exception> + Send + 'static> Job<T> for F {}

#[repr(C)]
struct TaskCell<T, F> {
    inner: Inner<T>,
    /// The pool this task belongs to (compared, never dereferenced).
    owner: usize,
    /// Taken exactly once: by the runner (who won PENDING → RUNNING), or by the holder of
    /// the `TaskRef` when it finds the task cancelled or fails it. Every way a `TaskRef` is
    /// consumed (`run`, `cancel_queued`, `fail_queued`) takes it unless the runner did, so it
    /// is always gone by the time the cell is freed, and the cell never drops it. Not an
    /// `Option`: that would cost 8 bytes of every pending task.
    func: UnsafeCell<ManuallyDrop<F>>,
}

/// The executor's reference to a queued task. Consumed by [`TaskRef::run`],
/// [`TaskRef::cancel`] or [`TaskRef::fail`]; dropping it unprocessed cancels the task, so
/// nothing stays pending.
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a TaskRef is the executor's counted reference to a task whose closure is `Send`
// and whose output `T: Send`; it moves between threads through the queue.
unsafe impl Send for TaskRef {}

/// Allocates a task owned by pool `owner`: the user's handle and the queue's reference.
pub(crate) fn allocate<T: Send + 'static, F: Job<T>>(owner: usize, f: F) -> (Future<T>, TaskRef) {
    let cell = Box::new(TaskCell {
        inner: Inner::<T>::new_task(&TaskCell::<T, F>::VTABLE),
        owner,
        func: UnsafeCell::new(ManuallyDrop::new(f)),
    });
    let ptr = NonNull::from(Box::leak(cell));
    let fut = Future {
        ptr: ptr.cast::<Inner<T>>(),
        _marker: PhantomData,
    };
    (fut, TaskRef(ptr.cast::<Header>()))
}

impl<T: Send + 'static, F: Job<T>> TaskCell<T, F> {
    const VTABLE: Vtable = Vtable {
        dealloc: Self::dealloc,
        run: Self::run,
        run_inline: Self::run_inline,
        cancel_queued: Self::cancel_queued,
        fail_queued: Self::fail_queued,
    };

    /// # Safety
    /// `header` heads a live `TaskCell<T, F>`.
    unsafe fn cell<'a>(header: NonNull<Header>) -> &'a Self {
        // SAFETY: `repr(C)` with the header first (inside `Inner`), allocated by `allocate`.
        unsafe { header.cast::<Self>().as_ref() }
    }

    /// # Safety
    /// Nothing references the cell any more.
    unsafe fn dealloc(header: NonNull<Header>) {
        // SAFETY: allocated as a `Box<TaskCell<T, F>>` by `allocate`; the last reference went.
        drop(unsafe { Box::from_raw(header.cast::<Self>().as_ptr()) });
    }

    /// A handle counted by a reference the caller already added to the word.
    ///
    /// # Safety
    /// The caller added one `REF_ONE` for it and drops it exactly once (here: never through
    /// `Drop`; the caller releases the count itself).
    unsafe fn uncounted_handle(header: NonNull<Header>) -> ManuallyDrop<Future<T>> {
        ManuallyDrop::new(Future {
            ptr: header.cast::<Inner<T>>(),
            _marker: PhantomData,
        })
    }

    /// Moves the closure out.
    ///
    /// # Safety
    /// Called once per cell, by the one party allowed to (see `func`): the runner, or the
    /// `TaskRef` holder of a task that can no longer run (cancelled, or failed by it).
    unsafe fn take_func(&self) -> F {
        // SAFETY: exclusive and once, by the caller's contract.
        self.func
            .with_mut(|p| unsafe { ManuallyDrop::take(&mut *p) })
    }

    /// Runs the claimed task and publishes its outcome, keeping one extra user handle
    /// (added by the publish) for the callbacks; the caller releases it. `before_publish`
    /// runs after the task's body and before anyone can see the outcome: a worker counts
    /// itself idle there, so whoever the result wakes finds it reusable.
    ///
    /// # Safety
    /// The caller won PENDING → RUNNING for this task.
    unsafe fn execute(header: NonNull<Header>, before_publish: &dyn Fn()) {
        // SAFETY: live cell; the runner's exclusive rights (rule 8).
        let cell = unsafe { Self::cell(header) };
        // SAFETY: we are the runner.
        let f = unsafe { cell.take_func() };
        let outcome = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(v)) => Outcome::Value(v),
            Ok(Err(e)) => Outcome::Exception(e),
            Err(payload) => Outcome::Exception(Exception::from_panic(payload)),
        };
        let exception = matches!(outcome, Outcome::Exception(_));
        // SAFETY: the runner is the only writer and has not published (rules 2, 8).
        unsafe { cell.inner.slot.write(outcome) };
        before_publish();
        let prev = cell
            .inner
            .header
            .state
            .publish_finished_with_ref(RUNNING, exception);
        if prev.has_listeners() {
            // SAFETY: the publish added the reference this handle stands for.
            let handle = unsafe { Self::uncounted_handle(header) };
            handle.notify_listeners();
        }
    }

    /// The worker's path: run the task if it can still be claimed, then drop the executor's
    /// reference (and the runner's extra handle). `done` runs once the task's body is over
    /// (before its outcome is published), or at once if there is nothing to run.
    ///
    /// # Safety
    /// `header` comes from a `TaskRef`, whose reference this consumes.
    unsafe fn run(header: NonNull<Header>, done: &dyn Fn()) {
        // SAFETY: the TaskRef keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        let release = match cell.inner.header.state.transition_to_running(false) {
            TransitionToRunning::Running => {
                // SAFETY: we just won PENDING → RUNNING.
                unsafe { Self::execute(header, done) };
                REF_ONE + TASK_REF
            }
            TransitionToRunning::Cancelled => {
                // Nobody can run a cancelled task: the closure is ours to drop now.
                // SAFETY: cancelled, so no runner exists or will.
                let f = unsafe { cell.take_func() };
                done();
                drop_quietly(f);
                TASK_REF
            }
            // Cancelled and already marked notified (a user called the public
            // set_running_or_notify_cancel on the cancelled future): the closure is ours.
            TransitionToRunning::Invalid(s) if s.is_cancelled() => {
                // SAFETY: cancelled, so no runner exists or will.
                let f = unsafe { cell.take_func() };
                done();
                drop_quietly(f);
                TASK_REF
            }
            // Run inline by a waiting worker of the pool, which took the closure.
            TransitionToRunning::Invalid(_) => {
                done();
                TASK_REF
            }
        };
        if cell.inner.header.state.release(release) {
            // SAFETY: the last reference went.
            unsafe { Self::dealloc(header) };
        }
    }

    /// A worker of pool `current` waits on this future: run it here if it belongs to that
    /// pool and has not started. Returns `true` if it ran. The queue's reference stays.
    ///
    /// # Safety
    /// The caller holds a user handle to the future.
    unsafe fn run_inline(header: NonNull<Header>, current: usize) -> bool {
        // SAFETY: the caller's handle keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        if current == 0 || cell.owner != current {
            return false;
        }
        match cell.inner.header.state.transition_to_running(false) {
            TransitionToRunning::Running => {
                // SAFETY: we just won PENDING → RUNNING.
                unsafe { Self::execute(header, &|| {}) };
                // The caller's handle keeps the cell alive: this cannot be the last reference.
                let last = cell.inner.header.state.release(REF_ONE);
                debug_assert!(!last);
                true
            }
            _ => false,
        }
    }

    /// Shutdown with `cancel_futures`: cancel the queued task and drop the executor's
    /// reference.
    ///
    /// # Safety
    /// `header` comes from a `TaskRef`, whose reference this consumes.
    unsafe fn cancel_queued(header: NonNull<Header>) {
        // SAFETY: the TaskRef keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        cell.inner.header.state.ref_inc();
        // SAFETY: counted just above; released below.
        let handle = unsafe { Self::uncounted_handle(header) };
        handle.cancel();
        if handle.cancelled() {
            // SAFETY: cancelled, so no runner exists or will.
            drop_quietly(unsafe { cell.take_func() });
        }
        if cell.inner.header.state.release(REF_ONE + TASK_REF) {
            // SAFETY: the last reference went.
            unsafe { Self::dealloc(header) };
        }
    }

    /// A broken pool: finish the queued task with `exception` unless it already ended or
    /// runs, and drop the executor's reference.
    ///
    /// # Safety
    /// `header` comes from a `TaskRef`, whose reference this consumes.
    unsafe fn fail_queued(header: NonNull<Header>, exception: Exception) {
        // SAFETY: the TaskRef keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        let state = &cell.inner.header.state;
        match state.transition_to_completing(Claim::Queued) {
            TransitionToCompleting::Claimed => {
                // SAFETY: claimed from PENDING: no runner exists or will.
                drop_quietly(unsafe { cell.take_func() });
                // SAFETY: we hold the COMPLETING claim (rule 2).
                unsafe { cell.inner.slot.write(Outcome::Exception(exception)) };
                let prev = state.publish_finished_with_ref(COMPLETING, true);
                if prev.has_listeners() {
                    // SAFETY: the publish added the reference this handle stands for.
                    let handle = unsafe { Self::uncounted_handle(header) };
                    handle.notify_listeners();
                }
                if state.release(REF_ONE + TASK_REF) {
                    // SAFETY: the last reference went.
                    unsafe { Self::dealloc(header) };
                }
            }
            TransitionToCompleting::Invalid(s) => {
                if s.is_cancelled() {
                    // SAFETY: cancelled, so no runner exists or will.
                    drop_quietly(unsafe { cell.take_func() });
                }
                if state.release(TASK_REF) {
                    // SAFETY: the last reference went.
                    unsafe { Self::dealloc(header) };
                }
            }
        }
    }
}

impl TaskRef {
    fn vtable(&self) -> &'static Vtable {
        // SAFETY: the TaskRef's reference keeps the header alive.
        unsafe { self.0.as_ref() }.vtable
    }

    /// Runs the task (if it can still be claimed) and drops the reference; `done` runs when
    /// the body is over, before the outcome is published.
    pub(crate) fn run(self, done: &dyn Fn()) {
        let this = ManuallyDrop::new(self);
        // SAFETY: consumes this TaskRef's reference exactly once.
        unsafe { (this.vtable().run)(this.0, done) }
    }

    /// Cancels the task (if it has not started) and drops the reference.
    pub(crate) fn cancel(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: consumes this TaskRef's reference exactly once.
        unsafe { (this.vtable().cancel_queued)(this.0) }
    }

    /// Fails the task with `exception` (if it has not started) and drops the reference.
    pub(crate) fn fail(self, exception: Exception) {
        let this = ManuallyDrop::new(self);
        // SAFETY: consumes this TaskRef's reference exactly once.
        unsafe { (this.vtable().fail_queued)(this.0, exception) }
    }
}

impl Drop for TaskRef {
    /// A task dropped from a queue without being run is cancelled: nothing stays pending.
    fn drop(&mut self) {
        // SAFETY: consumes this TaskRef's reference exactly once (`drop` runs once).
        unsafe { (self.vtable().cancel_queued)(self.0) }
    }
}

/// For bare futures, which no executor owns.
pub(crate) mod bare {
    use super::*;

    pub(crate) unsafe fn run(_: NonNull<Header>, _: &dyn Fn()) {
        unreachable!("a bare future is never queued")
    }
    pub(crate) unsafe fn run_inline(_: NonNull<Header>, _: usize) -> bool {
        false
    }
    pub(crate) unsafe fn cancel_queued(_: NonNull<Header>) {
        unreachable!("a bare future is never queued")
    }
    pub(crate) unsafe fn fail_queued(_: NonNull<Header>, _: Exception) {
        unreachable!("a bare future is never queued")
    }
}
