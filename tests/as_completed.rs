//! CPython's `test_as_completed.py` (CPYTHON.md §7, scenarios 32–36), plus the fixes: a
//! cancelled future is yielded at once (gh-87893), the deadline runs from the call.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Error, Future, Waitable, as_completed, as_completed_timeout};
use std::collections::HashSet;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn test_no_timeout() {
    let cnf = cancelled_and_notified::<u64>();
    let ef = raised::<u64>();
    let sf = succeeded();
    let f1 = pending::<u64>();
    let f2 = pending::<u64>();
    let all = [cnf.clone(), ef.clone(), sf.clone(), f1.clone(), f2.clone()];
    let producer = {
        let (f1, f2) = (f1.clone(), f2.clone());
        thread::spawn(move || {
            until("as_completed is linked", || {
                f1.has_waiters() && f2.has_waiters()
            });
            f1.set_result(1).unwrap();
            f2.set_result(2).unwrap();
        })
    };
    let got: HashSet<Future<u64>> = as_completed(&all).map(|f| f.unwrap().clone()).collect();
    assert_eq!(got, all.iter().cloned().collect());
    producer.join().unwrap();
}

#[test]
fn test_future_times_out() {
    for timeout in [Duration::ZERO, Duration::from_millis(100)] {
        let cnf = cancelled_and_notified::<u64>();
        let ef = raised::<u64>();
        let sf = succeeded();
        let slow = pending::<u64>();
        let mut yielded = HashSet::new();
        let mut it = as_completed_timeout([&cnf, &ef, &sf, &slow], timeout);
        let err = loop {
            match it.next().expect("ends with a timeout error") {
                Ok(f) => assert!(yielded.insert(f.clone())),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                err,
                Error::Timeout {
                    unfinished: 1,
                    total: 4
                }
            ),
            "{err:?}"
        );
        assert!(it.next().is_none(), "exhausted after the timeout");
        drop(it);
        assert_eq!(yielded, [cnf, ef, sf].into_iter().collect());
        assert!(!slow.has_waiters(), "the timeout unlinked the node");
    }
}

#[test]
fn test_duplicate_futures() {
    let f = pending::<u8>();
    let setter = f.clone();
    let t = thread::spawn(move || {
        until("linked", || setter.has_waiters());
        setter.set_result(1).unwrap();
    });
    // Same future three times, from a lazy iterator.
    let n = as_completed(std::iter::repeat_n(&f, 3)).count();
    assert_eq!(n, 1);
    t.join().unwrap();
}

#[test]
fn test_correct_timeout_exception_msg() {
    let cnf = cancelled_and_notified::<u64>();
    let pf = pending::<u64>();
    let rf = running::<u64>();
    let sf = succeeded();
    let err = as_completed_timeout([&cnf, &pf, &rf, &sf], Duration::ZERO)
        .find_map(|r| r.err())
        .expect("a timeout");
    assert!(
        err.to_string().contains("2 (of 4) futures unfinished"),
        "{err}"
    );
}

#[test]
fn yields_in_completion_order() {
    let futs: Vec<Future<usize>> = (0..50).map(|_| Future::new()).collect();
    let order: Vec<usize> = (0..50).rev().collect();
    let it = as_completed(&futs);
    let producer = {
        let futs = futs.clone();
        let order = order.clone();
        thread::spawn(move || {
            for i in order {
                futs[i].set_result(i).unwrap();
            }
        })
    };
    let got: Vec<usize> = it.map(|f| *f.unwrap().result().unwrap()).collect();
    assert_eq!(
        got, order,
        "completion order, since all were pending at creation"
    );
    producer.join().unwrap();
}

#[test]
fn cancel_is_yielded_at_once_gh_87893() {
    let f = pending::<u8>();
    let canceller = f.clone();
    let t = thread::spawn(move || {
        until("linked", || canceller.has_waiters());
        assert!(canceller.cancel());
    });
    let mut it = as_completed([&f]);
    let got = it.next().unwrap().unwrap();
    assert!(got.cancelled());
    assert!(it.next().is_none());
    t.join().unwrap();
}

#[test]
fn deadline_runs_from_the_call_not_the_first_next() {
    let p = pending::<u8>();
    let timeout = Duration::from_millis(500);
    let it = as_completed_timeout([&p], timeout);
    // Let the deadline pass before the first next(): it must fire at once. Were the deadline
    // counted from the first next() (as CPython's code does), next() would block 500 ms.
    let waited = Instant::now();
    while waited.elapsed() < timeout + Duration::from_millis(50) {
        thread::yield_now();
    }
    let start = Instant::now();
    let first = { it }.next().unwrap();
    assert!(matches!(first, Err(Error::Timeout { .. })));
    assert!(
        start.elapsed() < timeout * 4 / 5,
        "deadline counted from the call"
    );
}

#[test]
fn dropping_midway_unlinks_every_pending_node() {
    let futs: Vec<Future<u8>> = (0..10).map(|_| Future::new()).collect();
    futs[0].set_result(0).unwrap();
    {
        let mut it = as_completed(&futs);
        assert!(it.next().unwrap().is_ok());
        assert!(futs[1..].iter().all(|f| f.has_waiters()));
    }
    assert!(futs.iter().all(|f| !f.has_waiters()));
    // Completing them afterwards touches no freed node.
    for f in &futs[1..] {
        f.set_result(1).unwrap();
    }
}

#[test]
fn mixed_output_types_and_empty_input() {
    let a = succeeded();
    let b: Future<String> = Future::new();
    b.cancel();
    let fs: [&dyn Waitable; 2] = [&a, &b];
    assert_eq!(as_completed(fs).filter(|r| r.is_ok()).count(), 2);
    let none: [&Future<u8>; 0] = [];
    assert!(as_completed(none).next().is_none());
}

#[test]
fn many_producers_every_future_yielded_once() {
    let futs: Vec<Future<usize>> = (0..2000).map(|_| Future::new()).collect();
    let go = Arc::new(Event::default());
    let it = as_completed(&futs);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let mine: Vec<Future<usize>> = futs.iter().skip(w).step_by(4).cloned().collect();
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                for (i, f) in mine.iter().enumerate() {
                    if i % 5 == 0 {
                        f.cancel();
                    } else {
                        f.set_result(i).unwrap();
                    }
                }
            })
        })
        .collect();
    go.set();
    let mut seen = HashSet::new();
    for f in it {
        assert!(seen.insert(f.unwrap().clone()), "yielded twice");
    }
    assert_eq!(seen.len(), 2000);
    for w in workers {
        w.join().unwrap();
    }
}
