//! Python's `ProcessPoolExecutor` example: `map(is_prime, PRIMES)`, written once against
//! the `Executor` trait with `is_prime` declared as a named task, and run here on the thread
//! pool. Moving it to worker processes changes only the constructor in `main`.
//!
//! Run: `cargo run --release --example is_prime`

use concurrent_futures::{Executor, MapOptions, ThreadPoolExecutor, task};

const PRIMES: [u64; 6] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
];

task! {
    fn is_prime(n: u64) -> bool {
        if n < 2 {
            return false;
        }
        if n == 2 {
            return true;
        }
        if n % 2 == 0 {
            return false;
        }
        let sqrt_n = (n as f64).sqrt().floor() as u64;
        (3..=sqrt_n).step_by(2).all(|i| n % i != 0)
    }
}

/// The seeds' program, for any executor.
fn report(executor: &impl Executor) {
    let results = executor
        .map_task(is_prime, PRIMES, MapOptions::default())
        .unwrap();
    for (number, prime) in PRIMES.iter().zip(results) {
        println!("{number} is prime: {}", prime.unwrap());
    }
}

fn main() {
    report(&ThreadPoolExecutor::default());
}
