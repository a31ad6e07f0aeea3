//! The MPI executor's tests (issue #14), run on every rank of an MPI job:
//!
//! ```text
//! cargo test --features mpi --test mpi --no-run    # then, with the binary it names:
//! mpirun --allow-run-as-root --oversubscribe -n 3 target/debug/deps/mpi-<hash>
//! ```
//!
//! MPI starts once per process, so this is one program (no libtest harness): every rank
//! builds one executor; the serving ranks serve inside the constructor and exit 0 there;
//! the root runs each case in turn, prints `case ... ok`, and exits non-zero on the first
//! failure. `mpirun`'s exit code is the verdict, and 0 also proves shutdown ended every
//! rank (M4).
//!
//! With an argument, it runs one failure scenario instead (`.ci/mpi` checks each):
//! * `lost`: a task that runs past the short `lost_after` is not taken for a loss (the
//!   heartbeat); then a task stops its own rank (SIGSTOP); within `lost_after` its future
//!   and the other queued ones fail with `BrokenExecutor` naming the rank, later submits
//!   are refused, and the root lives on to print `lost: ok` (then its exit ends the job).
//! * `abort`: a task aborts its rank; `mpirun` ends the whole job.
//! * `mismatch`: the last rank runs another program; the root refuses it at its handshake
//!   and the executor breaks, instead of sending it calls it might misread.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use concurrent_futures::{
    BrokenKind, BuildError, Error, Executor, Future, MapOptions, MpiCommExecutor, ReturnWhen,
    SubmitError, as_completed, task, wait,
};
use serde::{Deserialize, Deserializer, Serialize};

const LONG: Duration = Duration::from_secs(60);

task! {
    fn square(x: u64) -> u64 {
        x * x
    }
}

task! {
    /// Which process ran it.
    fn my_pid(_unit: ()) -> u32 {
        std::process::id()
    }
}

task! {
    fn boom(msg: String) -> u8 {
        panic!("{msg}")
    }
}

task! {
    /// Waits up to `max_ms` for a cancel request; `true` if one came.
    fn until_asked(max_ms: u64) -> bool {
        let deadline = Instant::now() + Duration::from_millis(max_ms);
        while Instant::now() < deadline {
            if concurrent_futures::cancel_requested() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }
}

task! {
    /// A big argument and a big result: both directions of one call at once.
    fn echo_len(bytes: Vec<u8>) -> Vec<u8> {
        let mut back = bytes;
        back.reverse();
        back
    }
}

/// Encodes fine, never decodes: a decode error on the other side.
#[derive(Debug, Serialize)]
struct Undecodable(u8);

impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("Undecodable never decodes"))
    }
}

task! {
    fn takes_undecodable(x: Undecodable) -> u8 {
        x.0
    }
}

task! {
    fn gives_undecodable(x: u8) -> Undecodable {
        Undecodable(x)
    }
}

task! {
    fn nap_ms(ms: u64) -> () {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

task! {
    /// Stops its own rank, as a debugger or an operator would (the `lost` scenario).
    fn stop_my_rank(_unit: ()) -> u8 {
        // SAFETY: raise(2) on this process.
        unsafe { libc::raise(libc::SIGSTOP) };
        0
    }
}

task! {
    fn abort_my_rank(_unit: ()) -> u8 {
        std::process::abort()
    }
}

fn main() {
    let scenario = std::env::args().nth(1);
    match scenario.as_deref() {
        None => all_cases(),
        Some("lost") => lost(),
        Some("abort") => abort(),
        Some("mismatch") => mismatch(),
        Some(other) => {
            eprintln!("unknown scenario {other:?}: lost, abort or mismatch");
            std::process::exit(2)
        }
    }
}

/// One case of the suite, run on the root.
type Case = fn(&MpiCommExecutor);

fn all_cases() {
    let ex = MpiCommExecutor::new().expect("the executor builds on every rank");
    println!(
        "root: rank {} of {}, {} serving",
        ex.rank(),
        ex.world_size(),
        ex.workers()
    );
    let cases: &[(&str, Case)] = &[
        ("round_trips_reach_every_serving_rank", every_rank_serves),
        (
            "a_panic_is_that_futures_exception_and_the_rank_serves_on",
            panics,
        ),
        ("decode_errors_are_that_futures_error", decode_errors),
        ("map_in_order_at_chunksize_1_7_and_1000_and_lazily", maps),
        ("wait_and_as_completed_mix_mpi_and_local_futures", mixes),
        ("a_cancel_request_reaches_a_task_on_a_rank", cancel_request),
        ("large_calls_both_ways_at_once_do_not_deadlock", large_calls),
        ("the_counts_add_up", counts),
        ("a_second_executor_is_refused", second_build),
        ("an_idle_root_does_not_burn_a_core", idle_root),
    ];
    for (name, case) in cases {
        let t = Instant::now();
        case(&ex);
        println!(
            "case {name} ... ok ({:.0} ms)",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    ex.shutdown(true, false);
    assert!(matches!(
        ex.submit_task(square, 2),
        Err(SubmitError::Shutdown)
    ));
    println!("all {} cases ok", cases.len());
}

/// Every serving rank takes calls: as many distinct pids as serving ranks, none of them
/// the root's, except in a one-rank world, where the root serves itself (M2).
fn every_rank_serves(ex: &MpiCommExecutor) {
    assert_eq!(
        *ex.submit_task(square, 12)
            .unwrap()
            .result_timeout(LONG)
            .unwrap(),
        144
    );
    let mut pids = HashSet::new();
    let until = Instant::now() + LONG;
    while pids.len() < ex.workers() {
        assert!(Instant::now() < until, "only {pids:?} served");
        let fs: Vec<Future<u32>> = (0..4 * ex.workers())
            .map(|_| ex.submit_task(my_pid, ()).unwrap())
            .collect();
        for f in fs {
            pids.insert(*f.result_timeout(LONG).unwrap());
        }
    }
    assert_eq!(pids.len(), ex.workers());
    let root = std::process::id();
    if ex.world_size() == 1 {
        assert_eq!(pids, HashSet::from([root]));
    } else {
        assert!(!pids.contains(&root), "the root serves nothing");
    }
}

fn panics(ex: &MpiCommExecutor) {
    let f = ex.submit_task(boom, "kaboom".to_owned()).unwrap();
    let e = f.exception_timeout(LONG).unwrap().expect("it raised");
    assert!(e.is_panic(), "{e}");
    assert!(e.to_string().contains("kaboom"), "{e}");
    for i in 0..2 * ex.workers() as u64 {
        assert_eq!(
            *ex.submit_task(square, i)
                .unwrap()
                .result_timeout(LONG)
                .unwrap(),
            i * i
        );
    }
    assert!(!ex.is_broken());
}

fn decode_errors(ex: &MpiCommExecutor) {
    let e = ex
        .submit_task(takes_undecodable, Undecodable(1))
        .unwrap()
        .exception_timeout(LONG)
        .unwrap()
        .expect("the argument does not decode on the rank");
    assert!(
        e.to_string()
            .contains("argument of task `mpi::takes_undecodable` could not be decoded"),
        "{e}"
    );
    let e = ex
        .submit_task(gives_undecodable, 1)
        .unwrap()
        .exception_timeout(LONG)
        .unwrap()
        .expect("the result does not decode on the root");
    assert!(e.to_string().contains("could not be decoded"), "{e}");
    assert_eq!(
        *ex.submit_task(square, 3)
            .unwrap()
            .result_timeout(LONG)
            .unwrap(),
        9
    );
}

fn maps(ex: &MpiCommExecutor) {
    let want: Vec<u64> = (0..2000u64).map(|x| x * x).collect();
    for chunksize in [1, 7, 1000] {
        let n = if chunksize == 1 { 200 } else { 2000 };
        let got: Vec<u64> = ex
            .map_task(
                square,
                0..n as u64,
                MapOptions::default().chunksize(chunksize),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, want[..n], "chunksize {chunksize}");
    }
    let lazy = ex
        .map_task(
            square,
            0..100u64,
            MapOptions::default().chunksize(3).buffersize(2),
        )
        .unwrap();
    let got: Vec<u64> = lazy.map(Result::unwrap).collect();
    assert_eq!(got, want[..100]);
    // One failing item fails alone.
    let msgs = vec!["a".to_owned(), "b".to_owned()];
    let failed: Vec<_> = ex
        .map_task(boom, msgs, MapOptions::default().chunksize(2))
        .unwrap()
        .collect();
    assert!(failed.iter().all(|r| r.is_err()));
}

fn mixes(ex: &MpiCommExecutor) {
    let local = Future::<u64>::new();
    let remote: Vec<Future<u64>> = (0..5u64)
        .map(|i| ex.submit_task(square, i).unwrap())
        .collect();
    let setter = {
        let local = local.clone();
        std::thread::spawn(move || local.set_result(99).unwrap())
    };
    let mut all = remote.clone();
    all.push(local.clone());
    let r = wait(&all, ReturnWhen::AllCompleted);
    assert_eq!(r.done.len(), 6);
    let mut seen: Vec<u64> = as_completed(&all)
        .map(|f| *f.unwrap().result().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 4, 9, 16, 99]);
    setter.join().unwrap();
}

fn cancel_request(ex: &MpiCommExecutor) {
    let f = ex.submit_task(until_asked, 30_000).unwrap();
    let until = Instant::now() + LONG;
    while !f.running() {
        assert!(Instant::now() < until, "the task never started");
        std::thread::yield_now();
    }
    assert!(!f.cancel(), "Python's cancel() leaves a running task alone");
    assert!(f.request_cancel());
    assert!(
        *f.result_timeout(LONG).unwrap(),
        "the task on its rank saw the request"
    );
}

fn large_calls(ex: &MpiCommExecutor) {
    // 2 MiB each way, several at once: both sides send while the other sends (B1).
    let big: Vec<u8> = (0..2u32 << 20).map(|i| i as u8).collect();
    let fs: Vec<Future<Vec<u8>>> = (0..2 * ex.workers())
        .map(|_| ex.submit_task(echo_len, big.clone()).unwrap())
        .collect();
    let mut want = big.clone();
    want.reverse();
    for f in fs {
        assert!(*f.result_timeout(LONG).unwrap() == want);
    }
}

fn counts(ex: &MpiCommExecutor) {
    let before = ex.metrics();
    let fs: Vec<Future<u64>> = (0..10u64)
        .map(|i| ex.submit_task(square, i).unwrap())
        .collect();
    for f in &fs {
        f.result_timeout(LONG).unwrap();
    }
    let after = ex.metrics();
    assert_eq!(after.submitted - before.submitted, 10);
    assert_eq!(after.completed - before.completed, 10);
    assert_eq!(after.queued, 0);
    assert_eq!(after.live_workers, ex.workers());
}

fn second_build(_ex: &MpiCommExecutor) {
    match MpiCommExecutor::new() {
        Err(BuildError::Mpi(why)) => assert!(why.contains("once per process"), "{why}"),
        other => panic!("a second executor: {other:?}"),
    }
}

/// This process's CPU time so far, all threads.
fn cpu_time() -> Duration {
    // SAFETY: getrusage(2) writes only into the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// B3: once quiet, the root's pump sleeps (at most the 1 ms backoff at a time), so two idle
/// seconds cost it a small part of a core, not one.
fn idle_root(ex: &MpiCommExecutor) {
    ex.submit_task(square, 1)
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    std::thread::sleep(Duration::from_millis(100)); // past the spin after the last message
    let (cpu, wall) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let used = (cpu_time() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64();
    println!("  idle root: {:.1}% of a core", used * 100.0);
    assert!(
        used < 0.25,
        "an idle root used {:.0}% of a core",
        used * 100.0
    );
}

/// The `lost` scenario (M3).
fn lost() {
    let ex = MpiCommExecutor::builder()
        .heartbeat(Duration::from_millis(100))
        .lost_after(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(ex.workers() >= 2, "run with -n 3 or more");
    // A task that runs past `lost_after` is no loss: its rank's heartbeat goes on (B4).
    let long = ex.submit_task(nap_ms, 3_000).unwrap();
    long.result_timeout(LONG)
        .expect("a long task is not a lost rank");
    assert!(!ex.is_broken());
    let t = Instant::now();
    let stopped = ex.submit_task(stop_my_rank, ()).unwrap();
    let e = stopped.exception_timeout(LONG).unwrap().expect("broken");
    assert_eq!(e.broken_kind(), Some(BrokenKind::Executor), "{e}");
    assert!(e.to_string().contains("sent nothing"), "{e}");
    assert!(t.elapsed() < LONG);
    assert!(ex.is_broken());
    match ex.submit_task(square, 1) {
        Err(SubmitError::Broken(e)) => assert!(e.to_string().contains("BrokenExecutor"), "{e}"),
        other => panic!("a submit after the loss: {other:?}"),
    }
    println!("lost: ok ({e})");
}

/// The `abort` scenario (M3): the job ends; nothing is left to check on the root.
fn abort() {
    let ex = MpiCommExecutor::new().unwrap();
    let f = ex.submit_task(abort_my_rank, ()).unwrap();
    // mpirun ends this process too; if it did not, the future would say why.
    let r = f.result_timeout(LONG);
    println!("abort: the root lived on: {r:?}");
    if let Err(Error::Exception(e)) = r {
        assert_eq!(e.broken_kind(), Some(BrokenKind::Executor), "{e}");
    }
    std::process::exit(1);
}

/// The `mismatch` scenario (M3), run as `mpirun -n 2 <this> mismatch : -n 1 <another
/// program>`: the last rank runs another binary, whose task registry differs, so the root
/// refuses it at its handshake and breaks the executor, instead of sending it calls it
/// might misread.
fn mismatch() {
    let ex = MpiCommExecutor::new().unwrap();
    let fs: Vec<Future<u64>> = (0..8u64)
        .map(|i| ex.submit_task(square, i))
        .filter_map(Result::ok)
        .collect();
    let until = Instant::now() + LONG;
    while !ex.is_broken() {
        assert!(Instant::now() < until, "the other binary was not refused");
        std::thread::sleep(Duration::from_millis(5));
    }
    let e = match ex.submit_task(square, 1) {
        Err(SubmitError::Broken(e)) => e,
        other => panic!("a submit after the break: {other:?}"),
    };
    assert!(e.to_string().contains("different task registry"), "{e}");
    for f in &fs {
        // Each ended: a result from the good rank before the break, or the break.
        f.exception_timeout(LONG).unwrap();
    }
    println!("mismatch: ok ({e})");
}
