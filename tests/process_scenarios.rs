//! CPython's [P] scenarios for the process pool that port as tests of their own name
//! (CPYTHON.md §7; `docs/process-pool.md` maps each): saturation, reuse, the cancellation
//! window, `max_tasks_per_child`, shutdown in its forms, forced shutdown.

#![cfg(all(unix, not(concurrent_futures_loom)))]

mod common;
#[path = "support/process_common.rs"]
mod process_common;

use common::*;
use concurrent_futures::{Executor, ProcessPoolExecutor, task};
use process_common::*;

#[test]
fn test_saturation() {
    // 15 × max_workers blocked tasks start exactly max_workers processes.
    let p = pool(2);
    let gate = Barrier::new("saturation");
    let futs: Vec<_> = (0..30)
        .map(|_| p.submit_task(wait_for_file, gate.path()).unwrap())
        .collect();
    until("both workers run", || p.worker_pids().len() == 2);
    assert_eq!(p.processes_started(), 2);
    // Two running, one more queued in each worker (EXTRA_QUEUED_CALLS): the rest pending.
    let running = futs.iter().filter(|f| f.running()).count();
    assert!(running <= 4, "{running} running");
    gate.open();
    for f in &futs {
        f.result_timeout(LONG).unwrap();
    }
    assert_eq!(p.processes_started(), 2);
}

#[test]
fn a_queued_call_is_cancellable_and_a_dispatched_one_is_running() {
    let p = pool(1);
    let gate = Barrier::new("cancel");
    let futs: Vec<_> = (0..4)
        .map(|_| p.submit_task(wait_for_file, gate.path()).unwrap())
        .collect();
    until("the first call runs", || futs[0].running());
    // One running and one queued in the worker are RUNNING; the others can be cancelled.
    assert!(!futs[0].cancel());
    until("the second is dispatched", || futs[1].running());
    assert!(!futs[1].cancel());
    assert!(futs[2].cancel() && futs[3].cancel());
    gate.open();
    futs[0].result_timeout(LONG).unwrap();
    futs[1].result_timeout(LONG).unwrap();
    assert!(futs[2].cancelled() && futs[3].cancelled());
}

#[test]
fn test_max_tasks_per_child() {
    let p = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(3)
        .build()
        .unwrap();
    let pids: Vec<u32> = (0..4)
        .map(|_| {
            *p.submit_task(pid, ())
                .unwrap()
                .result_timeout(LONG)
                .unwrap()
        })
        .collect();
    assert!(pids[0] == pids[1] && pids[1] == pids[2], "{pids:?}");
    assert_ne!(pids[3], pids[0], "a new worker after three tasks");
    until("one process at a time", || p.worker_pids().len() <= 1);
}

#[test]
fn test_max_tasks_per_child_pending_tasks_gh115634() {
    for (workers, per_child, tasks) in [(1, 2, 6), (2, 2, 8)] {
        let p = ProcessPoolExecutor::builder()
            .max_workers(workers)
            .max_tasks_per_child(per_child)
            .build()
            .unwrap();
        let futs: Vec<_> = (0..tasks)
            .map(|i| p.submit_task(square, i).unwrap())
            .collect();
        for (i, f) in futs.iter().enumerate() {
            assert_eq!(*f.result_timeout(LONG).unwrap(), (i * i) as u64);
        }
        assert!(p.processes_started() >= (tasks as usize) / per_child);
    }
}

#[test]
fn test_max_tasks_early_shutdown() {
    let p = ProcessPoolExecutor::builder()
        .max_workers(3)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    let futs: Vec<_> = (0..6u64)
        .map(|i| p.submit_task(square, i).unwrap())
        .collect();
    p.shutdown(true, false);
    for (i, f) in futs.iter().enumerate() {
        assert_eq!(*f.result_timeout(LONG).unwrap(), i as u64 * i as u64);
    }
}

#[test]
fn shutdown_without_wait_still_runs_what_was_queued_and_no_worker_outlives_the_pool() {
    let p = pool(2);
    let futs: Vec<_> = (0..10u64)
        .map(|i| p.submit_task(square, i).unwrap())
        .collect();
    until("a worker started", || !p.worker_pids().is_empty());
    let pids = p.worker_pids();
    p.shutdown(false, false);
    assert!(p.submit_task(square, 1).is_err(), "refused after shutdown");
    for (i, f) in futs.iter().enumerate() {
        assert_eq!(*f.result_timeout(LONG).unwrap(), (i * i) as u64);
    }
    drop(p); // waits for the workers, and their readers reap them
    for pid in pids {
        assert!(
            !alive(pid),
            "worker {pid} outlived its pool (or is a zombie)"
        );
    }
}

#[test]
fn shutdown_with_cancel_futures_cancels_what_is_queued() {
    let p = pool(1);
    let gate = Barrier::new("cancel-futures");
    let futs: Vec<_> = (0..5)
        .map(|_| p.submit_task(wait_for_file, gate.path()).unwrap())
        .collect();
    until("two calls are with the worker", || futs[1].running());
    let waiter = std::thread::spawn({
        let p = p.clone();
        move || p.shutdown(true, true)
    });
    until("the queued ones are cancelled", || {
        futs[2..].iter().all(|f| f.cancelled())
    });
    gate.open();
    waiter.join().unwrap();
    assert!(futs[0].result().is_ok() && futs[1].result().is_ok());
}

#[test]
fn test_force_shutdown_workers() {
    for kill in [false, true] {
        let p = pool(2);
        let stuck = p.submit_task(forever, ()).unwrap();
        until("the task runs", || {
            stuck.running() && !p.worker_pids().is_empty()
        });
        let pids = p.worker_pids();
        if kill {
            p.kill_workers();
        } else {
            p.terminate_workers();
        }
        let e = stuck.exception_timeout(LONG).unwrap().unwrap();
        let sig = if kill { "SIGKILL" } else { "SIGTERM" };
        assert!(e.to_string().contains(sig), "{e}");
        assert!(e.to_string().contains("forcefully shut down"), "{e}");
        assert!(matches!(
            p.submit_task(square, 1),
            Err(concurrent_futures::SubmitError::Shutdown)
        ));
        drop(p);
        for pid in pids {
            assert!(!alive(pid), "worker {pid} survived");
        }
    }
    // No worker ever started: nothing to signal, nothing breaks.
    let idle = pool(1);
    idle.terminate_workers();
    assert!(!idle.is_broken());
}

#[test]
fn test_idle_process_reuse_multiple() {
    // CPython's sequence: waited, fire-and-forget, waited, fire-and-forget, waited, one more.
    let p = pool(4);
    p.submit_task(square, 12)
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    let a = p.submit_task(square, 33).unwrap();
    p.submit_task(square, 25)
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    let b = p.submit_task(square, 18).unwrap();
    p.submit_task(square, 1)
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    let c = p.submit_task(square, 0).unwrap();
    for f in [a, b, c] {
        f.result_timeout(LONG).unwrap();
    }
    assert!(p.processes_started() <= 3, "{}", p.processes_started());
}

#[test]
fn test_shutdown_no_wait_max_tasks_gh119592() {
    // max_tasks_per_child = 1, three tasks, shutdown(wait = false) while the first runs:
    // replacements still start, and every task runs.
    let p = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(1)
        .build()
        .unwrap();
    let gate = Barrier::new("gh119592");
    let first = p.submit_task(wait_for_file, gate.path()).unwrap();
    let rest: Vec<_> = (0..2u64)
        .map(|i| p.submit_task(square, i + 2).unwrap())
        .collect();
    until("the first task runs", || first.running());
    p.shutdown(false, false);
    gate.open();
    first.result_timeout(LONG).unwrap();
    assert_eq!(*rest[0].result_timeout(LONG).unwrap(), 4);
    assert_eq!(*rest[1].result_timeout(LONG).unwrap(), 9);
    assert_eq!(p.processes_started(), 3);
}

#[test]
fn test_map_chunksize() {
    use concurrent_futures::MapOptions;
    let p = pool(2);
    let items: Vec<u64> = (0..100).collect();
    for chunk in [6, 50, 40] {
        let got: Vec<u64> = p
            .map_task(
                square,
                items.clone(),
                MapOptions::default().chunksize(chunk),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, items.iter().map(|x| x * x).collect::<Vec<_>>());
    }
    assert!(
        p.map_task(square, items, MapOptions::default().chunksize(0))
            .is_err()
    );
}

/// An argument that leaves a file behind when it is dropped, wherever that is.
#[derive(serde::Serialize, serde::Deserialize)]
struct DropsAFile(String);

/// Set in this test process only; a worker is a fresh process, where it is false.
static IN_PARENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Drop for DropsAFile {
    fn drop(&mut self) {
        if !IN_PARENT.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = std::fs::write(&self.0, b"dropped");
        }
    }
}

task! {
    fn takes_drops_a_file(_x: DropsAFile) -> u32 {
        std::process::id()
    }
}

#[test]
fn test_ressources_gced_in_workers() {
    // The argument is released in the worker right after its task, before the reply.
    IN_PARENT.store(true, std::sync::atomic::Ordering::SeqCst);
    let p = pool(1);
    let mark = Barrier::new("gced");
    let arg = DropsAFile(mark.path());
    let f = p.submit_task(takes_drops_a_file, arg).unwrap(); // the parent's copy drops here…
    f.result_timeout(LONG).unwrap();
    // …but only a worker writes the file.
    assert!(mark.0.exists(), "the worker dropped the argument");
}

#[test]
fn test_processes_terminate() {
    let p = pool(5);
    let gate = Barrier::new("terminate");
    let futs: Vec<_> = (0..3)
        .map(|_| p.submit_task(wait_for_file, gate.path()).unwrap())
        .collect();
    until("three workers run", || p.worker_pids().len() == 3);
    let pids = p.worker_pids();
    gate.open();
    drop(p);
    for f in futs {
        f.result_timeout(LONG).unwrap();
    }
    for pid in pids {
        assert!(!alive(pid));
    }
}

task! {
    fn one_or_fail(x: u32) -> u32 {
        if x == 1 {
            panic!("fails")
        }
        1
    }
}

#[test]
fn test_shutdown_gh_132969_case() {
    use concurrent_futures::MapOptions;
    for workers in [2, 4] {
        let p = ProcessPoolExecutor::builder()
            .max_workers(workers)
            .max_tasks_per_child(1)
            .build()
            .unwrap();
        let mut sum = 0;
        for r in p
            .map_task(one_or_fail, vec![0u32, 1, 2], MapOptions::default())
            .unwrap()
        {
            match r {
                Ok(v) => sum += v,
                Err(_) => break,
            }
        }
        p.shutdown(false, false);
        assert_eq!(sum, 1);
    }
}

task! {
    fn exits_after_ms(ms: u64) -> u8 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        std::process::exit(7)
    }
}

#[test]
fn one_worker_s_death_fails_a_healthy_task_running_in_another() {
    // CPython 115: every pending future, the healthy one included, ends BrokenProcessPool.
    let p = pool(2);
    let gate = Barrier::new("healthy");
    let healthy = p.submit_task(wait_for_file, gate.path()).unwrap();
    until("the healthy task runs", || healthy.running());
    let dying = p.submit_task(exits_after_ms, 20).unwrap();
    let e = dying.exception_timeout(LONG).unwrap().unwrap();
    assert!(e.to_string().contains("exited with code 7"), "{e}");
    let h = healthy.exception_timeout(LONG).unwrap().unwrap();
    assert!(h.to_string().contains("BrokenProcessPool"), "{h}");
    gate.open();
    // Already broken: a forced shutdown does not panic and signals no one.
    p.terminate_workers();
    p.kill_workers();
}
