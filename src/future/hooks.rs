//! What a task's runner tells the executor while it finishes a task: when the task's body is
//! over, and when user code (a done-callback, a `Waker`, the drop of a value) runs on its
//! thread after the publish.
//!
//! A pool counts a worker as *searching* (free for new work) from the end of a task's body,
//! so that whoever the result wakes and submits at once finds the worker reusable. User code
//! that runs after the publish can take any time, so the runner tells the executor around
//! it, and a pool stops counting the worker as free meanwhile (its pool rule 4). The core
//! only calls these hooks; what they do is the backend's.

use std::cell::Cell;

/// The executor's side of a run. Every method is called on the runner's thread.
pub(crate) trait RunHooks {
    /// The task's body is over (or there is nothing to run); the outcome is about to be
    /// published.
    fn body_done(&self);
    /// User code is about to run on this thread after the publish.
    fn user_code_begins(&self);
    /// That user code is over (also called on unwind).
    fn user_code_ends(&self);
}

/// For runs that are not a worker's (public setters, inline runs, cancels).
pub(crate) struct NoHooks;

impl RunHooks for NoHooks {
    fn body_done(&self) {}
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
