//! The process pool's failure matrix (issue #10; CPython's `test_deadlock.py` classes,
//! re-expressed): each case ends every future, and none hangs.

#![cfg(all(unix, not(concurrent_futures_loom)))]

mod common;

use common::*;
use concurrent_futures::{Executor, ProcessPoolExecutor, SubmitError, task};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::atomic::{AtomicBool, Ordering};

fn pool(n: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::new(n).unwrap()
}

task! {
    fn square(x: u64) -> u64 {
        x * x
    }
}

/// Fails to encode.
struct NoEncode;
impl Serialize for NoEncode {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("NoEncode refuses"))
    }
}
impl<'de> Deserialize<'de> for NoEncode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| NoEncode)
    }
}

/// Encodes, but never decodes.
struct NoDecode;
impl Serialize for NoDecode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ().serialize(s)
    }
}
impl<'de> Deserialize<'de> for NoDecode {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("NoDecode refuses"))
    }
}

/// Set in this (the parent) process only: workers start with it false.
static IN_PARENT: AtomicBool = AtomicBool::new(false);

/// Decodes in a worker, not in the parent.
struct ParentCannotDecode;
impl Serialize for ParentCannotDecode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ().serialize(s)
    }
}
impl<'de> Deserialize<'de> for ParentCannotDecode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d)?;
        if IN_PARENT.load(Ordering::SeqCst) {
            Err(serde::de::Error::custom("the parent refuses"))
        } else {
            Ok(ParentCannotDecode)
        }
    }
}

task! {
    fn takes_no_encode(_x: NoEncode) -> u8 {
        1
    }
}

task! {
    fn takes_no_decode(_x: NoDecode) -> u8 {
        1
    }
}

task! {
    fn returns_no_encode(_unit: ()) -> NoEncode {
        NoEncode
    }
}

task! {
    fn returns_parent_cannot_decode(_unit: ()) -> ParentCannotDecode {
        ParentCannotDecode
    }
}

task! {
    fn raise_signal(sig: i32) -> u8 {
        // SAFETY: signal(2) and raise(3) on this (worker) process, which the test wants dead
        // of `sig`; the default action first, since a sanitizer may have a handler there.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
        0
    }
}

task! {
    fn abort_after_ms(ms: u64) -> u8 {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        std::process::abort()
    }
}

task! {
    fn echo(bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }
}

fn message(f: &concurrent_futures::Future<impl Sized>) -> String {
    f.exception_timeout(LONG)
        .expect("it ended")
        .expect("it failed")
        .to_string()
}

#[test]
fn argument_and_result_encoding_failures_fail_that_future_and_the_pool_lives_on() {
    IN_PARENT.store(true, Ordering::SeqCst);
    let p = pool(1);
    let f = p.submit_task(takes_no_encode, NoEncode).unwrap();
    assert!(
        message(&f).contains("could not be encoded"),
        "{}",
        message(&f)
    );
    let f = p.submit_task(takes_no_decode, NoDecode).unwrap();
    assert!(
        message(&f).contains("could not be decoded"),
        "{}",
        message(&f)
    );
    let f = p.submit_task(returns_no_encode, ()).unwrap();
    assert!(message(&f).contains("result of task"), "{}", message(&f));
    let f = p.submit_task(returns_parent_cannot_decode, ()).unwrap();
    assert!(
        message(&f).contains("could not be decoded here"),
        "{}",
        message(&f)
    );
    assert!(!p.is_broken());
    assert_eq!(
        *p.submit_task(square, 7)
            .unwrap()
            .result_timeout(LONG)
            .unwrap(),
        49
    );
    assert_eq!(p.processes_started(), 1, "no worker died");
}

#[test]
fn a_worker_killed_by_a_signal_breaks_the_pool_naming_it() {
    for (sig, name) in [(libc::SIGKILL, "SIGKILL"), (libc::SIGSEGV, "SIGSEGV")] {
        let p = pool(2);
        let f = p.submit_task(raise_signal, sig).unwrap();
        let m = message(&f);
        assert!(m.contains("BrokenProcessPool"), "{m}");
        assert!(
            m.contains(&format!("terminated by signal {sig} ({name})")),
            "{m}"
        );
        match p.submit_task(square, 1) {
            Err(SubmitError::Broken(e)) => assert!(e.to_string().contains(name), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_crash_while_megabyte_arguments_sit_in_the_pipe_breaks_the_pool_without_a_hang() {
    // gh-94777.
    let p = pool(1);
    let crash = p.submit_task(abort_after_ms, 50).unwrap();
    // The first big call is queued to the busy worker (in the pipe), the rest wait here;
    // a submit after the crash is refused. Either way each ends as BrokenProcessPool.
    for _ in 0..4 {
        match p.submit_task(echo, vec![7u8; 4 << 20]) {
            Ok(f) => assert!(message(&f).contains("BrokenProcessPool")),
            Err(SubmitError::Broken(e)) => assert!(e.to_string().contains("signal 6"), "{e}"),
            Err(other) => panic!("{other}"),
        }
    }
    assert!(message(&crash).contains("signal 6"));
}

#[test]
fn megabyte_arguments_and_results_in_both_directions_do_not_deadlock() {
    let p = pool(2);
    // A megabyte each way is several times what a socket buffers, so both directions fill.
    let futs: Vec<_> = (0..4u8)
        .map(|i| p.submit_task(echo, vec![i; 1 << 20]).unwrap())
        .collect();
    for (i, f) in futs.iter().enumerate() {
        let v = f.result_timeout(LONG).unwrap();
        assert_eq!(v.len(), 1 << 20);
        assert!(v.iter().all(|&b| b == i as u8));
    }
}

#[test]
fn a_worker_that_crashes_after_shutdown_wait_began_ends_its_future_and_shutdown_returns() {
    let p = pool(1);
    let crash = p.submit_task(abort_after_ms, 100).unwrap();
    let waiter = std::thread::spawn({
        let p = p.clone();
        move || p.shutdown(true, false)
    });
    waiter.join().unwrap(); // returns: the broken pool has no worker left to wait for
    assert!(message(&crash).contains("BrokenProcessPool"));
}

#[test]
fn a_hundred_quick_submits_all_finish() {
    // gh-105829: many submits while the pool is busy starting workers.
    let p = pool(2);
    let futs: Vec<_> = (0..100u64)
        .map(|i| p.submit_task(square, i).unwrap())
        .collect();
    for (i, f) in futs.iter().enumerate() {
        assert_eq!(*f.result_timeout(LONG).unwrap(), (i * i) as u64);
    }
}

#[test]
fn a_worker_executable_that_is_not_a_worker_breaks_the_pool_with_a_clear_error() {
    let p = ProcessPoolExecutor::builder()
        .max_workers(1)
        .worker_executable("/bin/true")
        .build()
        .unwrap();
    let f = p.submit_task(square, 2).unwrap();
    let m = message(&f);
    assert!(m.contains("ended before its handshake"), "{m}");
    assert!(m.contains("process_worker_init"), "{m}");
}

#[test]
fn a_worker_executable_that_cannot_start_breaks_the_pool_with_the_os_error() {
    let p = ProcessPoolExecutor::builder()
        .max_workers(1)
        .worker_executable("/nonexistent/worker")
        .build()
        .unwrap();
    let f = p.submit_task(square, 2).unwrap();
    let m = message(&f);
    assert!(
        m.contains("could not be started from /nonexistent/worker"),
        "{m}"
    );
}

/// Decodes in a worker; its decoder panics in the parent.
struct ParentDecodePanics;
impl Serialize for ParentDecodePanics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ().serialize(s)
    }
}
impl<'de> Deserialize<'de> for ParentDecodePanics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d)?;
        if IN_PARENT.load(Ordering::SeqCst) {
            panic!("the parent's decoder panics")
        }
        Ok(ParentDecodePanics)
    }
}

task! {
    fn returns_parent_decode_panics(_unit: ()) -> ParentDecodePanics {
        ParentDecodePanics
    }
}

#[test]
fn a_result_whose_decoder_panics_in_the_parent_is_that_future_s_exception() {
    IN_PARENT.store(true, Ordering::SeqCst);
    let p = pool(1);
    let f = p.submit_task(returns_parent_decode_panics, ()).unwrap();
    let e = f.exception_timeout(LONG).unwrap().expect("it failed");
    assert_eq!(e.panic_message(), Some("the parent's decoder panics"));
    // The reader thread lives on: the next call is answered.
    assert_eq!(
        *p.submit_task(square, 4)
            .unwrap()
            .result_timeout(LONG)
            .unwrap(),
        16
    );
    drop(p); // and shutdown does not hang
}

task! {
    fn waits_for_file_then(path: String) -> u8 {
        while !std::path::Path::new(&path).exists() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        0
    }
}

#[test]
fn a_callback_of_a_broken_future_may_wait_on_another_of_the_same_break() {
    // Every future of a break is settled before any callback runs. Two workers: one runs
    // a task that never ends, the other dies; a third call waits (queued or queued behind).
    let p = pool(2);
    let never = std::env::temp_dir().join(format!("cf-never-{}", std::process::id()));
    let never = never.display().to_string();
    let running = p.submit_task(waits_for_file_then, never.clone()).unwrap();
    until("the first runs", || running.running());
    let dying = p.submit_task(abort_after_ms, 200).unwrap();
    let waiting = p.submit_task(waits_for_file_then, never).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let other = waiting.clone();
    running.add_done_callback(move |_| {
        // Would wait forever if `waiting` were still pending when this runs.
        let _ = tx.send(other.exception().map(|e| e.is_some()));
    });
    assert!(message(&dying).contains("signal 6"));
    assert!(matches!(rx.recv_timeout(LONG).unwrap(), Ok(true)));
}

task! {
    fn writes_to_a_closed_pipe(_unit: ()) -> String {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills the two descriptors; both are closed below.
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        // SAFETY: closing the read end we own.
        unsafe { libc::close(fds[0]) };
        // SAFETY: write(2) of one byte from a live buffer to the write end we own.
        let n = unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
        let err = std::io::Error::last_os_error();
        // SAFETY: closing the write end we own.
        unsafe { libc::close(fds[1]) };
        format!("{n} {:?}", err.kind())
    }
}

#[test]
fn a_task_writing_to_a_closed_pipe_gets_an_error_not_a_signal() {
    let p = pool(1);
    let got = p.submit_task(writes_to_a_closed_pipe, ()).unwrap();
    assert_eq!(got.result_timeout(LONG).unwrap(), "-1 BrokenPipe");
}
