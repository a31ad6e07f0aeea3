//! The seeds' `is_prime` task and inputs, shared by `is_prime.rs`, `process_primes.rs` and the
//! comparison harness's W4.

use concurrent_futures::task;

/// Python's documentation's inputs.
pub const PRIMES: [u64; 6] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
];

task! {
    /// Python's `is_prime`, line for line.
    pub fn is_prime(n: u64) -> bool {
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
