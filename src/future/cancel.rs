//! Cooperative cancellation of a running task: [`Future::request_cancel`] asks, the task
//! sees it through its [`CancelToken`], and decides how to end.
//!
//! Python's `cancel()` stays as it is: it cancels a task that has not started and returns
//! `False` for a running one. A request is a separate call, and the future's state stays
//! Python's: a running task that stops on a request finishes with whatever it returns (a
//! value, or an error such as [`CancelToken::check`]'s), never `CANCELLED`.
//!
//! | the future is | `cancel()` | `request_cancel()` |
//! |---|---|---|
//! | pending | cancels it: `true` | cancels it: `true` |
//! | running | `false`, nothing changes (Python) | sets the request bit: `true`; the task sees it through its token and ends as it decides |
//! | cancelled | `true` | `false` (nothing to ask) |
//! | finished | `false` | `false` |
//!
//! The request is one bit of the state word (`CANCEL_REQUESTED`, set only while RUNNING or
//! COMPLETING, never cleared); reading it is one load. A task submitted without a token
//! costs nothing more.
//!
//! A task without a token in hand (a named task, code deep inside one) reads the same
//! request with [`cancel_requested`]: a thread-local says where to look while a task runs
//! (its cell, or a process worker's flag). A job whose work runs elsewhere learns of a
//! request through its vtable's `requested` hook, called after the bit is set, and
//! forwards it (the process pool sends its worker a frame).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::Future;
use super::hooks::NoHooks;
use super::state::{RequestCancel, TransitionToCancelled};
use super::task::{Job, Publisher};
use super::waiters::Header;
use crate::error::Exception;

impl<T> Future<T> {
    /// Asks the task to stop: cancels it if it has not started (as [`cancel`](Self::cancel)),
    /// or, if it is running, sets the request its [`CancelToken`] reads. Returns `true` if it
    /// did either, `false` if the future is already cancelled or finished. The future ends
    /// as the task decides; a task that never looks at its token runs to its end. The
    /// module's table sets it beside Python's `cancel()`.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let (started_tx, started) = std::sync::mpsc::channel();
    /// let fut = pool
    ///     .submit_cancellable(move |token| {
    ///         started_tx.send(()).unwrap();
    ///         let mut rounds = 0u64;
    ///         while !token.is_requested() {
    ///             rounds += 1;
    ///             std::hint::spin_loop();
    ///         }
    ///         rounds
    ///     })
    ///     .unwrap();
    /// started.recv().unwrap();
    /// assert!(!fut.cancel(), "Python's cancel() cannot stop a running task");
    /// assert!(fut.request_cancel());
    /// fut.result().unwrap(); // the task stopped on the request, and returned
    /// assert!(fut.cancel_requested() && !fut.cancelled());
    /// assert!(!fut.request_cancel(), "finished: nothing to ask");
    /// ```
    pub fn request_cancel(&self) -> bool {
        let state = &self.header().state;
        loop {
            match state.request_cancel() {
                RequestCancel::Requested => {
                    let header = self.header();
                    // SAFETY: this handle keeps the cell alive for the call.
                    unsafe { (header.vtable.requested)(std::ptr::NonNull::from(header)) };
                    return true;
                }
                RequestCancel::TooLate => return false,
                RequestCancel::Pending => match state.transition_to_cancelled() {
                    // Cancelled by this call: it will never run; wake its waiters.
                    TransitionToCancelled::Cancelled { prev } => {
                        if prev.has_listeners() {
                            self.notify_listeners(&NoHooks);
                        }
                        return true;
                    }
                    // A concurrent cancel got there first: nothing was left to ask.
                    TransitionToCancelled::AlreadyCancelled => return false,
                    // A claim beat the cancel: ask the running task instead.
                    TransitionToCancelled::Refused => continue,
                },
            }
        }
    }

    /// A deadline for the task: at `at`, cancel it if it has not started, or request that
    /// it stop if it is still running ([`request_cancel`](Self::request_cancel)); nothing if
    /// it has ended. A crate timer thread does it (started with the first deadline, gone
    /// once none is left); until `at` it keeps a handle to the future, so a value nobody
    /// else holds is freed at `at` at the latest.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let fut = pool
    ///     .submit_cancellable(|token| {
    ///         while !token.is_requested() {
    ///             std::thread::yield_now();
    ///         }
    ///         "stopped at the deadline"
    ///     })
    ///     .unwrap();
    /// fut.cancel_at(Instant::now() + Duration::from_millis(10));
    /// assert_eq!(*fut.result().unwrap(), "stopped at the deadline");
    /// ```
    pub fn cancel_at(&self, at: std::time::Instant)
    where
        T: Send + 'static,
    {
        if self.done() {
            return;
        }
        let held = Erased::new(self);
        crate::timer::at(
            at,
            Box::new(move || {
                held.request_cancel();
            }),
        );
    }

    /// [`cancel_at`](Self::cancel_at) `timeout` from now (a timeout too large for the
    /// clock sets no deadline).
    pub fn cancel_after(&self, timeout: std::time::Duration)
    where
        T: Send + 'static,
    {
        if let Some(at) = std::time::Instant::now().checked_add(timeout) {
            self.cancel_at(at);
        }
    }

    /// Whether [`request_cancel`](Self::request_cancel) asked this future's task to stop
    /// while it ran (it stays `true` after the task ends).
    pub fn cancel_requested(&self) -> bool {
        self.header().state.load().is_cancel_requested()
    }
}

/// What a task submitted with `submit_cancellable` reads to learn that
/// [`Future::request_cancel`] asked it to stop. Lent to the task for its run; shareable with
/// threads the task scopes.
pub struct CancelToken {
    header: NonNull<Header>,
    /// Only ever lent (`&CancelToken`) for the length of the run that owns the cell.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: the token only reads the state word (an atomic) of a cell its run keeps alive;
// reading it from several threads at once is fine. It is never `Send`: it cannot outlive
// the run that lent it, which is what keeps the cell alive.
unsafe impl Sync for CancelToken {}

impl CancelToken {
    /// `true` once a cancel was requested: the task should stop soon, and return what
    /// suits it (a partial result, or an error). One atomic load.
    #[inline]
    pub fn is_requested(&self) -> bool {
        // SAFETY: the run that lent this token keeps the cell alive (its queue reference, or
        // an inline runner's handle) until the token's borrow ends.
        unsafe { self.header.as_ref() }
            .state
            .load()
            .is_cancel_requested()
    }

    /// `Err` once a cancel was requested, for `?` in a fallible task: the exception says
    /// the task stopped on a request.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let fut = pool.submit_cancellable(|token| token.check().map(|()| 7)).unwrap();
    /// assert!(fut.result().unwrap().is_ok()); // nobody asked
    /// ```
    pub fn check(&self) -> Result<(), Exception> {
        if self.is_requested() {
            Err(stopped())
        } else {
            Ok(())
        }
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("requested", &self.is_requested())
            .finish()
    }
}

/// `true` if a cancel was requested ([`Future::request_cancel`], a deadline, a timed-out
/// `map`, a panicking scope) for the task running on this thread; `false` on a thread that
/// runs no task that can be asked. Code a cancellable task runs inside its own run (a plain
/// closure it runs inline while waiting, a callback it triggers) sees that task's request.
///
/// This is how a named task ([`task!`](crate::task)) stops cooperatively, wherever it
/// runs: on a thread pool (through `submit_task`, `map_task`, or a `submit_cancellable`
/// closure) it reads its future's request bit; in a process pool's worker it reads the
/// request the pool forwarded to that worker. One atomic load after a thread-local read.
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor, cancel_requested, task};
///
/// task! {
///     fn count_until_asked(limit: u64) -> u64 {
///         let mut n = 0;
///         while n < limit && !concurrent_futures::cancel_requested() {
///             n += 1;
///         }
///         n
///     }
/// }
///
/// assert!(!cancel_requested(), "no task runs here");
/// let pool = ThreadPoolExecutor::new(1).unwrap();
/// let f = pool.submit_task(count_until_asked, u64::MAX).unwrap();
/// while !f.running() {
///     std::thread::yield_now();
/// }
/// f.request_cancel();
/// assert!(*f.result().unwrap() < u64::MAX);
/// ```
pub fn cancel_requested() -> bool {
    AMBIENT
        .try_with(|a| match a.get() {
            Ambient::Nothing => false,
            // SAFETY: an `EnterAmbient` guard set this, and its run keeps the cell alive
            // until the guard restores the previous value.
            Ambient::Task(header) => unsafe { header.as_ref() }
                .state
                .load()
                .is_cancel_requested(),
            // ORDERING: Relaxed: the flag carries no data; a request seen a little late is
            // seen at the next check.
            Ambient::Flag(flag) => flag.load(std::sync::atomic::Ordering::Relaxed),
        })
        .unwrap_or(false)
}

/// `Err` once [`cancel_requested`] is `true`, for `?` in a fallible task; the exception says
/// the task stopped on a request, as [`CancelToken::check`]'s.
///
/// ```
/// assert!(concurrent_futures::check_cancel().is_ok()); // no task runs here
/// ```
pub fn check_cancel() -> Result<(), Exception> {
    if cancel_requested() {
        Err(stopped())
    } else {
        Ok(())
    }
}

fn stopped() -> Exception {
    Exception::msg("the task stopped because a cancel was requested (Future::request_cancel)")
}

/// Where [`cancel_requested`] looks on this thread.
#[derive(Clone, Copy)]
pub(crate) enum Ambient {
    /// No task that can be asked runs here.
    Nothing,
    /// A claimed task's cell, kept alive by its run.
    Task(NonNull<Header>),
    /// A process pool worker's flag for the call it runs.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))]
    Flag(&'static std::sync::atomic::AtomicBool),
}

crate::sync::thread_local! {
    // Not `const { .. }`: loom's `thread_local!` does not accept a const initializer.
    #[allow(clippy::missing_const_for_thread_local)]
    static AMBIENT: Cell<Ambient> = Cell::new(Ambient::Nothing);
}

/// While alive, [`cancel_requested`] on this thread reads its source; the previous one is
/// back when it drops, also on unwind.
#[must_use = "the source is left when the guard drops"]
pub(crate) struct EnterAmbient(Ambient);

impl EnterAmbient {
    /// # Safety
    /// What `source` points at outlives the guard.
    pub(crate) unsafe fn new(source: Ambient) -> Self {
        EnterAmbient(AMBIENT.with(|a| a.replace(source)))
    }
}

impl Drop for EnterAmbient {
    fn drop(&mut self) {
        // `try_with`: a guard may drop while the thread's locals are being destroyed.
        let _ = AMBIENT.try_with(|a| a.set(self.0));
    }
}

/// A closure that gets its task's [`CancelToken`]: published as soon as it returns, as
/// [`Local`](super::task::Local)'s. While it runs, [`cancel_requested`] reads the same bit.
pub(crate) struct Cancellable<F>(pub(crate) F);

impl<T, F> Job<T> for Cancellable<F>
where
    T: Send + 'static,
    F: FnOnce(&CancelToken) -> Result<T, Exception> + Send + 'static,
{
    const INLINE: bool = true;

    fn run(self, publisher: Publisher<'_, T>) {
        let token = CancelToken {
            header: publisher.header(),
            _not_send: PhantomData,
        };
        let f = self.0;
        let outcome = {
            // SAFETY: the run keeps the cell alive until the publish, after the guard.
            let _ambient = unsafe { EnterAmbient::new(Ambient::Task(publisher.header())) };
            crate::unwind::capture(move || f(&token)).and_then(|r| r)
        };
        publisher.publish(outcome);
    }
}

/// A handle to a future of any output type that can only ask it to stop and wait for it to
/// end: what a deadline's timer and a scope keep of the futures they look after. It never
/// borrows the value, so it may cross threads for any `T: Send`.
pub(crate) struct Erased(Box<dyn ErasedOps + Send>);

trait ErasedOps {
    fn request_cancel(&self) -> bool;
    fn wait_done(&self);
}

struct Held<T>(Future<T>);

// SAFETY: through a `Held` only `request_cancel` and the wait for a terminal state are
// called, and neither reads the `T` (a done-callback runs on a cancel, when there is no
// value to borrow); dropping it may drop the value on the holder's thread, which
// `T: Send` allows. So `T: Sync`, which `Future: Send` needs for handles that borrow the
// value, is not needed here.
unsafe impl<T: Send> Send for Held<T> {}

impl<T> ErasedOps for Held<T> {
    fn request_cancel(&self) -> bool {
        self.0.request_cancel()
    }
    fn wait_done(&self) {
        self.0.wait_terminal(None);
    }
}

impl Erased {
    pub(crate) fn new<T: Send + 'static>(f: &Future<T>) -> Self {
        Erased(Box::new(Held(f.clone())))
    }

    pub(crate) fn request_cancel(&self) -> bool {
        self.0.request_cancel()
    }

    /// Blocks until the future is cancelled or finished.
    pub(crate) fn wait_done(&self) {
        self.0.wait_done()
    }
}
