//! Done-callbacks (Python's `add_done_callback`) and the notification of every listener
//! after a terminal transition: waiters first, then callbacks in registration order (rules 5
//! and 7 of `future/mod.rs`).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Future;
use super::hooks::{RunHooks, UserCode};
use super::state::{self, HAS_CALLBACKS, LockForListen};

pub(super) type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send + 'static>;

pub(super) struct CallbackNode<T> {
    pub(super) next: Option<Box<CallbackNode<T>>>,
    pub(super) f: Callback<T>,
}

impl<T> Future<T> {
    /// Calls `f(&future)` once the future is done: at once, in this thread, if it already is;
    /// otherwise in the thread that finishes or cancels it. Callbacks run once each, in the
    /// order they were added. A panicking callback is caught and logged (target
    /// `concurrent_futures`), and the ones after it still run.
    ///
    /// ```
    /// use concurrent_futures::Future;
    /// use std::sync::{Arc, Mutex};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let fut = Future::new();
    /// let s = seen.clone();
    /// fut.add_done_callback(move |f| s.lock().unwrap().push(*f.result().unwrap()));
    /// fut.set_result(5).unwrap();
    /// assert_eq!(*seen.lock().unwrap(), [5]);
    /// ```
    pub fn add_done_callback<F>(&self, f: F)
    where
        F: FnOnce(&Future<T>) + Send + 'static,
        T: Sync,
    {
        match self.header().state.lock_for_listen(HAS_CALLBACKS) {
            LockForListen::Terminal(_) => run_callback(self, Box::new(f)),
            LockForListen::Locked => {
                self.inner().callbacks.with_mut(|head| {
                    // SAFETY: the lock bit guards the callback list.
                    let head = unsafe { &mut *head };
                    *head = Some(Box::new(CallbackNode {
                        next: head.take(),
                        f: Box::new(f),
                    }));
                });
                self.header().state.unlock(0);
            }
        }
    }

    /// After a terminal transition whose previous word had listeners: wakes the waiters,
    /// then runs the callbacks (rule 5), then clears `HAS_CALLBACKS` (rule 7; also if a
    /// callback's panic were to unwind this far). `hooks` hear when user code (a `Waker`, a
    /// callback) begins and ends.
    #[cold]
    pub(crate) fn notify_listeners(&self, hooks: &dyn RunHooks) {
        /// Clears `HAS_CALLBACKS` when dropped.
        struct CallbacksDone<'a>(&'a state::StateWord);
        impl Drop for CallbacksDone<'_> {
            fn drop(&mut self) {
                self.0.callbacks_done();
            }
        }
        let header = self.header();
        let user = UserCode::new(hooks);
        let locked = header.state.lock();
        // SAFETY: the lock bit guards the callback list.
        let mut list = self.inner().callbacks.with_mut(|h| unsafe { (*h).take() });
        let _done = list.is_some().then(|| CallbacksDone(&header.state));
        // The plant clears the flag before the callbacks have run (rule 7 broken).
        let _done = plant!("callbacks_done_before_they_run", _done.and(None), _done);
        // SAFETY: we hold the lock and the word is terminal; this releases the lock.
        unsafe { header.drain_locked(locked, &user) };
        // The list is newest first: reverse it to run in registration order.
        let mut ordered = Vec::new();
        while let Some(mut node) = list {
            list = node.next.take();
            ordered.push(node.f);
        }
        if !ordered.is_empty() {
            user.enter();
        }
        for f in ordered.into_iter().rev() {
            run_callback(self, f);
        }
    }
}

/// Runs one callback, catching and logging its panic. Never unwinds.
pub(super) fn run_callback<T>(fut: &Future<T>, f: Callback<T>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(fut))) {
        let message = crate::unwind::payload_message(payload);
        crate::unwind::report(format_args!(
            "exception calling callback for {fut:?}: a done-callback panicked: {message}"
        ));
    }
}
