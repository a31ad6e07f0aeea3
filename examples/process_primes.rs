//! The seeds' `is_prime` over a long input on worker processes, with `chunksize`: each chunk
//! is one message each way, which is what makes a long `map` over processes cheap. It prints
//! the time at chunksize 1 and 8, and checks both against the thread pool's answers.
//!
//! Run: `cargo run --release --example process_primes`

mod primes;

use concurrent_futures::{Executor, MapOptions, ProcessPoolExecutor, ThreadPoolExecutor};
use primes::{PRIMES, is_prime};
use std::time::Instant;

fn main() {
    // PRIMES × 64, as the harness's W4 with --full.
    let inputs: Vec<u64> = PRIMES
        .iter()
        .copied()
        .cycle()
        .take(PRIMES.len() * 64)
        .collect();
    let threads = ThreadPoolExecutor::default();
    let expected: Vec<bool> = threads
        .map_task(is_prime, inputs.clone(), MapOptions::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let pool = ProcessPoolExecutor::builder().build().unwrap();
    for chunksize in [1, 8] {
        let t = Instant::now();
        let got: Vec<bool> = pool
            .map_task(
                is_prime,
                inputs.clone(),
                MapOptions::default().chunksize(chunksize),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, expected);
        println!(
            "{} numbers on {} processes, chunksize {chunksize}: {:.1} ms, {} prime",
            inputs.len(),
            pool.max_workers(),
            t.elapsed().as_secs_f64() * 1e3,
            got.iter().filter(|p| **p).count()
        );
    }
}
