//! The thread pool's metrics (issue #12, item 5; tokio #4114 asks for metrics on stable):
//! every task is counted once, by how it ended, and the gauges read the pool's state.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Executor, Future, PoolMetrics, ThreadPoolExecutor};

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::new(n).unwrap()
}

fn ended(m: &PoolMetrics) -> u64 {
    m.completed + m.failed + m.panicked + m.cancelled
}

#[test]
fn every_task_is_counted_once_by_how_it_ended() {
    let p = pool(1);
    let (blocker, hold) = occupy_a_worker(&p);
    let ok: Vec<Future<u32>> = (0..5).map(|i| p.submit(move || i).unwrap()).collect();
    let err: Vec<_> = (0..3)
        .map(|_| p.submit_fallible(|| "x".parse::<u8>()).unwrap())
        .collect();
    let boom: Vec<Future<()>> = (0..2)
        .map(|_| p.submit(|| panic!("counted")).unwrap())
        .collect();
    let doomed: Vec<Future<u8>> = (0..4).map(|_| p.submit(|| 0).unwrap()).collect();
    for d in &doomed {
        assert!(d.cancel(), "still queued behind the blocker");
    }
    let m = p.metrics();
    assert_eq!(m.submitted, 15);
    assert_eq!(m.started, 1, "only the blocker has begun");
    assert_eq!(m.queued, 14);
    assert_eq!((m.busy_workers, m.idle_workers, m.live_workers), (1, 0, 1));
    hold.set();
    blocker.result().unwrap();
    for f in &ok {
        f.result().unwrap();
    }
    for f in &err {
        f.exception().unwrap().unwrap();
    }
    for f in &boom {
        f.exception().unwrap().unwrap();
    }
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!(m.submitted, 15);
    assert_eq!(m.started, 11, "every task but the cancelled ones began");
    assert_eq!(m.completed, 6, "five values and the blocker");
    assert_eq!((m.failed, m.panicked, m.cancelled), (3, 2, 4));
    assert_eq!(ended(&m), m.submitted);
    assert_eq!((m.queued, m.live_workers, m.busy_workers), (0, 0, 0));
}

#[test]
fn shutdown_with_cancel_futures_counts_the_drained_tasks_as_cancelled() {
    let p = pool(1);
    let (blocker, hold) = occupy_a_worker(&p);
    let queued: Vec<Future<u8>> = (0..6).map(|_| p.submit(|| 1).unwrap()).collect();
    queued[0].cancel(); // cancelled before the drain: counted once, not twice
    let q = p.clone();
    let shut = std::thread::spawn(move || q.shutdown(true, true));
    until("the queue is drained", || p.metrics().queued == 0);
    hold.set();
    shut.join().unwrap();
    blocker.result().unwrap();
    assert!(queued.iter().all(Future::cancelled));
    let m = p.metrics();
    assert_eq!((m.submitted, m.completed, m.cancelled), (7, 1, 6));
    assert_eq!(ended(&m), m.submitted);
}

#[test]
fn a_broken_pools_failed_tasks_are_counted_as_failed() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| Err("no database".into()))
        .build()
        .unwrap();
    let futs: Vec<Future<u8>> = (0..3).filter_map(|_| p.submit(|| 1).ok()).collect();
    assert!(
        !futs.is_empty(),
        "the first submit, which starts the worker, is accepted"
    );
    for f in &futs {
        f.exception().unwrap().unwrap();
    }
    // A drained task is counted just after it is failed: the shutdown makes the counts
    // exact.
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!(m.submitted, futs.len() as u64);
    assert_eq!((m.started, m.failed), (0, futs.len() as u64));
}

/// A task that waits on a queued task of its own pool runs it inline (pool rule 3): that run
/// is counted too, once.
#[test]
fn a_task_run_inline_by_its_waiting_pool_thread_is_counted_once() {
    let p = pool(1);
    let q = p.clone();
    let outer = p
        .submit(move || {
            let inner = q.submit(|| 21).unwrap();
            *inner.result().unwrap() * 2
        })
        .unwrap();
    assert_eq!(*outer.result().unwrap(), 42);
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!((m.submitted, m.started, m.completed), (2, 2, 2));
}

#[test]
fn map_and_every_submit_form_count_as_submits() {
    let p = pool(2);
    let squares: Vec<u64> = p
        .map(|x: u64| x * x, 0..10u64)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(squares[9], 81);
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!(m.submitted, 10);
    assert_eq!(m.completed, 10);
}

#[test]
fn with_metrics_off_the_task_counts_stay_zero_and_the_gauges_still_read() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(1)
        .metrics(false)
        .build()
        .unwrap();
    let (blocker, hold) = occupy_a_worker(&p);
    let queued = p.submit(|| 1).unwrap();
    let m = p.metrics();
    assert_eq!((m.submitted, m.started, m.completed), (0, 0, 0));
    assert_eq!((m.queued, m.busy_workers), (1, 1));
    hold.set();
    blocker.result().unwrap();
    queued.result().unwrap();
}

#[test]
fn the_pools_debug_and_display_show_the_counts() {
    let p = pool(1);
    p.submit(|| 1).unwrap().result().unwrap();
    let debug = format!("{p:?}");
    assert!(
        debug.contains("submitted: 1") && debug.contains("completed: 1"),
        "{debug}"
    );
    let line = p.metrics().to_string();
    assert!(
        line.contains("submitted 1") && line.contains("completed 1"),
        "{line}"
    );
}

#[test]
fn timing_histograms_count_every_task_and_time_its_wait_and_run() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(1)
        .timing_histograms(true)
        .build()
        .unwrap();
    let (blocker, hold) = occupy_a_worker(&p);
    let waited = p.submit(|| ()).unwrap();
    let boom = p.submit(|| -> () { panic!("timed too") }).unwrap();
    // The blocker runs until the test has seen the others queued: they waited.
    assert_eq!(p.metrics().queued, 2);
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_millis(2) {
        std::hint::spin_loop();
    }
    hold.set();
    blocker.result().unwrap();
    waited.result().unwrap();
    boom.exception().unwrap();
    p.shutdown(true, false);
    let m = p.metrics();
    let (wait, run) = (m.queue_wait.unwrap(), m.run_time.unwrap());
    assert_eq!(
        (wait.count(), run.count()),
        (3, 3),
        "the panicking task is timed too"
    );
    assert!(
        wait.quantile(1.0) >= std::time::Duration::from_millis(1),
        "the queued tasks waited at least the blocker's 2 ms: {wait:?}"
    );
    assert!(
        run.quantile(1.0) >= std::time::Duration::from_millis(1),
        "the blocker ran ≥ 2 ms"
    );
    assert!(pool_without_histograms_has_none());
}

fn pool_without_histograms_has_none() -> bool {
    let m = pool(1).metrics();
    m.queue_wait.is_none() && m.run_time.is_none()
}
