//! What the pool benches share: the worker count, rayon's pool, the 10 µs task, and the
//! contenders of the comparison harness.
#![allow(dead_code)] // each bench target uses a different part

pub mod contenders;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Workers of every pool under comparison.
pub const WORKERS: usize = 2;

/// A rayon pool of [`WORKERS`] threads.
pub fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .build()
        .unwrap()
}

/// About 10 µs of spinning: W3's task.
pub fn spin_10us() -> u64 {
    spin_for(Duration::from_micros(10))
}

/// Spins for `d`.
pub fn spin_for(d: Duration) -> u64 {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        x = black_box(x.wrapping_add(1));
    }
    x
}
