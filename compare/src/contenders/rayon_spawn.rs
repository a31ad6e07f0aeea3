//! rayon, two ways: `ThreadPool::spawn` with a oneshot channel per task (a pool contender),
//! and `scope`, which keeps no handle (W1 only).

use super::Contender;
use std::hint::black_box;
use std::time::Instant;

/// A rayon pool of `workers` threads.
pub fn pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap()
}

/// rayon's `ThreadPool::spawn` with a oneshot channel per task.
pub struct RayonSpawn(pub rayon::ThreadPool);

impl Contender for RayonSpawn {
    const NAME: &'static str = "rayon spawn+oneshot";
    type Handle = oneshot::Receiver<u64>;

    fn start(workers: usize) -> Self {
        RayonSpawn(pool(workers))
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Self::Handle {
        let (tx, rx) = oneshot::channel();
        self.0.spawn(move || {
            let _ = tx.send(f());
        });
        rx
    }
    fn join(&self, h: Self::Handle) -> u64 {
        h.recv().unwrap()
    }
}

/// The name of rayon's `scope` in the table.
pub const SCOPE_NAME: &str = "rayon scope (no handle)";

/// W1 with rayon's `scope`: the same work without a handle per task (ns per task).
pub fn scope_w1(workers: usize, n: usize) -> f64 {
    let pool = pool(workers);
    pool.install(|| ());
    let t = Instant::now();
    pool.scope(|s| {
        for i in 0..n as u64 {
            s.spawn(move |_| {
                black_box(i);
            });
        }
    });
    t.elapsed().as_nanos() as f64 / n as f64
}
