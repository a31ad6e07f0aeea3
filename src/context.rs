//! Which executor the current thread works for: a thread-local id, set by an [`Enter`]
//! guard that restores the previous value when it drops, also on unwind.
//!
//! The core reads it (a task cell compares it with its owner to decide "run me inline",
//! rule 8 in `future/mod.rs`) and knows no backend: backends take an id from [`new_id`] and
//! enter it on their worker threads. Ids come from a counter, never from an address, so an
//! id is never reused while the process lives.

use std::cell::{Cell, RefCell};

use crate::sync::{Arc, AtomicBool, Ordering, StaticAtomicUsize};

/// No executor: the value on threads that are not workers.
pub(crate) const NONE: usize = 0;

static NEXT_ID: StaticAtomicUsize = StaticAtomicUsize::new(1);

crate::sync::thread_local! {
    // Not `const { .. }`: loom's `thread_local!` does not accept a const initializer.
    #[allow(clippy::missing_const_for_thread_local)]
    static CURRENT: Cell<usize> = Cell::new(NONE);
    /// The entered executor's gate: inline runs are allowed while it is `true`.
    #[allow(clippy::missing_const_for_thread_local)]
    static GATE: RefCell<Option<Arc<AtomicBool>>> = RefCell::new(None);
}

/// A fresh executor id, never [`NONE`] and never handed out twice.
pub(crate) fn new_id() -> usize {
    // ORDERING: Relaxed: only uniqueness matters, which the RMW gives.
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The id of the executor the current thread works for, [`NONE`] if none.
#[inline]
pub(crate) fn current() -> usize {
    CURRENT.with(|c| c.get())
}

/// The executor whose tasks the current thread may run inline: [`current`], unless that
/// executor closed its gate (it is draining its queue, which ends queued tasks rather than
/// run them).
#[inline]
pub(crate) fn current_for_inline() -> usize {
    let id = current();
    if id == NONE {
        return NONE;
    }
    // ORDERING: SeqCst, paired with the drain's store before it pops its first task: a
    // thread that sees the gate open started its inline claim before the drain began.
    // The plant ignores the gate: a pool thread may run a queued task inline during a drain.
    let open = GATE.with(|g| {
        let closed = |g: &AtomicBool| !g.load(Ordering::SeqCst);
        !g.borrow()
            .as_ref()
            .is_some_and(|g| plant!("inline_run_ignores_the_gate", false, closed(g)))
    });
    if open { id } else { NONE }
}

/// While alive, the current thread works for the executor it entered.
#[must_use = "the thread leaves the executor when the guard drops"]
pub(crate) struct Enter {
    previous: usize,
    previous_gate: Option<Arc<AtomicBool>>,
}

impl Enter {
    /// Marks the current thread as working for executor `id` ([`NONE`]: for none), whose
    /// tasks it may run inline while `gate` is `true`.
    pub(crate) fn new(id: usize, gate: Option<Arc<AtomicBool>>) -> Self {
        Enter {
            previous: CURRENT.with(|c| c.replace(id)),
            previous_gate: GATE.with(|g| g.replace(gate)),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
        let gate = self.previous_gate.take();
        GATE.with(|g| *g.borrow_mut() = gate);
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    #[test]
    fn enter_restores_the_previous_id_also_on_unwind() {
        let (a, b) = (new_id(), new_id());
        assert!(a != b && a != NONE && b != NONE);
        let outer = Enter::new(a, None);
        let r = std::panic::catch_unwind(|| {
            let _inner = Enter::new(b, None);
            assert_eq!(current(), b);
            panic!("unwind through the guard");
        });
        assert!(r.is_err());
        assert_eq!(current(), a);
        drop(outer);
        assert_eq!(current(), NONE);
    }

    #[test]
    fn a_closed_gate_stops_inline_runs_but_not_membership() {
        let a = new_id();
        let gate = Arc::new(AtomicBool::new(true));
        let _in = Enter::new(a, Some(gate.clone()));
        assert_eq!(current_for_inline(), a);
        gate.store(false, Ordering::SeqCst);
        assert_eq!(current_for_inline(), NONE);
        assert_eq!(current(), a, "still one of the executor's threads");
    }
}
