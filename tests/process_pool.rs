//! The process pool (issue #10): CPython's [P] scenarios that apply, and the failure matrix.

#![cfg(all(unix, not(concurrent_futures_loom)))]

mod common;

use common::*;
use concurrent_futures::{Executor, ProcessPoolExecutor, task};

task! {
    fn square(x: u64) -> u64 {
        x * x
    }
}

task! {
    fn pid(_unit: ()) -> u32 {
        std::process::id()
    }
}

task! {
    fn boom(msg: String) -> u8 {
        panic!("{msg}")
    }
}

task! {
    fn die(how: (String, i32)) -> u8 {
        match how.0.as_str() {
            "exit" => std::process::exit(how.1),
            "abort" => std::process::abort(),
            _ => 0,
        }
    }
}

fn pool(n: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::new(n).unwrap()
}

#[test]
fn a_task_runs_in_another_process() {
    let p = pool(2);
    assert_eq!(
        *p.submit_task(square, 12)
            .unwrap()
            .result_timeout(LONG)
            .unwrap(),
        144
    );
    let other = *p
        .submit_task(pid, ())
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    assert_ne!(other, std::process::id());
}

#[test]
fn a_panic_is_that_future_s_exception_and_the_worker_lives_on() {
    let p = pool(1);
    let f = p.submit_task(boom, "kaboom".to_owned()).unwrap();
    let e = f.exception_timeout(LONG).unwrap().expect("it panicked");
    assert!(e.is_panic(), "{e}");
    assert_eq!(e.panic_message(), Some("kaboom"));
    assert!(
        e.panic_location().unwrap().contains("process_pool.rs"),
        "{e}"
    );
    let before = p.processes_started();
    assert_eq!(
        *p.submit_task(square, 3)
            .unwrap()
            .result_timeout(LONG)
            .unwrap(),
        9
    );
    assert_eq!(p.processes_started(), before, "the same worker");
}

#[test]
fn a_worker_that_exits_breaks_the_pool_naming_its_code() {
    let p = pool(1);
    let f = p.submit_task(die, ("exit".to_owned(), 99)).unwrap();
    let e = f.exception_timeout(LONG).unwrap().expect("it failed");
    assert!(e.to_string().contains("exited with code 99"), "{e}");
    assert!(p.is_broken());
    let refused = p.submit_task(square, 2).unwrap_err();
    assert!(
        refused.to_string().contains("exited with code 99"),
        "{refused}"
    );
}

#[test]
fn a_worker_that_aborts_breaks_the_pool_naming_its_signal() {
    let p = pool(1);
    let f = p.submit_task(die, ("abort".to_owned(), 0)).unwrap();
    let queued = p.submit_task(square, 5).unwrap();
    let e = f.exception_timeout(LONG).unwrap().expect("it failed");
    assert!(e.to_string().contains("terminated by signal 6"), "{e}");
    let q = queued
        .exception_timeout(LONG)
        .unwrap()
        .expect("the queued one failed too");
    assert!(q.to_string().contains("BrokenProcessPool"), "{q}");
}

#[test]
fn test_idle_process_reuse_one() {
    let p = pool(4);
    for i in 0..3 {
        assert_eq!(
            *p.submit_task(square, i)
                .unwrap()
                .result_timeout(LONG)
                .unwrap(),
            i * i
        );
    }
    assert_eq!(p.processes_started(), 1);
}

task! {
    fn pid_of(_x: u32) -> u32 {
        std::process::id()
    }
}

task! {
    fn fails_on_three(x: u32) -> u32 {
        if x == 3 {
            panic!("three")
        }
        x * 10
    }
}

#[test]
fn map_sends_a_chunk_as_one_call_and_yields_its_results_one_by_one() {
    use concurrent_futures::MapOptions;
    let p = pool(2);
    let pids: Vec<u32> = p
        .map_task(pid_of, 0..8, MapOptions::default().chunksize(4))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pids.len(), 8);
    assert!(
        pids[..4].iter().all(|&x| x == pids[0]),
        "one chunk, one worker: {pids:?}"
    );
    assert!(pids[4..].iter().all(|&x| x == pids[4]), "{pids:?}");
    // A failing item does not swallow its chunk's good results.
    let got: Vec<_> = p
        .map_task(
            fails_on_three,
            0..7,
            MapOptions::default().chunksize(3).buffersize(1),
        )
        .unwrap()
        .collect();
    assert_eq!(got.len(), 7);
    for (i, r) in got.iter().enumerate() {
        if i == 3 {
            let e = r.as_ref().unwrap_err().exception().unwrap();
            assert_eq!(e.panic_message(), Some("three"));
        } else {
            assert_eq!(*r.as_ref().unwrap(), i as u32 * 10);
        }
    }
    assert!(matches!(
        p.map_task(square, 0..3, MapOptions::default().chunksize(0)),
        Err(concurrent_futures::SubmitError::InvalidArgument(_))
    ));
}

/// The seeds' program, written once against the trait, on processes.
fn primes_among(executor: &impl Executor, candidates: Vec<u64>) -> Vec<u64> {
    use concurrent_futures::MapOptions;
    let flags = executor
        .map_task(
            is_prime,
            candidates.clone(),
            MapOptions::default().chunksize(2),
        )
        .unwrap();
    candidates
        .into_iter()
        .zip(flags)
        .filter(|(_, p)| *p.as_ref().unwrap())
        .map(|(n, _)| n)
        .collect()
}

task! {
    fn is_prime(n: u64) -> bool {
        n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
    }
}

#[test]
fn the_same_program_runs_on_threads_and_on_processes() {
    let candidates: Vec<u64> = (10..40).collect();
    let threads = concurrent_futures::ThreadPoolExecutor::new(2).unwrap();
    let processes = pool(2);
    let expected = [11, 13, 17, 19, 23, 29, 31, 37];
    assert_eq!(primes_among(&threads, candidates.clone()), expected);
    assert_eq!(primes_among(&processes, candidates), expected);
}

task! {
    /// Blocks until `path` exists (a barrier other processes can see), then returns its pid.
    fn wait_for_file(path: String) -> u32 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::path::Path::new(&path).exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::process::id()
    }
}

/// A fresh path for a file barrier; `open` creates it.
struct Barrier(std::path::PathBuf);

impl Barrier {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "cf-barrier-{tag}-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        let _ = std::fs::remove_file(&path);
        Barrier(path)
    }
    fn path(&self) -> String {
        self.0.display().to_string()
    }
    fn open(&self) {
        std::fs::write(&self.0, b"go").unwrap();
    }
}

impl Drop for Barrier {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

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

task! {
    fn forever(_unit: ()) -> u8 {
        loop {
            std::thread::park();
        }
    }
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

task! {
    fn note_init(tag: String) -> () {
        INIT_TAG.set(tag).unwrap();
    }
}

task! {
    fn init_tag(_unit: ()) -> Option<String> {
        INIT_TAG.get().cloned()
    }
}

task! {
    fn failing_init(_unit: ()) -> () {
        panic!("the initializer refuses")
    }
}

static INIT_TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[test]
fn initializers_run_once_per_worker_and_a_failing_one_breaks_the_pool() {
    let p = ProcessPoolExecutor::builder()
        .max_workers(1)
        .initializer(note_init, "ready".to_owned())
        .build()
        .unwrap();
    for _ in 0..2 {
        let tag = p.submit_task(init_tag, ()).unwrap();
        assert_eq!(tag.result_timeout(LONG).unwrap().as_deref(), Some("ready"));
    }
    let bad = ProcessPoolExecutor::builder()
        .max_workers(1)
        .initializer(failing_init, ())
        .build()
        .unwrap();
    let f = bad.submit_task(square, 3).unwrap();
    let e = f.exception_timeout(LONG).unwrap().unwrap();
    assert!(e.to_string().contains("the initializer refuses"), "{e}");
    assert!(bad.is_broken());
}

#[test]
fn bad_settings_are_refused_at_build_time() {
    use concurrent_futures::BuildError;
    assert!(matches!(
        ProcessPoolExecutor::new(0),
        Err(BuildError::InvalidArgument(_))
    ));
    assert!(matches!(
        ProcessPoolExecutor::builder()
            .max_tasks_per_child(0)
            .build(),
        Err(BuildError::InvalidArgument(_))
    ));
    let e = ProcessPoolExecutor::builder()
        .initializer(|_: ()| (), ())
        .build()
        .unwrap_err();
    assert!(matches!(e, BuildError::NotATask(_)), "{e}");
    assert!(
        ProcessPoolExecutor::builder()
            .build()
            .unwrap()
            .max_workers()
            >= 1
    );
}

task! {
    /// Starts this test binary again from inside a worker, as a task might start its own
    /// program: `--list` makes libtest print the tests and exit.
    fn starts_itself(_unit: ()) -> (bool, bool, String) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--list")
            .output()
            .unwrap();
        let marker = std::env::var_os("CONCURRENT_FUTURES_PROCESS_WORKER").is_some();
        (marker, out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[test]
fn a_program_a_task_starts_is_no_worker() {
    // The recursion guard (child.rs, C1): the child inherits the marker but not fd 3, so it
    // runs as itself (here: libtest listing the tests) instead of serving.
    let p = pool(1);
    let (marker, ok, listing) = p
        .submit_task(starts_itself, ())
        .unwrap()
        .result_timeout(LONG)
        .unwrap()
        .clone();
    assert!(marker, "the worker's environment still has the marker");
    assert!(ok, "the program ran and exited cleanly");
    assert!(
        listing.contains("a_program_a_task_starts_is_no_worker"),
        "{listing}"
    );
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

/// Run by `workers_exit_when_their_parent_dies` as a child process: builds a pool, starts a
/// task that never ends, prints the worker's pid, and waits to be killed.
#[test]
#[ignore = "a helper process of workers_exit_when_their_parent_dies"]
fn helper_parent_that_will_be_killed() {
    if std::env::var_os("CF_HELPER_PARENT").is_none() {
        return;
    }
    let p = pool(1);
    let stuck = p.submit_task(forever, ()).unwrap();
    until("the worker runs the task", || {
        stuck.running() && !p.worker_pids().is_empty()
    });
    println!("WORKER {}", p.worker_pids()[0]);
    loop {
        std::thread::park();
    }
}

#[test]
fn workers_exit_when_their_parent_dies() {
    use std::io::BufRead;
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_parent_that_will_be_killed",
            "--nocapture",
        ])
        .env("CF_HELPER_PARENT", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(parent.stdout.take().unwrap());
    let worker: u32 = out
        .lines()
        .map(Result::unwrap)
        .find_map(|l| l.strip_prefix("WORKER ").map(|p| p.parse().unwrap()))
        .expect("the helper printed its worker's pid");
    assert!(alive(worker));
    parent.kill().unwrap(); // SIGKILL: nothing of the parent's runs
    parent.wait().unwrap();
    // The worker sees EOF on its channel and exits (C2), even mid-task. Its own parent is
    // gone, so init reaps it; /proc/<pid> disappears.
    until("the orphaned worker exits", || !alive(worker));
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

#[test]
fn a_worker_of_another_build_is_refused_by_the_handshake() {
    // Another test binary of this crate: it has the worker hook, but its task registry
    // (the tasks its own tests declare) differs, so its digest does.
    let me = std::env::current_exe().unwrap();
    let other = std::fs::read_dir(me.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("process_faults-") && p.extension().is_none()
        })
        .expect(
            "the process_faults test binary beside this one: run the whole suite (`cargo test`)",
        );
    let p = ProcessPoolExecutor::builder()
        .max_workers(1)
        .worker_executable(other)
        .build()
        .unwrap();
    let e = p
        .submit_task(square, 3)
        .unwrap()
        .exception_timeout(LONG)
        .unwrap()
        .unwrap();
    assert!(e.to_string().contains("different task registry"), "{e}");
}

#[test]
fn a_lazy_map_keeps_its_pool_open_after_the_last_handle_is_dropped() {
    use concurrent_futures::MapOptions;
    let lazy = {
        let p = pool(2);
        p.map_task(
            square,
            0..30u64,
            MapOptions::default().chunksize(3).buffersize(1),
        )
        .unwrap()
    };
    let got: Vec<u64> = lazy.map(Result::unwrap).collect();
    assert_eq!(got, (0..30u64).map(|x| x * x).collect::<Vec<_>>());
}
