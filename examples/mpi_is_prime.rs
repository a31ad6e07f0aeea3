//! Python's `ProcessPoolExecutor` example, `map(is_prime, PRIMES)`, on the ranks of an MPI
//! job. It is `is_prime.rs` with one change, the constructor: every rank builds the
//! executor; the root gets it and runs the program, the others serve its tasks.
//!
//! Run (Open MPI; `--allow-run-as-root` only as root):
//!
//! ```text
//! cargo build --release --features mpi --example mpi_is_prime
//! mpirun --oversubscribe -n 3 target/release/examples/mpi_is_prime
//! ```

mod primes;

use concurrent_futures::{Executor, MapOptions, MpiCommExecutor};
use primes::{PRIMES, is_prime};

/// The seeds' program, for any executor: the same function as in `is_prime.rs`.
fn report(executor: &impl Executor) {
    let results = executor
        .map_task(is_prime, PRIMES, MapOptions::default())
        .unwrap();
    for (number, prime) in PRIMES.iter().zip(results) {
        println!("{number} is prime: {}", prime.unwrap());
    }
}

fn main() {
    report(&MpiCommExecutor::new().unwrap());
}
