//! The thread pool's fixes of CPython's behaviour and bugs, one test each (docs/api.md lists
//! the differences).

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    Executor, Future, ReturnWhen, State, SubmitError, ThreadPoolExecutor, as_completed, wait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::new(n).unwrap()
}

// ----- the fixes -----

#[test]
fn a_panicking_task_fails_only_its_future_and_the_worker_lives_on() {
    let p = pool(1);
    let bad = p.submit(|| -> u8 { panic!("task blew up") }).unwrap();
    let good = p.submit(|| thread::current().id()).unwrap();
    let e = bad.exception().unwrap().unwrap();
    assert!(e.is_panic() && e.panic_message() == Some("task blew up"));
    good.result().unwrap();
    assert_eq!(p.threads_started(), 1, "the same worker ran the next task");
}

#[test]
fn submit_fallible_err_fires_first_exception() {
    let p = pool(2);
    let release = Arc::new(Event::default());
    let r = release.clone();
    let slow = p.submit(move || r.wait()).unwrap();
    let failing = p.submit_fallible(|| Err::<(), _>("bad input")).unwrap();
    let s = slow.clone();
    let res = wait([&slow, &failing], ReturnWhen::FirstException);
    assert_eq!(res.done, [&failing]);
    assert_eq!(res.not_done, [&s]);
    assert_eq!(
        failing.exception().unwrap().unwrap().to_string(),
        "bad input"
    );
    release.set();
}

#[test]
fn nested_wait_on_a_one_worker_pool_does_not_deadlock() {
    // CPython hangs: the only worker waits for a task queued behind itself.
    let p = Arc::new(pool(1));
    let inner = p.clone();
    let outer = p
        .submit(move || {
            let child = inner.submit(|| 41u32).unwrap();
            *child.result().unwrap() + 1
        })
        .unwrap();
    assert_eq!(*outer.result_timeout(LONG).unwrap(), 42);
}

#[test]
fn nested_wait_and_as_completed_run_own_tasks_inline() {
    let p = Arc::new(pool(1));
    let inner = p.clone();
    let outer = p
        .submit(move || {
            let kids: Vec<Future<u32>> = (0..5).map(|i| inner.submit(move || i).unwrap()).collect();
            let all = wait(&kids, ReturnWhen::AllCompleted).done.len() as u32;
            let more: Vec<Future<u32>> = (0..5)
                .map(|i| inner.submit(move || i * 10).unwrap())
                .collect();
            let sum: u32 = as_completed(&more)
                .map(|f| *f.unwrap().result().unwrap())
                .sum();
            all + sum
        })
        .unwrap();
    assert_eq!(*outer.result_timeout(LONG).unwrap(), 5 + 100);
}

#[test]
fn shutdown_wait_from_a_pool_task_does_not_deadlock() {
    let p = Arc::new(pool(2));
    let inner = p.clone();
    let f = p
        .submit(move || {
            inner.shutdown(true, false);
            "shut down from inside"
        })
        .unwrap();
    assert_eq!(*f.result_timeout(LONG).unwrap(), "shut down from inside");
    assert!(matches!(p.submit(|| ""), Err(SubmitError::Shutdown)));
}

#[test]
fn dropping_the_last_handle_on_a_worker_does_not_join_itself() {
    let p = pool(1);
    let handle = p.clone();
    let done = Arc::new(Event::default());
    let d = done.clone();
    let f = p
        .submit(move || {
            // Wait until the test dropped its handle: then this one is the last.
            d.wait();
            drop(handle);
            7u8
        })
        .unwrap();
    drop(p);
    done.set();
    assert_eq!(*f.result_timeout(LONG).unwrap(), 7);
}

#[test]
fn public_setters_refuse_a_pool_future() {
    let p = pool(1);
    let release = Arc::new(Event::default());
    let r = release.clone();
    let blocker = p.submit(move || r.wait()).unwrap();
    let queued = p.submit(|| 1u8).unwrap();
    let e = queued.set_result(9).unwrap_err();
    assert!(e.to_string().contains("belongs to an executor"), "{e}");
    assert!(queued.set_running_or_notify_cancel().is_err());
    release.set();
    blocker.result().unwrap();
    assert_eq!(*queued.result().unwrap(), 1, "the pool's outcome stands");
}

#[test]
fn into_result_on_a_pool_future_moves_the_value() {
    let p = pool(2);
    let f = p.submit(|| vec![1u8; 1000]).unwrap();
    assert_eq!(f.into_result().unwrap().len(), 1000);
}

#[test]
fn many_submitters_and_cancellers_lose_nothing() {
    let p = Arc::new(pool(4));
    let ran = Arc::new(AtomicUsize::new(0));
    let submitters: Vec<_> = (0..4)
        .map(|_| {
            let (p, ran) = (p.clone(), ran.clone());
            thread::spawn(move || {
                let mut futs = Vec::new();
                for i in 0..2000u32 {
                    let r = ran.clone();
                    let f = p
                        .submit(move || {
                            r.fetch_add(1, Ordering::SeqCst);
                            i
                        })
                        .unwrap();
                    if i % 3 == 0 {
                        f.cancel();
                    }
                    futs.push(f);
                }
                futs
            })
        })
        .collect();
    let futs: Vec<Future<u32>> = submitters
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let r = wait(&futs, ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 8000);
    let finished = futs.iter().filter(|f| f.state() == State::Finished).count();
    let cancelled = futs.iter().filter(|f| f.cancelled()).count();
    assert_eq!(finished + cancelled, 8000);
    assert_eq!(
        ran.load(Ordering::SeqCst),
        finished,
        "every finished task ran exactly once"
    );
}

/// Counts drops of the closure that captures it.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_closure_is_dropped_exactly_once_on_every_path() {
    let drops = Arc::new(AtomicUsize::new(0));
    let capture = || DropCount(drops.clone());
    let mut expected = 0;

    // Ran by a worker.
    let p = pool(1);
    let c = capture();
    p.submit(move || drop(c)).unwrap().result().unwrap();
    expected += 1;
    assert_eq!(drops.load(Ordering::SeqCst), expected, "ran");

    // Cancelled in the queue (behind a blocker), then popped by the worker.
    let release = Arc::new(Event::default());
    let r = release.clone();
    let blocker = p.submit(move || r.wait()).unwrap();
    let c = capture();
    let f = p.submit(move || drop(c)).unwrap();
    assert!(f.cancel());
    // A user marks it notified, too: the worker must still drop the closure.
    assert_eq!(f.set_running_or_notify_cancel(), Ok(false));
    let c = capture();
    let g = p.submit(move || drop(c)).unwrap();
    assert!(g.cancel());
    release.set();
    blocker.result().unwrap();
    p.shutdown(true, false);
    expected += 2;
    assert_eq!(drops.load(Ordering::SeqCst), expected, "cancelled, popped");

    // Cancelled by shutdown(cancel_futures).
    let p = pool(1);
    let release = Arc::new(Event::default());
    let r = release.clone();
    let blocker = p.submit(move || r.wait()).unwrap();
    until("the blocker runs", || blocker.running());
    let queued: Vec<Future<()>> = (0..5)
        .map(|_| {
            let c = capture();
            p.submit(move || drop(c)).unwrap()
        })
        .collect();
    p.shutdown(false, true);
    release.set();
    blocker.result().unwrap();
    p.shutdown(true, false);
    assert!(queued.iter().all(|f| f.cancelled()));
    expected += 5;
    assert_eq!(drops.load(Ordering::SeqCst), expected, "cancel_futures");

    // Failed by a broken pool.
    let go = Arc::new(Event::default());
    let g2 = go.clone();
    let p = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(move || {
            g2.wait();
            Err("no".into())
        })
        .build()
        .unwrap();
    let failed: Vec<Future<()>> = (0..4)
        .map(|_| {
            let c = capture();
            p.submit(move || drop(c)).unwrap()
        })
        .collect();
    go.set();
    assert_eq!(wait(&failed, ReturnWhen::AllCompleted).done.len(), 4);
    // A drain drops the closures in its second phase, after the futures are done (pool
    // rule 5): by the time the breaking worker has exited, they are gone.
    drop(p);
    expected += 4;
    assert_eq!(drops.load(Ordering::SeqCst), expected, "broken pool");

    // Run inline by a waiting worker of the same pool.
    let p = Arc::new(pool(1));
    let inner = p.clone();
    let c = capture();
    p.submit(move || {
        inner
            .submit(move || drop(c))
            .unwrap()
            .result()
            .unwrap()
            .to_owned()
    })
    .unwrap()
    .result()
    .unwrap();
    expected += 1;
    assert_eq!(drops.load(Ordering::SeqCst), expected, "inline");
}
