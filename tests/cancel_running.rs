//! Cooperative cancellation of running tasks (issue #12, item 1; tokio #4811 and rayon
//! #1014 ask for it): `request_cancel` reaches a running task through its `CancelToken`,
//! while `cancel` keeps Python's answer.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Exception, Executor, Future, State, ThreadPoolExecutor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cancellable task that reports it started, then works until asked to stop, and returns
/// how many rounds it did.
fn spinning_until_asked(p: &ThreadPoolExecutor) -> Future<u64> {
    let started = Arc::new(Event::default());
    let s = started.clone();
    let fut = p
        .submit_cancellable(move |token| {
            s.set();
            let mut rounds = 0;
            while !token.is_requested() {
                rounds += 1;
                std::thread::yield_now();
            }
            rounds
        })
        .unwrap();
    started.wait();
    fut
}

#[test]
fn a_running_task_stops_on_request_and_its_future_finishes_as_the_task_decides() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let fut = spinning_until_asked(&p);
    assert_eq!(fut.state(), State::Running);
    assert!(!fut.cancel(), "Python's cancel() refuses a running task");
    assert!(!fut.cancel_requested());
    assert!(fut.request_cancel());
    assert!(
        fut.request_cancel(),
        "asking twice is still true while it runs"
    );
    fut.result_timeout(LONG).unwrap();
    assert_eq!(fut.state(), State::Finished, "never CANCELLED once started");
    assert!(fut.cancel_requested() && !fut.cancelled());
    assert!(!fut.request_cancel(), "finished: nothing to ask");
}

#[test]
fn a_request_on_a_pending_task_cancels_it_and_its_closure_never_runs() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let (blocker, hold) = occupy_a_worker(&p);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let queued = p
        .submit_cancellable(move |_| r.store(true, Ordering::SeqCst))
        .unwrap();
    assert!(queued.request_cancel());
    assert!(queued.cancelled());
    assert!(!queued.request_cancel(), "cancelled: nothing to ask");
    hold.set();
    blocker.result().unwrap();
    p.shutdown(true, false);
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn check_ends_a_fallible_task_with_an_exception_that_says_why() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let started = Arc::new(Event::default());
    let s = started.clone();
    let fut = p
        .submit_cancellable(move |token| -> Result<u32, Exception> {
            s.set();
            loop {
                token.check()?;
                std::thread::yield_now();
            }
        })
        .unwrap();
    started.wait();
    fut.request_cancel();
    let e = fut.result_timeout(LONG).unwrap().clone().unwrap_err();
    assert!(e.to_string().contains("a cancel was requested"), "{e}");
}

#[test]
fn a_task_that_never_looks_at_its_token_runs_to_its_end() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let (plain, hold) = occupy_a_worker(&p); // a plain submit, running
    assert!(plain.request_cancel(), "running: the request is recorded");
    hold.set();
    plain.result_timeout(LONG).unwrap();
    assert_eq!(plain.state(), State::Finished);
    assert!(plain.cancel_requested());
}

/// The token is `Sync`: a task can hand it to threads it scopes.
#[test]
fn the_token_can_be_shared_with_threads_the_task_scopes() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let started = Arc::new(Event::default());
    let s = started.clone();
    let fut = p
        .submit_cancellable(move |token| {
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(|| {
                            while !token.is_requested() {
                                std::thread::yield_now();
                            }
                            1u32
                        })
                    })
                    .collect();
                s.set();
                helpers.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
            })
        })
        .unwrap();
    started.wait();
    assert!(fut.request_cancel());
    assert_eq!(*fut.result_timeout(LONG).unwrap(), 2);
}

/// A cancellable task a pool thread runs inline (waiting on it, pool rule 3) gets a token
/// that works as the worker's would.
#[test]
fn a_cancellable_task_run_inline_reads_its_token() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let q = p.clone();
    let outer = p
        .submit(move || {
            let inner = q.submit_cancellable(|token| token.is_requested()).unwrap();
            *inner.result().unwrap()
        })
        .unwrap();
    assert!(
        !*outer.result().unwrap(),
        "nobody asked the inline run to stop"
    );
}

concurrent_futures::task! {
    /// Waits for a request (at most `LONG`), then reports what `check_cancel` said.
    fn wait_then_check(_unit: ()) -> String {
        let until = std::time::Instant::now() + LONG;
        while !concurrent_futures::cancel_requested() && std::time::Instant::now() < until {
            std::thread::yield_now();
        }
        match concurrent_futures::check_cancel() {
            Ok(()) => "not asked".to_owned(),
            Err(e) => e.to_string(),
        }
    }
}

/// A named task reads its own request through `cancel_requested()` / `check_cancel()`,
/// with no token in hand, on a thread pool as in a worker process; outside a task both say
/// "nobody asked".
#[test]
fn a_named_task_reads_its_request_through_cancel_requested_and_check_cancel() {
    assert!(!concurrent_futures::cancel_requested());
    assert!(concurrent_futures::check_cancel().is_ok());
    let p = ThreadPoolExecutor::new(1).unwrap();
    let f = p.submit_task(wait_then_check, ()).unwrap();
    while !f.running() {
        std::thread::yield_now();
    }
    assert!(f.request_cancel());
    let said = f.result_timeout(LONG).unwrap();
    assert!(said.contains("a cancel was requested"), "{said}");
}

/// The request a task reads is its own: once an asked task has ended, a plain task on the
/// same worker thread reads `false` (the thread-local is restored), and so does a task
/// that was never asked.
#[test]
fn cancel_requested_is_restored_when_the_task_that_was_asked_ends() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let asked = spinning_until_asked(&p);
    assert!(asked.request_cancel());
    asked.result_timeout(LONG).unwrap();
    // `asked` stays alive: a stale thread-local would still read its set bit.
    let after = p.submit(concurrent_futures::cancel_requested).unwrap();
    assert!(!*after.result_timeout(LONG).unwrap());
    let unasked = p
        .submit_cancellable(|_| concurrent_futures::cancel_requested())
        .unwrap();
    assert!(!*unasked.result_timeout(LONG).unwrap());
    assert!(asked.cancel_requested());
}

/// A token's `Debug` says whether it was asked.
#[test]
fn a_tokens_debug_says_whether_it_was_asked() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let f = p.submit_cancellable(|t| format!("{t:?}")).unwrap();
    assert_eq!(
        *f.result_timeout(LONG).unwrap(),
        "CancelToken { requested: false }"
    );
}
