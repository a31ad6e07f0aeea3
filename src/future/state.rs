//! The packed state word of a future: lifecycle, flags, the waiter-list lock and the count of
//! user handles in one `AtomicUsize`.
//!
//! | bits | name | meaning |
//! |---|---|---|
//! | 0–2 | `LIFECYCLE` | `PENDING` 0, `RUNNING` 1, `COMPLETING` 2, `CANCELLED` 3, `FINISHED` 4 |
//! | 3 | `HAS_EXCEPTION` | finished with an exception (set with `FINISHED`, never cleared) |
//! | 4 | `CANCEL_NOTIFIED` | `set_running_or_notify_cancel` saw the cancel (Python's `CANCELLED_AND_NOTIFIED`) |
//! | 5 | `WAITERS_LOCKED` | bit lock over the waiter list and the callback list |
//! | 6 | `HAS_WAITERS` | the waiter list may be non-empty |
//! | 7 | `HAS_CALLBACKS` | the callback list may be non-empty; after a terminal transition, callbacks are still to run or running (rule 7) |
//! | 8 | `TASK_REF` | an executor's queue entry or runner holds its own reference (counted apart from user handles) |
//! | 9 | `CANCEL_REQUESTED` | `request_cancel()` asked a running task to stop (cooperative; set only while RUNNING or COMPLETING, never cleared) |
//! | 10.. | `REF_COUNT` | number of user handles (`Future<T>` values) |
//!
//! Python's five states map onto the lifecycle as: `PENDING` → `PENDING`; `RUNNING` →
//! `RUNNING` or `COMPLETING` (a result is being written); `CANCELLED` → `CANCELLED`;
//! `CANCELLED_AND_NOTIFIED` → `CANCELLED | CANCEL_NOTIFIED`; `FINISHED` → `FINISHED`.
//! `CANCELLED` and `FINISHED` are *terminal*; see the numbered rules in `future/mod.rs`.

use std::fmt;

use crate::sync::{AtomicUsize, Ordering};

pub(crate) const LIFECYCLE: usize = 0b111;
pub(crate) const PENDING: usize = 0;
pub(crate) const RUNNING: usize = 1;
pub(crate) const COMPLETING: usize = 2;
pub(crate) const CANCELLED: usize = 3;
pub(crate) const FINISHED: usize = 4;

pub(crate) const HAS_EXCEPTION: usize = 1 << 3;
pub(crate) const CANCEL_NOTIFIED: usize = 1 << 4;
pub(crate) const WAITERS_LOCKED: usize = 1 << 5;
pub(crate) const HAS_WAITERS: usize = 1 << 6;
pub(crate) const HAS_CALLBACKS: usize = 1 << 7;
pub(crate) const TASK_REF: usize = 1 << 8;
pub(crate) const CANCEL_REQUESTED: usize = 1 << 9;

/// Everything below the reference count.
const FLAGS_MASK: usize = (1 << 10) - 1;
const REF_COUNT_SHIFT: u32 = FLAGS_MASK.count_ones();
/// One user handle.
pub(crate) const REF_ONE: usize = 1 << REF_COUNT_SHIFT;
/// Past half the count's range a clone aborts, as `Arc` does, so it can never wrap.
const REF_COUNT_MAX: usize = usize::MAX >> (REF_COUNT_SHIFT + 1);

// The encodings do the arithmetic the comments claim; checked when the crate compiles.
const _: () = {
    assert!(COMPLETING + 2 == FINISHED && RUNNING + 3 == FINISHED);
    // `is_terminal` is `lifecycle >= CANCELLED`.
    assert!(PENDING < CANCELLED && RUNNING < CANCELLED && COMPLETING < CANCELLED);
    assert!(FINISHED > CANCELLED && FINISHED <= LIFECYCLE);
    assert!(REF_ONE == CANCEL_REQUESTED << 1 && FLAGS_MASK & REF_ONE == 0);
};

/// A copy of the state word, with readers for every field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(crate) usize);

impl Snapshot {
    #[inline(always)]
    pub(crate) fn lifecycle(self) -> usize {
        self.0 & LIFECYCLE
    }
    /// `CANCELLED` or `FINISHED`: nothing can change the outcome any more.
    #[inline(always)]
    pub(crate) fn is_terminal(self) -> bool {
        self.lifecycle() >= CANCELLED
    }
    #[inline(always)]
    pub(crate) fn is_finished(self) -> bool {
        self.lifecycle() == FINISHED
    }
    #[inline(always)]
    pub(crate) fn is_cancelled(self) -> bool {
        self.lifecycle() == CANCELLED
    }
    /// `RUNNING` or `COMPLETING` (a result is being written; Python still calls it running).
    #[inline(always)]
    pub(crate) fn is_running(self) -> bool {
        matches!(self.lifecycle(), RUNNING | COMPLETING)
    }
    #[inline(always)]
    pub(crate) fn has_exception(self) -> bool {
        self.0 & HAS_EXCEPTION != 0
    }
    /// `request_cancel()` asked the running task to stop.
    #[inline(always)]
    pub(crate) fn is_cancel_requested(self) -> bool {
        self.0 & CANCEL_REQUESTED != 0
    }
    #[inline(always)]
    pub(crate) fn is_cancel_notified(self) -> bool {
        self.0 & CANCEL_NOTIFIED != 0
    }
    #[inline(always)]
    pub(crate) fn is_locked(self) -> bool {
        self.0 & WAITERS_LOCKED != 0
    }
    /// Someone may be waiting or a callback is registered: completion must take the lock.
    #[inline(always)]
    pub(crate) fn has_listeners(self) -> bool {
        self.0 & (HAS_WAITERS | HAS_CALLBACKS) != 0
    }
    /// Callbacks registered; once terminal: callbacks not yet finished running (rule 7).
    #[inline(always)]
    pub(crate) fn has_callbacks(self) -> bool {
        self.0 & HAS_CALLBACKS != 0
    }
    #[inline(always)]
    pub(crate) fn has_task_ref(self) -> bool {
        self.0 & TASK_REF != 0
    }
    #[inline(always)]
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_COUNT_SHIFT
    }
    /// The public [`State`](crate::State).
    pub(crate) fn state(self) -> crate::State {
        match self.lifecycle() {
            PENDING => crate::State::Pending,
            RUNNING | COMPLETING => crate::State::Running,
            CANCELLED => crate::State::Cancelled,
            _ => crate::State::Finished,
        }
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("lifecycle", &self.lifecycle())
            .field("has_exception", &self.has_exception())
            .field("cancel_notified", &self.is_cancel_notified())
            .field("cancel_requested", &self.is_cancel_requested())
            .field("locked", &self.is_locked())
            .field("has_waiters", &(self.0 & HAS_WAITERS != 0))
            .field("has_callbacks", &(self.0 & HAS_CALLBACKS != 0))
            .field("task_ref", &self.has_task_ref())
            .field("ref_count", &self.ref_count())
            .finish()
    }
}

/// What `cancel()` must do next.
#[must_use]
#[derive(Debug)]
pub(crate) enum TransitionToCancelled {
    /// PENDING → CANCELLED by this call: wake the waiters and run the callbacks if `prev` has
    /// listeners (rule 4).
    Cancelled { prev: Snapshot },
    /// It was already cancelled: `cancel()` is `true`, nothing to do.
    AlreadyCancelled,
    /// Running, completing or finished: `cancel()` is `false`.
    Refused,
}

/// What `set_running_or_notify_cancel()` must do next.
#[must_use]
#[derive(Debug)]
pub(crate) enum TransitionToRunning {
    /// PENDING → RUNNING: run the work.
    Running,
    /// CANCELLED → CANCELLED | CANCEL_NOTIFIED: skip the work (waiters were woken at cancel).
    Cancelled,
    /// Running, finished, or cancelled and already notified: refuse (Python's RuntimeError).
    Invalid(Snapshot),
}

/// Who claims the right to write the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// `set_result` / `set_exception` on a future no executor owns.
    Public,
    /// `set_result` / `set_exception` on an executor's task: refused while not terminal
    /// (rule 8).
    PublicOnOwned,
    /// The executor, for a task still in its queue.
    Queued,
}

/// What a setter must do after trying to claim the right to write the result.
#[must_use]
#[derive(Debug)]
pub(crate) enum TransitionToCompleting {
    /// PENDING/RUNNING → COMPLETING: this caller alone writes the slot, then publishes.
    Claimed,
    /// Already completing, cancelled or finished: refuse with InvalidStateError.
    Invalid(Snapshot),
}

/// Result of trying to take the list lock in order to add a listener.
#[must_use]
#[derive(Debug)]
pub(crate) enum LockForListen {
    /// The lock is held and the flag was set in the same step.
    Locked,
    /// The future is terminal: nothing may be added; act on the outcome at once.
    Terminal(Snapshot),
}

/// What [`StateWord::request_cancel`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestCancel {
    /// The task is running and now (or already) asked to stop.
    Requested,
    /// Not started: cancel it instead.
    Pending,
    /// Cancelled or finished.
    TooLate,
}

/// The atomic state word. Only read-modify-write helpers live here; decisions are taken on
/// [`Snapshot`]s.
pub(crate) struct StateWord(AtomicUsize);

impl StateWord {
    /// A new word: PENDING with one user handle.
    pub(crate) fn new_pending() -> Self {
        StateWord(AtomicUsize::new(PENDING | REF_ONE))
    }

    /// A new executor task: PENDING, one user handle (the one `submit` returns) and the
    /// executor's own reference.
    pub(crate) fn new_task() -> Self {
        StateWord(AtomicUsize::new(PENDING | REF_ONE | TASK_REF))
    }

    /// One load. ORDERING: Acquire, so that a FINISHED seen here makes the slot written before
    /// the publish visible (rule 2).
    #[inline(always)]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// Plants `cancel_by_load_and_store` and `claim_by_load_and_store` (`plant.rs`): a
    /// transition as a load and a separate store, the check-then-act mistake the CAS loop
    /// exists to avoid.
    #[cfg(any(concurrent_futures_loom, fuzzing, test, concurrent_futures_plants))]
    fn load_then_store<R>(
        &self,
        f: impl FnOnce(Snapshot) -> Result<usize, R>,
    ) -> Result<Snapshot, R> {
        let curr = self.load();
        let next = f(curr)?;
        self.0.store(next, Ordering::Release);
        Ok(curr)
    }

    /// The CAS loop every transition is built on: `f` returns the new word or an early answer.
    #[inline(always)]
    fn fetch_update_action<R>(
        &self,
        mut f: impl FnMut(Snapshot) -> Result<usize, R>,
    ) -> Result<Snapshot, R> {
        let mut curr = self.load();
        loop {
            let next = f(curr)?;
            match self
                .0
                .compare_exchange_weak(curr.0, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(prev) => return Ok(Snapshot(prev)),
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    pub(crate) fn transition_to_cancelled(&self) -> TransitionToCancelled {
        let f = |s: Snapshot| match s.lifecycle() {
            // The only path into CANCELLED. A concurrent claim (PENDING → RUNNING or
            // COMPLETING) makes this CAS fail and we re-read: exactly one of them wins.
            PENDING => Ok((s.0 & !LIFECYCLE) | CANCELLED),
            CANCELLED => Err(TransitionToCancelled::AlreadyCancelled),
            // RUNNING, COMPLETING, FINISHED: too late, as in Python.
            _ => Err(TransitionToCancelled::Refused),
        };
        let res = plant!(
            "cancel_by_load_and_store",
            self.load_then_store(f),
            self.fetch_update_action(f)
        );
        match res {
            Ok(prev) => TransitionToCancelled::Cancelled { prev },
            Err(action) => action,
        }
    }

    /// A cooperative cancel request: sets `CANCEL_REQUESTED` on a RUNNING (or COMPLETING)
    /// word. A PENDING word is left to `transition_to_cancelled` (the caller retries this if
    /// a claim beat the cancel); a terminal one is too late.
    pub(crate) fn request_cancel(&self) -> RequestCancel {
        let res = self.fetch_update_action(|s| match s.lifecycle() {
            RUNNING | COMPLETING if s.is_cancel_requested() => Err(RequestCancel::Requested),
            RUNNING | COMPLETING => Ok(s.0 | CANCEL_REQUESTED),
            PENDING if plant!("request_cancel_marks_a_pending_task", true, false) => {
                Ok(s.0 | CANCEL_REQUESTED)
            }
            PENDING => Err(RequestCancel::Pending),
            _ if plant!("request_cancel_marks_a_finished_task", true, false) => {
                Ok(s.0 | CANCEL_REQUESTED)
            }
            _ => Err(RequestCancel::TooLate),
        });
        match res {
            Ok(_) => RequestCancel::Requested,
            Err(r) => r,
        }
    }

    /// The executor's (or a test's) start. `public_on_owned`: the public
    /// `set_running_or_notify_cancel` on an executor's task, refused unless terminal: its
    /// runner alone may start it (rule 8).
    pub(crate) fn transition_to_running(&self, public_on_owned: bool) -> TransitionToRunning {
        let f = |s: Snapshot| match s.lifecycle() {
            _ if public_on_owned && !s.is_terminal() => Err(s),
            // Wins against a concurrent cancel() or not at all: the CAS fails if cancel
            // moved the word first, and the retry lands in the CANCELLED arm.
            PENDING => Ok((s.0 & !LIFECYCLE) | RUNNING),
            // Cancelled before it started: note that the executor saw it (Python's
            // CANCELLED_AND_NOTIFIED). Waiters were already woken by cancel() (rule 4).
            CANCELLED if !s.is_cancel_notified() => Ok(s.0 | CANCEL_NOTIFIED),
            _ => Err(s),
        };
        let res = plant!(
            "claim_by_load_and_store",
            self.load_then_store(f),
            self.fetch_update_action(f)
        );
        match res {
            Ok(prev) if prev.lifecycle() == PENDING => TransitionToRunning::Running,
            Ok(_) => TransitionToRunning::Cancelled,
            Err(s) => TransitionToRunning::Invalid(s),
        }
    }

    /// A setter's claim. `Public`: any thread through `set_result`/`set_exception`, from
    /// PENDING or RUNNING. `PublicOnOwned`: the same on an executor's task, always refused
    /// (rule 8). `Queued`: the executor failing a task it still holds in its queue, from
    /// PENDING only.
    pub(crate) fn transition_to_completing(&self, by: Claim) -> TransitionToCompleting {
        let res = self.fetch_update_action(|s| {
            // The plant is issue #8's defect 1: an executor's task refused the public
            // setters only while the queue's reference was held, which a drain drops while an
            // inline runner is still at work.
            let by = plant!(
                "public_setter_once_the_queue_let_go",
                match by {
                    Claim::PublicOnOwned if !s.has_task_ref() => Claim::Public,
                    by => by,
                },
                by
            );
            match s.lifecycle() {
                _ if by == Claim::PublicOnOwned => Err(s),
                // Python allows a result on a pending future as well as a running one.
                PENDING => Ok((s.0 & !LIFECYCLE) | COMPLETING),
                RUNNING if by == Claim::Public => Ok((s.0 & !LIFECYCLE) | COMPLETING),
                // Another setter holds the claim, or the outcome is fixed.
                _ => Err(s),
            }
        });
        match res {
            Ok(_) => TransitionToCompleting::Claimed,
            Err(s) => TransitionToCompleting::Invalid(s),
        }
    }

    /// Publishes the outcome written into the slot: `from` (COMPLETING, or RUNNING for the
    /// sole runner of an executor task) → FINISHED, plus `HAS_EXCEPTION`. One `fetch_add`: the
    /// caller holds the claim, so the lifecycle bits are known to be `from` and HAS_EXCEPTION
    /// is known to be clear, and the sum cannot carry into other fields.
    /// `COMPLETING + 2 = FINISHED`, `RUNNING + 3 = FINISHED`.
    ///
    /// Returns the word before the publish: with no listeners in it, completion is over
    /// (rule 3).
    ///
    /// ORDERING: AcqRel. Release publishes the slot write (rule 2); Acquire orders the list
    /// reads that follow when listeners are present.
    #[inline(always)]
    pub(crate) fn publish_finished(&self, from: usize, exception: bool) -> Snapshot {
        debug_assert!(from == COMPLETING || from == RUNNING);
        let delta = (FINISHED - from) + if exception { HAS_EXCEPTION } else { 0 };
        let order = plant!("publish_relaxed", Ordering::Relaxed, Ordering::AcqRel);
        let prev = Snapshot(self.0.fetch_add(delta, order));
        debug_assert_eq!(prev.lifecycle(), from);
        debug_assert!(!prev.has_exception());
        prev
    }

    /// After a terminal transition, the last callback has run: clears `HAS_CALLBACKS`, so
    /// the only handle may move the value out again (rule 7).
    ///
    /// ORDERING: Release, so the callbacks' reads of the slot happen before a move that
    /// sees the flag clear (with its Acquire load).
    pub(crate) fn callbacks_done(&self) {
        let prev = Snapshot(self.0.fetch_and(!HAS_CALLBACKS, Ordering::Release));
        debug_assert!(prev.is_terminal());
    }

    /// Drops the executor's reference (`TASK_REF`). Returns the word as it is now when
    /// nothing references the allocation any more (the caller frees it, and can tell from
    /// the word what outcome it drops), `None` otherwise.
    ///
    /// ORDERING: Release, with an Acquire fence by the deallocating thread, as `ref_dec`.
    #[inline]
    pub(crate) fn release_task_ref(&self) -> Option<Snapshot> {
        let prev = Snapshot(self.0.fetch_sub(TASK_REF, Ordering::Release));
        debug_assert!(prev.has_task_ref());
        let now = Snapshot(prev.0 - TASK_REF);
        if now.ref_count() == 0 {
            plant!(
                "free_without_the_acquire_fence",
                (),
                crate::sync::fence(Ordering::Acquire)
            );
            Some(now)
        } else {
            None
        }
    }

    /// Takes the list lock to add a listener, setting `flag` (HAS_WAITERS or HAS_CALLBACKS) in
    /// the same step, unless the future is terminal (rule 3).
    ///
    /// ORDERING: Acquire on success pairs with the Release of the previous unlock.
    pub(crate) fn lock_for_listen(&self, flag: usize) -> LockForListen {
        let mut curr = self.load();
        loop {
            if curr.is_terminal() {
                return LockForListen::Terminal(curr);
            }
            if curr.is_locked() {
                crate::sync::spin_loop();
                curr = self.load();
                continue;
            }
            // The plant takes the lock first and sets the flag in a second step, so a
            // publish that lands between the two finds no listener to drain (rule 3).
            let late_flag = plant!("listen_flag_set_after_the_lock", flag, 0);
            match self.0.compare_exchange_weak(
                curr.0,
                curr.0 | WAITERS_LOCKED | (flag & !late_flag),
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if late_flag != 0 {
                        self.0.fetch_or(late_flag, Ordering::AcqRel);
                    }
                    return LockForListen::Locked;
                }
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// Takes the list lock whatever the lifecycle (to unlink a node, or to drain the lists
    /// after a terminal transition). Returns the word as locked.
    ///
    /// ORDERING: Acquire pairs with the Release of the previous unlock, so the list as the
    /// last holder left it is visible.
    pub(crate) fn lock(&self) -> Snapshot {
        let mut curr = self.load();
        loop {
            if curr.is_locked() {
                crate::sync::spin_loop();
                curr = self.load();
                continue;
            }
            match self.0.compare_exchange_weak(
                curr.0,
                curr.0 | WAITERS_LOCKED,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Snapshot(curr.0 | WAITERS_LOCKED),
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    /// Releases the list lock and clears `clear` (HAS_WAITERS and/or HAS_CALLBACKS, when
    /// their lists became empty). ORDERING: Release publishes the list writes.
    pub(crate) fn unlock(&self, clear: usize) {
        debug_assert_eq!(clear & !(HAS_WAITERS | HAS_CALLBACKS), 0);
        let prev = self
            .0
            .fetch_and(!(WAITERS_LOCKED | clear), Ordering::Release);
        debug_assert!(Snapshot(prev).is_locked());
    }

    /// One more user handle.
    ///
    /// ORDERING: Relaxed, as `Arc::clone`: a new handle is made from an existing one, which
    /// already keeps the allocation alive, so no other memory needs ordering here.
    #[inline]
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if Snapshot(prev).ref_count() > REF_COUNT_MAX {
            std::process::abort();
        }
    }

    /// One user handle fewer. Returns `true` when nothing references the allocation any more
    /// (no user handle and no `TASK_REF`): the caller deallocates.
    ///
    /// ORDERING: Release so this handle's reads of the slot happen before the deallocation;
    /// the deallocating thread issues an Acquire fence, as `Arc::drop` does.
    #[inline]
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(plant!(
            "ref_dec_by_load_and_store",
            {
                let v = self.0.load(Ordering::Acquire);
                self.0.store(v - REF_ONE, Ordering::Release);
                v
            },
            self.0.fetch_sub(REF_ONE, Ordering::Release)
        ));
        debug_assert!(prev.ref_count() >= 1);
        if prev.ref_count() == 1 && !prev.has_task_ref() {
            plant!(
                "free_without_the_acquire_fence",
                (),
                crate::sync::fence(Ordering::Acquire)
            );
            true
        } else {
            false
        }
    }
}

impl fmt::Debug for StateWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.load(), f)
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    #[test]
    fn publish_from_completing_sets_finished_and_exception() {
        let w = StateWord::new_pending();
        assert!(matches!(
            w.transition_to_completing(Claim::Public),
            TransitionToCompleting::Claimed
        ));
        let prev = w.publish_finished(COMPLETING, true);
        assert_eq!(prev.lifecycle(), COMPLETING);
        let now = w.load();
        assert!(now.is_finished() && now.has_exception());
        assert_eq!(now.ref_count(), 1);
    }

    #[test]
    fn listen_lock_refuses_terminal_and_sets_flag() {
        let w = StateWord::new_pending();
        assert!(matches!(
            w.lock_for_listen(HAS_WAITERS),
            LockForListen::Locked
        ));
        let s = w.load();
        assert!(s.is_locked() && s.has_listeners());
        w.unlock(HAS_WAITERS);
        assert!(!w.load().is_locked() && !w.load().has_listeners());
        assert!(matches!(
            w.transition_to_cancelled(),
            TransitionToCancelled::Cancelled { .. }
        ));
        assert!(matches!(
            w.lock_for_listen(HAS_CALLBACKS),
            LockForListen::Terminal(_)
        ));
    }

    #[test]
    fn running_then_cancel_notified_then_invalid() {
        let w = StateWord::new_pending();
        assert!(matches!(
            w.transition_to_cancelled(),
            TransitionToCancelled::Cancelled { .. }
        ));
        assert!(matches!(
            w.transition_to_running(false),
            TransitionToRunning::Cancelled
        ));
        assert!(matches!(
            w.transition_to_running(false),
            TransitionToRunning::Invalid(_)
        ));
        assert!(matches!(
            w.transition_to_cancelled(),
            TransitionToCancelled::AlreadyCancelled
        ));
    }

    #[test]
    fn refcount_reaches_zero_once() {
        let w = StateWord::new_pending();
        w.ref_inc();
        assert!(!w.ref_dec());
        assert!(w.ref_dec());
    }
}
