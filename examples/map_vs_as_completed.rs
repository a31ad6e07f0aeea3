//! `map` yields results in input order; `as_completed` yields futures in the order they
//! finish. Tasks here take longer the earlier they come, so the two orders are reversed.
//!
//! Run: `cargo run --example map_vs_as_completed`

use concurrent_futures::{Future, ThreadPoolExecutor, as_completed};
use std::thread::sleep;
use std::time::Duration;

fn slow_square(x: u64) -> u64 {
    sleep(Duration::from_millis(50 * (4 - x)));
    x * x
}

fn main() {
    let pool = ThreadPoolExecutor::new(4).unwrap();

    let in_order: Vec<u64> = pool
        .map(slow_square, 0..4)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("map (input order):           {in_order:?}");

    let futures: Vec<Future<u64>> = (0..4)
        .map(|x| pool.submit(move || slow_square(x)).unwrap())
        .collect();
    let by_completion: Vec<u64> = as_completed(&futures)
        .map(|f| *f.unwrap().result().unwrap())
        .collect();
    println!("as_completed (finish order): {by_completion:?}");
}
