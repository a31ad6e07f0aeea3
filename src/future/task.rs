//! An executor's task: the future's `Inner<T>`, the owning executor's id and the closure in
//! one allocation (as tokio's and async-task's task cells), reached from the queue through a
//! [`TaskRef`] that carries the executor's reference (`TASK_REF`).
//!
//! # Who runs, who publishes, who drops the executor's reference
//!
//! The numbers are the rules of `future/mod.rs`.
//!
//! * The runner is whoever wins PENDING → RUNNING: the worker that pops the task
//!   ([`TaskRef::run`]), or a thread working for the same executor that waits on the future
//!   and runs it inline (`run_inline`). It alone takes the closure, writes the slot and
//!   publishes (rule 8). The public setters refuse the future for its whole life because the
//!   vtable says it is an executor's (`owned`), not because of a reference that some path
//!   might drop while the runner is still at work.
//! * The queue entry ([`TaskRef`]) is consumed exactly once, by `run` or by `end_queued` +
//!   `finish_ended` (a cancel, a drain at shutdown, a broken pool), and that consumption
//!   drops `TASK_REF`. An inline runner
//!   never touches `TASK_REF`: it holds a user handle, which keeps the cell alive while it
//!   runs, whatever happened to the queue entry meanwhile (popped by another worker, drained
//!   by `shutdown(cancel_futures = true)`, or failed by a broken pool: each finds the task
//!   RUNNING or FINISHED and only drops the reference).
//! * The closure is taken exactly once: by the runner, or by the queue entry's consumer when
//!   the task can no longer run (cancelled, or failed from PENDING by that consumer).
//!
//! # Claim, run, publish
//!
//! A run has three steps, and only the first needs the queue entry:
//!
//! 1. **Claim**: PENDING → RUNNING (`transition_to_running`). From here the task can no
//!    longer be cancelled, as CPython's process pool marks a call RUNNING when it queues it
//!    for a worker.
//! 2. **Run**: the [`Job`] gets the body and a [`Publisher`], the runner's right to publish.
//!    A closure ([`Local`]) publishes as soon as it returns. A job whose work happens
//!    elsewhere (a worker process) calls [`Publisher::detach`] and hands the publisher to the
//!    thread that will receive the outcome.
//! 3. **Publish**: [`Publisher::publish`] writes the slot, publishes FINISHED, wakes the
//!    listeners and, on the queue's path, drops `TASK_REF`, from whichever thread holds it.
//!    A publisher dropped without publishing publishes an exception that says so, so a lost
//!    publisher never leaves a future RUNNING forever.
//!
//! The queue entry's `TASK_REF` moves into the publisher at the claim: the cell stays alive
//! until the publish, and the reference is still not a user handle (rule 7), so
//! `try_into_result` right after the outcome moves the value out. An inline runner's
//! publisher owns no reference (the runner's handle keeps the cell alive while it runs),
//! which is why only jobs that publish before they return ([`Job::INLINE`]) run inline.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::ptr::NonNull;

use super::hooks::{Ended, NoHooks, RunHooks, UserCode};
use super::slot::Outcome;
use super::state::{
    COMPLETING, Claim, RUNNING, TransitionToCancelled, TransitionToCompleting, TransitionToRunning,
};
use super::waiters::{Header, Vtable};
use super::{Future, Inner};
use crate::error::Exception;
use crate::sync::UnsafeCell;
use crate::unwind::drop_quietly;

/// The work of a task, run once by its runner (module doc, "Claim, run, publish").
pub(crate) trait Job<T>: Send + 'static {
    /// Whether a thread of the executor that waits on the task may run it inline: only for
    /// jobs that publish before [`run`](Self::run) returns and never detach.
    const INLINE: bool;

    /// Runs the claimed task's body and hands its outcome to `publisher`, before returning
    /// or (after [`Publisher::detach`]) later from another thread. A panic that escapes is
    /// caught by the runner; the dropped publisher then fails the future.
    fn run(self, publisher: Publisher<'_, T>);

    /// Called after [`Future::request_cancel`](super::Future::request_cancel) set the request
    /// bit of this claimed task (`task` names its cell, the address a [`Publisher`] reports
    /// as [`task_id`](Publisher::task_id)), on the requester's thread, once per call that
    /// returned `true`. A job whose work runs elsewhere forwards the request there; the
    /// default does nothing (a closure reads the bit through its token).
    fn on_request(_owner: usize, _task: usize) {}
}

/// A closure's job: its outcome (a panic included) is published as soon as it returns.
pub(crate) struct Local<F>(pub(crate) F);

impl<T, F> Job<T> for Local<F>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Exception> + Send + 'static,
{
    const INLINE: bool = true;

    #[inline]
    fn run(self, publisher: Publisher<'_, T>) {
        // `capture` never unwinds, whatever the payload's `Drop` does; it keeps the panic's
        // location and keeps the panic hook quiet (the future holds it).
        let outcome = crate::unwind::capture(self.0).and_then(|r| r);
        publisher.publish(outcome);
    }
}

/// The right to publish a claimed task's outcome, exactly once (module doc, step 3). Held by
/// the runner, or by whoever it was handed to after [`detach`](Self::detach).
#[must_use = "a publisher dropped without publishing fails its future"]
pub(crate) struct Publisher<'h, T> {
    header: NonNull<Header>,
    hooks: &'h dyn RunHooks,
    /// The queue entry's `TASK_REF`, which the publish drops; `false` for an inline run.
    owns_task_ref: bool,
    _output: PhantomData<fn(T)>,
}

// SAFETY: a detached publisher is a counted reference (`TASK_REF`) to a cell whose output
// `T: Send` it writes from the thread that holds it; the cell's other fields are shared
// under the state word's rules. A borrowed one (`'h`) never leaves the runner's thread in
// practice, and `NoHooks` (the only hooks a detached one has) is stateless.
unsafe impl<T: Send> Send for Publisher<'static, T> {}

#[repr(C)]
struct TaskCell<T, F> {
    inner: Inner<T>,
    /// The executor this task belongs to (`context.rs` id).
    owner: usize,
    /// Taken exactly once (module doc), so it is always gone by the time the cell is freed,
    /// and the cell never drops it. Not an `Option`: that would cost 8 bytes of every
    /// pending task.
    func: UnsafeCell<ManuallyDrop<F>>,
}

/// The executor's reference to a queued task. Consumed by [`TaskRef::run`] or
/// [`TaskRef::end`] + [`TaskRef::finish_ended`]; dropping it unprocessed cancels the task,
/// so nothing stays pending.
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a TaskRef is the executor's counted reference to a task whose closure is `Send`
// and whose output `T: Send`; it moves between threads through the queue.
unsafe impl Send for TaskRef {}

/// Allocates a closure's task owned by executor `owner`: the user's handle and the queue's
/// reference.
pub(crate) fn allocate<T, F>(owner: usize, f: F) -> (Future<T>, TaskRef)
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Exception> + Send + 'static,
{
    allocate_job(owner, Local(f))
}

/// Allocates a task whose closure gets its [`CancelToken`](super::cancel::CancelToken).
pub(crate) fn allocate_cancellable<T, F>(owner: usize, f: F) -> (Future<T>, TaskRef)
where
    T: Send + 'static,
    F: FnOnce(&super::cancel::CancelToken) -> Result<T, Exception> + Send + 'static,
{
    allocate_job(owner, super::cancel::Cancellable(f))
}

/// Allocates a task of any [`Job`] owned by executor `owner`.
pub(crate) fn allocate_job<T: Send + 'static, F: Job<T>>(
    owner: usize,
    f: F,
) -> (Future<T>, TaskRef) {
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
        owned: true,
        dealloc: Self::dealloc,
        run: Self::run,
        run_inline: Self::run_inline,
        end_queued: Self::end_queued,
        finish_ended: Self::finish_ended,
        requested: Self::requested,
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

    /// Moves the closure out.
    ///
    /// # Safety
    /// Called once per cell, by the one party allowed to (module doc): the runner, or the
    /// `TaskRef` holder of a task that can no longer run (cancelled, or failed by it).
    unsafe fn take_func(&self) -> F {
        // SAFETY: exclusive and once, by the caller's contract.
        self.func
            .with_mut(|p| unsafe { ManuallyDrop::take(&mut *p) })
    }

    /// A running task's request bit was just set: forward it to the job's type.
    ///
    /// # Safety
    /// The caller holds a user handle to the future.
    unsafe fn requested(header: NonNull<Header>) {
        // SAFETY: the caller's handle keeps the cell alive; `owner` never changes.
        let owner = unsafe { Self::cell(header) }.owner;
        F::on_request(owner, header.as_ptr() as usize);
    }

    /// Runs the claimed task (step 2): the job gets the publisher. `hooks.body_done()` runs
    /// after the task's body and before anyone can see the outcome (in the publish, or at
    /// the detach): a worker counts itself free there, so whoever the result wakes finds it
    /// reusable.
    ///
    /// # Safety
    /// The caller won PENDING → RUNNING for this task. With `owns_task_ref`, the caller
    /// hands over a `TaskRef`'s reference; without, it keeps the cell alive (a user handle)
    /// until this returns, and `F::INLINE` holds.
    unsafe fn execute(header: NonNull<Header>, hooks: &dyn RunHooks, owns_task_ref: bool) {
        // SAFETY: live cell; the runner's exclusive rights (rule 8).
        let cell = unsafe { Self::cell(header) };
        // SAFETY: we are the runner.
        let f = unsafe { cell.take_func() };
        let publisher = Publisher {
            header,
            hooks,
            owns_task_ref,
            _output: PhantomData,
        };
        // A closure's job catches its own panic; this catches a job's own code (a backend's
        // dispatch), whose dropped publisher has already failed the future.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f.run(publisher))) {
            let message = crate::unwind::payload_message(payload);
            crate::unwind::report(format_args!("running a task's job panicked: {message}"));
        }
    }

    /// The worker's path: run the task if it can still be claimed, then drop the executor's
    /// reference. `hooks.body_done()` runs on every path, once nothing of the task's own
    /// code is left to run but callbacks, wakers and the value's drop.
    ///
    /// # Safety
    /// `header` comes from a `TaskRef`, whose reference this consumes.
    unsafe fn run(header: NonNull<Header>, hooks: &dyn RunHooks) {
        // SAFETY: the TaskRef keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        match cell.inner.header.state.transition_to_running(false) {
            TransitionToRunning::Running => {
                hooks.claimed();
                // SAFETY: we just won PENDING → RUNNING, and hand the TaskRef's reference to
                // the publisher, which drops it once it has published.
                return unsafe { Self::execute(header, hooks, true) };
            }
            // Cancelled, and maybe already marked notified (an inline attempt lost to the
            // cancel): nobody can run it, so the closure is this entry's to drop. Dropped
            // before `body_done`, while the worker does not count as free (pool rule 4).
            TransitionToRunning::Cancelled => {
                // SAFETY: cancelled, so no runner exists or will.
                drop_quietly(unsafe { cell.take_func() }, "a cancelled task's closure");
                hooks.body_done(Ended::Cancelled);
            }
            TransitionToRunning::Invalid(s) if s.is_cancelled() => {
                // SAFETY: cancelled, so no runner exists or will.
                drop_quietly(unsafe { cell.take_func() }, "a cancelled task's closure");
                hooks.body_done(Ended::Cancelled);
            }
            // Running or run inline by a waiting thread of the executor, which took the
            // closure and publishes: only the reference is left to drop.
            TransitionToRunning::Invalid(_) => hooks.body_done(Ended::Elsewhere),
        }
        // SAFETY: consumes the TaskRef's reference.
        unsafe { release_task_ref::<T>(header, hooks) };
    }

    /// A thread working for executor `current` waits on this future: run it here if it
    /// belongs to that executor and has not started. Returns `true` if it ran. The queue's
    /// reference stays: its consumer will find the task finished.
    ///
    /// # Safety
    /// The caller holds a user handle to the future.
    unsafe fn run_inline(header: NonNull<Header>, current: usize) -> bool {
        // SAFETY: the caller's handle keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        if !F::INLINE || current == crate::context::NONE || cell.owner != current {
            return false;
        }
        match cell.inner.header.state.transition_to_running(false) {
            TransitionToRunning::Running => {
                super::hooks::with_inline_hooks(|hooks| {
                    hooks.claimed();
                    // SAFETY: we just won PENDING → RUNNING; the caller's handle keeps the
                    // cell alive whatever happens to the queue entry meanwhile (module doc),
                    // and `F::INLINE` jobs publish before they return.
                    unsafe { Self::execute(header, hooks, false) }
                });
                true
            }
            _ => false,
        }
    }

    /// Ends a queued task that has not started, running no user code: cancels it
    /// (`exception` is `None`) or publishes `exception` as its outcome (a broken executor).
    /// `true` if this call made it terminal. The reference stays for
    /// [`finish_ended`](Self::finish_ended), so that a drain can end every queued task before
    /// any callback or closure drop runs (one of them may wait on another).
    ///
    /// # Safety
    /// `header` comes from a `TaskRef`, which stays alive.
    unsafe fn end_queued(header: NonNull<Header>, exception: Option<Exception>) -> bool {
        // SAFETY: the TaskRef keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        let state = &cell.inner.header.state;
        let Some(exception) = exception else {
            return matches!(
                state.transition_to_cancelled(),
                TransitionToCancelled::Cancelled { .. }
            );
        };
        match state.transition_to_completing(Claim::Queued) {
            TransitionToCompleting::Claimed => {
                // SAFETY: we hold the COMPLETING claim (rule 2); the slot held `Empty`.
                unsafe { cell.inner.slot.write(Outcome::Exception(exception)) };
                let _ = state.publish_finished(COMPLETING, true);
                true
            }
            TransitionToCompleting::Invalid(_) => false,
        }
    }

    /// The second half of [`end_queued`](Self::end_queued): wakes the listeners of a task it
    /// ended (`ended`), drops the closure of a task that can no longer run, and drops the
    /// executor's reference.
    ///
    /// # Safety
    /// `header` comes from a `TaskRef`, whose reference this consumes; `ended` is what
    /// `end_queued` returned for it.
    unsafe fn finish_ended(header: NonNull<Header>, ended: bool) {
        // SAFETY: the TaskRef keeps the cell alive.
        let cell = unsafe { Self::cell(header) };
        let state = &cell.inner.header.state;
        // Only the maker of the terminal transition drains, so the listener flags set before
        // it are still there (rule 3).
        if ended && state.load().has_listeners() {
            // SAFETY: the TaskRef keeps the cell alive while the handle is used.
            let handle = unsafe { uncounted_handle::<T>(header) };
            handle.notify_listeners(&NoHooks);
        }
        if ended || state.load().is_cancelled() {
            // SAFETY: ended from PENDING by this entry, or cancelled: no runner exists or
            // will, and this entry is the only one.
            drop_quietly(unsafe { cell.take_func() }, "a task's closure");
        }
        // SAFETY: consumes the TaskRef's reference.
        unsafe { release_task_ref::<T>(header, &NoHooks) };
    }
}

/// Drops the queue entry's `TASK_REF` (held by a `TaskRef` or moved into a publisher), and
/// frees the cell if it was the last reference. Freeing drops the outcome when the user
/// dropped every handle first: a value, or an exception holding the user's error, whose
/// `Drop` is user code. `hooks` hear of it, and its panic is caught and logged here, so that
/// no path that consumes a queue entry (a worker, a publisher, or a drain between its two
/// phases) can unwind half done.
///
/// # Safety
/// `header` heads a live task cell whose output is `T`; the caller consumes its `TASK_REF`,
/// once.
unsafe fn release_task_ref<T>(header: NonNull<Header>, hooks: &dyn RunHooks) {
    // SAFETY: the reference being released keeps the cell alive until here.
    let head = unsafe { header.as_ref() };
    if let Some(last) = head.state.release_task_ref() {
        let user = UserCode::new(hooks);
        if std::mem::needs_drop::<T>() || last.has_exception() {
            user.enter();
        }
        let dealloc = head.vtable.dealloc;
        // SAFETY: the last reference went; the cell's own `dealloc` (a `Box::from_raw`)
        // frees the memory even if a field's drop unwinds.
        let freed = catch_unwind(AssertUnwindSafe(|| unsafe { dealloc(header) }));
        if let Err(payload) = freed {
            let message = crate::unwind::payload_message(payload);
            crate::unwind::report(format_args!("dropping a task's result panicked: {message}"));
        }
    }
}

/// A handle that the caller's reference (`TASK_REF`, or the caller's own handle) keeps
/// alive. It is not counted as a user handle: the caller never drops it.
///
/// # Safety
/// `header` heads a live task cell whose output is `T`, alive while the handle is used.
unsafe fn uncounted_handle<T>(header: NonNull<Header>) -> ManuallyDrop<Future<T>> {
    ManuallyDrop::new(Future {
        ptr: header.cast::<Inner<T>>(),
        _marker: PhantomData,
    })
}

impl<'h, T> Publisher<'h, T> {
    /// The task's header, for a job that lends its run a view of the state word (a
    /// [`CancelToken`](super::cancel::CancelToken)); valid until the publish.
    pub(crate) fn header(&self) -> NonNull<Header> {
        self.header
    }

    /// The task's identity while its cell lives, as [`Job::on_request`] receives it.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the user is the process pool
    pub(crate) fn task_id(&self) -> usize {
        self.header.as_ptr() as usize
    }

    /// Publishes the outcome (step 3): the slot, FINISHED, the listeners, and on the queue's
    /// path the executor's reference.
    pub(crate) fn publish(self, outcome: Result<T, Exception>) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again.
        unsafe { this.publish_once(outcome) }
    }

    /// Lets the publisher leave the runner's thread: the worker's part of the run is over
    /// (`body_done`), and whoever holds the returned publisher publishes later. The job
    /// should return promptly after it: its thread counts as free from here. A job that
    /// detaches never runs inline ([`Job::INLINE`]), so a thread of its executor waiting on
    /// it waits for the publish rather than helping (rule 3 of the thread pool does not
    /// apply to such executors, whose work is elsewhere).
    ///
    /// # Panics
    /// On an inline run's publisher, which owns no reference to keep the cell alive; only
    /// jobs that are not [`Job::INLINE`] detach, and those never run inline.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's
    pub(crate) fn detach(self) -> Publisher<'static, T> {
        assert!(
            self.owns_task_ref,
            "an inline run's publisher cannot leave its runner"
        );
        self.hooks.body_done(Ended::Detached);
        let this = ManuallyDrop::new(self);
        Publisher {
            header: this.header,
            hooks: &NoHooks,
            owns_task_ref: true,
            _output: PhantomData,
        }
    }

    /// Step 3 in two halves, for a backend that ends many tasks at once (a broken pool):
    /// this writes the slot and publishes FINISHED, running no user code; the returned
    /// [`Settled`] wakes the listeners and drops the reference. Settling a whole batch
    /// before finishing any of it means no callback of one task can find another of the
    /// batch still RUNNING, and wait for it.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's
    pub(crate) fn settle(self, outcome: Result<T, Exception>) -> Settled<'h, T> {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again.
        let listeners = unsafe { this.settle_once(outcome) };
        Settled {
            header: this.header,
            hooks: this.hooks,
            owns_task_ref: this.owns_task_ref,
            listeners,
            _output: PhantomData,
        }
    }

    /// # Safety
    /// Called once per publisher (by `publish` or `drop`), which is then forgotten or gone.
    unsafe fn publish_once(&self, outcome: Result<T, Exception>) {
        // SAFETY: once, by the caller's contract.
        let listeners = unsafe { self.settle_once(outcome) };
        // SAFETY: just settled, once.
        unsafe { finish_settled::<T>(self.header, self.hooks, self.owns_task_ref, listeners) }
    }

    /// Writes the slot and publishes FINISHED; `true` if listeners are to be woken.
    ///
    /// # Safety
    /// Called once per publisher.
    unsafe fn settle_once(&self, outcome: Result<T, Exception>) -> bool {
        // SAFETY: the publisher's reference (or the inline runner's handle) keeps the cell
        // alive until the release in `finish_settled`; a task cell starts with its
        // `Inner<T>`.
        let inner = unsafe { self.header.cast::<Inner<T>>().as_ref() };
        let exception = outcome.is_err();
        let ended = Ended::of(&outcome);
        let outcome = match outcome {
            Ok(v) => Outcome::Value(v),
            Err(e) => Outcome::Exception(e),
        };
        // SAFETY: the publisher is the runner's right: the only writer, not yet published
        // (rules 2, 8). The slot held `Empty`, whose drop is no user code.
        unsafe { inner.slot.write(outcome) };
        self.hooks.body_done(ended);
        inner
            .header
            .state
            .publish_finished(RUNNING, exception)
            .has_listeners()
    }
}

/// The second half of a publish: wakes the listeners (when there were any at the publish)
/// and drops the publisher's reference.
///
/// # Safety
/// `header` heads a live task cell of output `T` that was just settled, once, by a
/// publisher with these `hooks` and `owns_task_ref`.
unsafe fn finish_settled<T>(
    header: NonNull<Header>,
    hooks: &dyn RunHooks,
    owns_task_ref: bool,
    listeners: bool,
) {
    if listeners {
        // SAFETY: alive until the release below (the caller's contract).
        let handle = unsafe { uncounted_handle::<T>(header) };
        handle.notify_listeners(hooks);
    }
    if owns_task_ref {
        // SAFETY: the publisher's `TASK_REF`, consumed once, here.
        unsafe { release_task_ref::<T>(header, hooks) };
    }
}

/// A settled task whose listeners are still to be woken ([`Publisher::settle`]); finishing
/// it (or dropping it) wakes them and drops the reference.
#[must_use = "dropping it finishes it at once"]
#[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's
pub(crate) struct Settled<'h, T> {
    header: NonNull<Header>,
    hooks: &'h dyn RunHooks,
    owns_task_ref: bool,
    listeners: bool,
    _output: PhantomData<fn(T)>,
}

// SAFETY: as for `Publisher<'static, T>`: a counted reference to a cell whose outcome is
// already written; only `NoHooks` (stateless) can be a `'static` publisher's hooks.
unsafe impl<T: Send> Send for Settled<'static, T> {}

impl<T> Settled<'_, T> {
    /// Whether listeners were there at the publish, to be woken by `finish` (for the loom
    /// model of the two halves).
    #[cfg(all(test, concurrent_futures_loom))]
    pub(crate) fn has_listeners(&self) -> bool {
        self.listeners
    }

    /// Wakes the listeners and drops the reference.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's
    pub(crate) fn finish(self) {
        drop(self);
    }
}

impl<T> Drop for Settled<'_, T> {
    fn drop(&mut self) {
        // SAFETY: settled once by `Publisher::settle`, finished once, here.
        unsafe { finish_settled::<T>(self.header, self.hooks, self.owns_task_ref, self.listeners) }
    }
}

impl<T> Drop for Publisher<'_, T> {
    /// A publisher dropped without publishing (a backend lost the task, or its job panicked)
    /// fails the future, so it never stays RUNNING.
    fn drop(&mut self) {
        let lost = Exception::msg(
            "the executor dropped this task without an outcome (its dispatch failed or panicked)",
        );
        // SAFETY: `drop` runs once, and `publish` forgets the publishers it consumes.
        unsafe { self.publish_once(Err(lost)) }
    }
}

impl TaskRef {
    fn vtable(&self) -> &'static Vtable {
        // SAFETY: the TaskRef's reference keeps the header alive.
        unsafe { self.0.as_ref() }.vtable
    }

    /// Runs the task (if it can still be claimed) and drops the reference; `hooks` hear when
    /// the body is over and around user code that runs after the publish.
    pub(crate) fn run(self, hooks: &dyn RunHooks) {
        let this = ManuallyDrop::new(self);
        // SAFETY: consumes this TaskRef's reference exactly once.
        unsafe { (this.vtable().run)(this.0, hooks) }
    }

    /// Ends the task if it has not started, running no user code: cancels it (`None`) or
    /// finishes it with `exception`. `true` if it did. Follow with
    /// [`finish_ended`](Self::finish_ended).
    pub(crate) fn end(&self, exception: Option<Exception>) -> bool {
        // SAFETY: this TaskRef keeps the task alive; its reference is not consumed.
        unsafe { (self.vtable().end_queued)(self.0, exception) }
    }

    /// Whether the task was cancelled (by anyone, at any time).
    pub(crate) fn is_cancelled(&self) -> bool {
        // SAFETY: this TaskRef keeps the header alive.
        unsafe { self.0.as_ref() }.state.load().is_cancelled()
    }

    /// Wakes the listeners of a task [`end`](Self::end) ended (`ended`), and drops the
    /// reference.
    pub(crate) fn finish_ended(self, ended: bool) {
        let this = ManuallyDrop::new(self);
        // SAFETY: consumes this TaskRef's reference exactly once.
        unsafe { (this.vtable().finish_ended)(this.0, ended) }
    }
}

impl Drop for TaskRef {
    /// A task dropped from a queue without being run is cancelled: nothing stays pending.
    fn drop(&mut self) {
        // SAFETY: this TaskRef keeps the task alive; `finish_ended` below consumes its
        // reference exactly once (`drop` runs once).
        unsafe {
            let ended = (self.vtable().end_queued)(self.0, None);
            (self.vtable().finish_ended)(self.0, ended);
        }
    }
}

/// For bare futures, which no executor owns.
pub(crate) mod bare {
    use super::*;

    pub(crate) unsafe fn run(_: NonNull<Header>, _: &dyn RunHooks) {
        unreachable!("a bare future is never queued")
    }
    pub(crate) unsafe fn run_inline(_: NonNull<Header>, _: usize) -> bool {
        false
    }
    pub(crate) unsafe fn end_queued(_: NonNull<Header>, _: Option<Exception>) -> bool {
        unreachable!("a bare future is never queued")
    }
    pub(crate) unsafe fn finish_ended(_: NonNull<Header>, _: bool) {
        unreachable!("a bare future is never queued")
    }
    /// A bare future's request has no job to forward to.
    pub(crate) unsafe fn requested(_: NonNull<Header>) {}
}
