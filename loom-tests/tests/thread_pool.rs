//! Races inside the thread pool: submit vs shutdown, a worker going to sleep vs a submit,
//! a worker's claim vs a cancel, and a waiting worker running a task inline vs another
//! worker claiming it.
#![cfg(concurrent_futures_loom)]

use concurrent_futures::{Error, Executor, Future, SubmitError, ThreadPoolExecutor};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom_tests::{assert_outcomes, outcomes, outcomes_bounded, spawn};

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

/// Issue #8, defect 1: a worker runs a queued task inline while `shutdown(cancel_futures)`
/// drains the task's queue entry. Either the drain cancels it first, or the inline run
/// claims it and the drain only drops the queue's reference; in both, the public setters
/// stay refused and the outcome is the runner's (or the cancel).
#[test]
fn inline_run_vs_queue_drain() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        let slot: Arc<loom::sync::Mutex<Option<Future<u8>>>> = Arc::default();
        let s = slot.clone();
        let x = pool
            .submit(move || {
                loop {
                    if let Some(y) = s.lock().unwrap().take() {
                        // Runs `y` inline if it is still queued and pending.
                        return y.result().ok().copied();
                    }
                    loom::thread::yield_now();
                }
            })
            .unwrap();
        while !x.running() {
            loom::thread::yield_now();
        }
        let y = pool.submit(|| 7u8).unwrap();
        *slot.lock().unwrap() = Some(y.clone());
        pool.shutdown(false, true);
        // Whatever the interleaving, nobody but the runner may set the outcome.
        assert!(
            y.set_result(9).is_err(),
            "a public setter won on a pool future"
        );
        let got = *x.result().unwrap();
        drop(pool);
        match got {
            Some(v) => {
                assert_eq!(v, 7);
                assert_eq!(*y.result().unwrap(), 7, "the runner's value");
                "ran inline"
            }
            None => {
                assert!(y.cancelled());
                "cancelled by the drain"
            }
        }
    });
    assert_outcomes(seen, ["cancelled by the drain", "ran inline"]);
}

/// Issue #8, defect 4: two tasks of a two-worker pool each call `shutdown(wait = true)`.
/// Neither may wait for the other (or for itself); both return, and so does the final join.
/// The race is which one enters its shutdown first.
///
/// Bounded at one preemption: at two the model has tens of millions of executions (two
/// workers, a condition variable, the sleep protocol and a join), and one preemption already
/// explores both orders and every place a waiter can be parked when the other enters.
#[test]
fn two_tasks_shutting_their_pool_down_with_wait() {
    let seen = outcomes_bounded(1, || {
        let pool = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        // Both are submitted before either shuts the pool down.
        let go = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(AtomicUsize::new(0));
        let fs: Vec<Future<usize>> = (0..2)
            .map(|_| {
                let (p, g, o) = (pool.clone(), go.clone(), order.clone());
                pool.submit(move || {
                    while g.load(Ordering::SeqCst) == 0 {
                        loom::thread::yield_now();
                    }
                    let place = o.fetch_add(1, Ordering::SeqCst);
                    p.shutdown(true, false);
                    place
                })
                .unwrap()
            })
            .collect();
        go.store(1, Ordering::SeqCst);
        // Wait without parking: a completer's stale unpark would otherwise reach this thread
        // in the join below, which loom misreads (`docs/loom.md`).
        while !fs.iter().all(|f| f.done()) {
            loom::thread::yield_now();
        }
        let first = *fs[0].result().unwrap() == 0;
        drop(fs);
        drop(Arc::try_unwrap(pool).ok().unwrap());
        if first {
            "the first task entered first"
        } else {
            "the second task entered first"
        }
    });
    assert_outcomes(
        seen,
        [
            "the first task entered first",
            "the second task entered first",
        ],
    );
}

/// Issue #8, defect 3: a done-callback that runs on a worker after the publish waits for a
/// task submitted after it began. The worker stops counting as free around the callback,
/// so either the submit or the worker itself starts a second thread, and the callback ends.
/// The race is whether the submit comes before or during the callback.
#[test]
fn callback_waiting_for_a_later_task_vs_that_submit() {
    use loom::sync::{Condvar, Mutex};
    let seen = outcomes(|| {
        let pool = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        let in_cb = Arc::new(AtomicUsize::new(0));
        // Set by the later task; the callback and this thread block on it (no spinning, so
        // the model stays small, and no parking on a future, whose stale unpark loom would
        // misread in the join at the end: `docs/loom.md`).
        let later_ran = Arc::new((Mutex::new(false), Condvar::new()));
        // The task cannot finish before its callback is registered: the callback runs on
        // the worker, after the publish.
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let g = gate.clone();
        let f = pool.submit(move || drop(g.lock().unwrap())).unwrap();
        let (i, l) = (in_cb.clone(), later_ran.clone());
        f.add_done_callback(move |_| {
            i.store(1, Ordering::SeqCst);
            let (m, cv) = &*l;
            let mut ran = m.lock().unwrap();
            while !*ran {
                ran = cv.wait(ran).unwrap();
            }
        });
        drop(held);
        let began = in_cb.load(Ordering::SeqCst) == 1;
        let l = later_ran.clone();
        let later = pool
            .submit(move || {
                let (m, cv) = &*l;
                *m.lock().unwrap() = true;
                cv.notify_all();
            })
            .unwrap();
        // If nobody ran the later task, this blocks forever, which loom reports.
        {
            let (m, cv) = &*later_ran;
            let mut ran = m.lock().unwrap();
            while !*ran {
                ran = cv.wait(ran).unwrap();
            }
        }
        drop((f, later));
        drop(Arc::try_unwrap(pool).ok().unwrap());
        if began {
            "submitted during the callback"
        } else {
            "submitted before the callback began"
        }
    });
    assert_outcomes(
        seen,
        [
            "submitted before the callback began",
            "submitted during the callback",
        ],
    );
}

/// A bounded shutdown vs the worker's exit: it returns `Ok` only once the worker has exited
/// (nothing live), or `Err` naming it as still running; the pool is closed either way, and
/// a later unbounded shutdown joins what is left. (A zero timeout: the check races the
/// worker's exit, so both outcomes are reachable.)
#[test]
fn bounded_shutdown_vs_worker_exit() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        pool.submit(|| ()).unwrap().result().unwrap();
        let outcome = match pool.shutdown_timeout(false, std::time::Duration::ZERO) {
            Ok(()) => {
                assert_eq!(pool.metrics().live_workers, 0, "Ok with a worker alive");
                "exited in time"
            }
            Err(e) => {
                assert_eq!(e.running, 1);
                "still running"
            }
        };
        assert!(matches!(pool.submit(|| ()), Err(SubmitError::Shutdown)));
        pool.shutdown(true, false);
        assert_eq!(pool.metrics().live_workers, 0);
        outcome
    });
    assert_outcomes(seen, ["exited in time", "still running"]);
}

/// A bounded submit vs the worker's pop: a producer that finds the one slot taken waits,
/// and the pop that frees it wakes it (`thread_pool/bound.rs`, rule 1). A lost wake-up
/// leaves the producer blocked, which loom reports as a deadlock; it found one, before the
/// fences of rule 1. Both sides are seen: the slot still taken when the producer tries, or
/// already freed.
#[test]
fn bounded_submit_vs_pop_no_lost_wakeup() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(1)
            .max_queued(1)
            .build()
            .unwrap();
        let first = pool.submit(|| 1u8).unwrap();
        let (second, how) = match pool.try_submit(|| 2u8) {
            Ok(f) => (f, "room at once"),
            Err(SubmitError::Full { .. }) => (pool.submit(|| 2u8).unwrap(), "waited for room"),
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(*first.result().unwrap(), 1);
        assert_eq!(*second.result().unwrap(), 2);
        drop(pool);
        how
    });
    assert_outcomes(seen, ["room at once", "waited for room"]);
}

/// A scope's exit vs its last task (`thread_pool/scope.rs`, rules 1 and 2): the scope
/// returns only once the task's closure is gone and its future is done, whether the task
/// ended before the body did or the scope had to wait for it. A write to the borrowed
/// local after the return would be a use of a dead borrow; the asserts check it happened
/// before.
#[test]
fn scope_exit_vs_the_last_task() {
    let seen = outcomes(|| {
        let pool = ThreadPoolExecutor::new(1).unwrap();
        let local = AtomicUsize::new(0);
        let (fut, ended_first) = pool.scope(|s| {
            let local = &local;
            let fut = s.submit(move || local.store(1, Ordering::SeqCst)).unwrap();
            let ended_first = fut.done();
            (fut, ended_first)
        });
        assert!(fut.done(), "the scope returned before its task ended");
        assert_eq!(local.load(Ordering::SeqCst), 1);
        drop(pool);
        if ended_first {
            "ended before the body"
        } else {
            "the scope waited"
        }
    });
    assert_outcomes(seen, ["ended before the body", "the scope waited"]);
}
