//! Races between `wait` / `as_completed` and completions.
#![cfg(concurrent_futures_loom)]

use concurrent_futures::{Exception, Future, ReturnWhen, as_completed, wait};
use loom_tests::{assert_outcomes, outcomes, spawn};

#[test]
fn wait_first_exception_with_a_raise_and_a_success_together() {
    let seen = outcomes(|| {
        let (a, b) = (Future::<u8>::new(), Future::<u8>::new());
        let (a2, b2) = (a.clone(), b.clone());
        let raiser = spawn(move || a2.set_exception(Exception::msg("boom")).unwrap());
        let ok = spawn(move || b2.set_result(1).unwrap());
        let r = wait([&a, &b], ReturnWhen::FirstException);
        // It never returns on the success alone, and the raise is always in `done`.
        assert!(r.done.contains(&&a), "returned without the exception");
        let early = r.not_done.contains(&&b);
        raiser.join();
        ok.join();
        assert!(!a.has_waiters() && !b.has_waiters());
        if early {
            "returned on the raise"
        } else {
            "both done"
        }
    });
    assert_outcomes(seen, ["both done", "returned on the raise"]);
}

#[test]
fn wait_first_completed_with_a_concurrent_cancel() {
    // The cancel lands either before the wait's scan (nothing linked; the scan sees it done)
    // or after the node was linked (the cancel must wake the wait). Both are explored.
    let seen = outcomes(|| {
        let (a, b) = (Future::<u8>::new(), Future::<u8>::new());
        let a2 = a.clone();
        let canceller = spawn(move || {
            let had_waiter = a2.has_waiters();
            assert!(a2.cancel());
            had_waiter
        });
        // No timeout: a cancel that failed to wake the wait would deadlock the model.
        let r = wait([&a, &b], ReturnWhen::FirstCompleted);
        let woke_a_waiter = canceller.join();
        assert_eq!(r.done, [&a]);
        assert_eq!(r.not_done, [&b]);
        assert!(!a.has_waiters() && !b.has_waiters(), "every node unlinked");
        woke_a_waiter
    });
    assert_outcomes(seen, [false, true]);
}

#[test]
fn as_completed_vs_two_completions() {
    let seen = outcomes(|| {
        let (a, b) = (Future::<u8>::new(), Future::<u8>::new());
        let (a2, b2) = (a.clone(), b.clone());
        let ta = spawn(move || a2.set_result(1).unwrap());
        let tb = spawn(move || b2.set_result(2).unwrap());
        let order: Vec<u8> = as_completed([&a, &b])
            .map(|f| *f.unwrap().result().unwrap())
            .collect();
        ta.join();
        tb.join();
        assert_eq!(order.len(), 2, "each yielded exactly once");
        assert!(!a.has_waiters() && !b.has_waiters());
        order
    });
    assert_outcomes(seen, [vec![1, 2], vec![2, 1]]);
}
