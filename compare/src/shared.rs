//! What the harness and the criterion benches share: the worker count of the benches and the
//! 10 µs task.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Workers of every pool under comparison in the criterion benches (the harness takes
/// `--workers`).
pub const WORKERS: usize = 2;

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
