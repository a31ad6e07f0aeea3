//! The process pool (issue #10): CPython's [P] scenarios that apply, and the failure matrix.

#![cfg(all(unix, not(concurrent_futures_loom)))]

mod common;

#[path = "support/process_common.rs"]
mod process_common;

use common::*;
use concurrent_futures::{Executor, ProcessPoolExecutor, task};
use process_common::*;

task! {
    fn die(how: (String, i32)) -> u8 {
        match how.0.as_str() {
            "exit" => std::process::exit(how.1),
            "abort" => std::process::abort(),
            _ => 0,
        }
    }
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
        e.panic_location().unwrap().contains("process_common.rs"),
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

/// Cooperative cancellation and deadlines on the process pool (issue #12): a task still
/// waiting in the pool's queue is cancelled by `request_cancel` and by `cancel_at`, as on
/// the thread pool.
#[test]
fn request_cancel_and_deadlines_cancel_the_process_pools_queued_tasks() {
    let p = pool(1);
    let barrier = Barrier::new("request-cancel");
    let running = p.submit_task(wait_for_file, barrier.path()).unwrap();
    let queued: Vec<_> = (0..6u64)
        .map(|i| p.submit_task(square, i).unwrap())
        .collect();
    let last = &queued[5];
    assert!(last.request_cancel());
    let by_deadline = &queued[4];
    by_deadline.cancel_after(std::time::Duration::from_millis(10));
    assert!(matches!(
        by_deadline.result_timeout(LONG),
        Err(concurrent_futures::Error::Cancelled)
    ));
    barrier.open();
    running.result_timeout(LONG).unwrap();
    assert!(
        last.cancelled(),
        "deep in the queue, it had not been sent to the worker"
    );
    assert_eq!(*queued[0].result_timeout(LONG).unwrap(), 0);
}

task! {
    /// Waits up to `max_ms` for a cancel request; `true` if one came.
    fn until_asked(max_ms: u64) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(max_ms);
        while std::time::Instant::now() < deadline {
            if concurrent_futures::cancel_requested() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    }
}

/// 20 s: what a task waits for a request that the test makes at once, so a request
/// that is never delivered shows as `false` (or as this long a run), never as a pass.
const UNASKED_MS: u64 = 20_000;

fn wait_until_running<T>(f: &concurrent_futures::Future<T>) {
    let until = std::time::Instant::now() + LONG;
    while !f.running() && !f.done() {
        assert!(std::time::Instant::now() < until, "the task never started");
        std::thread::yield_now();
    }
}

/// The same named task stops on `request_cancel` whether a thread pool or a process pool
/// runs it: the request reaches the worker process (issue #12; tokio #4811, rayon #1014),
/// and Python's `cancel()` still answers `false` for the running task.
#[test]
fn a_cancel_request_reaches_a_named_task_in_a_worker_process_and_on_a_thread_pool() {
    fn stops_on_request<E: Executor>(pool: &E) {
        let f = pool.submit_task(until_asked, UNASKED_MS).unwrap();
        wait_until_running(&f);
        assert!(!f.cancel(), "Python's cancel() leaves a running task alone");
        assert!(f.request_cancel());
        assert!(*f.result_timeout(LONG).unwrap(), "the task saw the request");
        assert!(f.cancel_requested() && !f.cancelled());
    }
    stops_on_request(&pool(1));
    stops_on_request(&concurrent_futures::ThreadPoolExecutor::new(1).unwrap());
}

/// A request for a call sent to a busy worker (pipelined behind the running one) reaches
/// that call, from its start, and not the call that runs meanwhile.
#[test]
fn a_request_for_a_pipelined_call_reaches_that_call_only() {
    let p = pool(1);
    let first = p.submit_task(until_asked, 300).unwrap();
    let second = p.submit_task(until_asked, UNASKED_MS).unwrap();
    wait_until_running(&second);
    assert!(second.request_cancel());
    assert!(
        !*first.result_timeout(LONG).unwrap(),
        "the running call was not the one asked"
    );
    assert!(*second.result_timeout(LONG).unwrap());
}

/// A deadline reaches a task running in a worker: at the deadline it is asked to stop.
#[test]
fn a_deadline_stops_a_task_running_in_a_worker() {
    let p = pool(1);
    let f = p.submit_task(until_asked, UNASKED_MS).unwrap();
    wait_until_running(&f);
    f.cancel_after(std::time::Duration::from_millis(20));
    assert!(*f.result_timeout(LONG).unwrap());
}

/// A timed-out `map` asks its running chunks to stop, in their worker (CPython #95166, where
/// they run on): the shutdown that follows waits for a prompt stop, not for a minute.
#[test]
fn a_timed_out_process_map_stops_its_running_chunks() {
    let p = pool(2);
    // Both workers up first, so the chunks are running in them when the map times out
    // (a chunk still queued would be cancelled, not asked, and prove nothing here).
    let warm: Vec<_> = (0..2).map(|i| p.submit_task(square, i).unwrap()).collect();
    for f in &warm {
        f.result_timeout(LONG).unwrap();
    }
    assert_eq!(p.worker_pids().len(), 2);
    let options = concurrent_futures::MapOptions::default()
        .timeout(std::time::Duration::from_millis(100))
        .chunksize(2);
    let mut results = p
        .map_task(until_asked, vec![UNASKED_MS; 4], options)
        .unwrap();
    assert!(matches!(
        results.next(),
        Some(Err(concurrent_futures::Error::Timeout { .. }))
    ));
    drop(results);
    assert_eq!(
        p.metrics().started,
        4,
        "both chunks reached a worker: they were asked"
    );
    let began = std::time::Instant::now();
    p.shutdown(true, false);
    assert!(
        began.elapsed() < LONG,
        "the shutdown waited {:?}: the running chunks were not asked to stop",
        began.elapsed()
    );
}
