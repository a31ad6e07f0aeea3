//! Python's `ProcessPoolExecutor` example, `map(is_prime, PRIMES)`, written once against the
//! `Executor` trait and run on worker processes or on threads: switching is the constructor
//! in `main`, as Python promises.
//!
//! Run: `cargo run --release --example is_prime` (processes), or
//! `cargo run --release --example is_prime -- threads`.

mod primes;

use concurrent_futures::{Executor, MapOptions, ProcessPoolExecutor, ThreadPoolExecutor};
use primes::{PRIMES, is_prime};

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
    match std::env::args().nth(1).as_deref() {
        Some("threads") => report(&ThreadPoolExecutor::default()),
        None | Some("processes") => report(&ProcessPoolExecutor::builder().build().unwrap()),
        Some(other) => {
            eprintln!("usage: is_prime [threads|processes], not {other:?}");
            std::process::exit(2);
        }
    }
}
