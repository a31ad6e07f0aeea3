//! Criterion micro-benches of the future's primitives, one question each.
//!
//! `cargo bench -p compare --bench future`. Figures and the machine they were taken on are in
//! `docs/performance.md`.

use concurrent_futures::{Future, ReturnWhen, as_completed, wait};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn finished(n: usize) -> Vec<Future<usize>> {
    (0..n)
        .map(|i| {
            let f = Future::new();
            f.set_result(i).unwrap();
            f
        })
        .collect()
}

/// How much does a future cost from birth to a read result, with nobody waiting?
fn lifecycle(c: &mut Criterion) {
    c.bench_function("new + set_result + result", |b| {
        b.iter(|| {
            let f = Future::new();
            f.set_result(black_box(7u64)).unwrap();
            *f.result().unwrap()
        })
    });
}

/// How cheap are the queries?
fn queries(c: &mut Criterion) {
    let pending = Future::<u64>::new();
    let done = finished(1).pop().unwrap();
    c.bench_function("done() on a pending future", |b| {
        b.iter(|| black_box(&pending).done())
    });
    c.bench_function("done() on a finished future", |b| {
        b.iter(|| black_box(&done).done())
    });
    c.bench_function("result() on a finished future", |b| {
        b.iter(|| *black_box(&done).result().unwrap())
    });
}

/// What does wait(AllCompleted) cost over many futures that are all finished?
fn wait_all_finished(c: &mut Criterion) {
    let futs = finished(100_000);
    let mut g = c.benchmark_group("wait");
    g.sample_size(30);
    g.bench_function("wait(AllCompleted) over 100,000 finished", |b| {
        b.iter(|| wait(black_box(&futs), ReturnWhen::AllCompleted).done.len())
    });
    // The same futures in a shuffled order: the hashed dedup path.
    let mut shuffled: Vec<&Future<usize>> = futs.iter().collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..shuffled.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        shuffled.swap(i, (x % (i as u64 + 1)) as usize);
    }
    g.bench_function("wait(AllCompleted) over 100,000 finished, shuffled", |b| {
        b.iter(|| {
            wait(
                black_box(shuffled.iter().copied()),
                ReturnWhen::AllCompleted,
            )
            .done
            .len()
        })
    });
    g.finish();
}

/// What does `as_completed` cost per future over many futures that are all finished?
fn as_completed_finished(c: &mut Criterion) {
    let futs = finished(10_000);
    let mut g = c.benchmark_group("as_completed");
    g.bench_function("as_completed over 10,000 finished", |b| {
        b.iter(|| as_completed(black_box(&futs)).filter(|f| f.is_ok()).count())
    });
    // The same, pending at creation and finished by another thread while we iterate.
    g.sample_size(20);
    g.bench_function("as_completed over 10,000 finished by another thread", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let futs: Vec<Future<u8>> = (0..10_000).map(|_| Future::new()).collect();
                let t = Instant::now();
                let it = as_completed(&futs);
                let producer = {
                    let futs = futs.clone();
                    thread::spawn(move || {
                        for f in &futs {
                            f.set_result(1).unwrap();
                        }
                    })
                };
                assert_eq!(it.count(), 10_000);
                total += t.elapsed();
                producer.join().unwrap();
            }
            total
        })
    });
    g.finish();
}

#[derive(Default)]
struct Semaphore {
    n: Mutex<usize>,
    cv: Condvar,
}

/// What does the quadratic `wait(pending, FirstCompleted)` drain loop cost at 8,000 futures,
/// one completed per call by another thread?
fn drain_loop(c: &mut Criterion) {
    let mut g = c.benchmark_group("wait");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("FirstCompleted drain loop over 8,000", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let futs: Vec<Future<u8>> = (0..8000).map(|_| Future::new()).collect();
                let consumed = Arc::new(Semaphore::default());
                let producer = {
                    let (futs, consumed) = (futs.clone(), consumed.clone());
                    thread::spawn(move || {
                        for f in &futs {
                            f.set_result(1).unwrap();
                            let mut n = consumed
                                .cv
                                .wait_while(consumed.n.lock().unwrap(), |n| *n == 0)
                                .unwrap();
                            *n -= 1;
                        }
                    })
                };
                let t = Instant::now();
                let mut pending: Vec<&Future<u8>> = futs.iter().collect();
                while !pending.is_empty() {
                    let r = wait(pending, ReturnWhen::FirstCompleted);
                    *consumed.n.lock().unwrap() += r.done.len();
                    consumed.cv.notify_one();
                    pending = r.not_done;
                }
                total += t.elapsed();
                producer.join().unwrap();
            }
            total
        })
    });
    g.finish();
}

/// The cost of a wake-up: a thread blocked in result() woken by set_result on another.
fn wake(c: &mut Criterion) {
    c.bench_function("set_result wakes a blocked result() (round trip)", |b| {
        b.iter_batched(
            || {
                let f = Future::<u64>::new();
                let reader = {
                    let f = f.clone();
                    thread::spawn(move || *f.result().unwrap())
                };
                while !f.has_waiters() {
                    thread::yield_now();
                }
                (f, reader)
            },
            |(f, reader)| {
                f.set_result(1).unwrap();
                reader.join().unwrap()
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group!(
    benches,
    lifecycle,
    queries,
    wait_all_finished,
    as_completed_finished,
    drain_loop,
    wake
);
criterion_main!(benches);
