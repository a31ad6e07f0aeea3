//! Criterion benches of the thread pool beside rayon, 2 workers each, one question per group.
//! Memory per pending task (W5) is measured by the comparison harness
//! (`cargo run --release -p compare`), which has a counting allocator.
//!
//! `cargo bench -p compare --bench pool`. Figures are in `docs/performance.md`.

use compare::contenders::rayon_spawn;
use compare::shared::{WORKERS, spin_10us};
use concurrent_futures::{Future, ThreadPoolExecutor, as_completed};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

fn ours() -> ThreadPoolExecutor {
    let pool = ThreadPoolExecutor::new(WORKERS).unwrap();
    pool.submit(|| ()).unwrap().result().unwrap();
    pool
}

/// W1: what does it cost to submit 10,000 empty tasks and wait for all their results?
fn throughput(c: &mut Criterion) {
    const N: u64 = 10_000;
    let mut g = c.benchmark_group("submit 10,000 empty tasks, wait all");
    let pool = ours();
    g.bench_function("ours", |b| {
        b.iter(|| {
            let futs: Vec<Future<u64>> = (0..N).map(|i| pool.submit(move || i).unwrap()).collect();
            futs.iter().map(|f| *f.result().unwrap()).sum::<u64>()
        })
    });
    let rp = rayon_spawn::pool(WORKERS);
    g.bench_function("rayon spawn+oneshot", |b| {
        b.iter(|| {
            let rxs: Vec<oneshot::Receiver<u64>> = (0..N)
                .map(|i| {
                    let (tx, rx) = oneshot::channel();
                    rp.spawn(move || {
                        let _ = tx.send(i);
                    });
                    rx
                })
                .collect();
            rxs.into_iter().map(|rx| rx.recv().unwrap()).sum::<u64>()
        })
    });
    g.bench_function("rayon scope (no handle)", |b| {
        b.iter(|| {
            rp.scope(|s| {
                for i in 0..N {
                    s.spawn(move |_| {
                        black_box(i);
                    });
                }
            })
        })
    });
    g.finish();
}

/// What does one submit cost, with every worker busy (nothing is taken off the queue)?
fn submit(c: &mut Criterion) {
    let mut g = c.benchmark_group("submit one task while the workers are busy");
    g.bench_function("ours", |b| {
        b.iter_custom(|iters| {
            let pool = ours();
            let gate = Arc::new((Mutex::new(false), Condvar::new()));
            let blockers: Vec<Future<()>> = (0..WORKERS)
                .map(|_| {
                    let gate = gate.clone();
                    pool.submit(move || {
                        let (m, cv) = &*gate;
                        drop(cv.wait_while(m.lock().unwrap(), |open| !*open).unwrap());
                    })
                    .unwrap()
                })
                .collect();
            while blockers.iter().any(|f| !f.running()) {
                std::thread::yield_now();
            }
            let mut futs = Vec::with_capacity(iters as usize);
            let t = Instant::now();
            for i in 0..iters {
                futs.push(pool.submit(move || i).unwrap());
            }
            let el = t.elapsed();
            *gate.0.lock().unwrap() = true;
            gate.1.notify_all();
            drop(futs);
            el
        })
    });
    g.finish();
}

/// W2: how long is one submit-and-block round trip?
fn round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("round trip: submit one task, block on its result");
    let pool = ours();
    g.bench_function("ours", |b| {
        b.iter(|| *pool.submit(|| black_box(1u64)).unwrap().result().unwrap())
    });
    let rp = rayon_spawn::pool(WORKERS);
    g.bench_function("rayon spawn+oneshot", |b| {
        b.iter(|| {
            let (tx, rx) = oneshot::channel();
            rp.spawn(move || {
                let _ = tx.send(black_box(1u64));
            });
            rx.recv().unwrap()
        })
    });
    g.finish();
}

/// W3: 1,000 tasks of 10 µs, consumed in completion order (ideal on 2 workers: 5 ms).
fn fan_out(c: &mut Criterion) {
    const N: usize = 1000;
    let mut g = c.benchmark_group("1,000 x 10 us tasks, completion order");
    g.sample_size(20);
    let pool = ours();
    g.bench_function("ours (as_completed)", |b| {
        b.iter(|| {
            let futs: Vec<Future<u64>> = (0..N).map(|_| pool.submit(spin_10us).unwrap()).collect();
            as_completed(&futs).filter(|f| f.is_ok()).count()
        })
    });
    let rp = rayon_spawn::pool(WORKERS);
    g.bench_function("rayon spawn+channel", |b| {
        b.iter(|| {
            let (tx, rx) = mpsc::channel();
            for _ in 0..N {
                let tx = tx.clone();
                rp.spawn(move || {
                    let _ = tx.send(spin_10us());
                });
            }
            drop(tx);
            rx.iter().count()
        })
    });
    g.finish();
}

criterion_group!(benches, throughput, submit, round_trip, fan_out);
criterion_main!(benches);
