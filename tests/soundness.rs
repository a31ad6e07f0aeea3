//! Regression tests for the defects of issue #8, one section per defect, and for the wider
//! classes the audits behind them covered (`docs/guarantees.md`, "Audits"). Each of these
//! failed (or hung, or crashed under AddressSanitizer) before its fix.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    Error, Executor, Future, MapOptions, ReturnWhen, State, SubmitError, ThreadPoolExecutor, wait,
};
use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{RawWaker, RawWakerVTable, Waker};
use std::thread;

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::new(n).unwrap()
}

// ===== 1. a public setter on a pool future that a waiting worker runs inline =====

/// Task X waits on queued task Y of the same pool (whose other workers, if any, are busy),
/// so X's worker runs Y inline; Y blocks until `release`. Returns (x, y, release) with Y
/// running inline; X yields Y's value.
fn y_running_inline(p: &ThreadPoolExecutor) -> (Future<String>, Future<String>, Arc<Event>) {
    let (tx, rx) = mpsc::channel::<Future<String>>();
    let x = p
        .submit(move || rx.recv().unwrap().result().expect("y ran").clone())
        .unwrap();
    let (release, started) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (r, s) = (release.clone(), started.clone());
    let y = p
        .submit(move || {
            s.set();
            r.wait();
            "pool".to_owned()
        })
        .unwrap();
    tx.send(y.clone()).unwrap();
    started.wait();
    assert_eq!(y.state(), State::Running);
    (x, y, release)
}

#[test]
fn a_queue_drain_while_a_task_runs_inline_keeps_the_public_setters_refused() {
    let p = pool(1);
    let (x, y, release) = y_running_inline(&p);
    // Drains Y's queue entry while Y runs inline: the executor's reference goes.
    p.shutdown(false, true);
    let e = y.set_result("user".into()).unwrap_err();
    assert!(e.to_string().contains("belongs to an executor"), "{e}");
    assert!(
        y.set_exception(concurrent_futures::Exception::msg("user"))
            .is_err()
    );
    assert!(y.set_running_or_notify_cancel().is_err());
    release.set();
    assert_eq!(x.result_timeout(LONG).unwrap(), "pool");
    assert_eq!(
        y.result_timeout(LONG).unwrap(),
        "pool",
        "the runner's value"
    );
    assert_eq!(y.state(), State::Finished);
}

#[test]
fn a_second_worker_popping_a_task_that_runs_inline_keeps_the_setters_refused() {
    let p = pool(2);
    // Occupy the second worker so that Y stays queued until X has claimed it inline.
    let (blocker, hold) = occupy_a_worker(&p);
    let (x, y, release) = y_running_inline(&p);
    // Free the second worker: it pops Y's entry, finds Y running and lets it go.
    hold.set();
    blocker.result_timeout(LONG).unwrap();
    until("the second worker has gone back to sleep", || {
        p.idle_counts().1 == 1
    });
    assert!(y.set_result("user".into()).is_err());
    release.set();
    assert_eq!(x.result_timeout(LONG).unwrap(), "pool");
    assert_eq!(y.result_timeout(LONG).unwrap(), "pool");
}

// ===== 2. a panic payload whose Drop panics =====

/// A panic payload whose own drop panics: with `depth` more of itself, then with a string.
struct Bomb(u32);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 == 0 {
            panic!("a panic payload's drop panicked");
        }
        std::panic::panic_any(Bomb(self.0 - 1));
    }
}

#[test]
fn a_task_panicking_with_a_payload_whose_drop_panics_still_finishes() {
    within("bomb payloads", || {
        let p = ThreadPoolExecutor::new(2).unwrap();
        for depth in [0, 3] {
            let f = p
                .submit(move || -> u8 { std::panic::panic_any(Bomb(depth)) })
                .unwrap();
            let e = f.exception_timeout(LONG).unwrap().expect("it raised");
            assert!(e.is_panic(), "{e}");
        }
        // The pool's counts are intact: later tasks run, on both workers.
        let fs: Vec<_> = (0..8u8).map(|i| p.submit(move || i).unwrap()).collect();
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(*f.result_timeout(LONG).unwrap(), i as u8);
        }
        let (searching, sleeping) = p.idle_counts();
        assert!(searching <= 2 && sleeping <= 2, "{searching} {sleeping}");
        drop(p); // joins: hung before the fix when a worker died uncounted
    });
}

#[test]
fn a_bomb_in_a_task_run_inline_from_wait_leaves_no_node_linked() {
    within("bomb inline from wait", || {
        let p = Arc::new(pool(1));
        let inner = p.clone();
        let outer = p
            .submit(move || {
                let y = inner
                    .submit(|| -> u8 { std::panic::panic_any(Bomb(1)) })
                    .unwrap();
                let r = wait([&y], ReturnWhen::AllCompleted);
                assert_eq!(r.done.len(), 1);
                assert!(y.exception().unwrap().unwrap().is_panic());
                y
            })
            .unwrap();
        let y = outer.result_timeout(LONG).unwrap().clone();
        // Its list is empty again: a completion here would touch freed nodes otherwise.
        assert!(!y.has_waiters());
        drop(outer);
        drop(Arc::try_unwrap(p).ok().unwrap());
    });
}

#[test]
fn bombs_in_callbacks_wakers_and_closure_drops_are_contained() {
    let _logs = captured_logs();
    within("bombs in user code", || {
        // A callback that panics with a bomb.
        let f = Future::<u8>::new();
        let after = Arc::new(AtomicBool::new(false));
        f.add_done_callback(|_| std::panic::panic_any(Bomb(2)));
        let a = after.clone();
        f.add_done_callback(move |_| a.store(true, Ordering::SeqCst));
        f.set_result(1).unwrap();
        assert!(after.load(Ordering::SeqCst), "the next callback ran");

        // A waker whose wake panics with a bomb: the other wake-ups and the callbacks run.
        struct BombWaker;
        impl std::task::Wake for BombWaker {
            fn wake(self: Arc<Self>) {
                std::panic::panic_any(Bomb(1));
            }
        }
        {
            use std::future::IntoFuture;
            use std::task::Context;
            let g = Future::<u8>::new();
            let waker = Waker::from(Arc::new(BombWaker));
            let mut rf = Box::pin((&g).into_future());
            assert!(
                std::future::Future::poll(rf.as_mut(), &mut Context::from_waker(&waker))
                    .is_pending()
            );
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            g.add_done_callback(move |_| r.store(true, Ordering::SeqCst));
            g.set_result(2).unwrap();
            assert!(
                ran.load(Ordering::SeqCst),
                "the callback ran after the bomb"
            );
        }

        // A closure whose drop throws a bomb, dropped by a cancel at shutdown.
        struct DropBomb;
        impl Drop for DropBomb {
            fn drop(&mut self) {
                std::panic::panic_any(Bomb(1));
            }
        }
        let p = pool(1);
        let (running, hold) = occupy_a_worker(&p);
        let bomb = DropBomb;
        let queued = p
            .submit(move || {
                let _keep = &bomb;
            })
            .unwrap();
        assert!(queued.cancel());
        hold.set();
        running.result_timeout(LONG).unwrap();
        drop(p);
    });
}

// ===== 3. a worker counted as searching while it runs user code after the publish =====

/// Submits a task that finishes once `go` is set, returning it and `go`.
fn gated_task<T: Send + 'static>(
    p: &ThreadPoolExecutor,
    f: impl FnOnce() -> T + Send + 'static,
) -> (Future<T>, Arc<Event>) {
    let go = Arc::new(Event::default());
    let g = go.clone();
    let fut = p
        .submit(move || {
            g.wait();
            f()
        })
        .unwrap();
    (fut, go)
}

#[test]
fn a_done_callback_waiting_for_a_later_task_gets_a_new_thread() {
    after_publish_user_code_waits_for_a_later_task(|p, probe| {
        let (f, go) = gated_task(p, || ());
        f.add_done_callback(move |_| probe.run());
        go.set();
    });
}

#[test]
fn a_result_drop_waiting_for_a_later_task_gets_a_new_thread() {
    after_publish_user_code_waits_for_a_later_task(|p, probe| {
        let (f, go) = gated_task(p, move || WaitsOnDrop(probe));
        drop(f); // the worker drops the value
        go.set();
    });
}

#[test]
fn a_waker_waiting_for_a_later_task_gets_a_new_thread() {
    use std::future::{Future as _, IntoFuture};
    use std::task::Context;

    struct Blocking(WaitsForALaterTask);
    impl std::task::Wake for Blocking {
        fn wake(self: Arc<Self>) {
            self.0.run();
        }
    }
    let keep: Arc<Mutex<Vec<Box<dyn Any>>>> = Arc::default();
    let k = keep.clone();
    after_publish_user_code_waits_for_a_later_task(move |p, probe| {
        let (f, go) = gated_task(p, || ());
        let waker = Waker::from(Arc::new(Blocking(probe)));
        // An owned await, kept alive (and so registered) until the completion wakes it.
        let mut rf = Box::pin(f.into_future());
        assert!(
            rf.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        k.lock().unwrap().push(Box::new(rf));
        go.set();
    });
}

// ===== 4. pool tasks that each call shutdown(wait = true) =====

#[test]
fn two_pool_tasks_that_each_shut_the_pool_down_with_wait_do_not_deadlock() {
    within("two tasks in shutdown(wait = true)", || {
        let p = Arc::new(pool(2));
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let fs: Vec<_> = (0..2)
            .map(|i| {
                let (p2, b) = (p.clone(), barrier.clone());
                p.submit(move || {
                    b.wait(); // both are running
                    p2.shutdown(true, i == 1);
                    i
                })
                .unwrap()
            })
            .collect();
        for (i, f) in fs.iter().enumerate() {
            assert_eq!(*f.result_timeout(LONG).unwrap(), i);
        }
        drop(fs);
        drop(Arc::try_unwrap(p).ok().unwrap());
    });
}

#[test]
fn shutdown_wait_from_several_tasks_callbacks_and_drops_at_once_does_not_deadlock() {
    within("shutdown from every kind of pool code", || {
        let p = Arc::new(pool(3));
        let barrier = Arc::new(std::sync::Barrier::new(3));
        struct ShutsDownOnDrop(Arc<ThreadPoolExecutor>);
        impl Drop for ShutsDownOnDrop {
            fn drop(&mut self) {
                self.0.shutdown(true, false);
            }
        }
        let (p1, b1) = (p.clone(), barrier.clone());
        let a = p
            .submit(move || {
                b1.wait();
                p1.shutdown(true, false);
            })
            .unwrap();
        let (p2, b2) = (p.clone(), barrier.clone());
        let b = p.submit(move || b2.wait()).unwrap();
        b.add_done_callback(move |_| p2.shutdown(true, true));
        let (p3, b3) = (p.clone(), barrier.clone());
        let c = p
            .submit(move || {
                b3.wait();
                ShutsDownOnDrop(p3)
            })
            .unwrap();
        drop(c); // the worker drops the value, which shuts the pool down
        a.result_timeout(LONG).unwrap();
        b.result_timeout(LONG).unwrap();
        p.shutdown(true, false);
        assert!(matches!(p.submit(|| ()), Err(SubmitError::Shutdown)));
    });
}

// ===== 5. bad input at the builder =====

#[test]
fn a_nul_byte_in_the_thread_name_prefix_is_refused_at_build_time() {
    let err = ThreadPoolExecutor::builder()
        .thread_name_prefix("bad\0name")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, concurrent_futures::BuildError::InvalidArgument(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn an_absurd_max_workers_is_refused_at_build_time() {
    let err = ThreadPoolExecutor::new(usize::MAX).unwrap_err();
    assert!(
        matches!(err, concurrent_futures::BuildError::InvalidArgument(_)),
        "{err:?}"
    );
    // A large but possible one is fine (threads start lazily).
    assert!(ThreadPoolExecutor::new(100_000).is_ok());
}

// ===== 6. the provided map on an executor that keeps a clone of every future =====

/// A user-written executor that remembers every future it makes (to cancel them at
/// shutdown, say), over a thread pool. Its handles are cheap clones of one executor.
#[derive(Clone)]
struct KeepsClones {
    pool: ThreadPoolExecutor,
    kept: Arc<Mutex<Vec<Box<dyn Any + Send>>>>,
}

impl Executor for KeepsClones {
    fn submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
        R: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        // `R: Sync` is not promised by the trait: keep the clones type-erased behind a
        // wrapper that is Send whatever R is, since it is only ever dropped.
        struct Opaque<T>(#[allow(dead_code)] Future<T>);
        // SAFETY: the wrapped handle is never used, only dropped, and dropping a handle on
        // any thread is what `Future`'s own Send bound allows for T: Send.
        unsafe impl<T: Send> Send for Opaque<T> {}
        let fut = self.pool.submit_task(f, arg)?;
        self.kept
            .lock()
            .unwrap()
            .push(Box::new(Opaque(fut.clone())));
        Ok(fut)
    }

    fn clone_handle(&self) -> Self {
        self.clone()
    }

    fn shutdown_with(&self, options: concurrent_futures::Shutdown) {
        self.pool.shutdown_with(options);
    }
}

concurrent_futures::task! {
    fn double(x: u64) -> u64 {
        x * 2
    }
}

concurrent_futures::task! {
    fn to_text(x: u64) -> String {
        x.to_string()
    }
}

concurrent_futures::task! {
    fn fails_on_one(x: u64) -> u64 {
        if x == 1 {
            panic!("item 1")
        }
        x
    }
}

#[test]
fn the_provided_map_refuses_a_closure_even_over_an_empty_input() {
    let e = KeepsClones {
        pool: pool(1),
        kept: Arc::new(Mutex::new(Vec::new())),
    };
    let refused = e
        .map_task(|x: u64| x, Vec::<u64>::new(), MapOptions::default())
        .unwrap_err();
    assert!(matches!(refused, SubmitError::NotATask(_)), "{refused}");
}

#[test]
fn the_provided_map_works_on_an_executor_that_keeps_clones_of_its_futures() {
    within("map over an executor that keeps clones", || {
        let e = KeepsClones {
            pool: pool(2),
            kept: Arc::new(Mutex::new(Vec::new())),
        };
        let got: Vec<u64> = e
            .map_task(double, 0..10, MapOptions::default())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, (0..10).map(|x| x * 2).collect::<Vec<_>>());
        let lazy: Vec<String> = e
            .map_task(to_text, 0..6, MapOptions::default().buffersize(2))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(lazy, ["0", "1", "2", "3", "4", "5"]);
        // A panicking item is that item's error, as on the pool itself.
        let mixed: Vec<Result<u64, Error>> = e
            .map_task(fails_on_one, 0..3, MapOptions::default())
            .unwrap()
            .collect();
        assert!(matches!(mixed[0], Ok(0)) && matches!(mixed[2], Ok(2)));
        assert!(
            mixed[1]
                .as_ref()
                .unwrap_err()
                .exception()
                .unwrap()
                .is_panic()
        );
        assert_eq!(
            e.kept.lock().unwrap().len(),
            10 + 6 + 3,
            "it kept every future"
        );
        // The shared part works through a trait object.
        let dyn_executor: &dyn Executor = &e;
        dyn_executor.shutdown(true, false);
        assert!(e.submit_task(double, 1).is_err());
    });
}

// ===== 7. a Waker whose clone panics =====

fn waker_with(panicking_clone: bool, tag: usize) -> Waker {
    fn clone_ok(p: *const ()) -> RawWaker {
        RawWaker::new(p, &OK)
    }
    fn clone_panics(_: *const ()) -> RawWaker {
        panic!("a waker's clone panicked")
    }
    fn noop(_: *const ()) {}
    static OK: RawWakerVTable = RawWakerVTable::new(clone_ok, noop, noop, noop);
    static PANICS: RawWakerVTable = RawWakerVTable::new(clone_panics, noop, noop, noop);
    let vtable = if panicking_clone { &PANICS } else { &OK };
    // SAFETY: the vtable's functions never dereference the data pointer.
    unsafe { Waker::from_raw(RawWaker::new(tag as *const (), vtable)) }
}

#[test]
fn a_waker_whose_clone_panics_leaves_the_future_unlocked() {
    use std::future::IntoFuture;
    use std::pin::pin;
    use std::task::{Context, Poll};
    within("a panicking waker clone", || {
        let f = Future::<u8>::new();
        {
            let mut rf = pin!((&f).into_future());
            let first = waker_with(false, 1);
            assert!(
                rf.as_mut()
                    .poll(&mut Context::from_waker(&first))
                    .is_pending()
            );
            let second = waker_with(true, 2);
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = rf.as_mut().poll(&mut Context::from_waker(&second));
            }));
            assert!(polled.is_err(), "the clone's panic reaches the poller");
            assert!(f.has_waiters(), "still registered, with the first waker");
            f.set_result(3).unwrap(); // spun forever on the lock bit before the fix
            let third = waker_with(false, 3);
            assert!(matches!(
                rf.as_mut().poll(&mut Context::from_waker(&third)),
                Poll::Ready(Ok(3))
            ));
        }
        assert!(!f.has_waiters());
    });
}

// ===== 8. a broken pool must not run a queued task inline =====

#[test]
fn a_broken_pool_fails_every_queued_task_before_any_callback_runs() {
    within("a callback on a breaking pool", || {
        let _logs = captured_logs();
        let go = Arc::new(Event::default());
        let g = go.clone();
        let p = ThreadPoolExecutor::builder()
            .max_workers(1)
            .initializer(move || {
                g.wait();
                Err("no database".into())
            })
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (r1, r2) = (ran.clone(), ran.clone());
        let a = p.submit(move || r1.fetch_add(1, Ordering::SeqCst)).unwrap();
        let b = p.submit(move || r2.fetch_add(1, Ordering::SeqCst)).unwrap();
        // A channel, not a shared slot: `a` is done before its callback
        // runs, so the test must wait for the callback's word.
        let (seen_tx, seen_rx) = mpsc::channel::<String>();
        let b2 = b.clone();
        a.add_done_callback(move |_| {
            // `b` is still queued when the breaking worker fails `a`.
            let r = b2
                .result_timeout(LONG)
                .map(|_| ())
                .map_err(|e| e.to_string());
            let _ = seen_tx.send(format!("{r:?}"));
        });
        go.set();
        for f in [&a, &b] {
            let e = f.exception_timeout(LONG).unwrap().expect("broken");
            assert!(e.to_string().contains("BrokenThreadPool"), "{e}");
        }
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "nothing ran on the broken pool"
        );
        let seen = seen_rx.recv_timeout(LONG).expect("the callback ran");
        assert!(seen.contains("BrokenThreadPool"), "{seen}");
        assert!(p.is_broken());
    });
}

// ===== 9. wait().done in input order =====

#[test]
fn wait_done_is_in_input_order_also_for_futures_that_finish_during_the_wait() {
    let a = Future::<u8>::new();
    let b = Future::<u8>::new();
    b.set_result(2).unwrap();
    let c = Future::<u8>::new();
    let (a2, c2) = (a.clone(), c.clone());
    let t = thread::spawn(move || {
        until("wait registered on a", || a2.has_waiters());
        c2.set_result(3).unwrap();
        a2.set_result(1).unwrap();
    });
    let r = wait([&a, &b, &c], ReturnWhen::AllCompleted);
    t.join().unwrap();
    let order: Vec<u8> = r.done.iter().map(|f| *f.result().unwrap()).collect();
    assert_eq!(order, [1, 2, 3]);
    let r = wait([&c, &a, &b, &a], ReturnWhen::FirstCompleted);
    let order: Vec<u8> = r.done.iter().map(|f| *f.result().unwrap()).collect();
    assert_eq!(order, [3, 1, 2], "input order, duplicates once");
}
