//! CPython's `test_wait.py` (CPYTHON.md §7, scenarios 23–30), with threads in place of
//! executor tasks, plus the fixes: a cancelled future is done for `wait` at once (gh-92001,
//! gh-109934).

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    DoneAndNotDone, Exception, Future, ReturnWhen, Waitable, wait, wait_timeout,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn ids<T>(fs: &[&Future<T>]) -> HashSet<Future<T>> {
    fs.iter().map(|f| (*f).clone()).collect()
}

fn set<T>(fs: &[&Future<T>]) -> HashSet<Future<T>> {
    ids(fs)
}

fn assert_partition<T>(
    r: &DoneAndNotDone<'_, Future<T>>,
    done: &[&Future<T>],
    not_done: &[&Future<T>],
) {
    assert_eq!(ids(&r.done), set(done), "done");
    assert_eq!(ids(&r.not_done), set(not_done), "not_done");
}

/// A "task": a future a thread finishes once `go` is set, with `f`'s outcome.
fn task<T: Send + Sync + 'static>(
    go: Arc<Event>,
    f: impl FnOnce() -> Result<T, Exception> + Send + 'static,
) -> (Future<T>, thread::JoinHandle<()>) {
    let fut = Future::new();
    let g = fut.clone();
    let t = thread::spawn(move || {
        go.wait();
        assert!(g.set_running_or_notify_cancel().unwrap());
        match f() {
            Ok(v) => g.set_result(v).unwrap(),
            Err(e) => g.set_exception(e).unwrap(),
        }
    });
    (fut, t)
}

#[test]
fn test_20369() {
    let go = Arc::new(Event::default());
    let (f, t) = task(go.clone(), || Ok(1u8));
    go.set();
    let r = wait([&f, &f], ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 1);
    assert_partition(&r, &[&f], &[]);
    t.join().unwrap();
}

#[test]
fn test_first_completed() {
    // CPython: [CF, quick f1, blocked f2] → done={f1}, not_done={CF, f2}, because a cancelled
    // but not notified future is not done for wait (gh-92001). Here it is done at once, so
    // wait returns immediately with it.
    let cf = cancelled::<u64>();
    let blocked = pending::<u64>();
    let go = Arc::new(Event::default());
    let (f1, t) = task(go.clone(), || Ok(21u64 * 2));
    let r = wait([&cf, &f1, &blocked], ReturnWhen::FirstCompleted);
    assert_partition(&r, &[&cf], &[&f1, &blocked]);
    go.set();
    t.join().unwrap();

    // Without the cancelled one, CPython's expectation holds as written.
    let go = Arc::new(Event::default());
    let (f1, t) = task(go.clone(), || Ok(1u64));
    let waiter = {
        let (f1, blocked) = (f1.clone(), blocked.clone());
        thread::spawn(move || {
            let r = wait([&f1, &blocked], ReturnWhen::FirstCompleted);
            (ids(&r.done), ids(&r.not_done))
        })
    };
    until("wait is blocked", || {
        f1.has_waiters() && blocked.has_waiters()
    });
    go.set();
    let (done, not_done) = waiter.join().unwrap();
    assert_eq!(done, set(&[&f1]));
    assert_eq!(not_done, set(&[&blocked]));
    assert!(
        !blocked.has_waiters(),
        "wait unlinked its node from the still-pending future"
    );
    t.join().unwrap();
}

#[test]
fn test_first_completed_some_already_completed() {
    let cnf = cancelled_and_notified::<u64>();
    let sf = succeeded();
    let blocked = pending::<u64>();
    let r = wait([&cnf, &sf, &blocked], ReturnWhen::FirstCompleted);
    assert_partition(&r, &[&cnf, &sf], &[&blocked]);
}

#[test]
fn test_first_exception() {
    let go1 = Arc::new(Event::default());
    let go2 = Arc::new(Event::default());
    let (f1, t1) = task(go1.clone(), || Ok(42u64));
    let (f2, t2) = task(go2.clone(), || Err(Exception::msg("raised after f1")));
    let f3 = pending::<u64>();
    let waiter = {
        let (f1, f2, f3) = (f1.clone(), f2.clone(), f3.clone());
        thread::spawn(move || {
            let r = wait([&f1, &f2, &f3], ReturnWhen::FirstException);
            (ids(&r.done), ids(&r.not_done))
        })
    };
    until("wait is blocked", || f1.has_waiters() && f3.has_waiters());
    go1.set();
    t1.join().unwrap();
    go2.set();
    let (done, not_done) = waiter.join().unwrap();
    assert_eq!(done, set(&[&f1, &f2]));
    assert_eq!(not_done, set(&[&f3]));
    t2.join().unwrap();
}

#[test]
fn test_first_exception_some_already_complete() {
    // CPython: [SF, CF, CNF, f1 raising, blocked] → done={SF, CNF, f1}, not_done={CF, blocked}.
    // Here CF is done too (rule 4).
    let sf = succeeded();
    let cf = cancelled::<u64>();
    let cnf = cancelled_and_notified::<u64>();
    let go = Arc::new(Event::default());
    let (f1, t) = task(go.clone(), || Err(Exception::msg("ZeroDivisionError")));
    let blocked = pending::<u64>();
    let waiter = {
        let fs = [
            sf.clone(),
            cf.clone(),
            cnf.clone(),
            f1.clone(),
            blocked.clone(),
        ];
        thread::spawn(move || {
            let r = wait(&fs, ReturnWhen::FirstException);
            (ids(&r.done), ids(&r.not_done))
        })
    };
    until("wait is blocked", || f1.has_waiters());
    go.set();
    let (done, not_done) = waiter.join().unwrap();
    assert_eq!(done, set(&[&sf, &cf, &cnf, &f1]));
    assert_eq!(not_done, set(&[&blocked]));
    t.join().unwrap();
}

#[test]
fn test_first_exception_one_already_failed() {
    let ef = raised::<u64>();
    let blocked = pending::<u64>();
    let r = wait([&ef, &blocked], ReturnWhen::FirstException);
    assert_partition(&r, &[&ef], &[&blocked]);
}

#[test]
fn first_exception_without_any_exception_waits_for_all() {
    let gos: Vec<Arc<Event>> = (0..4).map(|_| Arc::new(Event::default())).collect();
    let tasks: Vec<_> = gos.iter().map(|g| task(g.clone(), || Ok(1u8))).collect();
    let futs: Vec<Future<u8>> = tasks.iter().map(|(f, _)| f.clone()).collect();
    let waiter = {
        let futs = futs.clone();
        thread::spawn(move || wait(&futs, ReturnWhen::FirstException).done.len())
    };
    until("wait is blocked", || futs.iter().all(|f| f.has_waiters()));
    for g in &gos {
        g.set();
    }
    assert_eq!(waiter.join().unwrap(), 4);
    for (_, t) in tasks {
        t.join().unwrap();
    }
}

#[test]
fn first_exception_is_not_triggered_by_a_cancel() {
    let a = pending::<u8>();
    let b = pending::<u8>();
    let waiter = {
        let (a, b) = (a.clone(), b.clone());
        thread::spawn(move || {
            let r = wait([&a, &b], ReturnWhen::FirstException);
            (r.done.len(), r.not_done.len())
        })
    };
    until("wait is blocked", || a.has_waiters() && b.has_waiters());
    assert!(a.cancel());
    // Still waiting: a cancel is done but is no exception. Finishing b ends it.
    assert!(b.has_waiters());
    b.set_result(1).unwrap();
    assert_eq!(waiter.join().unwrap(), (2, 0));
}

#[test]
fn test_all_completed() {
    let sf = succeeded();
    let cnf = cancelled_and_notified::<u64>();
    let ef = raised::<u64>();
    let go = Arc::new(Event::default());
    let (raiser, t1) = task(go.clone(), || Err(Exception::msg("boom")));
    let (ok, t2) = task(go.clone(), || Ok(1u64));
    go.set();
    let r = wait([&sf, &cnf, &ef, &raiser, &ok], ReturnWhen::AllCompleted);
    assert_partition(&r, &[&sf, &cnf, &ef, &raiser, &ok], &[]);
    t1.join().unwrap();
    t2.join().unwrap();
}

#[test]
fn test_timeout() {
    let cnf = cancelled_and_notified::<u64>();
    let ef = raised::<u64>();
    let sf = succeeded();
    let blocked = pending::<u64>();
    let start = Instant::now();
    let r = wait_timeout(
        [&cnf, &ef, &sf, &blocked],
        ReturnWhen::AllCompleted,
        Duration::from_millis(50),
    );
    assert!(
        start.elapsed() >= Duration::from_millis(50),
        "returned before the timeout"
    );
    assert_partition(&r, &[&cnf, &ef, &sf], &[&blocked]);
    assert!(!blocked.has_waiters(), "timed-out wait unlinked its node");
}

#[test]
fn zero_timeout_never_blocks_and_links_nothing() {
    let p = pending::<u8>();
    let r = wait_timeout([&p], ReturnWhen::AllCompleted, Duration::ZERO);
    assert_eq!(r.not_done.len(), 1);
    assert!(!p.has_waiters());
}

#[test]
fn empty_input_returns_at_once() {
    let none: [&Future<u8>; 0] = [];
    let r = wait(none, ReturnWhen::AllCompleted);
    assert!(r.done.is_empty() && r.not_done.is_empty());
    let r = wait(none, ReturnWhen::FirstCompleted);
    assert!(r.done.is_empty() && r.not_done.is_empty());
}

#[test]
fn cancel_wakes_a_blocked_wait_gh_92001() {
    for mode in [
        ReturnWhen::FirstCompleted,
        ReturnWhen::AllCompleted,
        ReturnWhen::FirstException,
    ] {
        let f = pending::<u8>();
        let waiter = {
            let f = f.clone();
            thread::spawn(move || wait([&f], mode).done.len())
        };
        until("wait is blocked", || f.has_waiters());
        assert!(f.cancel());
        assert_eq!(waiter.join().unwrap(), 1, "{mode:?}");
    }
}

#[test]
fn futures_of_different_types_together() {
    let a = pending::<u8>();
    let b: Future<String> = Future::new();
    let c: Future<Vec<u64>> = Future::new();
    let waiter = {
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        thread::spawn(move || {
            let fs: [&dyn Waitable; 3] = [&a, &b, &c];
            let r = wait(fs, ReturnWhen::AllCompleted);
            (r.done.len(), r.not_done.len())
        })
    };
    until("wait is blocked", || {
        a.has_waiters() && b.has_waiters() && c.has_waiters()
    });
    a.set_result(1).unwrap();
    b.set_result("b".into()).unwrap();
    c.cancel();
    assert_eq!(waiter.join().unwrap(), (3, 0));
}

#[test]
fn many_duplicates_are_reported_once() {
    let futs: Vec<Future<u32>> = (0..100).map(|_| Future::new()).collect();
    for f in &futs[..50] {
        f.set_result(1).unwrap();
    }
    // Every future four times, interleaved: the hashed dedup path (over 16 inputs).
    let refs: Vec<&Future<u32>> = (0..4).flat_map(|_| futs.iter()).collect();
    let r = wait_timeout(refs, ReturnWhen::AllCompleted, Duration::ZERO);
    assert_eq!(r.done.len(), 50);
    assert_eq!(r.not_done.len(), 50);
    // Input order is kept.
    assert!(r.done.iter().zip(&futs[..50]).all(|(a, b)| *a == b));
}

#[test]
fn all_completed_over_many_futures_finished_by_several_threads() {
    let futs: Vec<Future<usize>> = (0..1000).map(|_| Future::new()).collect();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let mine: Vec<Future<usize>> = futs.iter().skip(w).step_by(4).cloned().collect();
            thread::spawn(move || {
                for (i, f) in mine.iter().enumerate() {
                    if i % 7 == 0 {
                        f.cancel();
                    } else {
                        f.set_result(i).unwrap();
                    }
                }
            })
        })
        .collect();
    let r = wait(&futs, ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 1000);
    // Joined first: a completer clears a future's waiter bit when it unlocks its list, which
    // may be just after the wait saw the last completion.
    for w in workers {
        w.join().unwrap();
    }
    assert!(futs.iter().all(|f| !f.has_waiters()));
}

#[test]
fn first_completed_drain_loop_finishes_every_future() {
    // The quadratic pattern the docs steer away from; it must still be correct.
    let futs: Vec<Future<usize>> = (0..200).map(|_| Future::new()).collect();
    let producer = {
        let futs = futs.clone();
        thread::spawn(move || {
            for (i, f) in futs.iter().enumerate() {
                f.set_result(i).unwrap();
            }
        })
    };
    let mut pending: Vec<&Future<usize>> = futs.iter().collect();
    let mut seen = 0;
    while !pending.is_empty() {
        let r = wait(pending, ReturnWhen::FirstCompleted);
        assert!(!r.done.is_empty());
        seen += r.done.len();
        pending = r.not_done;
    }
    assert_eq!(seen, 200);
    producer.join().unwrap();
}
