//! White-box loom models of the state word and the waiter list (run with
//! `RUSTFLAGS="--cfg concurrent_futures_loom"`; see `docs/loom.md`). Each model records the
//! outcome every explored execution reached and asserts that every outcome of its race was
//! seen, so a model that stopped exploring one side would fail.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Mutex;

mod loom_state;
mod loom_task;
mod loom_waiters;

/// Runs `f` under loom and returns the set of outcomes over all executions.
pub(crate) fn outcomes<T, F>(f: F) -> BTreeSet<T>
where
    T: Ord + Debug + Send + 'static,
    F: Fn() -> T + Sync + Send + 'static,
{
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let s = seen.clone();
    loom::model(move || {
        let out = f();
        s.lock().unwrap().insert(out);
    });
    std::sync::Arc::try_unwrap(seen)
        .unwrap()
        .into_inner()
        .unwrap()
}

/// A loom thread joined by yielding until it finished (see `loom-tests/src/lib.rs`, `Joiner`:
/// loom fails when a stale unpark reaches a thread blocked in `join`).
pub(crate) struct Joiner<T> {
    handle: loom::thread::JoinHandle<T>,
    done: loom::sync::Arc<loom::sync::atomic::AtomicBool>,
}

pub(crate) fn spawn<T: 'static>(f: impl FnOnce() -> T + 'static) -> Joiner<T> {
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
    pub(crate) fn join(self) -> T {
        while !self.done.load(loom::sync::atomic::Ordering::Acquire) {
            loom::thread::yield_now();
        }
        self.handle.join().unwrap()
    }
}
