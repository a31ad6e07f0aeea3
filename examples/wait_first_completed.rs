//! `wait(…, FirstCompleted)`: return as soon as any task is done, then deal with the rest.
//!
//! Run: `cargo run --example wait_first_completed`

use concurrent_futures::{Future, ReturnWhen, ThreadPoolExecutor, wait};
use std::thread::sleep;
use std::time::Duration;

fn main() {
    let pool = ThreadPoolExecutor::new(3).unwrap();
    let futures: Vec<Future<&str>> = [("slow", 300), ("quick", 20), ("medium", 150)]
        .into_iter()
        .map(|(name, ms)| {
            pool.submit(move || {
                sleep(Duration::from_millis(ms));
                name
            })
            .unwrap()
        })
        .collect();

    let first = wait(&futures, ReturnWhen::FirstCompleted);
    for f in &first.done {
        println!("first done: {}", f.result().unwrap());
    }
    println!("still running: {}", first.not_done.len());

    let rest = wait(first.not_done, ReturnWhen::AllCompleted);
    let mut names: Vec<&str> = rest.done.iter().map(|f| *f.result().unwrap()).collect();
    names.sort();
    println!("then: {names:?}");
}
