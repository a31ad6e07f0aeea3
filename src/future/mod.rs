//! [`Future<T>`]: Python's `concurrent.futures.Future`, as one packed atomic word, an
//! intrusive waiter list and a result slot in one allocation.
//!
//! # Protocol rules
//!
//! The code cites these by number. `docs/state-machine.md` draws them.
//!
//! 1. **One winner per outcome.** PENDING leaves by exactly one CAS: to CANCELLED
//!    (`cancel`), to RUNNING (`set_running_or_notify_cancel`) or to COMPLETING (a setter's
//!    claim). Whoever loses re-reads the word and answers from what won.
//! 2. **Slot before publish.** Only the holder of the claim (COMPLETING, or the executor's
//!    sole runner in RUNNING) writes the slot, and it writes it before the Release
//!    `fetch_add` that makes the word FINISHED. A reader that sees FINISHED with Acquire sees
//!    the slot; nothing writes it again (but rule 7).
//! 3. **No listener added after terminal.** A waiter node or a callback is added only under
//!    the lock bit, taken by a CAS that also sets `HAS_WAITERS`/`HAS_CALLBACKS` and that
//!    fails on a terminal word. So the terminal transition (an RMW on the same word) either
//!    sees the flag and drains, or the adder sees the terminal state and acts at once: no
//!    listener is lost, and a completion with no listener is that one RMW and takes no lock.
//! 4. **Cancel is terminal for everyone.** `cancel()` wakes every waiter and runs the
//!    callbacks at once, like a completion; `wait` and `as_completed` count a cancelled future
//!    as done. (CPython waits for the executor's `set_running_or_notify_cancel`, which is
//!    why gh-92001, gh-109934 and gh-87893 hang there; they cannot here.)
//! 5. **Wake outside the lock.** The drainer pops each node, marks it notified and takes what
//!    it needs (a `Thread` or a `Waker`) under the lock; it unparks and wakes after releasing
//!    it, and runs callbacks after that, in registration order, catching their panics.
//! 6. **A node is its owner's again once notified.** A linked node is valid until its owner
//!    unlinks it under the lock or sees `notified` (Acquire). The completer never touches a
//!    node after setting `notified`, so the owner may then drop it, and with it its group.
//! 7. **Moving the value out needs the only handle.** `into_result` takes the value only
//!    when, after FINISHED, the word counts one user handle (its own) and `HAS_CALLBACKS` is
//!    clear. No other handle exists that could hold a `&T`; an executor's own reference
//!    (`TASK_REF`) never reads the slot itself; and the callbacks, which read it through a
//!    handle the completer lends them, keep `HAS_CALLBACKS` set until the last one returns
//!    (the drain clears only `HAS_WAITERS`).
//! 8. **An executor's task has one runner, for its whole life.** The public
//!    `set_running_or_notify_cancel`, `set_result` and `set_exception` refuse every
//!    non-terminal future an executor made (its vtable says `owned`, which nothing can
//!    change), so the thread that wins PENDING → RUNNING (the worker that popped it, or a
//!    waiting thread of the same executor running it inline) is the only writer of the slot
//!    and publishes with one `fetch_add` on a RUNNING word. Consuming the queue entry (a
//!    pop, a drain at shutdown, a drain of a broken pool) only drops `TASK_REF`, and takes
//!    the closure only from a task that can no longer run; a pop that claims the task hands
//!    `TASK_REF` to the runner's publisher instead, which drops it after the publish,
//!    possibly on another thread (`future/task.rs`, "Claim, run, publish").

mod awaiting;
mod callbacks;
pub(crate) mod cancel;
pub(crate) mod group;
pub(crate) mod hooks;
pub(crate) mod slot;
pub(crate) mod state;
pub(crate) mod task;
mod waitable;
pub(crate) mod waiters;

#[cfg(all(test, not(concurrent_futures_loom)))]
#[path = "tests/publish.rs"]
mod publish_tests;
#[cfg(all(test, concurrent_futures_loom))]
mod tests;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Duration;

pub use awaiting::{OwnedResultFuture, ResultFuture};
use callbacks::CallbackNode;
pub use cancel::{CancelToken, cancel_requested, check_cancel};
pub use waitable::Waitable;

use crate::deadline::Deadline;
use crate::error::{Error, Exception, InvalidStateError, short_type_name};
use crate::sync::UnsafeCell;
use group::{Group, Mode};
use hooks::NoHooks;
use slot::{Outcome, Slot};
use state::{
    COMPLETING, Snapshot, TransitionToCancelled, TransitionToCompleting, TransitionToRunning,
};
use waiters::{Header, Link, Node, Target, Vtable};

/// The lifecycle of a future, as Python names it.
///
/// Python's `CANCELLED_AND_NOTIFIED` is [`State::Cancelled`] here: a cancelled future is
/// terminal for every waiter at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started; can be cancelled.
    Pending,
    /// Started (or its result is being written); cannot be cancelled.
    Running,
    /// Cancelled before it started.
    Cancelled,
    /// Finished with a value or an exception.
    Finished,
}

/// The allocation behind every handle: header first, so `&Header` ↔ `&Inner<T>` casts hold.
#[repr(C)]
pub(crate) struct Inner<T> {
    header: Header,
    /// Done-callbacks, newest first; guarded by the header's lock bit.
    callbacks: UnsafeCell<Option<Box<CallbackNode<T>>>>,
    slot: Slot<T>,
}

impl<T> Inner<T> {
    const VTABLE: Vtable = Vtable {
        owned: false,
        dealloc: Self::dealloc,
        run: task::bare::run,
        run_inline: task::bare::run_inline,
        end_queued: task::bare::end_queued,
        finish_ended: task::bare::finish_ended,
        requested: task::bare::requested,
    };

    /// The future part of an executor task (`task.rs`).
    fn new_task(vtable: &'static Vtable) -> Self {
        let mut header = Header::new(vtable);
        header.state = state::StateWord::new_task();
        Inner {
            header,
            callbacks: UnsafeCell::new(None),
            slot: Slot::new(),
        }
    }

    /// # Safety
    /// `header` is the header of a `Box<Inner<T>>` that nothing references any more.
    unsafe fn dealloc(header: NonNull<Header>) {
        // SAFETY: `Inner<T>` is `repr(C)` with the header first, and was allocated as a Box
        // by `Future::new`; the caller saw the last reference go.
        drop(unsafe { Box::from_raw(header.cast::<Inner<T>>().as_ptr()) });
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // Unrun callbacks of a future dropped while pending: unlink them one by one, so a
        // long list does not drop recursively through `next` (and overflow the stack).
        let mut list = self.callbacks.with_mut(|h| {
            // SAFETY: `&mut self`: the last reference is gone, nobody else can touch the list.
            unsafe { (*h).take() }
        });
        while let Some(mut node) = list {
            list = node.next.take();
        }
    }
}

/// A handle to the eventual outcome of a computation: Python's `concurrent.futures.Future`.
///
/// Cloning makes another handle to the same future; equality and hashing are by identity.
/// Executors create futures; [`Future::new`], [`Future::set_running_or_notify_cancel`],
/// [`Future::set_result`] and [`Future::set_exception`] are for executor implementers and
/// tests, as in Python.
///
/// ```
/// use concurrent_futures::Future;
/// use std::thread;
///
/// let fut: Future<String> = Future::new();
/// let producer = fut.clone();
/// let t = thread::spawn(move || {
///     assert!(producer.set_running_or_notify_cancel().unwrap());
///     producer.set_result("hello".to_string()).unwrap();
/// });
/// assert_eq!(fut.result().unwrap(), "hello"); // blocks until set
/// assert!(fut.done());
/// t.join().unwrap();
/// ```
pub struct Future<T> {
    ptr: NonNull<Inner<T>>,
    _marker: PhantomData<Inner<T>>,
}

// SAFETY: like `Arc<T>`: handles on several threads share a `T` (by `&T`) and any of them may
// drop or move it out, so `T: Send + Sync` is required; everything else is atomic or guarded
// by the lock bit.
unsafe impl<T: Send + Sync> Send for Future<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Future<T> {}

impl<T> Future<T> {
    /// A new pending future, for executor implementers and tests (Python's `Future()`).
    pub fn new() -> Self {
        let inner = Box::new(Inner {
            header: Header::new(&Inner::<T>::VTABLE),
            callbacks: UnsafeCell::new(None),
            slot: Slot::new(),
        });
        Future {
            // SAFETY: `Box::into_raw` never returns null.
            ptr: unsafe { NonNull::new_unchecked(Box::into_raw(inner)) },
            _marker: PhantomData,
        }
    }

    #[inline(always)]
    fn inner(&self) -> &Inner<T> {
        // SAFETY: a handle keeps the allocation alive (its reference is counted).
        unsafe { self.ptr.as_ref() }
    }

    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        &self.inner().header
    }

    // ===== queries: one load each =====

    /// The current state.
    #[inline]
    pub fn state(&self) -> State {
        self.header().state.load().state()
    }

    /// `true` if the future was cancelled.
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.header().state.load().is_cancelled()
    }

    /// `true` while the work runs (or its result is being written).
    #[inline]
    pub fn running(&self) -> bool {
        self.header().state.load().is_running()
    }

    /// `true` once the future is cancelled or finished.
    #[inline]
    pub fn done(&self) -> bool {
        self.header().state.load().is_terminal()
    }

    /// `true` while a thread, a `wait`, an `as_completed` or an `.await` is registered on
    /// this future. For tests that must know a waiter is blocked before completing.
    #[doc(hidden)]
    pub fn has_waiters(&self) -> bool {
        self.header().state.load().0 & state::HAS_WAITERS != 0
    }

    // ===== cancel =====

    /// Cancels the future if it has not started. Returns `true` if it is cancelled (now or
    /// before), `false` if it is running or finished.
    ///
    /// A cancel wakes every waiter and runs the done-callbacks at once, in this thread
    /// (rule 4); `wait` and `as_completed` see the future as done immediately.
    ///
    /// ```
    /// let fut = concurrent_futures::Future::<u8>::new();
    /// assert!(fut.cancel());
    /// assert!(fut.cancel()); // cancelling twice is still true
    /// assert!(fut.cancelled() && fut.done());
    /// ```
    pub fn cancel(&self) -> bool {
        match self.header().state.transition_to_cancelled() {
            TransitionToCancelled::Cancelled { prev } => {
                // The plant is CPython's gh-92001: a cancel leaves its waiters to the executor.
                if prev.has_listeners() && plant!("cancel_wakes_nobody", false, true) {
                    self.notify_listeners(&NoHooks);
                }
                true
            }
            TransitionToCancelled::AlreadyCancelled => true,
            TransitionToCancelled::Refused => false,
        }
    }

    // ===== waiting =====

    /// Blocks until the future is terminal or `timeout` passes; returns the last word seen.
    /// `None` waits without limit; a zero timeout only looks.
    pub(crate) fn wait_terminal(&self, timeout: Option<Duration>) -> Snapshot {
        let header = self.header();
        let s = header.state.load();
        if s.is_terminal() || timeout == Some(Duration::ZERO) {
            return s;
        }
        self.wait_terminal_slow(Deadline::from_timeout(timeout))
    }

    #[cold]
    fn wait_terminal_slow(&self, deadline: Deadline) -> Snapshot {
        let header = self.header();
        // SAFETY: `self` is a handle.
        if unsafe { header.try_run_inline() } {
            return header.state.load();
        }
        let group = Group::new(Mode::FirstCompleted, 1);
        let node = Node::new(Target::Group(&group), 0);
        // SAFETY: `node` is fresh, lives on this frame and does not move; it is unlinked
        // below before the frame ends.
        match unsafe { header.link(&node) } {
            Link::Terminal(s) => return s,
            Link::Linked => {}
        }
        group.block(deadline, || group.fired());
        // SAFETY: linked above.
        unsafe { header.unlink(&node) };
        header.state.load()
    }

    /// The outcome as `&T` for a terminal word; a timeout for a non-terminal one.
    fn outcome_ref(&self, s: Snapshot) -> Result<&T, Error> {
        if s.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if !s.is_finished() {
            return Err(Error::Timeout {
                unfinished: 1,
                total: 1,
            });
        }
        // SAFETY: FINISHED was seen with Acquire (rule 2); `self` is a handle, so `take` cannot
        // run while the reference lives (rule 7).
        match unsafe { self.inner().slot.get() } {
            Outcome::Value(v) => Ok(v),
            Outcome::Exception(e) => Err(Error::Exception(e.clone())),
            Outcome::Empty | Outcome::Taken => unreachable!("finished future without outcome"),
        }
    }

    /// Waits for the future and borrows its value. Python's `result()`.
    ///
    /// Returns [`Error::Cancelled`] if it was cancelled and [`Error::Exception`] with what the
    /// task raised. On a finished future this is one Acquire load.
    pub fn result(&self) -> Result<&T, Error> {
        self.outcome_ref(self.wait_terminal(None))
    }

    /// As [`result`](Self::result), giving up after `timeout` with [`Error::Timeout`]. A zero
    /// timeout never blocks.
    ///
    /// ```
    /// use concurrent_futures::{Error, Future};
    /// use std::time::Duration;
    ///
    /// let fut = Future::<u8>::new();
    /// assert!(matches!(fut.result_timeout(Duration::from_millis(1)), Err(Error::Timeout { .. })));
    /// fut.set_result(7).unwrap();
    /// assert_eq!(fut.result_timeout(Duration::ZERO).unwrap(), &7);
    /// ```
    pub fn result_timeout(&self, timeout: Duration) -> Result<&T, Error> {
        self.outcome_ref(self.wait_terminal(Some(timeout)))
    }

    fn outcome_exception(&self, s: Snapshot) -> Result<Option<Exception>, Error> {
        match self.outcome_ref(s) {
            Ok(_) => Ok(None),
            Err(Error::Exception(e)) => Ok(Some(e)),
            Err(e) => Err(e),
        }
    }

    /// Waits for the future and returns the exception the task raised, or `None` if it
    /// returned a value. Python's `exception()`: it never raises the task's exception, but a
    /// cancelled future gives [`Error::Cancelled`].
    pub fn exception(&self) -> Result<Option<Exception>, Error> {
        self.outcome_exception(self.wait_terminal(None))
    }

    /// As [`exception`](Self::exception), giving up after `timeout`.
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<Exception>, Error> {
        self.outcome_exception(self.wait_terminal(Some(timeout)))
    }

    /// Waits for the future and returns its value: moved out when this is the only user
    /// handle, cloned otherwise. An executor's own reference never counts (rule 7).
    ///
    /// ```
    /// let fut = concurrent_futures::Future::new();
    /// fut.set_result(vec![1, 2, 3]).unwrap();
    /// assert_eq!(fut.into_result().unwrap(), vec![1, 2, 3]); // moved, not cloned
    /// ```
    pub fn into_result(self) -> Result<T, Error>
    where
        T: Clone,
    {
        match self.try_into_result() {
            Ok(r) => r,
            Err(shared) => shared.result().cloned(),
        }
    }

    /// Waits for the future; moves the value out if this is the only user handle, and
    /// otherwise gives the handle back. Works for any `T`.
    ///
    /// ```
    /// use concurrent_futures::Future;
    ///
    /// let fut = Future::new();
    /// fut.set_result(String::from("v")).unwrap();
    /// let other = fut.clone();
    /// let fut = fut.try_into_result().unwrap_err(); // `other` still holds it
    /// drop(other);
    /// assert_eq!(fut.try_into_result().ok().unwrap().unwrap(), "v");
    /// ```
    pub fn try_into_result(self) -> Result<Result<T, Error>, Future<T>> {
        let s = self.wait_terminal(None);
        if !s.is_finished() || s.has_exception() {
            return Ok(self.outcome_ref(s).map(|_| unreachable!()));
        }
        // ORDERING: Acquire (in `load`) pairs with the Release decrement of every handle that
        // went away and with the Release that clears HAS_CALLBACKS, so their reads of the
        // slot happen before the move (rule 7).
        let s = self.header().state.load();
        if s.ref_count() != 1 || s.has_callbacks() {
            return Err(self);
        }
        // SAFETY: finished (seen with Acquire) and this is the only user handle (rule 7).
        match unsafe { self.inner().slot.take() } {
            Outcome::Value(v) => Ok(Ok(v)),
            _ => unreachable!("finished without exception holds a value"),
        }
    }

    // ===== callbacks =====

    // ===== for executor implementers =====

    /// Marks the future as running, or learns that it was cancelled. Python's
    /// `set_running_or_notify_cancel()`: `Ok(true)` means run the work, `Ok(false)` means it
    /// was cancelled (skip it). A running or finished future, or a second call on a cancelled
    /// one, is an error (Python raises RuntimeError) and the state is left alone.
    ///
    /// ```
    /// let fut = concurrent_futures::Future::<()>::new();
    /// assert_eq!(fut.set_running_or_notify_cancel(), Ok(true));
    /// assert!(fut.running() && !fut.cancel());
    /// assert!(fut.set_running_or_notify_cancel().is_err());
    /// ```
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidStateError> {
        let owned = self.header().vtable.owned;
        match self.header().state.transition_to_running(owned) {
            TransitionToRunning::Running => Ok(true),
            TransitionToRunning::Cancelled => Ok(false),
            TransitionToRunning::Invalid(s) => Err(self.invalid_state(s)),
        }
    }

    /// Finishes the future with `value`, waking every waiter and running the callbacks.
    /// A future that is finishing, finished or cancelled refuses with [`InvalidStateError`]
    /// and keeps its first outcome (the value passed in is dropped).
    pub fn set_result(&self, value: T) -> Result<(), InvalidStateError> {
        self.complete(Outcome::Value(value))
    }

    /// Finishes the future with an exception, as [`set_result`](Self::set_result) does.
    pub fn set_exception(&self, exception: Exception) -> Result<(), InvalidStateError> {
        self.complete(Outcome::Exception(exception))
    }

    fn complete(&self, outcome: Outcome<T>) -> Result<(), InvalidStateError> {
        let header = self.header();
        let claim = if header.vtable.owned {
            state::Claim::PublicOnOwned
        } else {
            state::Claim::Public
        };
        match header.state.transition_to_completing(claim) {
            TransitionToCompleting::Claimed => {}
            TransitionToCompleting::Invalid(s) if s.lifecycle() == COMPLETING => {
                // Another setter holds the claim and is writing its outcome: report the state
                // it is heading to, without reading the slot it has not published yet.
                return Err(InvalidStateError::new(
                    State::Finished,
                    "<Future state=finished>".to_owned(),
                ));
            }
            TransitionToCompleting::Invalid(s) => return Err(self.invalid_state(s)),
        }
        let exception = matches!(outcome, Outcome::Exception(_));
        // SAFETY: we hold the COMPLETING claim and have not published (rule 2).
        unsafe { self.inner().slot.write(outcome) };
        let prev = header.state.publish_finished(COMPLETING, exception);
        if prev.has_listeners() {
            self.notify_listeners(&NoHooks);
        }
        Ok(())
    }

    fn invalid_state(&self, s: Snapshot) -> InvalidStateError {
        if self.header().vtable.owned && !s.is_terminal() {
            return InvalidStateError::new(
                s.state(),
                format!(
                    "{} belongs to an executor, which alone starts it and sets its outcome",
                    self.repr(s)
                ),
            );
        }
        InvalidStateError::new(s.state(), self.repr(s))
    }

    /// Python's repr: `<Future state=finished returned u64>`.
    fn repr(&self, s: Snapshot) -> String {
        let state = match s.state() {
            State::Pending => "pending",
            State::Running => "running",
            State::Cancelled => "cancelled",
            State::Finished => "finished",
        };
        if !s.is_finished() {
            return format!("<Future state={state}>");
        }
        if s.has_exception() {
            // SAFETY: FINISHED seen with Acquire (rule 2); we hold a handle (rule 7).
            let name = match unsafe { self.inner().slot.get() } {
                Outcome::Exception(e) => e.type_name(),
                _ => unreachable!("HAS_EXCEPTION without an exception"),
            };
            format!("<Future state=finished raised {name}>")
        } else {
            let name = short_type_name(std::any::type_name::<T>());
            format!("<Future state=finished returned {name}>")
        }
    }
}

impl<T> Default for Future<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        self.header().state.ref_inc();
        Future {
            ptr: self.ptr,
            _marker: PhantomData,
        }
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        if self.header().state.ref_dec() {
            let header = NonNull::from(self.header());
            // SAFETY: the last reference is gone (ref_dec said so, after an Acquire fence).
            unsafe { (self.header().vtable.dealloc)(header) };
        }
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl<T> Eq for Future<T> {}

impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ptr.hash(state);
    }
}

impl<T> fmt::Debug for Future<T> {
    /// Python's repr: `<Future state=pending>`, `<Future state=finished raised panic>`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr(self.header().state.load()))
    }
}
