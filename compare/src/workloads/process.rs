//! Our `ProcessPoolExecutor`, beside CPython's and beside our thread pool (issue #10's
//! targets): its round trip in W2's rows, its `map(is_prime)` in W4's, and the P rows: a
//! long `map` of trivial items at chunksize 1,000, and the first task of a fresh pool,
//! worker spawn included.
//!
//! The tasks are declared here with `task!`; the harness binary is its own worker (the
//! library's hook), so nothing else is needed.

use crate::results::Results;
use crate::settings::Settings;
use crate::stats::percentile;
use crate::workloads::w2::cpu_time;
use crate::workloads::w4;
use concurrent_futures::{Executor, MapOptions, ProcessPoolExecutor, task};
use std::time::Instant;

/// The contender's name in the table.
pub const NAME: &str = "ours ProcessPoolExecutor";

task! {
    /// Its argument back: a call that costs only its round trip (the MPI rows use it too).
    pub fn echo(x: u64) -> u64 {
        x
    }
}

fn warm_pool(workers: usize) -> ProcessPoolExecutor {
    let pool = ProcessPoolExecutor::new(workers).expect("a process pool");
    // Every worker started and handshaken: as many blocking-free calls as workers, at once.
    let warm: Vec<_> = (0..workers as u64)
        .map(|i| pool.submit_task(echo, i).unwrap())
        .collect();
    for f in warm {
        f.result().unwrap();
    }
    pool
}

/// W2's rows for the process pool: `n` sequential round trips; `sfx` names the machine
/// state.
pub fn rep_w2(s: &Settings, sfx: &str, r: &mut Results) {
    if !s.wants(NAME) {
        return;
    }
    let n = (s.w2_n / 10).clamp(200, 5_000);
    let pool = warm_pool(s.workers);
    let mut lat = Vec::with_capacity(n);
    let (t0, c0) = (Instant::now(), cpu_time());
    for i in 0..n as u64 {
        let t = Instant::now();
        let f = pool.submit_task(echo, i).unwrap();
        assert_eq!(*f.result().unwrap(), i);
        lat.push(t.elapsed());
    }
    let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
    lat.sort();
    let mut add = |what: &str, v: f64| r.add("W2", &format!("{what}{sfx}"), "µs", NAME, v);
    add("round trip p50", percentile(&lat, 0.5));
    add("round trip p99", percentile(&lat, 0.99));
    add("round trip p99.9", percentile(&lat, 0.999));
    r.add(
        "W2",
        &format!("CPU per wall second{sfx}"),
        "cores",
        NAME,
        cpu.as_secs_f64() / wall.as_secs_f64(),
    );
}

/// W4's rows for the process pool, against the same ideal as the thread pools'.
pub fn rep_w4(s: &Settings, items: &[u64], ideal: f64, r: &mut Results) {
    if !s.wants(NAME) {
        return;
    }
    let pool = warm_pool(s.workers);
    let expected: Vec<bool> = items.iter().map(|&n| w4::is_prime(n)).collect();
    for chunk in [1, 8] {
        let what = format!("map(is_prime) × {}, chunksize {chunk}", items.len());
        let t = Instant::now();
        let got: Vec<bool> = pool
            .map_task(
                w4::is_prime,
                items.to_vec(),
                MapOptions::default().chunksize(chunk),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let el = t.elapsed().as_secs_f64();
        assert_eq!(got, expected);
        r.add("W4", &what, "× ideal", NAME, el / ideal);
    }
}

/// The P rows.
pub fn rep_p(s: &Settings, r: &mut Results) {
    if !s.wants(NAME) {
        return;
    }
    // A long map of trivial items: per item, chunksize 1,000.
    let n = if s.mode == "quick" { 20_000 } else { 100_000 };
    let pool = warm_pool(s.workers);
    let t = Instant::now();
    let sum: u64 = pool
        .map_task(echo, 0..n as u64, MapOptions::default().chunksize(1_000))
        .unwrap()
        .map(Result::unwrap)
        .sum();
    let el = t.elapsed();
    assert_eq!(sum, (n as u64 - 1) * n as u64 / 2);
    r.add(
        "P",
        &format!("map {n} trivial items, chunksize 1,000"),
        "ns/task",
        NAME,
        el.as_nanos() as f64 / n as f64,
    );
    drop(pool);
    // The first task of a fresh pool: build, spawn, handshake, call, reply.
    let t = Instant::now();
    let fresh = ProcessPoolExecutor::new(1).unwrap();
    assert_eq!(*fresh.submit_task(echo, 7).unwrap().result().unwrap(), 7);
    let first = t.elapsed();
    drop(fresh);
    r.add(
        "P",
        "first task on a fresh pool, spawn included",
        "ms",
        NAME,
        first.as_secs_f64() * 1e3,
    );
}
