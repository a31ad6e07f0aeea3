//! Races inside the thread pool: submit vs shutdown, a worker going to sleep vs a submit,
//! a worker's claim vs a cancel, and a waiting worker running a task inline vs another
//! worker claiming it.
#![cfg(concurrent_futures_loom)]

use concurrent_futures::{Error, Executor, Future, SubmitError, ThreadPoolExecutor};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom_tests::{assert_outcomes, outcomes, spawn};

#[test]
fn submit_vs_shutdown_no_task_accepted_and_lost() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        let p = pool.clone();
        let submitter = spawn(move || match p.submit(|| 7u8) {
            Ok(f) => Some(f),
            Err(SubmitError::Shutdown) => None,
            Err(e) => panic!("{e:?}"),
        });
        pool.shutdown(true, false);
        // shutdown(wait = true) has returned: a task it accepted must have run already.
        let accepted = submitter.join();
        match accepted {
            Some(f) => {
                assert!(
                    f.done(),
                    "shutdown(wait) returned before an accepted task ran"
                );
                assert_eq!(*f.result().unwrap(), 7);
                "accepted and run"
            }
            None => "refused",
        }
    });
    assert_outcomes(seen, ["accepted and run", "refused"]);
}

#[test]
fn worker_going_to_sleep_vs_submit_no_lost_wakeup() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        // Start the one worker and let it finish its first task.
        pool.submit(|| ()).unwrap().result().unwrap();
        // It is now between "searching" and "asleep": race a submit against it.
        let (_, sleeping_before) = pool.idle_counts();
        let f = pool.submit(|| 5u8).unwrap();
        // No timeout: a lost wake-up leaves this blocked and loom reports a deadlock.
        assert_eq!(*f.result().unwrap(), 5);
        assert_eq!(pool.threads_started(), 1, "the idle worker was reused");
        drop(pool);
        if sleeping_before == 1 {
            "woke a sleeper"
        } else {
            "worker still searching"
        }
    });
    assert_outcomes(seen, ["woke a sleeper", "worker still searching"]);
}

#[test]
fn worker_claim_vs_cancel() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let f = pool
            .submit(move || {
                r.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let cancelled = f.cancel();
        drop(pool); // waits for the worker
        let ran = ran.load(Ordering::SeqCst);
        assert_eq!(
            ran + usize::from(cancelled),
            1,
            "exactly one of run and cancel"
        );
        match f.result() {
            Ok(()) => assert!(!cancelled),
            Err(Error::Cancelled) => assert!(cancelled),
            Err(e) => panic!("{e:?}"),
        }
        if cancelled { "cancelled" } else { "ran" }
    });
    assert_outcomes(seen, ["cancelled", "ran"]);
}

#[test]
fn help_while_waiting_vs_worker_claim() {
    let seen = outcomes(|| {
        let pool = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        let inner = pool.clone();
        let outer: Future<bool> = pool
            .submit(move || {
                let me = loom::thread::current().id();
                let child = inner.submit(move || loom::thread::current().id()).unwrap();
                // Either this worker runs the child inline, or the other worker claims it
                // first; either way exactly once and no deadlock.
                *child.result().unwrap() == me
            })
            .unwrap();
        let inline = *outer.result().unwrap();
        drop(outer);
        drop(Arc::try_unwrap(pool).ok().unwrap());
        if inline {
            "ran inline"
        } else {
            "ran on the other worker"
        }
    });
    assert_outcomes(seen, ["ran inline", "ran on the other worker"]);
}
