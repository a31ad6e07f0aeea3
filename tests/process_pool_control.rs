//! Issue #12 on the process pool: its metrics, a bounded shutdown, and back-pressure, each
//! in its named-task form (the cancel requests are in `process_pool.rs`).

#![cfg(all(unix, not(concurrent_futures_loom)))]

mod common;

#[path = "support/process_common.rs"]
mod process_common;

use std::time::{Duration, Instant};

use common::*;
use concurrent_futures::{BuildError, Executor, ProcessPoolExecutor, SubmitError, WhenFull, task};
use process_common::*;

task! {
    fn exit_with(code: i32) -> u8 {
        std::process::exit(code)
    }
}

fn bounded(max_queued: usize, policy: WhenFull) -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_queued(max_queued)
        .when_full(policy)
        .build()
        .unwrap()
}

/// Fills a one-worker pool: one call running (blocked on `gate`), one pipelined behind it,
/// and `queued` more in its queue. Returns them all, in order.
fn fill(
    pool: &ProcessPoolExecutor,
    gate: &Barrier,
    queued: usize,
) -> Vec<concurrent_futures::Future<u32>> {
    let mut futs = Vec::new();
    // One at a time: until the worker's handshake, calls wait in the queue.
    for _ in 0..2 {
        let f = pool.submit_task(wait_for_file, gate.path()).unwrap();
        let until = Instant::now() + LONG;
        while !f.running() {
            assert!(Instant::now() < until, "the worker never took the call");
            std::thread::yield_now();
        }
        futs.push(f);
    }
    for _ in 0..queued {
        futs.push(pool.try_submit_task(wait_for_file, gate.path()).unwrap());
    }
    futs
}

/// Every task is counted once, by how it ended (tokio #4114 asks for metrics on stable):
/// completed, panicked, cancelled while queued, and failed by a broken pool; once the pool
/// is quiet, `submitted` is their sum.
#[test]
fn the_process_pools_metrics_count_every_task_once_by_how_it_ended() {
    let p = pool(1);
    assert_eq!(*p.submit_task(square, 3).unwrap().result().unwrap(), 9);
    assert!(
        p.submit_task(boom, "x".into())
            .unwrap()
            .exception()
            .unwrap()
            .unwrap()
            .is_panic()
    );
    let gate = Barrier::new("metrics");
    let running = fill(&p, &gate, 0);
    let queued = p.submit_task(square, 5).unwrap();
    assert!(queued.cancel());
    let m = p.metrics();
    assert_eq!((m.queued, m.live_workers, m.busy_workers), (1, 1, 1));
    gate.open();
    for f in &running {
        f.result_timeout(LONG).unwrap();
    }
    let broken = p.submit_task(exit_with, 3).unwrap();
    assert!(broken.exception_timeout(LONG).unwrap().is_some());
    p.shutdown(true, false);
    let m = p.metrics();
    assert_eq!(m.submitted, 6);
    assert_eq!(m.started, 5, "all but the cancelled one reached a worker");
    assert_eq!(
        (m.completed, m.panicked, m.cancelled, m.failed),
        (3, 1, 1, 1)
    );
    assert_eq!(
        m.submitted,
        m.completed + m.panicked + m.cancelled + m.failed
    );
    assert_eq!((m.queued, m.live_workers), (0, 0));
    assert!(format!("{p:?}").contains("submitted: 6"), "{p:?}");
}

/// A shutdown guaranteed to return (CPython #157215): `Err` at its deadline naming the
/// worker pids still running, and `Ok` once every worker has exited and been reaped.
#[test]
fn the_process_pools_bounded_shutdown_names_the_workers_still_running() {
    let p = pool(1);
    let gate = Barrier::new("bounded-shutdown");
    let stuck = p.submit_task(wait_for_file, gate.path()).unwrap();
    let until = Instant::now() + LONG;
    while !stuck.running() {
        assert!(Instant::now() < until);
        std::thread::yield_now();
    }
    let pids = p.worker_pids();
    let err = p
        .shutdown_timeout(false, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!((err.running, &err.pids), (1, &pids));
    assert!(
        err.to_string().contains("1 worker process still running"),
        "{err}"
    );
    assert!(matches!(
        p.submit_task(square, 1),
        Err(SubmitError::Shutdown)
    ));
    gate.open();
    p.shutdown_timeout(false, LONG).unwrap();
    assert!(p.worker_pids().is_empty());
    assert_eq!(*stuck.result().unwrap(), pids[0], "the call ran to its end");
    let idle = pool(2);
    idle.shutdown_timeout(false, Duration::ZERO).unwrap();
}

/// Back-pressure on the process pool (tokio #7261, rayon #835): `Reject` refuses a full
/// queue at once, `try_submit_task` refuses whatever the policy, and `Block` with a timeout
/// gives up at its deadline with the same error.
#[test]
fn a_full_process_pool_refuses_or_gives_up_at_its_deadline() {
    let gate = Barrier::new("reject");
    let p = bounded(1, WhenFull::Reject);
    let futs = fill(&p, &gate, 1);
    assert!(matches!(
        p.submit_task(square, 1),
        Err(SubmitError::Full { max_queued: 1 })
    ));
    let blocking = bounded(
        1,
        WhenFull::Block {
            timeout: Some(Duration::from_millis(30)),
        },
    );
    let more = fill(&blocking, &gate, 1);
    assert!(matches!(
        blocking.try_submit_task(square, 1),
        Err(SubmitError::Full { max_queued: 1 })
    ));
    let began = Instant::now();
    assert!(matches!(
        blocking.submit_task(square, 1),
        Err(SubmitError::Full { max_queued: 1 })
    ));
    assert!(
        began.elapsed() >= Duration::from_millis(30),
        "it waited for its timeout"
    );
    gate.open();
    for f in futs.iter().chain(&more) {
        f.result_timeout(LONG).unwrap();
    }
    assert_eq!(p.metrics().submitted, 3, "a refused call is not counted");
}

/// How long a blocked submitter may wait for room at most, and the bound on how long a
/// wake-up may take (generous: it takes microseconds).
#[cfg(target_os = "linux")]
const BLOCK_LIMIT: Duration = Duration::from_secs(20);
#[cfg(target_os = "linux")]
const WAKE_BOUND: Duration = Duration::from_secs(10);

/// Waits until the thread `tid` of this process sleeps in the kernel (a condvar wait).
#[cfg(target_os = "linux")]
fn until_asleep(tid: i32) {
    let stat = format!("/proc/self/task/{tid}/stat");
    let until = Instant::now() + LONG;
    loop {
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        // The state follows the parenthesised name: "123 (name) S ...".
        let state = text.rsplit(") ").next().and_then(|r| r.chars().next());
        if state == Some('S') {
            return;
        }
        assert!(
            Instant::now() < until,
            "the submitter never blocked: {text}"
        );
        std::thread::yield_now();
    }
}

/// Submits on a new thread, and hands back its thread id once it is blocked.
#[cfg(target_os = "linux")]
fn blocked_submit<'s>(
    s: &'s std::thread::Scope<'s, '_>,
    pool: &'s ProcessPoolExecutor,
) -> std::thread::ScopedJoinHandle<'s, Result<concurrent_futures::Future<u64>, SubmitError>> {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let handle = s.spawn(move || {
        // SAFETY: gettid(2) has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        pool.submit_task(square, 7)
    });
    until_asleep(tid_rx.recv().unwrap());
    handle
}

/// Blocks a submitter on `pool`, runs `release` once it sleeps, and returns what the submit
/// returned, asserting that `release` woke it (`why`), not its timeout.
#[cfg(target_os = "linux")]
fn released_by(
    pool: &ProcessPoolExecutor,
    release: impl FnOnce(),
    why: &str,
) -> Result<concurrent_futures::Future<u64>, SubmitError> {
    std::thread::scope(|s| {
        let blocked = blocked_submit(s, pool);
        let began = Instant::now();
        release();
        let got = blocked.join().unwrap();
        assert!(
            began.elapsed() < WAKE_BOUND,
            "woken by its timeout, not by {why}"
        );
        got
    })
}

/// `Block` waits for room and then queues (nothing lost); a shutdown wakes a blocked
/// submitter, which is refused rather than left waiting.
#[test]
#[cfg(target_os = "linux")] // it watches the submitter block through /proc
fn a_blocked_submit_waits_for_room_and_a_shutdown_releases_it() {
    let gate = Barrier::new("block");
    // A bounded wait, twice as long as the test allows: a missed wake-up shows as a wait
    // past `WAKE_BOUND`, not as a hang, and not as a pass.
    let p = bounded(
        1,
        WhenFull::Block {
            timeout: Some(BLOCK_LIMIT),
        },
    );
    let futs = fill(&p, &gate, 1);
    let waited = released_by(&p, || gate.open(), "the room");
    assert_eq!(*waited.unwrap().result_timeout(LONG).unwrap(), 49);
    for f in &futs {
        f.result_timeout(LONG).unwrap();
    }

    let gate = Barrier::new("block-shutdown");
    let q = bounded(
        1,
        WhenFull::Block {
            timeout: Some(BLOCK_LIMIT),
        },
    );
    let futs = fill(&q, &gate, 1);
    let refused = released_by(&q, || q.shutdown(false, false), "the shutdown");
    assert!(matches!(refused, Err(SubmitError::Shutdown)), "{refused:?}");
    gate.open();
    for f in &futs {
        f.result_timeout(LONG).unwrap();
    }
}

/// `CallerRuns` runs the call in the submitting process, before the submit returns, as a
/// worker would (a panic is its future's exception).
#[test]
fn caller_runs_runs_a_call_in_this_process_when_the_queue_is_full() {
    let gate = Barrier::new("caller-runs");
    let p = bounded(1, WhenFull::CallerRuns);
    let futs = fill(&p, &gate, 1);
    let here = p.submit_task(pid, ()).unwrap();
    assert!(here.done(), "run before the submit returned");
    assert_eq!(*here.result().unwrap(), std::process::id());
    let e = p
        .submit_task(boom, "here".into())
        .unwrap()
        .exception()
        .unwrap()
        .unwrap();
    assert!(e.is_panic() && e.to_string().contains("here"), "{e}");
    gate.open();
    for f in &futs {
        f.result_timeout(LONG).unwrap();
    }
    let m = p.metrics();
    assert_eq!((m.submitted, m.panicked), (5, 1));
}

#[test]
fn a_process_pools_bound_is_checked_at_build_time() {
    let zero = ProcessPoolExecutor::builder().max_queued(0).build();
    assert!(matches!(zero, Err(BuildError::InvalidArgument(m)) if m.contains("max_queued")));
    let unbounded = ProcessPoolExecutor::builder()
        .when_full(WhenFull::Reject)
        .build();
    assert!(matches!(unbounded, Err(BuildError::InvalidArgument(m)) if m.contains("when_full")));
}
