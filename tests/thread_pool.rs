//! CPython's executor, thread-pool, shutdown and initializer tests (CPYTHON.md §7: 37–58,
//! 84–95, 108–109, as they apply to threads), plus a test for each fix the crate makes.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    Error, Executor, Future, MapOptions, ReturnWhen, State, SubmitError, ThreadPoolExecutor,
    as_completed, default_max_workers, wait,
};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::new(n).unwrap()
}

// ----- generic executor behaviour (37–54) -----

#[test]
fn test_submit() {
    let p = pool(2);
    let f = p.submit(|| 2u64.pow(8)).unwrap();
    assert_eq!(*f.result().unwrap(), 256);
}

#[test]
fn test_map() {
    let p = pool(3);
    let expected: Vec<u64> = (0..10u64).map(|x| x.pow(x as u32)).collect();
    let got: Vec<u64> = p
        .map(|x: u64| x.pow(x as u32), 0..10)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, expected);
    let chunked: Vec<u64> = p
        .map_with(
            |x: u64| x.pow(x as u32),
            0..10,
            MapOptions::default().chunksize(3),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(chunked, expected);
}

fn divmod((a, b): (i64, i64)) -> (i64, i64) {
    (a / b, a % b) // panics on b == 0, like Python's ZeroDivisionError
}

#[test]
fn test_map_exception() {
    // CPython main (gh-108518): one failure is yielded in its place and the rest continue.
    let p = pool(2);
    for chunks in [1, 3] {
        let mut it = p
            .map_with(
                divmod,
                [5i64; 4].into_iter().zip([2, 3, 0, 5]),
                MapOptions::default().chunksize(chunks),
            )
            .unwrap();
        assert_eq!(it.next().unwrap().unwrap(), (2, 1));
        assert_eq!(it.next().unwrap().unwrap(), (1, 2));
        match it.next().unwrap() {
            Err(Error::Exception(e)) => assert!(e.is_panic(), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(it.next().unwrap().unwrap(), (1, 0));
        assert!(it.next().is_none());
        assert!(it.next().is_none());
    }
}

#[test]
fn test_map_timeout_from_callable() {
    // The callable's own "timeout" is an ordinary exception, not the map's deadline.
    let p = pool(2);
    for opts in [MapOptions::default(), MapOptions::default().timeout(LONG)] {
        let got: Vec<Result<u32, Error>> = p
            .map_with(
                |x: u32| if x == 1 { panic!("TimeoutError") } else { x },
                0..4,
                opts,
            )
            .unwrap()
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(*got[0].as_ref().unwrap(), 0);
        assert!(
            matches!(&got[1], Err(Error::Exception(e)) if e.panic_message() == Some("TimeoutError"))
        );
        assert_eq!(*got[2].as_ref().unwrap(), 2);
        assert_eq!(*got[3].as_ref().unwrap(), 3);
    }
}

#[test]
fn test_map_timeout() {
    let p = pool(3);
    let release = Arc::new(Event::default());
    let r = release.clone();
    let mut it = p
        .map_with(
            move |x: u32| {
                if x == 2 {
                    r.wait();
                }
                x
            },
            0..3,
            MapOptions::default().timeout(Duration::from_millis(200)),
        )
        .unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    assert_eq!(it.next().unwrap().unwrap(), 1);
    assert!(matches!(
        it.next().unwrap(),
        Err(Error::Timeout {
            unfinished: 1,
            total: 3
        })
    ));
    assert!(it.next().is_none());
    assert!(it.next().is_none());
    release.set();
}

#[test]
fn map_timeout_cancels_the_awaited_and_later_futures_gh_95166() {
    let p = pool(1);
    let release = Arc::new(Event::default());
    let ran = Arc::new(Mutex::new(Vec::new()));
    let (r, log) = (release.clone(), ran.clone());
    let mut it = p
        .map_with(
            move |x: u32| {
                log.lock().unwrap().push(x);
                if x == 0 {
                    r.wait();
                }
                x
            },
            0..4,
            MapOptions::default().timeout(Duration::from_millis(50)),
        )
        .unwrap();
    assert!(matches!(
        it.next().unwrap(),
        Err(Error::Timeout {
            unfinished: 4,
            total: 4
        })
    ));
    release.set();
    p.shutdown(true, false);
    assert_eq!(
        *ran.lock().unwrap(),
        [0],
        "the queued items after the timeout never ran"
    );
}

#[test]
fn test_map_close() {
    // Dropping the iterator after one result cancels what has not started.
    let p = pool(1);
    let release = Arc::new(Event::default());
    let ran = Arc::new(AtomicUsize::new(0));
    let (r, n) = (release.clone(), ran.clone());
    let mut it = p
        .map(
            move |x: u32| {
                n.fetch_add(1, Ordering::SeqCst);
                if x == 1 {
                    r.wait();
                }
                x
            },
            0..10,
        )
        .unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    until("item 1 runs", || ran.load(Ordering::SeqCst) == 2);
    drop(it);
    release.set();
    p.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 2, "items 2..10 were cancelled");
}

#[test]
fn test_map_buffersize_value_validation() {
    let p = pool(1);
    let e = p
        .map_with(|x: u8| x, 0..1, MapOptions::default().buffersize(0))
        .unwrap_err();
    assert!(matches!(
        e,
        SubmitError::InvalidArgument("buffersize must be None or > 0")
    ));
    let e = p
        .map_with(|x: u8| x, 0..1, MapOptions::default().chunksize(0))
        .unwrap_err();
    assert!(matches!(
        e,
        SubmitError::InvalidArgument("chunksize must be >= 1")
    ));
}

#[test]
fn test_map_buffersize() {
    let p = pool(2);
    for b in [1, 2, 4, 8] {
        let got: Vec<String> = p
            .map_with(
                |x: u32| x.to_string(),
                0..4,
                MapOptions::default().buffersize(b),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, ["0", "1", "2", "3"]);
        let sums: Vec<u32> = p
            .map_with(
                |(a, b): (u32, u32)| a + b,
                (0..4).zip(0..4),
                MapOptions::default().buffersize(b),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(sums, [0, 2, 4, 6]);
    }
}

#[test]
fn test_map_buffersize_on_infinite_iterable() {
    let p = pool(2);
    let got: Vec<String> = p
        .map_with(
            |x: u64| x.to_string(),
            0..,
            MapOptions::default().buffersize(2),
        )
        .unwrap()
        .take(3)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, ["0", "1", "2"]);
    let sums: Vec<u64> = p
        .map_with(
            |(a, b): (u64, u64)| a + b,
            (0..).zip(0..),
            MapOptions::default().buffersize(2),
        )
        .unwrap()
        .take(3)
        .map(Result::unwrap)
        .collect();
    assert_eq!(sums, [0, 2, 4]);
}

#[test]
fn test_map_buffersize_on_empty_iterable() {
    let p = pool(1);
    let mut it = p
        .map_with(
            |x: u8| x,
            std::iter::empty(),
            MapOptions::default().buffersize(2),
        )
        .unwrap();
    assert!(it.next().is_none());
}

#[test]
fn test_map_buffersize_when_buffer_is_full() {
    let p = pool(2);
    let consumed = Rc::new(Cell::new(0));
    let c = consumed.clone();
    let ints = (0..4u32).inspect(move |_| c.set(c.get() + 1));
    let it = p
        .map_with(
            |x: u32| x.to_string(),
            ints,
            MapOptions::default().buffersize(2),
        )
        .unwrap();
    p.shutdown(true, false);
    assert_eq!(consumed.get(), 2, "exactly two inputs were pulled");
    drop(it);
}

#[test]
fn test_shutdown_race_issue12456() {
    let p = pool(2);
    let it = p
        .map(|x: u32| x.to_string(), std::iter::repeat_n(2, 3))
        .unwrap();
    p.shutdown(true, false);
    let got: Vec<String> = it.map(Result::unwrap).collect();
    assert_eq!(got, ["2", "2", "2"]);
}

#[test]
fn test_max_workers_zero() {
    let e = ThreadPoolExecutor::new(0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument: max_workers must be greater than 0"
    );
}

// ----- ThreadPoolExecutor (55–58) -----

#[test]
fn test_map_submits_without_iteration() {
    let p = pool(2);
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let s = seen.clone();
    let it = p
        .map(
            move |x: u32| {
                s.lock().unwrap().insert(x);
            },
            0..10,
        )
        .unwrap();
    p.shutdown(true, false);
    assert_eq!(*seen.lock().unwrap(), (0..10).collect::<HashSet<_>>());
    drop(it);
}

#[test]
fn test_default_workers() {
    let cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    assert_eq!(default_max_workers(), (cpus + 4).min(32));
    assert_eq!(
        ThreadPoolExecutor::builder().build().unwrap().max_workers(),
        default_max_workers()
    );
}

#[test]
fn test_saturation() {
    let p = pool(4);
    let release = Arc::new(Event::default());
    let running = Arc::new(AtomicUsize::new(0));
    let futs: Vec<Future<()>> = (0..60)
        .map(|_| {
            let (r, n) = (release.clone(), running.clone());
            p.submit(move || {
                n.fetch_add(1, Ordering::SeqCst);
                r.wait();
            })
            .unwrap()
        })
        .collect();
    until("four tasks run", || running.load(Ordering::SeqCst) == 4);
    assert_eq!(p.threads_started(), 4);
    release.set();
    assert_eq!(wait(&futs, ReturnWhen::AllCompleted).done.len(), 60);
    assert_eq!(p.threads_started(), 4);
}

#[test]
fn test_idle_thread_reuse() {
    let p = ThreadPoolExecutor::builder().build().unwrap();
    for _ in 0..3 {
        p.submit(|| ()).unwrap().result().unwrap();
    }
    assert_eq!(p.threads_started(), 1);
    // Many more sequential round trips: still one thread.
    for i in 0..2000u32 {
        assert_eq!(*p.submit(move || i).unwrap().result().unwrap(), i);
    }
    assert_eq!(p.threads_started(), 1);
}

// ----- shutdown (84–95) -----

#[test]
fn test_run_after_shutdown() {
    let p = pool(1);
    p.shutdown(true, false);
    assert!(matches!(p.submit(|| 1), Err(SubmitError::Shutdown)));
    assert!(matches!(p.map(|x: u8| x, 0..1), Err(SubmitError::Shutdown)));
    p.shutdown(true, false); // calling it again is fine
}

#[test]
fn test_hang_issue12364() {
    let p = pool(5);
    let futs: Vec<Future<u32>> = (0..50).map(|i| p.submit(move || i).unwrap()).collect();
    p.shutdown(true, false);
    for (i, f) in futs.iter().enumerate() {
        assert_eq!(*f.result_timeout(Duration::ZERO).unwrap(), i as u32);
    }
}

#[test]
fn test_cancel_futures() {
    let p = pool(5);
    let release = Arc::new(Event::default());
    let started = Arc::new(AtomicUsize::new(0));
    let futs: Vec<Future<()>> = (0..50)
        .map(|_| {
            let (r, s) = (release.clone(), started.clone());
            p.submit(move || {
                s.fetch_add(1, Ordering::SeqCst);
                r.wait();
            })
            .unwrap()
        })
        .collect();
    until("five tasks run", || started.load(Ordering::SeqCst) == 5);
    let waiter = {
        let last = futs[49].clone();
        thread::spawn(move || wait([&last], ReturnWhen::AllCompleted).done.len())
    };
    until("the waiter is blocked", || futs[49].has_waiters());
    // Cancel while the five workers are blocked, then let them finish and wait.
    p.shutdown(false, true);
    release.set();
    p.shutdown(true, false);
    let cancelled = futs.iter().filter(|f| f.cancelled()).count();
    assert_eq!(
        cancelled, 45,
        "every queued task was cancelled, the running five were not"
    );
    assert!(
        futs.iter()
            .filter(|f| !f.cancelled())
            .all(|f| f.done() && f.exception().unwrap().is_none())
    );
    assert!(futs.iter().any(|f| f.state() == State::Finished));
    // gh-109934: the waiter on a future cancelled by shutdown is woken, not stranded.
    assert_eq!(waiter.join().unwrap(), 1);
}

#[test]
fn test_threads_terminate() {
    let p = pool(5);
    let release = Arc::new(Event::default());
    let running = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let (r, n) = (release.clone(), running.clone());
        p.submit(move || {
            n.fetch_add(1, Ordering::SeqCst);
            r.wait();
        })
        .unwrap();
    }
    until("three run", || running.load(Ordering::SeqCst) == 3);
    assert_eq!(p.threads_started(), 3);
    release.set();
    p.shutdown(true, false);
}

#[test]
fn test_context_manager_shutdown() {
    let out: Vec<i32>;
    {
        let p = pool(5);
        out = p
            .map(|x: i32| x.abs(), -5..5)
            .unwrap()
            .map(Result::unwrap)
            .collect();
    } // drop = shutdown(wait = true)
    assert_eq!(out, [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]);
}

#[test]
fn test_shutdown_no_wait() {
    let p = pool(5);
    let it = p.map(|x: u32| x * 2, 0..10).unwrap();
    p.shutdown(false, false);
    let got: Vec<u32> = it.map(Result::unwrap).collect();
    assert_eq!(got, (0..10).map(|x| x * 2).collect::<Vec<_>>());
}

#[test]
fn test_thread_names() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(5)
        .thread_name_prefix("SpecialPool")
        .build()
        .unwrap();
    let release = Arc::new(Event::default());
    let running = Arc::new(AtomicUsize::new(0));
    let futs: Vec<Future<String>> = (0..5)
        .map(|_| {
            let (r, n) = (release.clone(), running.clone());
            p.submit(move || {
                n.fetch_add(1, Ordering::SeqCst);
                r.wait();
                thread::current().name().unwrap().to_owned()
            })
            .unwrap()
        })
        .collect();
    until("five tasks run at once", || {
        running.load(Ordering::SeqCst) == 5
    });
    release.set();
    let names: HashSet<String> = futs.iter().map(|f| f.result().unwrap().clone()).collect();
    assert_eq!(names, (0..5).map(|i| format!("SpecialPool_{i}")).collect());

    let d = pool(1);
    let name = d
        .submit(|| thread::current().name().unwrap().to_owned())
        .unwrap();
    let name = name.result().unwrap();
    let (prefix, i) = name.rsplit_once('_').unwrap();
    assert!(
        prefix.starts_with("ThreadPoolExecutor-") && prefix[19..].parse::<usize>().is_ok(),
        "{name}"
    );
    assert_eq!(i, "0");
}

// ----- initializers (108–109) -----

thread_local!(static INITIALIZER_STATUS: RefCell<&'static str> = const { RefCell::new("uninitialized") });

#[test]
fn test_initializer() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(3)
        .initializer(|| {
            INITIALIZER_STATUS.with(|s| *s.borrow_mut() = "initialized");
            Ok(())
        })
        .build()
        .unwrap();
    let release = Arc::new(Event::default());
    let futs: Vec<Future<&'static str>> = (0..3)
        .map(|_| {
            let r = release.clone();
            p.submit(move || {
                r.wait();
                INITIALIZER_STATUS.with(|s| *s.borrow())
            })
            .unwrap()
        })
        .collect();
    until("three threads", || p.threads_started() == 3);
    release.set();
    for f in &futs {
        assert_eq!(*f.result().unwrap(), "initialized");
    }
}

#[test]
fn test_failing_initializer() {
    let logs = captured_logs();
    let p = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| Err("error in initializer".into()))
        .build()
        .unwrap();
    let futs: Vec<Future<u8>> = (0..5).filter_map(|_| p.submit(|| 1).ok()).collect();
    for f in &futs {
        match f.result_timeout(LONG) {
            Err(Error::Exception(e)) => {
                assert_eq!(
                    e.broken_kind(),
                    Some(concurrent_futures::BrokenKind::ThreadPool)
                );
                assert!(e.to_string().contains("error in initializer"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    until("the pool is broken", || p.is_broken());
    assert!(matches!(p.submit(|| 1), Err(SubmitError::Broken(_))));
    assert!(
        logs.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("Exception in initializer") && l.contains("error in initializer")),
        "{:?}",
        logs.lock().unwrap()
    );
}

#[test]
fn failing_initializer_leaves_no_queued_future_pending() {
    // CPython bug (§5.4): a cancelled future in the queue stops the drain and strands the
    // rest. Here every queued future ends: BrokenThreadPool, or cancelled if it was.
    let go = Arc::new(Event::default());
    let g = go.clone();
    let p = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(move || {
            g.wait();
            Err("late failure".into())
        })
        .build()
        .unwrap();
    let futs: Vec<Future<u8>> = (0..10).map(|_| p.submit(|| 1).unwrap()).collect();
    assert!(futs[3].cancel() && futs[7].cancel());
    go.set();
    let r = wait(&futs, ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 10, "none stays pending");
    for (i, f) in futs.iter().enumerate() {
        if i == 3 || i == 7 {
            assert!(f.cancelled());
        } else {
            assert!(f.exception().unwrap().unwrap().broken_kind().is_some());
        }
    }
}

#[test]
fn panicking_initializer_breaks_the_pool_too() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| panic!("init panicked"))
        .build()
        .unwrap();
    let f = p.submit(|| 1u8).unwrap();
    let e = f.exception_timeout(LONG).unwrap().unwrap();
    assert!(e.to_string().contains("init panicked"), "{e}");
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

// ----- issue #9's new-user traps -----

#[test]
fn a_submit_fallible_error_keeps_its_type_name() {
    let p = pool(1);
    let f = p.submit_fallible(|| "x".parse::<u32>()).unwrap();
    let e = f.exception().unwrap().unwrap();
    assert_eq!(e.type_name(), "ParseIntError");
    assert_eq!(
        format!("{f:?}"),
        "<Future state=finished raised ParseIntError>"
    );
}

#[test]
fn default_pool_and_empty_prefix_fall_back_as_python_does() {
    let p = ThreadPoolExecutor::default();
    assert_eq!(p.max_workers(), default_max_workers());
    let p = ThreadPoolExecutor::builder()
        .thread_name_prefix("")
        .build()
        .unwrap();
    let name = p
        .submit(|| thread::current().name().unwrap().to_owned())
        .unwrap();
    let name = name.result().unwrap();
    assert!(name.starts_with("ThreadPoolExecutor-"), "{name}");
}

#[test]
fn a_map_dropped_before_its_first_next_runs_every_item() {
    // Issue #9, trap 1: `pool.map(f, items);` as a statement, as in Python.
    let p = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    drop(
        p.map(
            move |_: u32| {
                r.fetch_add(1, Ordering::SeqCst);
            },
            0..10,
        )
        .unwrap(),
    );
    p.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 10);
}

#[test]
fn a_lazy_map_whose_pool_shuts_down_yields_an_error_for_every_unsubmitted_item() {
    // Issue #9, trap 2: nothing vanishes; every input ends as a result or an error.
    let p = Arc::new(pool(2));
    let inner = p.clone();
    let got: Vec<Result<u32, Error>> = p
        .map_with(
            move |x: u32| {
                if x == 2 {
                    inner.shutdown(false, false);
                }
                x
            },
            0..10,
            MapOptions::default().buffersize(2),
        )
        .unwrap()
        .collect();
    assert_eq!(got.len(), 10, "{got:?}");
    let oks = got.iter().take_while(|r| r.is_ok()).count();
    assert!((3..=5).contains(&oks), "{got:?}");
    for r in &got[oks..] {
        let e = r.as_ref().unwrap_err().exception().unwrap();
        assert!(
            matches!(e.downcast_ref::<SubmitError>(), Some(SubmitError::Shutdown)),
            "{e}"
        );
    }
}

#[test]
fn a_map_made_in_a_scope_is_read_after_its_pool_handle_is_gone() {
    // Issue #9, trap 4: Python's "map inside the `with` block, iterate after it". The map
    // owns a handle, so this compiles; a lazy one keeps submitting through that handle.
    let eager = {
        let p = pool(2);
        p.map(|x: u64| x + 1, 0..4).unwrap()
    };
    assert_eq!(eager.map(Result::unwrap).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let lazy = {
        let p = pool(2);
        p.map_with(|x: u64| x * 3, 0..6, MapOptions::default().buffersize(2))
            .unwrap()
    };
    assert_eq!(
        lazy.map(Result::unwrap).collect::<Vec<_>>(),
        [0, 3, 6, 9, 12, 15]
    );
    let named = {
        let p = pool(1);
        p.map_task(
            collatz_steps,
            vec![1, 2, 3],
            MapOptions::default().buffersize(1),
        )
        .unwrap()
    };
    assert_eq!(named.map(Result::unwrap).collect::<Vec<_>>(), [0, 1, 7]);
}

#[test]
fn map_cancel_cancels_what_has_not_started() {
    let p = pool(1);
    let (hold, holding) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (h, hg) = (hold.clone(), holding.clone());
    let mut it = p
        .map(
            move |x: u32| {
                if x == 0 {
                    hg.set();
                    h.wait();
                }
                x
            },
            0..5,
        )
        .unwrap();
    holding.wait();
    assert_eq!(it.cancel(), 4, "items 1..5 were queued");
    hold.set();
    assert!(it.next().is_none(), "a cancelled map ends");
}

// ----- named tasks (issue #9) -----

concurrent_futures::task! {
    /// A task declared in an integration test, at module level.
    fn collatz_steps(n: u64) -> u32 {
        let (mut n, mut steps) = (n, 0);
        while n > 1 {
            n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
            steps += 1;
        }
        steps
    }
}

fn undeclared(n: u64) -> u32 {
    n as u32
}

#[test]
fn named_tasks_run_on_the_thread_pool_and_undeclared_ones_are_refused() {
    let p = pool(2);
    assert_eq!(
        *p.submit_task(collatz_steps, 27).unwrap().result().unwrap(),
        111
    );
    let got: Vec<u32> = p
        .map_task(collatz_steps, 1..=6u64, MapOptions::default().chunksize(2))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, [0, 1, 7, 2, 5, 8]);
    match p.submit_task(undeclared, 3) {
        Err(SubmitError::NotATask(e)) => {
            assert!(e.name.ends_with("::undeclared"), "{e}");
            assert!(e.to_string().contains("task!"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let e = p
        .map_task(|n: u64| n, 0..3, MapOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("is a closure"), "{e}");
}
