//! What the audits behind issue #8's fixes found (`docs/guarantees.md`, "Audits"), and what
//! the review of those fixes found: a user `Display`, panicking loggers' neighbours, and the
//! wider classes of each defect. Each of these failed or hung before its fix.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Error, Executor, Future, ThreadPoolExecutor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{RawWaker, RawWakerVTable, Waker};
use std::thread;

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::new(n).unwrap()
}

// ===== the Display of a user error, and a logger that panics =====

#[test]
fn an_initializer_error_whose_display_panics_still_breaks_the_pool_cleanly() {
    #[derive(Debug)]
    struct Rude;
    impl std::fmt::Display for Rude {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("Display panicked")
        }
    }
    impl std::error::Error for Rude {}
    within("an initializer error with a panicking Display", || {
        let _logs = captured_logs();
        let p = ThreadPoolExecutor::builder()
            .max_workers(1)
            .initializer(|| Err(Box::new(Rude)))
            .build()
            .unwrap();
        let f = p.submit(|| 1u8).unwrap();
        let e = f.exception_timeout(LONG).unwrap().expect("broken");
        assert!(e.to_string().contains("BrokenThreadPool"), "{e}");
        drop(p); // the worker was counted out: no hang
    });
}

#[test]
fn try_into_result_moves_the_value_as_soon_as_the_task_is_done() {
    // The worker's own reference never counts as a user handle, not even for the instant
    // after it publishes (issue #9, trap 8; `Map` relied on a spin around that instant).
    let p = pool(2);
    for i in 0..20_000u32 {
        let f = p.submit(move || vec![i]).unwrap();
        // Take it the moment it is done: the window the worker's reference counted in.
        let mut spins = 0u32;
        while !f.done() {
            // Spin, to look the instant it is done; yield after a while, for one core.
            spins += 1;
            if spins < 1_000 {
                std::hint::spin_loop();
            } else {
                thread::yield_now();
            }
        }
        match f.try_into_result() {
            Ok(v) => assert_eq!(v.unwrap(), [i]),
            Err(_) => panic!("round {i}: the handle came back though it was the only one"),
        }
    }
}

#[test]
fn a_callback_still_running_counts_as_a_handle_for_try_into_result() {
    let f = Future::<String>::new();
    let (entered, release) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (e, r) = (entered.clone(), release.clone());
    let seen = Arc::new(Mutex::new(String::new()));
    let s = seen.clone();
    f.add_done_callback(move |fut| {
        e.set();
        r.wait();
        *s.lock().unwrap() = fut.result().unwrap().clone();
    });
    let setter = f.clone();
    let t = thread::spawn(move || setter.set_result("v".into()).unwrap());
    entered.wait();
    // The setter's handle is still alive while its callback runs; take ours away too.
    let f = match f.try_into_result() {
        Err(f) => f,
        Ok(_) => panic!("moved the value while a callback may read it"),
    };
    release.set();
    t.join().unwrap();
    assert_eq!(f.try_into_result().ok().unwrap().unwrap(), "v");
    assert_eq!(*seen.lock().unwrap(), "v");
}

#[test]
fn a_callback_running_on_a_worker_counts_as_a_handle_for_try_into_result() {
    let p = pool(1);
    let (entered, release) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (e, r) = (entered.clone(), release.clone());
    let go = Arc::new(Event::default());
    let g = go.clone();
    let f = p
        .submit(move || {
            g.wait();
            "value".to_owned()
        })
        .unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let s = seen.clone();
    f.add_done_callback(move |fut| {
        e.set();
        r.wait();
        // Reads the value while the user holds only their own handle.
        *s.lock().unwrap() = fut.result().unwrap().clone();
    });
    go.set();
    entered.wait();
    let f = match f.try_into_result() {
        Err(f) => f,
        Ok(_) => panic!("moved the value while the worker's callback may read it"),
    };
    release.set();
    until("the callback finished", || !seen.lock().unwrap().is_empty());
    assert_eq!(*seen.lock().unwrap(), "value");
    // Once the callback is over, the value moves.
    let mut f = f;
    let v = loop {
        match f.try_into_result() {
            Ok(v) => break v,
            Err(back) => {
                f = back;
                thread::yield_now();
            }
        }
    };
    assert_eq!(v.unwrap(), "value");
}

// ===== found by the audits =====

#[test]
fn a_cancel_futures_drain_ends_every_queued_task_before_any_callback_runs() {
    // A callback of one cancelled task waits on another queued task: with a one-phase drain
    // it ran on the shutting-down thread while that task was still queued behind a busy
    // worker, and blocked the shutdown.
    within("a callback during a cancel_futures drain", || {
        let p = pool(1);
        let (blocker, hold) = occupy_a_worker(&p);
        let a = p.submit(|| 1u8).unwrap();
        let b = p.submit(|| 2u8).unwrap();
        let seen: Arc<Mutex<Option<String>>> = Arc::default();
        let (s, b2) = (seen.clone(), b.clone());
        a.add_done_callback(move |_| {
            let r = b2.result_timeout(LONG).map(|_| ());
            *s.lock().unwrap() = Some(format!("{r:?}"));
        });
        p.shutdown(false, true);
        assert!(a.cancelled() && b.cancelled());
        assert_eq!(seen.lock().unwrap().as_deref(), Some("Err(Cancelled)"));
        hold.set();
        blocker.result_timeout(LONG).unwrap();
    });
}

#[test]
fn a_pool_task_can_wait_on_a_cancelled_task_of_its_own_drain() {
    // The same from one of the pool's own tasks: the callback must not run the still-queued
    // task inline when `cancel_futures` asked for it to be cancelled.
    within("shutdown(cancel_futures) from a task", || {
        let p = Arc::new(pool(1));
        let ran = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel::<()>();
        let inner = p.clone();
        let outer = p
            .submit(move || {
                rx.recv().unwrap(); // the callback below is registered
                inner.shutdown(false, true);
            })
            .unwrap();
        let r1 = ran.clone();
        let a = p
            .submit(move || {
                r1.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let r2 = ran.clone();
        let b = p
            .submit(move || {
                r2.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let b2 = b.clone();
        a.add_done_callback(move |_| {
            let _ = b2.result_timeout(LONG);
        });
        tx.send(()).unwrap();
        outer.result_timeout(LONG).unwrap();
        assert!(
            a.cancelled() && b.cancelled(),
            "{:?} {:?}",
            a.state(),
            b.state()
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}

// ===== found by the review of the fix =====

#[test]
fn a_drain_whose_value_drop_panics_still_wakes_every_other_task() {
    // Phase two of a drain frees the cells it ends; a value whose drop panics there used to
    // unwind through the rest of the drain, leaving a cancelled task's waiters asleep.
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("{}", "a value's drop panicked in a drain");
        }
    }
    let _logs = captured_logs();
    within("a drain that meets a panicking drop", || {
        let p = Arc::new(pool(1));
        let inner = p.clone();
        let (tx, rx) = mpsc::channel::<Future<u8>>();
        let x = p
            .submit(move || {
                let y = inner.submit(|| PanicsOnDrop).unwrap();
                let z = inner.submit(|| 1u8).unwrap();
                tx.send(z).unwrap();
                assert!(y.result().is_ok()); // runs y inline
                drop(y); // now only the queue entry holds y's value
                inner.shutdown(false, true);
            })
            .unwrap();
        let z = rx.recv().unwrap();
        assert!(matches!(z.result_timeout(LONG), Err(Error::Cancelled)));
        x.result_timeout(LONG).unwrap();
    });
}

#[test]
fn an_initializer_error_whose_drop_panics_still_breaks_the_pool() {
    #[derive(Debug)]
    struct DropPanics;
    impl std::fmt::Display for DropPanics {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("no database")
        }
    }
    impl std::error::Error for DropPanics {}
    impl Drop for DropPanics {
        fn drop(&mut self) {
            panic!("an initializer's error panicked when dropped");
        }
    }
    let _logs = captured_logs();
    within("an initializer error with a panicking drop", || {
        let p = ThreadPoolExecutor::builder()
            .max_workers(1)
            .initializer(|| Err(Box::new(DropPanics)))
            .build()
            .unwrap();
        let f = p.submit(|| 1u8).unwrap();
        let e = f.exception_timeout(LONG).unwrap().expect("broken");
        assert!(e.to_string().contains("no database"), "{e}");
        assert!(p.is_broken());
    });
}

#[test]
fn an_error_whose_drop_waits_for_a_later_task_gets_a_new_thread() {
    // The outcome a worker frees may be an exception that owns the user's error: its drop
    // is user code too (pool rule 4).
    after_publish_user_code_waits_for_a_later_task(|p, probe| {
        let go = Arc::new(Event::default());
        let g = go.clone();
        let f = p
            .submit_fallible(move || -> Result<(), WaitsOnDrop> {
                g.wait();
                Err(WaitsOnDrop(probe))
            })
            .unwrap();
        drop(f);
        go.set();
    });
}

static REENTERED: Mutex<Option<Future<u8>>> = Mutex::new(None);

#[test]
fn a_waker_whose_clone_touches_the_same_future_does_not_deadlock() {
    use std::future::IntoFuture;
    use std::pin::pin;
    use std::task::{Context, Poll};
    fn clone(p: *const ()) -> RawWaker {
        // Re-enters the future it is registered on.
        if let Some(f) = REENTERED.lock().unwrap().as_ref() {
            let _ = f.cancel();
            let _ = f.done();
        }
        RawWaker::new(p, &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    within("a re-entrant waker clone", || {
        let f = Future::<u8>::new();
        let mut rf = pin!((&f).into_future());
        // SAFETY: the vtable's functions never dereference the data pointer.
        let first =
            unsafe { Waker::from_raw(RawWaker::new(std::ptr::dangling::<u8>().cast(), &VTABLE)) };
        assert!(
            rf.as_mut()
                .poll(&mut Context::from_waker(&first))
                .is_pending()
        );
        *REENTERED.lock().unwrap() = Some(f.clone());
        // SAFETY: as above.
        let second =
            unsafe { Waker::from_raw(RawWaker::new(std::ptr::dangling::<u16>().cast(), &VTABLE)) };
        // The clone cancels the future while this poll updates its waker.
        let polled = rf.as_mut().poll(&mut Context::from_waker(&second));
        assert!(matches!(
            polled,
            Poll::Pending | Poll::Ready(Err(Error::Cancelled))
        ));
        *REENTERED.lock().unwrap() = None;
        assert!(f.cancelled());
        assert!(matches!(
            rf.as_mut().poll(&mut Context::from_waker(&second)),
            Poll::Ready(Err(Error::Cancelled))
        ));
    });
}
