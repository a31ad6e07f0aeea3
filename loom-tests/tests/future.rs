//! Races on one future: cancel vs start, cancel vs set_result, a timed wait vs completion,
//! a callback registration vs completion, and `.await` vs completion.
#![cfg(concurrent_futures_loom)]

use concurrent_futures::{Error, Future, State};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use loom_tests::{assert_outcomes, outcomes, spawn};
use std::time::Duration;

#[test]
fn cancel_vs_set_running_or_notify_cancel() {
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let g = f.clone();
        let worker = spawn(move || g.set_running_or_notify_cancel().unwrap());
        let cancelled = f.cancel();
        let started = worker.join();
        assert_ne!(cancelled, started, "exactly one wins");
        assert_eq!(
            f.state(),
            if started {
                State::Running
            } else {
                State::Cancelled
            }
        );
        if started { "started" } else { "cancelled" }
    });
    assert_outcomes(seen, ["cancelled", "started"]);
}

#[test]
fn cancel_vs_set_result_with_a_blocked_reader() {
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let (g, h) = (f.clone(), f.clone());
        let setter = spawn(move || g.set_result(5).is_ok());
        let canceller = spawn(move || h.cancel());
        // The reader blocks without a timeout: a lost wake-up would deadlock the model.
        let read = f.result().copied();
        let set = setter.join();
        let cancelled = canceller.join();
        assert_ne!(set, cancelled, "exactly one outcome");
        match read {
            Ok(v) => {
                assert!(set);
                assert_eq!(v, 5);
                "value"
            }
            Err(Error::Cancelled) => {
                assert!(cancelled);
                "cancelled"
            }
            Err(e) => panic!("{e:?}"),
        }
    });
    assert_outcomes(seen, ["cancelled", "value"]);
}

#[test]
fn result_timeout_expiring_vs_completion() {
    // Under loom a timed park yields once and then reports the deadline passed, so both the
    // wake-up winning and the timeout winning (unlink racing the drain) are explored.
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let g = f.clone();
        let setter = spawn(move || g.set_result(3).unwrap());
        let r = f.result_timeout(Duration::from_secs(1)).copied();
        setter.join();
        assert!(!f.has_waiters(), "the node is off the list either way");
        assert_eq!(*f.result().unwrap(), 3);
        match r {
            Ok(3) => "woken",
            Err(Error::Timeout {
                unfinished: 1,
                total: 1,
            }) => "timed out",
            other => panic!("{other:?}"),
        }
    });
    assert_outcomes(seen, ["timed out", "woken"]);
}

#[test]
fn add_done_callback_vs_completion_runs_exactly_once() {
    let seen = outcomes(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let f = Future::<u8>::new();
        let g = f.clone();
        let r = runs.clone();
        let adder = spawn(move || {
            let me = thread::current().id();
            let ran_here = Arc::new(AtomicUsize::new(0));
            let rh = ran_here.clone();
            g.add_done_callback(move |fut| {
                assert_eq!(*fut.result().unwrap(), 1);
                r.fetch_add(1, Ordering::SeqCst);
                if thread::current().id() == me {
                    rh.fetch_add(1, Ordering::SeqCst);
                }
            });
            ran_here.load(Ordering::SeqCst) == 1
        });
        f.set_result(1).unwrap();
        let in_adder = adder.join();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "exactly once");
        if in_adder {
            "ran at once in the adder"
        } else {
            "ran in the completer"
        }
    });
    assert_outcomes(seen, ["ran at once in the adder", "ran in the completer"]);
}

#[test]
fn await_vs_completion() {
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let g = f.clone();
        let setter = spawn(move || g.set_result(9).unwrap());
        let polls = std::cell::Cell::new(0);
        let v = loom::future::block_on(async {
            let mut fut = std::pin::pin!(std::future::IntoFuture::into_future(&f));
            std::future::poll_fn(|cx| {
                polls.set(polls.get() + 1);
                fut.as_mut().poll(cx)
            })
            .await
        })
        .copied()
        .unwrap();
        setter.join();
        assert_eq!(v, 9);
        assert!(!f.has_waiters());
        if polls.get() == 1 {
            "ready at once"
        } else {
            "woken"
        }
    });
    assert_outcomes(seen, ["ready at once", "woken"]);
}

/// Rule 7: a done-callback running on a pool worker reads the value through the worker's
/// uncounted handle while the user's only handle tries to move it out. `HAS_CALLBACKS`
/// stays set until the callback returns, so the move waits for it (loom reports the
/// concurrent access to the slot otherwise).
#[test]
fn try_into_result_vs_a_callback_on_the_worker() {
    use concurrent_futures::ThreadPoolExecutor;
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        let f = pool.submit(|| String::from("value")).unwrap();
        let read = Arc::new(AtomicUsize::new(0));
        let r = read.clone();
        f.add_done_callback(move |fut| {
            r.store(fut.result().unwrap().len(), Ordering::SeqCst);
        });
        let mut fut = f;
        let mut came_back = false;
        let v = loop {
            match fut.try_into_result() {
                Ok(v) => break v.unwrap(),
                Err(back) => {
                    came_back = true;
                    fut = back;
                    thread::yield_now();
                }
            }
        };
        assert_eq!(v, "value");
        assert_eq!(read.load(Ordering::SeqCst), 5, "the callback ran first");
        drop(pool);
        if came_back {
            "waited for the callback"
        } else {
            "moved at once"
        }
    });
    assert_outcomes(seen, ["moved at once", "waited for the callback"]);
}

/// A re-poll with a new waker races the completion: `update_waker` looks under the lock,
/// clones the new waker outside it, and swaps it in under the lock again, so the completer
/// may drain in between. Either the swap lands first and the new waker is the one woken, or
/// the drain does and the re-poll sees the future done.
#[test]
fn await_with_a_new_waker_vs_completion() {
    use std::future::IntoFuture;
    use std::task::{Context, Poll, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let (a, b) = (
            std::sync::Arc::new(Count(AtomicUsize::new(0))),
            std::sync::Arc::new(Count(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut rf = std::pin::pin!((&f).into_future());
        assert!(rf.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
        let g = f.clone();
        let setter = spawn(move || g.set_result(9).unwrap());
        let outcome = match rf.as_mut().poll(&mut Context::from_waker(&wb)) {
            Poll::Ready(v) => {
                assert_eq!(v.copied().unwrap(), 9);
                "ready at the re-poll"
            }
            Poll::Pending => {
                while b.0.load(Ordering::SeqCst) == 0 {
                    thread::yield_now();
                }
                assert_eq!(
                    a.0.load(Ordering::SeqCst),
                    0,
                    "the replaced waker was woken"
                );
                assert!(matches!(
                    rf.as_mut().poll(&mut Context::from_waker(&wb)),
                    Poll::Ready(Ok(9))
                ));
                "the new waker was woken"
            }
        };
        setter.join();
        assert!(!f.has_waiters());
        outcome
    });
    assert_outcomes(seen, ["ready at the re-poll", "the new waker was woken"]);
}
