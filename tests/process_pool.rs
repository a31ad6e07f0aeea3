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
fn idle_workers_are_reused() {
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
