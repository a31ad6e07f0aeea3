//! Back-pressure: a pool built with `max_queued(n)` holds at most `n` tasks in its queue,
//! and a submit that finds it full does what [`WhenFull`] says.
//!
//! # The protocol
//!
//! `queued` counts the queue's slots taken. A submitter *reserves* a slot (a CAS that
//! refuses above the bound) before it enters the pool's in-flight window, so a blocked
//! submitter never holds up `shutdown` (pool rule 1); whoever pops an entry *releases* its
//! slot. Two numbered rules:
//!
//! 1. **No lost wake-up of a blocked submitter.** A submitter that found no room adds
//!    itself to `waiting`, issues `fence(SeqCst)`, takes the lock, and tries again before
//!    it sleeps on the condition variable (or registers its `Waker`). A releaser subtracts
//!    from `queued`, issues `fence(SeqCst)`, then reads `waiting`. The fences make it a
//!    Dekker handshake (as in `sleep.rs`): either the submitter's retry sees the freed
//!    slot, or the releaser sees the waiter, and then it takes the lock (which the
//!    submitter holds from its retry until it waits) and notifies. Loom found the version
//!    with SeqCst RMWs and loads but no fences losing this wake-up (loom models SeqCst
//!    accesses no stronger than AcqRel, and the fences are what C++ promises for it).
//! 2. **Closing wakes every waiter**, which then finds the pool closed and is refused.
//!
//! An unbounded pool (the default) has no `Bound`: its submits and pops pay nothing.

use std::task::Waker;
use std::time::Duration;

use super::shared::Slot;
use crate::deadline::Deadline;
use crate::error::SubmitError;
use crate::future::Future;
use crate::sync::{AtomicUsize, Condvar, Mutex, Ordering, fence, lock};

/// What a submit does when the pool's queue is full (`ThreadPoolBuilder::when_full`).
///
/// ```
/// use concurrent_futures::{SubmitError, ThreadPoolExecutor, WhenFull};
///
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(1)
///     .max_queued(1)
///     .when_full(WhenFull::Reject)
///     .build()
///     .unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let (started_tx, started) = std::sync::mpsc::channel();
/// let running = pool.submit(move || { started_tx.send(()).unwrap(); rx.recv().ok(); }).unwrap();
/// started.recv().unwrap();
/// let queued = pool.submit(|| ()).unwrap(); // the one queue slot
/// assert!(matches!(pool.submit(|| ()), Err(SubmitError::Full { max_queued: 1 })));
/// drop(tx);
/// running.result().unwrap();
/// queued.result().unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenFull {
    /// Wait for room, up to `timeout` (`None`: as long as it takes), then
    /// [`SubmitError::Full`](crate::SubmitError::Full). The default.
    Block {
        /// How long a submit waits for room.
        timeout: Option<Duration>,
    },
    /// Refuse at once with [`SubmitError::Full`](crate::SubmitError::Full).
    Reject,
    /// Run the task on the submitting thread, before `submit` returns (its future is then
    /// already done): the producer slows to the pool's pace. That thread is not one of the
    /// pool's: the initializer has not run on it, the task's thread-locals and name are
    /// the caller's, and a `shutdown` does not wait for the task.
    CallerRuns,
}

impl Default for WhenFull {
    fn default() -> Self {
        WhenFull::Block { timeout: None }
    }
}

/// The builders' check of `max_queued` and `when_full`, for either pool: the bound and
/// its policy, `None` for an unbounded queue.
pub(crate) fn checked_bound(
    max_queued: Option<usize>,
    when_full: Option<WhenFull>,
) -> Result<Option<(usize, WhenFull)>, crate::error::BuildError> {
    use crate::error::BuildError::InvalidArgument;
    match (max_queued, when_full) {
        (Some(0), _) => Err(InvalidArgument(
            "max_queued must be greater than 0 (leave it unset for an unbounded queue)",
        )),
        (Some(n), policy) => Ok(Some((n, policy.unwrap_or_default()))),
        (None, Some(_)) => Err(InvalidArgument(
            "when_full needs max_queued: an unbounded queue is never full",
        )),
        (None, None) => Ok(None),
    }
}

/// A bounded pool's queue accounting.
pub(crate) struct Bound {
    pub(super) max: usize,
    pub(super) when_full: WhenFull,
    queued: AtomicUsize,
    waiting: AtomicUsize,
    /// The wakers of async submits waiting for room; its lock is also the condition's.
    wakers: Mutex<Vec<Waker>>,
    room: Condvar,
}

/// The outcome of a wait for room.
pub(crate) enum Room {
    /// A slot is reserved: the caller pushes, or releases it.
    Reserved,
    /// No slot, and the caller should not wait (or its wait timed out).
    Full,
    /// The pool closed while it waited.
    Closed,
}

impl Bound {
    pub(super) fn new(max: usize, when_full: WhenFull) -> Self {
        Bound {
            max,
            when_full,
            queued: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            wakers: Mutex::new(Vec::new()),
            room: Condvar::new(),
        }
    }

    /// Takes a slot if one is free.
    pub(crate) fn try_reserve(&self) -> bool {
        let mut n = self.queued.load(Ordering::SeqCst);
        loop {
            if n >= self.max {
                return false;
            }
            // ORDERING: SeqCst, on the total order of rule 1 with `waiting`.
            match self
                .queued
                .compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    /// Frees a slot (an entry left the queue, or a reserved slot went unused) and wakes
    /// the waiters (rule 1).
    pub(crate) fn release(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
        // ORDERING: SeqCst fence between freeing the slot and reading `waiting`, paired
        // with the waiter's fence between counting itself and retrying (rule 1): the two
        // fences make it a Dekker handshake, as in `sleep.rs`.
        plant!("release_without_its_fence", (), fence(Ordering::SeqCst));
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.wake_all();
        }
    }

    /// Wakes every blocked and async submitter: room came, or the pool closed (rule 2).
    pub(crate) fn wake_all(&self) {
        let wakers = std::mem::take(&mut *lock(&self.wakers));
        self.room.notify_all();
        for w in wakers {
            // A waker is user code: a panic in it is caught, and the others still run.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.wake()));
        }
    }

    /// Waits for a slot until `deadline`, giving up if `closed()` turns true.
    pub(crate) fn reserve_until(&self, deadline: Deadline, closed: impl Fn() -> bool) -> Room {
        loop {
            if closed() {
                return Room::Closed;
            }
            if self.try_reserve() {
                return Room::Reserved;
            }
            self.waiting.fetch_add(1, Ordering::SeqCst);
            // ORDERING: SeqCst fence: the waiter's half of rule 1's handshake.
            plant!("reserve_without_its_fence", (), fence(Ordering::SeqCst));
            let outcome = {
                let g = lock(&self.wakers);
                if closed() {
                    Some(Room::Closed)
                } else if self.try_reserve() {
                    Some(Room::Reserved)
                } else {
                    // Woken (or timed out): look again; past the deadline: full.
                    crate::sync::wait_until(&self.room, g, deadline)
                        .map_or(Some(Room::Full), |_| None)
                }
            };
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(o) = outcome {
                return o;
            }
        }
    }

    /// An async submit's poll: a slot, or its waker registered (rule 1) and `false`.
    pub(crate) fn reserve_or_register(&self, waker: &Waker, registered: &mut bool) -> bool {
        if self.try_reserve() {
            return true;
        }
        if !*registered {
            // Counted until the submit future is ready or drops.
            self.waiting.fetch_add(1, Ordering::SeqCst);
            *registered = true;
        }
        // ORDERING: SeqCst fence: the waiter's half of rule 1's handshake.
        fence(Ordering::SeqCst);
        let mut wakers = lock(&self.wakers);
        if self.try_reserve() {
            return true;
        }
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
        false
    }

    /// An async submit that registered is done waiting.
    pub(crate) fn unregister(&self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl super::ThreadPoolExecutor {
    /// [`submit`](Self::submit) that never blocks: on a [`max_queued`] pool whose queue is
    /// full it returns [`SubmitError::Full`] at once, whatever [`WhenFull`] says. On an
    /// unbounded pool it is `submit`.
    ///
    /// [`max_queued`]: super::ThreadPoolBuilder::max_queued
    ///
    /// ```
    /// use concurrent_futures::{SubmitError, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(1).max_queued(1).build().unwrap();
    /// let mut accepted = Vec::new();
    /// let refused = loop {
    ///     match pool.try_submit(|| std::thread::sleep(std::time::Duration::from_millis(5))) {
    ///         Ok(f) => accepted.push(f),
    ///         Err(e) => break e,
    ///     }
    /// };
    /// assert!(matches!(refused, SubmitError::Full { max_queued: 1 }));
    /// ```
    pub fn try_submit<T, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared().submit_job(move || Ok(f()), Slot::TryOnly)
    }

    /// [`submit`](Self::submit) for async code: waits, without blocking its thread, for
    /// room in a [`max_queued`] pool's queue, then submits. On an unbounded pool it is
    /// ready at once. Dropping it before it is ready submits nothing.
    ///
    /// [`max_queued`]: super::ThreadPoolBuilder::max_queued
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::builder().max_workers(2).max_queued(4).build().unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let sum = rt.block_on(async {
    ///     let mut handles = Vec::new();
    ///     for i in 0..100u64 {
    ///         handles.push(pool.submit_async(move || i).await.unwrap());
    ///     }
    ///     let mut sum = 0;
    ///     for h in handles {
    ///         sum += h.await.unwrap();
    ///     }
    ///     sum
    /// });
    /// assert_eq!(sum, 4950);
    /// ```
    pub fn submit_async<T, F>(&self, f: F) -> SubmitAsync<T, F>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        SubmitAsync {
            pool: self.clone(),
            f: Some(f),
            registered: false,
            _output: std::marker::PhantomData,
        }
    }
}

/// The future [`ThreadPoolExecutor::submit_async`](super::ThreadPoolExecutor::submit_async)
/// returns: ready with the task's [`Future`] once the queue had room (or with the
/// [`SubmitError`] of a closed pool).
#[must_use = "nothing is submitted until it is awaited"]
pub struct SubmitAsync<T, F> {
    pool: super::ThreadPoolExecutor,
    f: Option<F>,
    /// Counted in the bound's `waiting` (rule 1) until it is ready or dropped.
    registered: bool,
    _output: std::marker::PhantomData<fn() -> T>,
}

impl<T, F> Unpin for SubmitAsync<T, F> {}

impl<T, F> std::fmt::Debug for SubmitAsync<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmitAsync")
            .field("submitted", &self.f.is_none())
            .finish()
    }
}

impl<T, F> std::future::Future for SubmitAsync<T, F>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = Result<Future<T>, SubmitError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = &mut *self;
        let shared = this.pool.shared();
        let slot = match &shared.bound {
            Some(b) if !shared.closing() => {
                if !b.reserve_or_register(cx.waker(), &mut this.registered) {
                    return std::task::Poll::Pending;
                }
                Slot::Reserved
            }
            // Unbounded, or closed (then the submit refuses it).
            _ => Slot::TryOnly,
        };
        if std::mem::take(&mut this.registered) {
            shared
                .bound
                .as_ref()
                .expect("registered with a bound")
                .unregister();
        }
        let f = this
            .f
            .take()
            .expect("SubmitAsync polled after it was ready");
        std::task::Poll::Ready(shared.submit_job(move || Ok(f()), slot))
    }
}

impl<T, F> Drop for SubmitAsync<T, F> {
    fn drop(&mut self) {
        if self.registered {
            if let Some(b) = &self.pool.shared().bound {
                b.unregister();
            }
        }
    }
}
