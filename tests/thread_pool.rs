//! CPython's executor, thread-pool, shutdown and initializer tests (CPYTHON.md §7: 37–58,
//! 84–95, 108–109, as they apply to threads). The fixes are in `thread_pool_fixes.rs`, the
//! executor layer's traps and named tasks in `executor.rs`.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    Error, Executor, Future, MapOptions, ReturnWhen, State, SubmitError, ThreadPoolExecutor,
    default_max_workers, wait,
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
