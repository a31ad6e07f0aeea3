//! Borrowing tasks (issue #12, item 6): `ThreadPoolExecutor::scope`, whose tasks borrow
//! from the caller's stack; every task ends before the scope returns, also on a panic.
//! (A new user's `pool.map(|s: &String| s.len(), &names)` did not compile before.)

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Executor, Future, ReturnWhen, SubmitError, ThreadPoolExecutor, wait};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn the_new_users_map_over_borrowed_names_compiles_and_runs() {
    let pool = ThreadPoolExecutor::new(2).unwrap();
    let names = vec!["ada".to_string(), "grace".to_string()];
    let lengths: Vec<usize> = pool.scope(|s| {
        let futs = s.map(|n: &String| n.len(), &names).unwrap();
        let all = wait(&futs, ReturnWhen::AllCompleted);
        assert_eq!(
            all.done.len(),
            2,
            "scope handles are ordinary futures for wait"
        );
        futs.iter().map(|f| *f.result().unwrap()).collect()
    });
    assert_eq!(lengths, [3, 5]);
    assert_eq!(names.len(), 2, "still ours");
}

/// The body returns without waiting; the scope waits for the task, which writes to a
/// local only after another thread lets it.
#[test]
fn the_scope_returns_only_after_every_task_has_ended() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let written = AtomicUsize::new(0);
    let (running, go) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (r, g) = (running.clone(), go.clone());
    let opener = std::thread::spawn(move || {
        r.wait();
        g.set();
    });
    let handle = pool.scope(|s| {
        let (running, go, written) = (&running, &go, &written);
        s.submit(move || {
            running.set();
            go.wait();
            written.store(7, Ordering::SeqCst);
        })
        .unwrap()
    });
    assert_eq!(
        written.load(Ordering::SeqCst),
        7,
        "the task ended before the scope returned"
    );
    assert!(handle.done());
    opener.join().unwrap();
}

/// A body that panics: the queued siblings are cancelled, the running one is asked to
/// stop, the scope waits for it, then the panic goes on.
#[test]
fn a_panicking_body_cancels_the_queued_tasks_waits_for_the_running_one_and_resumes() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let started = Arc::new(Event::default());
    let handles: std::sync::Mutex<Vec<Future<u8>>> = Default::default();
    let release = Arc::new(Event::default());
    let rel = release.clone();
    let (tx, rx) = std::sync::mpsc::channel::<Future<u8>>();
    // Lets the running task end only once the scope has asked it to stop: so the scope's
    // return proves it waited.
    let helper = std::thread::spawn(move || {
        let running = rx.recv().unwrap();
        until("the scope asked the running task", || {
            running.cancel_requested()
        });
        rel.set();
    });
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            let (started, release) = (&started, &release);
            let running = s
                .submit(move || {
                    started.set();
                    release.wait();
                    1u8
                })
                .unwrap();
            started.wait();
            tx.send(running.clone()).unwrap();
            let queued: Vec<_> = (0..3).map(|_| s.submit(|| 2u8).unwrap()).collect();
            let mut h = handles.lock().unwrap();
            h.push(running);
            h.extend(queued);
            drop(h);
            panic!("the body fails");
        })
    }));
    helper.join().unwrap();
    assert!(outcome.is_err(), "the body's panic is resumed");
    let h = handles.into_inner().unwrap();
    assert!(
        h[0].done() && h[0].cancel_requested(),
        "the running one was asked, and waited for"
    );
    assert!(
        h[1..].iter().all(Future::cancelled),
        "the queued ones were cancelled"
    );
}

#[test]
fn a_panicking_task_cancels_its_queued_siblings_and_the_scope_returns() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let (boom, rest) = pool.scope(|s| {
        let gate = Arc::new(Event::default());
        let g = gate.clone();
        let boom = s
            .submit(move || -> u8 {
                g.wait();
                panic!("a task fails")
            })
            .unwrap();
        let rest: Vec<_> = (0..3).map(|_| s.submit(|| 2u8).unwrap()).collect();
        gate.set();
        (boom, rest)
    });
    assert!(boom.exception().unwrap().unwrap().is_panic());
    assert!(rest.iter().all(Future::cancelled));
}

/// A scope opened inside a task of a one-worker pool: the only worker is the scope's
/// caller, so it runs its tasks itself while it waits (and consumes a cancelled one).
#[test]
fn a_scope_inside_a_one_worker_pools_task_runs_its_tasks_while_it_waits() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let p = pool.clone();
    let outer = pool
        .submit(move || {
            let values = [1u64, 2, 3];
            p.scope(|s| {
                let cancelled = s.submit(|| 0u64).unwrap();
                assert!(cancelled.cancel());
                let futs = s.map(|v: &u64| v * 10, &values).unwrap();
                futs.iter().map(|f| *f.result().unwrap()).sum::<u64>()
            })
        })
        .unwrap();
    assert_eq!(
        within("the nested scope", move || *outer
            .result_timeout(LONG)
            .unwrap()),
        60
    );
}

#[test]
fn a_refused_submit_inside_a_scope_is_an_error_and_the_scope_still_returns() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    pool.shutdown(true, false);
    let local = String::from("borrowed");
    let e = pool.scope(|s| s.submit(|| local.len()).unwrap_err());
    assert!(matches!(e, SubmitError::Shutdown));
}

/// A cancelled scope task whose unrun closure panics when dropped still counts out: the
/// scope returns (it used to wait for good).
#[test]
fn a_cancelled_task_whose_closure_panics_on_drop_does_not_hang_the_scope() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("a captured value's drop panics");
        }
    }
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let (blocker, hold) = occupy_a_worker(&pool);
    let done = within("the scope", {
        let pool = pool.clone();
        move || {
            pool.scope(|s| {
                let bomb = Bomb;
                let f = s
                    .submit(move || {
                        let _keep = &bomb;
                    })
                    .unwrap();
                assert!(f.cancel());
                hold.set();
                f.cancelled()
            })
        }
    });
    assert!(done);
    blocker.result().unwrap();
}

#[test]
fn a_scope_panic_asks_a_cancellable_running_task_which_sees_it_on_its_token() {
    let pool = ThreadPoolExecutor::new(1).unwrap();
    let started = Arc::new(Event::default());
    let seen = std::sync::Mutex::new(None);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            let st = &started;
            let f = s
                .submit_cancellable(move |token| {
                    st.set();
                    while !token.is_requested() {
                        std::thread::yield_now();
                    }
                    "stopped"
                })
                .unwrap();
            started.wait();
            *seen.lock().unwrap() = Some(f);
            panic!("the body fails");
        })
    }));
    assert!(outcome.is_err());
    let f = seen.into_inner().unwrap().unwrap();
    assert_eq!(*f.result().unwrap(), "stopped");
}
