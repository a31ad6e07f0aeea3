//! The std/loom facade: the only module that names `std::sync` or `loom`.
//!
//! Every atomic, cell, thread handle and park call the protocol uses comes from here, so the
//! same code runs on std and under loom's model checker (`--cfg concurrent_futures_loom`).
//! The std side gets loom-shaped shims (`UnsafeCell::with`/`with_mut`) the way tokio's
//! `loom/std/unsafe_cell.rs` does.
//!
//! Loom has no clock. A timed park is modelled as one yield followed by "the deadline has
//! passed" ([`park_until`] returns `true`), which makes every timed wait explore both the
//! wake-up arriving first and the timeout winning (oneshot's `src/thread.rs` does the same).

#![allow(dead_code)] // not every shim is used by both configurations

pub(crate) use self::imp::*;

/// Waits on `cv` (as [`wait`]) for at most the time left until `deadline`; `None`, without
/// waiting, once it has passed. Callers re-check their condition after each return.
pub(crate) fn wait_until<'a, T>(
    cv: &Condvar,
    g: MutexGuard<'a, T>,
    deadline: crate::deadline::Deadline,
) -> Option<MutexGuard<'a, T>> {
    match deadline.remaining() {
        Some(left) if left.is_zero() => None,
        Some(left) => Some(wait_timeout(cv, g, left)),
        None => Some(wait(cv, g)),
    }
}

/// `Arc` for immutable shared data that carries no protocol (exception payloads). It is std's
/// even under loom: loom has nothing to check in it and its `Arc` cannot hold unsized types.
pub(crate) use std::sync::Arc;

/// Process-wide counters and one-time cells that carry no protocol (a pool's name counter,
/// a broken pool's reason); std's even under loom, whose atomics cannot be `static`.
pub(crate) use std::sync::OnceLock;
pub(crate) use std::sync::atomic::AtomicUsize as StaticAtomicUsize;

#[cfg(not(concurrent_futures_loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};
    pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
    pub(crate) use std::thread::{JoinHandle, Thread, current as current_thread, yield_now};
    pub(crate) use std::thread_local;

    /// The pool's task queue: crossbeam's lock-free unbounded MPMC queue.
    pub(crate) type Injector<T> = crossbeam_queue::SegQueue<T>;

    /// Starts a named thread; the OS may refuse.
    pub(crate) fn spawn_named<F: FnOnce() + Send + 'static>(
        name: String,
        f: F,
    ) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new().name(name).spawn(f)
    }

    /// Locks a mutex whose data stays consistent across a panic (every critical section
    /// here is a few pointer or counter updates that cannot unwind halfway).
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits on a condition variable, as [`lock`] ignoring poisoning.
    pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        cv.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    /// [`wait`] for at most `timeout`.
    pub(crate) fn wait_timeout<'a, T>(
        cv: &Condvar,
        g: MutexGuard<'a, T>,
        timeout: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        match cv.wait_timeout(g, timeout) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }
    use std::time::Instant;

    /// `std::cell::UnsafeCell` with loom's closure-based accessors.
    #[derive(Debug)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// One step of a spin-wait on a word another thread will change shortly.
    #[inline(always)]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop();
    }

    /// Parks the current thread until unparked (or spuriously woken).
    #[inline]
    pub(crate) fn park() {
        std::thread::park();
    }

    /// Parks until unparked, spuriously woken, or `deadline` passes. Returns `true` when the
    /// deadline has passed, so the caller stops waiting.
    #[inline]
    pub(crate) fn park_until(deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::park_timeout(deadline - now);
        Instant::now() >= deadline
    }
}

#[cfg(concurrent_futures_loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
    pub(crate) use loom::thread::{JoinHandle, Thread, current as current_thread, yield_now};
    pub(crate) use loom::thread_local;

    /// Loom cannot see inside crossbeam's queue (it uses std atomics), so under loom the
    /// injector is a mutex around a deque with the same operations, plus an atomic length.
    ///
    /// `is_empty` and `len` read only the length, never the mutex, as `SegQueue`'s read its
    /// head and tail indices: a look at the queue must not synchronize with the last push
    /// through a lock the real queue does not have. Otherwise the mutex would stand in for
    /// the fences of the sleep protocol (`thread_pool/sleep.rs`), and a model could not see
    /// one of them missing (the plant `notify_without_its_fence`, `docs/races.md`).
    pub(crate) struct Injector<T> {
        queue: loom::sync::Mutex<std::collections::VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Self {
            Injector {
                queue: loom::sync::Mutex::new(std::collections::VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }
        pub(crate) fn push(&self, t: T) {
            let mut q = self.queue.lock().unwrap();
            q.push_back(t);
            // ORDERING: SeqCst, as `SegQueue::push`'s tail update (loom: AcqRel).
            self.len.fetch_add(1, Ordering::SeqCst);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            let mut q = self.queue.lock().unwrap();
            let t = q.pop_front();
            if t.is_some() {
                // ORDERING: SeqCst, as `SegQueue::pop`'s head update.
                self.len.fetch_sub(1, Ordering::SeqCst);
            }
            t
        }
        pub(crate) fn is_empty(&self) -> bool {
            // ORDERING: SeqCst, as `SegQueue::is_empty`'s index loads (loom: Acquire).
            self.len.load(Ordering::SeqCst) == 0
        }
        pub(crate) fn len(&self) -> usize {
            // ORDERING: as in `is_empty`.
            self.len.load(Ordering::SeqCst)
        }
    }

    pub(crate) fn spawn_named<F: FnOnce() + Send + 'static>(
        _name: String,
        f: F,
    ) -> std::io::Result<JoinHandle<()>> {
        Ok(loom::thread::spawn(f))
    }

    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap()
    }

    pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        cv.wait(g).unwrap()
    }

    /// Loom has no timed wait: yield once, as if the timeout passed.
    pub(crate) fn wait_timeout<'a, T>(
        _cv: &Condvar,
        g: MutexGuard<'a, T>,
        _timeout: std::time::Duration,
    ) -> MutexGuard<'a, T> {
        loom::thread::yield_now();
        g
    }
    use std::time::Instant;

    /// Under loom a spin step must yield, or the model never lets the other thread run.
    #[inline(always)]
    pub(crate) fn spin_loop() {
        loom::thread::yield_now();
    }

    pub(crate) fn park() {
        loom::thread::park();
    }

    /// Loom has no timed park: yield once, then report the deadline as passed.
    pub(crate) fn park_until(_deadline: Instant) -> bool {
        loom::thread::yield_now();
        true
    }
}
