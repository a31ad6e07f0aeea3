//! Back-pressure (issue #12, item 3; tokio #7261 and rayon #835 ask for bounded
//! submission): a `max_queued` pool, its `WhenFull` policies, `try_submit` and
//! `submit_async`, and nothing lost on any path.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{BuildError, Executor, Future, SubmitError, ThreadPoolExecutor, WhenFull};
use std::time::{Duration, Instant};

fn bounded(policy: WhenFull) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(1)
        .max_queued(1)
        .when_full(policy)
        .build()
        .unwrap()
}

/// The one worker busy and the one slot taken: the queue is full.
fn fill(p: &ThreadPoolExecutor) -> (Future<()>, std::sync::Arc<Event>, Future<u8>) {
    let (running, hold) = occupy_a_worker(p);
    let queued = p.try_submit(|| 1).unwrap();
    assert_eq!(p.metrics().queued, 1);
    (running, hold, queued)
}

#[test]
fn reject_refuses_at_once_and_says_why() {
    let p = bounded(WhenFull::Reject);
    let (running, hold, queued) = fill(&p);
    let e = p.submit(|| 2).unwrap_err();
    assert!(matches!(e, SubmitError::Full { max_queued: 1 }));
    assert!(e.to_string().contains("max_queued = 1"), "{e}");
    hold.set();
    running.result().unwrap();
    assert_eq!(*queued.result().unwrap(), 1);
    assert_eq!(*p.submit(|| 3).unwrap().result().unwrap(), 3, "room again");
}

#[test]
fn block_waits_for_room_up_to_its_timeout() {
    let p = bounded(WhenFull::Block {
        timeout: Some(Duration::from_millis(30)),
    });
    let (running, hold, queued) = fill(&p);
    let t = Instant::now();
    assert!(matches!(p.submit(|| 2), Err(SubmitError::Full { .. })));
    assert!(t.elapsed() >= Duration::from_millis(30), "it waited first");
    assert!(
        matches!(p.try_submit(|| 2), Err(SubmitError::Full { .. })),
        "never waits"
    );
    hold.set();
    running.result().unwrap();
    queued.result().unwrap();
}

#[test]
fn a_blocked_submit_gets_in_once_a_worker_takes_a_task() {
    let p = bounded(WhenFull::default());
    let (running, hold, queued) = fill(&p);
    let q = p.clone();
    let producer = std::thread::spawn(move || q.submit(|| 7).unwrap());
    hold.set(); // the worker finishes, pops the queued task: a slot frees
    let late = producer.join().unwrap();
    running.result().unwrap();
    queued.result().unwrap();
    assert_eq!(*late.result().unwrap(), 7);
}

#[test]
fn caller_runs_runs_the_task_on_the_submitting_thread() {
    let p = bounded(WhenFull::CallerRuns);
    let (running, hold, queued) = fill(&p);
    let here = std::thread::current().id();
    let ran = p.submit(move || std::thread::current().id()).unwrap();
    assert!(ran.done(), "done before submit returned");
    assert_eq!(*ran.result().unwrap(), here);
    let boom = p.submit(|| -> u8 { panic!("caller-run panic") }).unwrap();
    assert!(boom.exception().unwrap().unwrap().is_panic());
    hold.set();
    running.result().unwrap();
    queued.result().unwrap();
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!((m.submitted, m.completed, m.panicked), (4, 3, 1), "{m}");
}

#[test]
fn shutdown_wakes_blocked_submitters_which_are_refused() {
    let p = bounded(WhenFull::default());
    let (running, hold, queued) = fill(&p);
    let q = p.clone();
    let producer = std::thread::spawn(move || q.submit(|| 9));
    let r = p.clone();
    let closer = std::thread::spawn(move || r.shutdown(false, true));
    closer.join().unwrap();
    let refused = producer.join().unwrap();
    // It either got the slot the cancel drain freed before the shutdown flag (and was then
    // accepted and drained, or run), or was refused: never left waiting.
    match refused {
        Err(SubmitError::Shutdown) => {}
        Ok(f) => {
            hold.set();
            let _ = f.result_timeout(LONG);
        }
        Err(e) => panic!("{e}"),
    }
    hold.set();
    running.result().unwrap();
    assert!(queued.cancelled());
}

#[test]
fn submit_async_waits_for_room_without_blocking_its_thread() {
    let p = bounded(WhenFull::default());
    let (running, hold, queued) = fill(&p);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let q = p.clone();
    let v = rt.block_on(async move {
        let pending = tokio::spawn({
            let q = q.clone();
            async move { q.submit_async(|| 5u8).await.unwrap().await.unwrap() }
        });
        // The runtime's one thread is free while the submit waits: this runs.
        tokio::task::yield_now().await;
        assert!(!pending.is_finished());
        hold.set();
        pending.await.unwrap()
    });
    assert_eq!(v, 5);
    running.result().unwrap();
    queued.result().unwrap();
    // A dropped, never-ready submit submits nothing and leaves no waiter behind.
    let p = bounded(WhenFull::Reject);
    let (running, hold, queued) = fill(&p);
    drop(p.submit_async(|| 1u8));
    hold.set();
    running.result().unwrap();
    queued.result().unwrap();
    p.shutdown(true, false);
    assert_eq!(p.metrics().submitted, 2);
}

#[test]
fn zero_max_queued_and_a_policy_without_a_bound_are_refused() {
    let zero = ThreadPoolExecutor::builder()
        .max_queued(0)
        .build()
        .unwrap_err();
    assert!(matches!(zero, BuildError::InvalidArgument(_)));
    let unbounded = ThreadPoolExecutor::builder()
        .when_full(WhenFull::Reject)
        .build()
        .unwrap_err();
    assert!(
        unbounded.to_string().contains("needs max_queued"),
        "{unbounded}"
    );
}

/// Nothing lost: four producers push 2,000 tasks each through a two-slot queue.
#[test]
fn many_blocked_producers_lose_nothing() {
    let p = ThreadPoolExecutor::builder()
        .max_workers(2)
        .max_queued(2)
        .build()
        .unwrap();
    let producers: Vec<_> = (0..4u64)
        .map(|k| {
            let p = p.clone();
            std::thread::spawn(move || {
                (0..2000u64)
                    .map(|i| p.submit(move || k * 10_000 + i).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut sum = 0;
    for (k, h) in producers.into_iter().enumerate() {
        for (i, f) in h.join().unwrap().into_iter().enumerate() {
            let v = *f.result().unwrap();
            assert_eq!(v, k as u64 * 10_000 + i as u64);
            sum += 1;
        }
    }
    assert_eq!(sum, 8000);
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!((m.submitted, m.completed, m.queued), (8000, 8000, 0), "{m}");
}

/// On one of the pool's own threads a full queue does not block (that thread may be the
/// one that would make room): the task runs there, as with `CallerRuns`.
#[test]
fn a_full_queue_never_blocks_the_pools_own_thread() {
    let p = bounded(WhenFull::default());
    let q = p.clone();
    let outer = p
        .submit(move || {
            let filler = q.submit(|| 1u8).unwrap(); // the one slot
            let here = std::thread::current().id();
            let overflow = q.submit(move || std::thread::current().id()).unwrap();
            assert_eq!(
                *overflow.result().unwrap(),
                here,
                "ran on the submitting worker"
            );
            *filler.result().unwrap()
        })
        .unwrap();
    assert_eq!(
        within("the nested submit", move || *outer
            .result_timeout(LONG)
            .unwrap()),
        1
    );
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn poll_once<F: std::future::Future + Unpin>(
    f: &mut F,
    waker: &std::sync::Arc<CountingWaker>,
) -> std::task::Poll<F::Output> {
    let waker = std::task::Waker::from(waker.clone());
    std::pin::Pin::new(f).poll(&mut std::task::Context::from_waker(&waker))
}

/// Polled by hand: on a full queue `submit_async` is pending and says it has not submitted;
/// a shutdown makes the next poll refuse it rather than leave it pending.
#[test]
fn a_pending_submit_async_is_refused_once_the_pool_shuts_down() {
    let p = bounded(WhenFull::default());
    let (running, hold, queued) = fill(&p);
    let waker = std::sync::Arc::new(CountingWaker::default());
    let mut submit = p.submit_async(|| 5u8);
    assert!(
        poll_once(&mut submit, &waker).is_pending(),
        "the queue is full"
    );
    assert_eq!(format!("{submit:?}"), "SubmitAsync { submitted: false }");
    p.shutdown(false, false);
    match poll_once(&mut submit, &waker) {
        std::task::Poll::Ready(Err(SubmitError::Shutdown)) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    hold.set();
    running.result().unwrap();
    queued.result().unwrap();
}

/// A pending `submit_async` that is dropped stops counting as a waiter: the room a pop makes
/// later wakes nobody (its waker is not called), and nothing was submitted.
#[test]
fn a_dropped_submit_async_is_not_woken_by_later_room() {
    let p = bounded(WhenFull::default());
    let (running, hold, queued) = fill(&p);
    let waker = std::sync::Arc::new(CountingWaker::default());
    let mut submit = p.submit_async(|| 5u8);
    assert!(poll_once(&mut submit, &waker).is_pending());
    drop(submit);
    hold.set();
    running.result().unwrap();
    queued.result().unwrap(); // popped: its slot was released
    assert_eq!(waker.0.load(std::sync::atomic::Ordering::SeqCst), 0);
    // A pending one that is kept is woken by the same room.
    let (running, hold, queued) = fill(&p);
    let waker = std::sync::Arc::new(CountingWaker::default());
    let mut submit = p.submit_async(|| 6u8);
    assert!(poll_once(&mut submit, &waker).is_pending());
    hold.set();
    running.result().unwrap();
    queued.result().unwrap();
    assert!(
        waker.0.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "room wakes a waiter"
    );
    match poll_once(&mut submit, &waker) {
        std::task::Poll::Ready(Ok(f)) => assert_eq!(*f.result().unwrap(), 6),
        other => panic!("expected the submit, got {other:?}"),
    }
    p.shutdown(true, false);
    assert_eq!(p.metrics().submitted, 5);
}
