//! Races on the state word alone.

use super::{outcomes, spawn};
use crate::future::state::*;
use loom::sync::Arc;

/// cancel() vs the executor's claim (PENDING → RUNNING): exactly one wins (rule 1).
#[test]
fn cancel_vs_claim_running() {
    let seen = outcomes(|| {
        let w = Arc::new(StateWord::new_pending());
        let w2 = w.clone();
        let t = spawn(move || {
            matches!(
                w2.transition_to_running(false),
                TransitionToRunning::Running
            )
        });
        let cancelled = matches!(
            w.transition_to_cancelled(),
            TransitionToCancelled::Cancelled { .. }
        );
        let ran = t.join();
        assert_ne!(cancelled, ran, "exactly one of cancel and claim wins");
        let s = w.load();
        assert_eq!(s.is_cancelled(), cancelled);
        assert_eq!(s.lifecycle() == RUNNING, ran);
        if cancelled { "cancelled" } else { "ran" }
    });
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["cancelled", "ran"]);
}

/// cancel() vs a setter's claim and publish: the outcome is one or the other, never both,
/// and a publish that follows a claim always lands on FINISHED.
#[test]
fn cancel_vs_completing() {
    let seen = outcomes(|| {
        let w = Arc::new(StateWord::new_pending());
        let w2 = w.clone();
        let t = spawn(move || match w2.transition_to_completing(Claim::Public) {
            TransitionToCompleting::Claimed => {
                w2.publish_finished(COMPLETING, false);
                true
            }
            TransitionToCompleting::Invalid(s) => {
                assert!(s.is_cancelled());
                false
            }
        });
        let cancelled = matches!(
            w.transition_to_cancelled(),
            TransitionToCancelled::Cancelled { .. }
        );
        let set = t.join();
        assert_ne!(cancelled, set);
        let s = w.load();
        assert!(s.is_terminal() && !s.is_locked());
        assert_eq!(s.is_finished(), set);
        if cancelled { "cancelled" } else { "finished" }
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["cancelled", "finished"]
    );
}

/// A listener taking the lock vs a publish: either the publish sees HAS_WAITERS (and must
/// drain), or the listener sees the terminal word and does not lock (rule 3).
#[test]
fn listen_lock_vs_publish() {
    let seen = outcomes(|| {
        let w = Arc::new(StateWord::new_pending());
        assert!(matches!(
            w.transition_to_completing(Claim::Public),
            TransitionToCompleting::Claimed
        ));
        let w2 = w.clone();
        let t = spawn(move || match w2.lock_for_listen(HAS_WAITERS) {
            LockForListen::Locked => {
                w2.unlock(0);
                true
            }
            LockForListen::Terminal(_) => false,
        });
        let prev = w.publish_finished(COMPLETING, false);
        let listened = t.join();
        // The one that came second saw the other's effect.
        if listened {
            // Either we published first (and the listener should have seen terminal: it
            // cannot have locked) or the flag was in `prev`.
            assert!(prev.has_listeners());
        }
        if listened {
            "listener first"
        } else {
            "publish first"
        }
    });
    assert_eq!(seen.len(), 2, "{seen:?}");
}

/// Reference counting: two handles dropped on two threads; exactly one deallocates.
#[test]
fn ref_dec_exactly_one_last() {
    loom::model(|| {
        let w = Arc::new(StateWord::new_pending());
        w.ref_inc();
        let w2 = w.clone();
        let t = spawn(move || w2.ref_dec());
        let a = w.ref_dec();
        let b = t.join();
        assert!(a ^ b, "exactly one saw the last reference go");
    });
}

/// request_cancel() vs a running task that reads its token and then publishes: the request
/// lands while the task runs (seen by its read, or after it) or after the publish (too
/// late); it never changes a terminal word, and the publish keeps the request bit.
#[test]
fn request_cancel_vs_completion() {
    let seen = outcomes(|| {
        let w = Arc::new(StateWord::new_task());
        assert!(matches!(
            w.transition_to_running(false),
            TransitionToRunning::Running
        ));
        let w2 = w.clone();
        let task = spawn(move || {
            let seen = w2.load().is_cancel_requested();
            w2.publish_finished(RUNNING, seen);
            seen
        });
        let asked = w.request_cancel();
        let seen = task.join();
        let s = w.load();
        assert!(
            s.is_finished(),
            "the task ends as it decides, never CANCELLED"
        );
        assert_eq!(s.has_exception(), seen);
        assert_eq!(s.is_cancel_requested(), asked == RequestCancel::Requested);
        match (asked, seen) {
            (RequestCancel::Requested, true) => "seen by the task",
            (RequestCancel::Requested, false) => "asked after the task looked",
            (RequestCancel::TooLate, false) => "too late",
            other => panic!("impossible: {other:?}"),
        }
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "asked after the task looked",
            "seen by the task",
            "too late"
        ]
    );
}

/// request_cancel() on a pending task vs the executor's claim: it cancels the task (the
/// claim then finds it cancelled), or the claim wins and the request reaches the running
/// task. Either way the call returns `true`.
#[test]
fn request_cancel_vs_claim() {
    let seen = outcomes(|| {
        let w = Arc::new(StateWord::new_task());
        let w2 = w.clone();
        let claim = spawn(move || {
            matches!(
                w2.transition_to_running(false),
                TransitionToRunning::Running
            )
        });
        // Future::request_cancel's loop, on the word alone.
        let outcome = loop {
            match w.request_cancel() {
                RequestCancel::Requested => break "requested",
                RequestCancel::TooLate => unreachable!("nothing finishes here"),
                RequestCancel::Pending => match w.transition_to_cancelled() {
                    TransitionToCancelled::Refused => continue,
                    _ => break "cancelled",
                },
            }
        };
        let ran = claim.join();
        assert_eq!(ran, outcome == "requested");
        assert_eq!(w.load().is_cancel_requested(), ran);
        outcome
    });
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["cancelled", "requested"]
    );
}
