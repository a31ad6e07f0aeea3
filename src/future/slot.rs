//! The result slot: written once by the thread that holds the claim, before `FINISHED` is
//! published (rule 2 in `future/mod.rs`), then only read, except that the last user handle
//! may move the value out (rule 7).

use crate::error::Exception;
use crate::sync::UnsafeCell;

/// What a future ended with.
pub(crate) enum Outcome<T> {
    /// Not written yet.
    Empty,
    Value(T),
    Exception(Exception),
    /// Moved out by `into_result` / `try_into_result`.
    Taken,
}

pub(crate) struct Slot<T>(UnsafeCell<Outcome<T>>);

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot(UnsafeCell::new(Outcome::Empty))
    }

    /// # Safety
    /// The caller holds the claim (COMPLETING, or RUNNING as the executor's sole runner) and
    /// has not yet published FINISHED, so nobody reads the slot.
    pub(crate) unsafe fn write(&self, outcome: Outcome<T>) {
        // SAFETY: exclusive access by the caller's claim.
        self.0.with_mut(|p| unsafe { *p = outcome });
    }

    /// # Safety
    /// The caller observed FINISHED with Acquire ordering (rule 2), and holds a handle for as
    /// long as the reference lives; the slot is not written again except by `take`, which
    /// requires the only handle.
    pub(crate) unsafe fn get(&self) -> &Outcome<T> {
        // SAFETY: see the function's contract: no writer exists any more.
        self.0.with(|p| unsafe { &*p })
    }

    /// # Safety
    /// As `get`, and the caller holds the only user handle, so no reference from `get` is
    /// alive (rule 7).
    pub(crate) unsafe fn take(&self) -> Outcome<T> {
        // SAFETY: exclusive by the contract.
        self.0
            .with_mut(|p| unsafe { std::mem::replace(&mut *p, Outcome::Taken) })
    }
}
