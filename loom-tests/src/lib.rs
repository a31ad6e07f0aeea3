//! Black-box loom models of `concurrent-futures`, through the public API only. The models are
//! in `tests/`; they compile to nothing unless built with
//! `RUSTFLAGS="--cfg concurrent_futures_loom"` (see `docs/loom.md`).
//!
//! Every model records which outcome each explored execution reached and asserts that all the
//! outcomes of its race were seen: a model that silently stopped exploring one side fails.

#[cfg(concurrent_futures_loom)]
pub use imp::*;

#[cfg(concurrent_futures_loom)]
mod imp {
    use std::collections::BTreeSet;
    use std::fmt::Debug;
    use std::sync::{Arc, Mutex};

    /// Runs `f` under `loom::model` and returns the set of outcomes of all executions.
    pub fn outcomes<T, F>(f: F) -> BTreeSet<T>
    where
        T: Ord + Debug + Send + 'static,
        F: Fn() -> T + Sync + Send + 'static,
    {
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let s = seen.clone();
        loom::model(move || {
            let out = f();
            s.lock().unwrap().insert(out);
        });
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    /// As [`outcomes`], exploring at most `preemptions` preemptions whatever
    /// `LOOM_MAX_PREEMPTIONS` says: for the few models too large to run deeper in CI's time.
    pub fn outcomes_bounded<T, F>(preemptions: usize, f: F) -> BTreeSet<T>
    where
        T: Ord + Debug + Send + 'static,
        F: Fn() -> T + Sync + Send + 'static,
    {
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let s = seen.clone();
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(preemptions);
        builder.check(move || {
            let out = f();
            s.lock().unwrap().insert(out);
        });
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    /// A spawned loom thread whose `join` does not block in loom's join primitive.
    ///
    /// Completers may unpark a waiter thread after it has stopped waiting (std keeps the
    /// token, and every wait loop here re-checks after a wake). Loom, however, treats an
    /// unpark that reaches a thread blocked in `JoinHandle::join` as waking the join, and
    /// fails. So models join by yielding until the thread's last statement has run.
    pub struct Joiner<T> {
        handle: loom::thread::JoinHandle<T>,
        done: loom::sync::Arc<loom::sync::atomic::AtomicBool>,
    }

    /// `loom::thread::spawn`, joined through [`Joiner::join`].
    pub fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> Joiner<T> {
        let done = loom::sync::Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        let handle = loom::thread::spawn(move || {
            let out = f();
            d.store(true, loom::sync::atomic::Ordering::Release);
            out
        });
        Joiner { handle, done }
    }

    impl<T> Joiner<T> {
        /// Waits for the thread without parking in loom's join.
        pub fn join(self) -> T {
            while !self.done.load(loom::sync::atomic::Ordering::Acquire) {
                loom::thread::yield_now();
            }
            self.handle.join().unwrap()
        }
    }

    /// Asserts that the explored outcomes are exactly `expected`.
    pub fn assert_outcomes<T: Ord + Debug>(
        seen: BTreeSet<T>,
        expected: impl IntoIterator<Item = T>,
    ) {
        let expected: BTreeSet<T> = expected.into_iter().collect();
        assert_eq!(seen, expected, "outcomes explored vs expected");
    }
}
