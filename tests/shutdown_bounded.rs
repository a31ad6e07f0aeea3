//! A shutdown that is guaranteed to finish (issue #12, item 4; rayon #688 and #1242,
//! CPython #157215 ask for it): `shutdown_timeout` returns at its deadline naming the
//! workers still running, and a successful shutdown leaves no worker thread behind, its
//! thread-locals destroyed.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Executor, Future, SubmitError, ThreadPoolExecutor};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[test]
fn a_stuck_task_makes_the_shutdown_return_at_its_deadline_naming_its_thread() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("bounded")
        .build()
        .unwrap();
    let (stuck, release) = occupy_a_worker(&p);
    let t = Instant::now();
    let err = p
        .shutdown_timeout(false, Duration::from_millis(50))
        .unwrap_err();
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(err.running, 1, "{err}");
    assert_eq!(err.threads, vec!["bounded_0".to_owned()]);
    assert!(
        err.to_string()
            .contains("1 worker thread still running (bounded_0)"),
        "{err}"
    );
    assert!(
        matches!(p.submit(|| 1), Err(SubmitError::Shutdown)),
        "closed either way"
    );
    release.set();
    p.shutdown_timeout(false, LONG).unwrap();
    stuck.result().unwrap();
    assert_eq!(p.metrics().live_workers, 0);
}

#[test]
fn a_zero_timeout_only_checks_and_an_unstarted_pool_is_done_at_once() {
    let fresh = ThreadPoolExecutor::new(2).unwrap();
    fresh.shutdown_timeout(false, Duration::ZERO).unwrap();
    let p = ThreadPoolExecutor::new(1).unwrap();
    let (stuck, release) = occupy_a_worker(&p);
    assert_eq!(
        p.shutdown_timeout(false, Duration::ZERO)
            .unwrap_err()
            .running,
        1
    );
    release.set();
    stuck.result().unwrap();
    p.shutdown_timeout(false, Duration::MAX).unwrap();
}

#[test]
fn with_cancel_futures_the_queue_is_cancelled_and_only_the_running_task_is_waited_for() {
    let p = ThreadPoolExecutor::new(1).unwrap();
    let (stuck, release) = occupy_a_worker(&p);
    let queued: Vec<Future<u8>> = (0..5).map(|_| p.submit(|| 1).unwrap()).collect();
    assert_eq!(
        p.shutdown_timeout(true, Duration::from_millis(20))
            .unwrap_err()
            .running,
        1
    );
    assert!(queued.iter().all(Future::cancelled));
    release.set();
    p.shutdown_timeout(true, LONG).unwrap();
    stuck.result().unwrap();
}

thread_local! {
    static GUARD: Cell<Option<Counted>> = const { Cell::new(None) };
}

static DESTROYED: AtomicUsize = AtomicUsize::new(0);

struct Counted;
impl Drop for Counted {
    fn drop(&mut self) {
        DESTROYED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Every worker holds a thread-local with a `Drop`; once a shutdown succeeds, each has run.
/// (rayon cannot promise it: its threads may outlive the pool's handle.)
#[test]
fn after_a_successful_shutdown_every_workers_thread_locals_are_destroyed() {
    let pool = || {
        ThreadPoolExecutor::builder()
            .max_workers(3)
            .initializer(|| {
                GUARD.with(|g| g.set(Some(Counted)));
                Ok(())
            })
            .build()
            .unwrap()
    };
    let busy = |p: &ThreadPoolExecutor| {
        let (a, hold_a) = occupy_a_worker(p);
        let (b, hold_b) = occupy_a_worker(p);
        let (c, hold_c) = occupy_a_worker(p);
        for h in [hold_a, hold_b, hold_c] {
            h.set();
        }
        for f in [a, b, c] {
            f.result().unwrap();
        }
        assert_eq!(p.threads_started(), 3);
    };
    let before = DESTROYED.load(Ordering::SeqCst);
    let p = pool();
    busy(&p);
    p.shutdown(true, false);
    assert_eq!(
        DESTROYED.load(Ordering::SeqCst) - before,
        3,
        "shutdown(wait = true)"
    );
    let p = pool();
    busy(&p);
    p.shutdown_timeout(false, LONG).unwrap();
    assert_eq!(
        DESTROYED.load(Ordering::SeqCst) - before,
        6,
        "shutdown_timeout"
    );
}

/// On one of the pool's own threads the shutdown waits for the others, never itself.
#[test]
fn a_bounded_shutdown_from_a_pool_task_waits_only_for_the_other_workers() {
    let p = ThreadPoolExecutor::new(2).unwrap();
    let (stuck, release) = occupy_a_worker(&p);
    let q = p.clone();
    let outcome = p
        .submit(move || q.shutdown_timeout(false, Duration::from_millis(20)))
        .unwrap();
    let err = outcome.result().unwrap().clone().unwrap_err();
    assert_eq!(err.running, 1, "the stuck worker, not the caller: {err}");
    release.set();
    stuck.result().unwrap();
    p.shutdown_timeout(false, LONG).unwrap();
}
