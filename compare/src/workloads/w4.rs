//! W4 CPU-bound: `map(is_prime)` over the Python documentation's PRIMES, repeated to a
//! length, chunksize 1 and 8 (× ideal, ideal = inline time ÷ workers).

use crate::contenders::{Contender, each_contender};
use crate::results::Results;
use crate::settings::Settings;
use std::hint::black_box;
use std::time::Instant;

/// The seeds' `is_prime` (a declared task, so the process pool runs it too) and PRIMES:
/// the examples' own module, so the harness measures the very program they show.
#[path = "../../../examples/primes/mod.rs"]
mod primes;

pub use primes::is_prime;

/// The Python documentation's PRIMES, repeated to `len` items.
pub fn primes(len: usize) -> Vec<u64> {
    primes::PRIMES.iter().copied().cycle().take(len).collect()
}

/// W4: `map(is_prime)` with `chunksize`, as a multiple of `ideal` seconds.
pub fn w4<C: Contender>(workers: usize, items: &[u64], chunksize: usize, ideal: f64) -> f64 {
    let pool = C::start(workers);
    pool.warm();
    let t = Instant::now();
    let out = pool.map_chunked(items, chunksize, is_prime);
    let el = t.elapsed().as_secs_f64();
    assert_eq!(out, items.iter().map(|&n| is_prime(n)).collect::<Vec<_>>());
    el / ideal
}

/// One rep of W4 over `items` ([`primes`] of the run's length), chunksize 1 then 8.
pub fn rep(s: &Settings, items: &[u64], r: &mut Results) {
    let w = s.workers;
    // The ideal: the better of two inline runs, divided by the workers.
    let inline = (0..2)
        .map(|_| {
            let t = Instant::now();
            black_box(items.iter().map(|&n| is_prime(n)).collect::<Vec<bool>>());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    let ideal = inline / w as f64;
    for chunk in [1, 8] {
        let what = format!("map(is_prime) × {}, chunksize {chunk}", items.len());
        each_contender!(s, |C, name| r.add(
            "W4",
            &what,
            "× ideal",
            name,
            w4::<C>(w, items, chunk, ideal)
        ));
    }
    crate::workloads::process::rep_w4(s, items, ideal, r);
}
