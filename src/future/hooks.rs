//! What a task's runner tells the executor while it finishes a task: when the task's body is
//! over, and when user code (a done-callback, a `Waker`, the drop of a value) runs on its
//! thread after the publish.
//!
//! A pool counts a worker as *searching* (free for new work) from the end of a task's body,
//! so that whoever the result wakes and submits at once finds the worker reusable. User code
//! that runs after the publish can take any time, so the runner tells the executor around
//! it, and a pool stops counting the worker as free meanwhile (its pool rule 4). The core
//! only calls these hooks; what they do is the backend's.
//!
//! The hooks also hear how each run ended ([`Ended`]) and when a task was claimed, for an
//! executor's counts. A task that a thread of the executor runs inline, while it waits on
//! it, reports to the hooks that thread registered with [`InlineHooks`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// How a queue entry's run ended, for an executor's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The body returned a value.
    Value,
    /// The body returned an error (or the job failed the task).
    Exception,
    /// The body panicked.
    Panic,
    /// The task was cancelled before it started: nothing ran.
    Cancelled,
    /// Another thread claimed it (an inline run): nothing ran here.
    Elsewhere,
    /// The job detached its publisher: the outcome comes later, from another thread.
    Detached,
}

impl Ended {
    /// How a published outcome ended: a value, a panic, or another exception.
    pub(crate) fn of<T>(outcome: &Result<T, crate::error::Exception>) -> Self {
        match outcome {
            Ok(_) => Ended::Value,
            Err(e) if e.is_panic() => Ended::Panic,
            Err(_) => Ended::Exception,
        }
    }
}

/// The executor's side of a run. Every method is called on the runner's thread.
pub(crate) trait RunHooks {
    /// The task was claimed (PENDING → RUNNING) by this runner: its body runs next.
    fn claimed(&self);
    /// The task's body is over (or there is nothing to run); the outcome is about to be
    /// published.
    fn body_done(&self, ended: Ended);
    /// User code is about to run on this thread after the publish.
    fn user_code_begins(&self);
    /// That user code is over (also called on unwind).
    fn user_code_ends(&self);
}

/// For runs that are not a worker's (public setters, inline runs, cancels).
pub(crate) struct NoHooks;

impl RunHooks for NoHooks {
    fn claimed(&self) {}
    fn body_done(&self, _: Ended) {}
    fn user_code_begins(&self) {}
    fn user_code_ends(&self) {}
}

/// Brackets the user code of one completion: [`enter`](Self::enter) before each piece
/// (the hooks hear it once), and the hooks hear the end when this drops, also on unwind.
pub(crate) struct UserCode<'a> {
    hooks: &'a dyn RunHooks,
    entered: Cell<bool>,
}

impl<'a> UserCode<'a> {
    pub(crate) fn new(hooks: &'a dyn RunHooks) -> Self {
        UserCode {
            hooks,
            entered: Cell::new(false),
        }
    }

    /// User code follows.
    #[inline]
    pub(crate) fn enter(&self) {
        if !self.entered.replace(true) {
            self.hooks.user_code_begins();
        }
    }
}

impl Drop for UserCode<'_> {
    fn drop(&mut self) {
        if self.entered.get() {
            self.hooks.user_code_ends();
        }
    }
}

crate::sync::thread_local! {
    /// What the executor this thread works for hears of a task the thread runs inline.
    #[allow(clippy::missing_const_for_thread_local)]
    static INLINE_HOOKS: RefCell<Option<Rc<dyn RunHooks>>> = RefCell::new(None);
}

/// While alive, the tasks the current thread runs inline (waiting on its own executor's
/// task, rule 3 of the thread pool) report to `hooks`, an executor's counts; restores the
/// previous hooks when it drops, also on unwind.
#[must_use = "the hooks are unset when the guard drops"]
pub(crate) struct InlineHooks(Option<Rc<dyn RunHooks>>);

impl InlineHooks {
    pub(crate) fn new(hooks: Rc<dyn RunHooks>) -> Self {
        InlineHooks(INLINE_HOOKS.with(|h| h.replace(Some(hooks))))
    }
}

impl Drop for InlineHooks {
    fn drop(&mut self) {
        let previous = self.0.take();
        INLINE_HOOKS.with(|h| *h.borrow_mut() = previous);
    }
}

/// Calls `f` with the hooks for an inline run on this thread ([`NoHooks`] if none are set).
pub(crate) fn with_inline_hooks<R>(f: impl FnOnce(&dyn RunHooks) -> R) -> R {
    match INLINE_HOOKS.with(|h| h.borrow().clone()) {
        Some(h) => f(&*h),
        None => f(&NoHooks),
    }
}
