//! Deadlines per task (issue #12, item 2): cancelled if not started by the deadline, asked
//! to stop if still running then; and a timed-out `map` that stops its running items,
//! where CPython's does not even cancel them (#95166).

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Error, Future, MapOptions, State, ThreadPoolExecutor};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(20);

/// Waits until the timer has run every action due up to `at`: actions run in deadline
/// order, so a later deadline's cancel having happened means the earlier ones have run.
fn timer_past(at: Instant) {
    let marker = Future::<()>::new();
    marker.cancel_at(at + Duration::from_millis(1));
    until("the timer reached the deadline", || marker.cancelled());
}

#[test]
fn a_task_not_started_by_its_deadline_is_cancelled_then() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let (blocker, hold) = occupy_a_worker(&p);
    let t = Instant::now();
    let late = p.submit_with_deadline(t + SHORT, |_| "ran").unwrap();
    assert!(matches!(late.result_timeout(LONG), Err(Error::Cancelled)));
    assert!(
        t.elapsed() >= SHORT,
        "cancelled at the deadline, not before"
    );
    assert_eq!(late.state(), State::Cancelled);
    hold.set();
    blocker.result().unwrap();
}

#[test]
fn a_task_still_running_at_its_deadline_is_asked_to_stop_and_ends_as_it_decides() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let t = Instant::now();
    let fut = p
        .submit_with_deadline(t + SHORT, |token| {
            while !token.is_requested() {
                std::thread::yield_now();
            }
            "stopped"
        })
        .unwrap();
    assert_eq!(*fut.result_timeout(LONG).unwrap(), "stopped");
    assert!(t.elapsed() >= SHORT);
    assert_eq!(fut.state(), State::Finished);
    assert!(fut.cancel_requested());
}

#[test]
fn a_task_that_ended_before_its_deadline_is_left_as_it_ended() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let at = Instant::now() + SHORT;
    let fut = p.submit_with_deadline(at, |_| 5).unwrap();
    assert_eq!(*fut.result().unwrap(), 5);
    timer_past(at);
    assert_eq!(fut.state(), State::Finished);
    assert!(
        !fut.cancel_requested(),
        "a finished task is not asked anything"
    );
}

#[test]
fn a_deadline_on_a_plain_future_cancels_it_if_nobody_set_it() {
    let f = Future::<u8>::new();
    f.cancel_after(SHORT);
    assert!(matches!(f.result_timeout(LONG), Err(Error::Cancelled)));
    let g = Future::<u8>::new();
    g.cancel_after(Duration::MAX); // too far for the clock: no deadline, no panic
    g.set_result(1).unwrap();
    assert_eq!(*g.result().unwrap(), 1);
}

/// CPython #95166: a timed-out `map` leaves its running items running. Ours asks them to
/// stop; cancellable ones do, so the pool is idle right after.
#[test]
fn a_timed_out_map_stops_its_running_cancellable_items() {
    let p = ThreadPoolExecutor::new(2).unwrap();
    let stopped = Arc::new(AtomicUsize::new(0));
    let s = stopped.clone();
    let slow = move |token: &concurrent_futures::CancelToken, _: u32| {
        while !token.is_requested() {
            std::thread::yield_now();
        }
        s.fetch_add(1, Ordering::SeqCst);
    };
    let options = MapOptions::default().timeout(SHORT);
    let mut it = p.map_cancellable(slow, 0..6, options).unwrap();
    assert!(matches!(it.next(), Some(Err(Error::Timeout { .. }))));
    assert!(it.next().is_none());
    drop(it);
    p.shutdown_timeout(false, LONG).unwrap();
    // A worker freed by the first request may start a queued item before the map reaches
    // it; that item is asked too. Every item either stopped on its request or never ran.
    let m = p.metrics();
    assert!(m.started >= 2, "{m}");
    assert_eq!(stopped.load(Ordering::SeqCst) as u64, m.started, "{m}");
    assert_eq!(m.started + m.cancelled, 6, "{m}");
}
