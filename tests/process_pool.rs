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
