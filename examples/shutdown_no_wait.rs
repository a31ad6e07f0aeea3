//! `shutdown(wait = false)`: return at once and let queued tasks finish in the background;
//! `shutdown(wait = false, cancel_futures = true)`: also cancel what has not started.
//!
//! Run: `cargo run --example shutdown_no_wait`

use concurrent_futures::{Executor, Future, ReturnWhen, ThreadPoolExecutor, wait};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

fn main() {
    let pool = ThreadPoolExecutor::new(2).unwrap();
    let futures: Vec<Future<u64>> = (0..6)
        .map(|i| {
            pool.submit(move || {
                sleep(Duration::from_millis(50));
                i
            })
            .unwrap()
        })
        .collect();
    let t = Instant::now();
    pool.shutdown(false, false);
    println!("shutdown(wait=false) returned after {:?}", t.elapsed());
    println!("submit after shutdown: {}", pool.submit(|| 0).unwrap_err());
    let done = wait(&futures, ReturnWhen::AllCompleted).done.len();
    println!("all {done} queued tasks still ran, in {:?}", t.elapsed());

    let pool = ThreadPoolExecutor::new(2).unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let futures: Vec<Future<u64>> = (0..6)
        .map(|i| {
            let started = started.clone();
            pool.submit(move || {
                started.fetch_add(1, Ordering::SeqCst);
                sleep(Duration::from_millis(50));
                i
            })
            .unwrap()
        })
        .collect();
    // Let both workers start a task, so there is something running and something queued.
    while started.load(Ordering::SeqCst) < 2 {
        std::thread::yield_now();
    }
    pool.shutdown(false, true);
    let r = wait(&futures, ReturnWhen::AllCompleted);
    let cancelled = r.done.iter().filter(|f| f.cancelled()).count();
    println!(
        "with cancel_futures: {cancelled} of {} cancelled, the running ones finished",
        r.done.len()
    );
}
