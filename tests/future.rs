//! CPython's `test_future.py::FutureTests` (CPYTHON.md §7, scenarios 1–20), with threads that
//! complete the futures. The Rust-only parts of the contract are in `future_rust.rs`.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Error, Exception, Future, State};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

const ZERO: Duration = Duration::ZERO;

// ----- callbacks (scenarios 1–8) -----

#[test]
fn test_done_callback_with_result() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let f = Future::new();
    let s = seen.clone();
    f.add_done_callback(move |f| s.lock().unwrap().push(*f.result().unwrap()));
    f.set_result(5u32).unwrap();
    assert_eq!(*seen.lock().unwrap(), [5]);
}

#[test]
fn test_done_callback_with_exception() {
    let seen = Arc::new(Mutex::new(None));
    let f = Future::<()>::new();
    let s = seen.clone();
    f.add_done_callback(move |f| *s.lock().unwrap() = f.exception().unwrap());
    f.set_exception(Exception::msg("test")).unwrap();
    let e = seen
        .lock()
        .unwrap()
        .clone()
        .expect("callback saw the exception");
    assert_eq!(e.to_string(), "test");
}

#[test]
fn test_done_callback_with_cancel() {
    let was_cancelled = Arc::new(Mutex::new(None));
    let f = Future::<()>::new();
    let w = was_cancelled.clone();
    f.add_done_callback(move |f| *w.lock().unwrap() = Some(f.cancelled()));
    assert!(f.cancel());
    assert_eq!(*was_cancelled.lock().unwrap(), Some(true));
}

#[test]
fn test_done_callback_raises() {
    let logs = captured_logs();
    let raising_was_called = Arc::new(AtomicUsize::new(0));
    let fn_was_called = Arc::new(AtomicUsize::new(0));
    let f = Future::<u8>::new();
    let r = raising_was_called.clone();
    f.add_done_callback(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
        panic!("doh!");
    });
    let c = fn_was_called.clone();
    f.add_done_callback(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    f.set_result(5).unwrap(); // no panic escapes
    assert_eq!(raising_was_called.load(Ordering::SeqCst), 1);
    assert_eq!(fn_was_called.load(Ordering::SeqCst), 1);
    let logs = logs.lock().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("ERROR concurrent_futures")
                && l.contains("exception calling callback for")
                && l.contains("doh!")),
        "{logs:?}"
    );
}

#[test]
fn test_done_callback_already_successful() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let f = Future::new();
    f.set_result(5u32).unwrap();
    let s = seen.clone();
    f.add_done_callback(move |f| s.lock().unwrap().push(*f.result().unwrap()));
    // Ran before add_done_callback returned, in this thread.
    assert_eq!(*seen.lock().unwrap(), [5]);
}

#[test]
fn test_done_callback_already_failed() {
    let seen = Arc::new(Mutex::new(None));
    let f = Future::<()>::new();
    f.set_exception(Exception::msg("test")).unwrap();
    let s = seen.clone();
    f.add_done_callback(move |f| *s.lock().unwrap() = f.exception().unwrap());
    assert_eq!(seen.lock().unwrap().as_ref().unwrap().to_string(), "test");
}

#[test]
fn test_done_callback_already_cancelled() {
    let seen = Arc::new(Mutex::new(None));
    let f = Future::<()>::new();
    assert!(f.cancel());
    let s = seen.clone();
    f.add_done_callback(move |f| *s.lock().unwrap() = Some(f.cancelled()));
    assert_eq!(*seen.lock().unwrap(), Some(true));
}

#[test]
fn test_done_callback_raises_already_succeeded() {
    let logs = captured_logs();
    let f = Future::new();
    f.set_result(5u8).unwrap();
    f.add_done_callback(|_| panic!("doh! already"));
    let logs = logs.lock().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.contains("exception calling callback for") && l.contains("doh! already")),
        "{logs:?}"
    );
}

#[test]
fn callbacks_run_once_each_in_registration_order_in_the_completing_thread() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let f = Future::<u8>::new();
    for i in 0..10 {
        let o = order.clone();
        f.add_done_callback(move |_| o.lock().unwrap().push((i, thread::current().id())));
    }
    let completer = f.clone();
    let t = thread::spawn(move || {
        completer.set_result(1).unwrap();
        thread::current().id()
    });
    let completer_id = t.join().unwrap();
    {
        let order = order.lock().unwrap();
        assert_eq!(
            order.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        assert!(order.iter().all(|(_, id)| *id == completer_id));
    }
    // A later cancel or set does not run them again.
    assert!(!f.cancel());
    assert!(f.set_result(2).is_err());
    assert_eq!(order.lock().unwrap().len(), 10);
}

#[test]
fn callbacks_added_while_completing_run_exactly_once() {
    // Many threads add callbacks while another completes: each runs exactly once, either in
    // the completer or in its adder.
    for _ in 0..200 {
        let count = Arc::new(AtomicUsize::new(0));
        let f = Future::<u8>::new();
        let barrier = Arc::new(Barrier::new(4));
        let mut ts = Vec::new();
        for _ in 0..3 {
            let (f, c, b) = (f.clone(), count.clone(), barrier.clone());
            ts.push(thread::spawn(move || {
                b.wait();
                for _ in 0..10 {
                    let c = c.clone();
                    f.add_done_callback(move |_| {
                        c.fetch_add(1, Ordering::SeqCst);
                    });
                }
            }));
        }
        barrier.wait();
        f.set_result(0).unwrap();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(count.load(Ordering::SeqCst), 30);
    }
}

// ----- repr (scenario 9) -----

#[test]
fn test_repr() {
    assert_eq!(format!("{:?}", pending::<u64>()), "<Future state=pending>");
    assert_eq!(format!("{:?}", running::<u64>()), "<Future state=running>");
    assert_eq!(
        format!("{:?}", cancelled::<u64>()),
        "<Future state=cancelled>"
    );
    assert_eq!(
        format!("{:?}", cancelled_and_notified::<u64>()),
        "<Future state=cancelled>"
    );
    assert_eq!(
        format!("{:?}", raised::<u64>()),
        "<Future state=finished raised OsError>"
    );
    assert_eq!(
        format!("{:?}", succeeded()),
        "<Future state=finished returned u64>"
    );
    let f = Future::new();
    f.set_result(String::new()).unwrap();
    assert_eq!(format!("{f:?}"), "<Future state=finished returned String>");
    let p = Future::<()>::new();
    p.set_exception(Exception::from_panic(Box::new("x")))
        .unwrap();
    assert_eq!(format!("{p:?}"), "<Future state=finished raised panic>");
}

// ----- state queries (scenarios 10–13) -----

#[test]
fn test_cancel() {
    let f1 = pending::<u64>();
    let f2 = running::<u64>();
    let f3 = cancelled::<u64>();
    let f4 = cancelled_and_notified::<u64>();
    let f5 = raised::<u64>();
    let f6 = succeeded();

    assert!(f1.cancel());
    assert_eq!(f1.state(), State::Cancelled);
    assert!(!f2.cancel());
    assert_eq!(f2.state(), State::Running);
    assert!(f3.cancel());
    assert_eq!(f3.state(), State::Cancelled);
    assert!(f4.cancel());
    assert_eq!(f4.state(), State::Cancelled);
    assert!(!f5.cancel());
    assert_eq!(f5.state(), State::Finished);
    assert!(!f6.cancel());
    assert_eq!(f6.state(), State::Finished);
}

#[test]
fn test_cancelled() {
    assert!(!pending::<u8>().cancelled());
    assert!(!running::<u8>().cancelled());
    assert!(cancelled::<u8>().cancelled());
    assert!(cancelled_and_notified::<u8>().cancelled());
    assert!(!raised::<u8>().cancelled());
    assert!(!succeeded().cancelled());
}

#[test]
fn test_done() {
    assert!(!pending::<u8>().done());
    assert!(!running::<u8>().done());
    assert!(cancelled::<u8>().done());
    assert!(cancelled_and_notified::<u8>().done());
    assert!(raised::<u8>().done());
    assert!(succeeded().done());
}

#[test]
fn test_running() {
    assert!(!pending::<u8>().running());
    assert!(running::<u8>().running());
    assert!(!cancelled::<u8>().running());
    assert!(!cancelled_and_notified::<u8>().running());
    assert!(!raised::<u8>().running());
    assert!(!succeeded().running());
}

// ----- result and exception (scenarios 14–18) -----

#[test]
fn test_result_with_timeout() {
    assert!(matches!(
        pending::<u64>().result_timeout(ZERO),
        Err(Error::Timeout {
            unfinished: 1,
            total: 1
        })
    ));
    assert!(matches!(
        running::<u64>().result_timeout(ZERO),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        cancelled::<u64>().result_timeout(ZERO),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        cancelled_and_notified::<u64>().result_timeout(ZERO),
        Err(Error::Cancelled)
    ));
    match raised::<u64>().result_timeout(ZERO) {
        Err(Error::Exception(e)) => assert!(e.downcast_ref::<OsError>().is_some()),
        other => panic!("{other:?}"),
    }
    assert_eq!(*succeeded().result_timeout(ZERO).unwrap(), 42);
}

#[test]
fn test_result_with_success() {
    let f = Future::<u64>::new();
    let setter = f.clone();
    let t = thread::spawn(move || {
        until("the reader is blocked on the future", || {
            setter.has_waiters()
        });
        setter.set_result(42).unwrap();
    });
    assert_eq!(*f.result_timeout(LONG).unwrap(), 42);
    t.join().unwrap();
}

#[test]
fn test_result_with_cancel() {
    let f = Future::<u64>::new();
    let canceller = f.clone();
    let t = thread::spawn(move || {
        until("the reader is blocked on the future", || {
            canceller.has_waiters()
        });
        assert!(canceller.cancel());
    });
    assert!(matches!(f.result_timeout(LONG), Err(Error::Cancelled)));
    t.join().unwrap();
}

#[test]
fn test_exception_with_timeout() {
    assert!(matches!(
        pending::<u8>().exception_timeout(ZERO),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        running::<u8>().exception_timeout(ZERO),
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(
        cancelled::<u8>().exception_timeout(ZERO),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        cancelled_and_notified::<u8>().exception_timeout(ZERO),
        Err(Error::Cancelled)
    ));
    let e = raised::<u8>().exception_timeout(ZERO).unwrap().unwrap();
    assert!(e.downcast_ref::<OsError>().is_some());
    assert!(succeeded().exception_timeout(ZERO).unwrap().is_none());
}

#[test]
fn test_exception_with_success() {
    let f = Future::<u64>::new();
    let setter = f.clone();
    let t = thread::spawn(move || {
        until("the reader is blocked on the future", || {
            setter.has_waiters()
        });
        setter.set_exception(Exception::new(OsError)).unwrap();
    });
    let e = f.exception_timeout(LONG).unwrap().expect("an exception");
    assert!(e.downcast_ref::<OsError>().is_some());
    t.join().unwrap();
}

#[test]
fn result_returns_the_same_exception_object_every_time() {
    let f = raised::<u8>();
    let a = f.result().unwrap_err().exception().unwrap().clone();
    let b = f.exception().unwrap().unwrap();
    assert!(Exception::ptr_eq(&a, &b));
}

#[test]
fn a_timeout_that_expires_leaves_no_waiter_behind() {
    let f = Future::<u8>::new();
    assert!(matches!(
        f.result_timeout(Duration::from_millis(5)),
        Err(Error::Timeout { .. })
    ));
    assert!(!f.has_waiters(), "the timed-out waiter unlinked its node");
    f.set_result(1).unwrap();
    assert_eq!(*f.result().unwrap(), 1);
}

#[test]
fn huge_timeout_waits_like_no_timeout() {
    let f = Future::<u8>::new();
    let setter = f.clone();
    let t = thread::spawn(move || {
        until("blocked", || setter.has_waiters());
        setter.set_result(9).unwrap();
    });
    assert_eq!(*f.result_timeout(Duration::MAX).unwrap(), 9);
    t.join().unwrap();
}

#[test]
fn many_threads_blocked_on_one_future_all_wake() {
    let f = Future::<u64>::new();
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let f = f.clone();
            thread::spawn(move || *f.result().unwrap())
        })
        .collect();
    f.set_result(7).unwrap();
    for r in readers {
        assert_eq!(r.join().unwrap(), 7);
    }
    assert!(!f.has_waiters());
}

// ----- setting twice (scenarios 19–20) -----

#[test]
fn test_multiple_set_result() {
    let f = Future::new();
    f.set_result(1u64).unwrap();
    let err = f.set_result(2).unwrap_err();
    assert_eq!(err.state(), State::Finished);
    assert_eq!(
        err.to_string(),
        "FINISHED: <Future state=finished returned u64>"
    );
    assert!(f.done());
    assert_eq!(*f.result().unwrap(), 1);
}

#[test]
fn test_multiple_set_exception() {
    #[derive(Debug)]
    struct ValueError;
    impl std::fmt::Display for ValueError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("first")
        }
    }
    impl std::error::Error for ValueError {}
    let f = Future::<u8>::new();
    let e = Exception::new(ValueError);
    f.set_exception(e.clone()).unwrap();
    let err = f.set_exception(Exception::msg("other")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "FINISHED: <Future state=finished raised ValueError>"
    );
    assert!(Exception::ptr_eq(&f.exception().unwrap().unwrap(), &e));
}

#[test]
fn set_result_on_a_cancelled_future_is_refused_and_names_the_state() {
    let f = cancelled::<u8>();
    let err = f.set_result(1).unwrap_err();
    assert_eq!(err.to_string(), "CANCELLED: <Future state=cancelled>");
    assert!(f.cancelled());
}

#[test]
fn concurrent_setters_exactly_one_wins() {
    for _ in 0..200 {
        let f = Future::<usize>::new();
        let barrier = Arc::new(Barrier::new(4));
        let ts: Vec<_> = (0..4)
            .map(|i| {
                let (f, b) = (f.clone(), barrier.clone());
                thread::spawn(move || {
                    b.wait();
                    f.set_result(i).is_ok()
                })
            })
            .collect();
        let wins: Vec<bool> = ts.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(wins.iter().filter(|w| **w).count(), 1);
        let winner = wins.iter().position(|w| *w).unwrap();
        assert_eq!(*f.result().unwrap(), winner);
    }
}

// ----- set_running_or_notify_cancel -----

#[test]
fn set_running_or_notify_cancel_follows_cpython_table() {
    assert_eq!(pending::<u8>().set_running_or_notify_cancel(), Ok(true));
    let c = cancelled::<u8>();
    assert_eq!(c.set_running_or_notify_cancel(), Ok(false));
    // CANCELLED_AND_NOTIFIED, RUNNING and FINISHED: Python's RuntimeError.
    assert_eq!(
        c.set_running_or_notify_cancel().unwrap_err().state(),
        State::Cancelled
    );
    assert_eq!(
        running::<u8>()
            .set_running_or_notify_cancel()
            .unwrap_err()
            .state(),
        State::Running
    );
    let s = succeeded();
    assert_eq!(
        s.set_running_or_notify_cancel().unwrap_err().state(),
        State::Finished
    );
    assert_eq!(*s.result().unwrap(), 42, "state untouched");
}

#[test]
fn cancel_races_set_running_exactly_one_wins() {
    let (mut cancels, mut runs) = (0, 0);
    for _ in 0..500 {
        let f = Future::<u8>::new();
        let barrier = Arc::new(Barrier::new(2));
        let (g, b) = (f.clone(), barrier.clone());
        let t = thread::spawn(move || {
            b.wait();
            g.set_running_or_notify_cancel().unwrap()
        });
        barrier.wait();
        let cancelled = f.cancel();
        let ran = t.join().unwrap();
        assert_ne!(cancelled, ran, "exactly one of cancel and start wins");
        assert_eq!(
            f.state(),
            if ran {
                State::Running
            } else {
                State::Cancelled
            }
        );
        if ran { runs += 1 } else { cancels += 1 }
    }
    assert_eq!(cancels + runs, 500);
}
