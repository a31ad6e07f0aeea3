//! Fault injection (issue #5): each fault has a documented outcome, and none hangs.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    Error, Executor, Future, MapOptions, ReturnWhen, SubmitError, ThreadPoolExecutor, wait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{RawWaker, RawWakerVTable, Waker};
use std::thread;

/// A value whose `Drop` panics.
struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("drop of a result panicked");
        }
    }
}

#[test]
fn a_result_whose_drop_panics_on_a_worker_does_not_kill_the_pool() {
    // The user drops the handle first, so the worker drops the value: the panic is caught
    // and logged there, the worker lives on, and shutdown does not hang.
    let logs = captured_logs();
    let p = ThreadPoolExecutor::new(1).unwrap();
    let release = Arc::new(Event::default());
    let r = release.clone();
    let f = p
        .submit(move || {
            r.wait();
            PanicOnDrop
        })
        .unwrap();
    drop(f);
    release.set();
    let after = p.submit(|| 5u8).unwrap();
    assert_eq!(
        *after.result_timeout(LONG).unwrap(),
        5,
        "the worker survived"
    );
    assert_eq!(p.threads_started(), 1);
    p.shutdown(true, false);
    assert!(
        logs.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("drop of a result panicked")),
        "{:?}",
        logs.lock().unwrap()
    );
}

#[test]
fn a_result_whose_drop_panics_in_the_users_thread_panics_there() {
    // Dropping the last handle drops the value in the caller's thread, like any value.
    let f = Future::new();
    assert!(f.set_result(PanicOnDrop).is_ok());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(f)));
    assert!(r.is_err());
}

static WAKES: AtomicUsize = AtomicUsize::new(0);

fn counting_waker(panics: bool) -> Waker {
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    fn wake(p: *const ()) {
        wake_by_ref(p)
    }
    fn wake_by_ref(p: *const ()) {
        WAKES.fetch_add(1, Ordering::SeqCst);
        if !p.is_null() {
            panic!("a waker panicked");
        }
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);
    let data = if panics {
        std::ptr::dangling::<()>()
    } else {
        std::ptr::null()
    };
    // SAFETY: the vtable's functions never dereference the data pointer.
    unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
}

#[test]
fn a_panicking_waker_does_not_stop_the_other_wake_ups() {
    use std::future::IntoFuture;
    use std::pin::pin;
    use std::task::{Context, Poll};
    let _logs = captured_logs();
    let f = Future::<u8>::new();
    // Register three awaits: the middle one's waker panics.
    let mut a = pin!((&f).into_future());
    let mut b = pin!((&f).into_future());
    let mut c = pin!((&f).into_future());
    let (wa, wb, wc) = (
        counting_waker(false),
        counting_waker(true),
        counting_waker(false),
    );
    assert!(a.as_mut().poll(&mut Context::from_waker(&wa)).is_pending());
    assert!(b.as_mut().poll(&mut Context::from_waker(&wb)).is_pending());
    assert!(c.as_mut().poll(&mut Context::from_waker(&wc)).is_pending());
    let cb = Arc::new(AtomicUsize::new(0));
    let cb2 = cb.clone();
    f.add_done_callback(move |_| {
        cb2.fetch_add(1, Ordering::SeqCst);
    });
    f.set_result(1).unwrap(); // no panic escapes
    assert_eq!(WAKES.load(Ordering::SeqCst), 3, "every waker was woken");
    assert_eq!(cb.load(Ordering::SeqCst), 1, "callbacks still ran");
    assert!(matches!(
        a.as_mut().poll(&mut Context::from_waker(&wa)),
        Poll::Ready(Ok(&1))
    ));
}

#[test]
fn shutdown_while_a_lazy_map_is_half_consumed() {
    // The items already submitted finish; each one the map would submit next is refused and
    // yielded as that item's error (issue #9, trap 2): nothing hangs, nothing vanishes.
    let p = ThreadPoolExecutor::new(2).unwrap();
    let mut it = p
        .map_with(|x: u32| x * 2, 0..100, MapOptions::default().buffersize(4))
        .unwrap();
    let first: Vec<u32> = (&mut it).take(3).map(Result::unwrap).collect();
    assert_eq!(first, [0, 2, 4]);
    p.shutdown(false, false);
    let rest: Vec<Result<u32, Error>> = it.collect();
    assert_eq!(rest.len(), 97, "every input ends as a result or an error");
    let done = rest.iter().take_while(|r| r.is_ok()).count();
    assert!(done <= 4, "only what was in flight ran: {done}");
    for (i, r) in rest.iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(*v, (i as u32 + 3) * 2, "in order"),
            Err(e) => {
                assert!(i >= done, "errors only after the in-flight items");
                let refusal = e.exception().and_then(|e| e.downcast_ref::<SubmitError>());
                assert!(matches!(refusal, Some(SubmitError::Shutdown)), "{e}");
            }
        }
    }
    p.shutdown(true, false);
}

#[test]
fn shutdown_racing_submits_from_several_threads_loses_nothing() {
    for _ in 0..50 {
        let p = Arc::new(ThreadPoolExecutor::new(2).unwrap());
        let go = Arc::new(std::sync::Barrier::new(5));
        let submitters: Vec<_> = (0..4)
            .map(|_| {
                let (p, go) = (p.clone(), go.clone());
                thread::spawn(move || {
                    go.wait();
                    let mut accepted = Vec::new();
                    for i in 0..200u32 {
                        match p.submit(move || i) {
                            Ok(f) => accepted.push(f),
                            Err(SubmitError::Shutdown) => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    accepted
                })
            })
            .collect();
        go.wait();
        p.shutdown(true, false);
        for s in submitters {
            let accepted = s.join().unwrap();
            // Every accepted task ran: shutdown(wait) waited for it.
            assert!(
                accepted
                    .iter()
                    .all(|f| f.done() && f.result_timeout(std::time::Duration::ZERO).is_ok())
            );
        }
    }
}

#[test]
fn a_task_that_shuts_its_own_pool_down_with_cancel() {
    let p = Arc::new(ThreadPoolExecutor::new(1).unwrap());
    let inner = p.clone();
    let queued: Vec<Future<u8>>;
    let release = Arc::new(Event::default());
    let r = release.clone();
    let killer = p
        .submit(move || {
            r.wait();
            inner.shutdown(true, true);
        })
        .unwrap();
    queued = (0..5).map(|_| p.submit(|| 1).unwrap()).collect();
    release.set();
    killer.result_timeout(LONG).unwrap();
    assert!(
        queued.iter().all(|f| f.cancelled()),
        "its own cancel_futures cancelled the queue"
    );
    assert_eq!(wait(&queued, ReturnWhen::AllCompleted).done.len(), 5);
}

#[test]
fn an_os_refusal_to_start_a_thread_fails_the_futures_instead_of_stranding_them() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(2)
        .fail_thread_starts_for_tests()
        .build()
        .unwrap();
    let f = p.submit(|| 1u8).unwrap();
    match f.result_timeout(LONG) {
        Err(Error::Exception(e)) => {
            assert!(e.broken_kind().is_some());
            assert!(
                e.to_string().contains("could not start a worker thread"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(p.submit(|| 1u8), Err(SubmitError::Broken(_))));
}
