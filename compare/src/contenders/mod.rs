//! The pools the harness compares, behind one generic trait so each is monomorphised and
//! nobody pays for boxing that the others do not. CPython is not one of them: it runs as a
//! subprocess, a whole rep at a time ([`cpython`]).

pub mod cpython;
pub mod naive;
pub mod ours;
pub mod rayon_spawn;
pub mod thread_per_task;
pub mod threadpool_crate;
pub mod tokio_blocking;

pub use naive::NaivePool;
pub use ours::{Efficiency, Latency, NoMetrics, Ours, OursWith};
pub use rayon_spawn::RayonSpawn;
pub use thread_per_task::ThreadPerTask;
pub use threadpool_crate::ThreadpoolCrate;
pub use tokio_blocking::Tokio;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Where one chunk's results land.
type ChunkOut = Arc<Mutex<Vec<bool>>>;

/// A pool under test: start it, submit a task returning a `u64`, wait for that result.
pub trait Contender: Sized {
    /// The name in the table.
    const NAME: &'static str;
    /// What `submit` hands back to wait on.
    type Handle: Send + 'static;

    /// A fresh pool of `workers` threads.
    fn start(workers: usize) -> Self;
    /// Schedules `f`.
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Self::Handle;
    /// Blocks until `h`'s task has finished and returns its value.
    fn join(&self, h: Self::Handle) -> u64;

    /// Runs `n` copies of `f` and calls `each` with every result in completion order.
    fn completion_order<F>(&self, n: usize, f: F, mut each: impl FnMut(u64))
    where
        F: Fn() -> u64 + Send + Sync + Clone + 'static,
    {
        let (tx, rx) = mpsc::channel();
        for _ in 0..n {
            let (tx, f) = (tx.clone(), f.clone());
            drop(self.submit(move || {
                let _ = tx.send(f());
                0
            }));
        }
        drop(tx);
        for v in rx.iter().take(n) {
            each(v);
        }
    }

    /// `map(f, items)` with `chunksize` items per task, results in input order.
    fn map_chunked(&self, items: &[u64], chunksize: usize, f: fn(u64) -> bool) -> Vec<bool> {
        let handles: Vec<(Self::Handle, ChunkOut)> = items
            .chunks(chunksize)
            .map(|chunk| {
                let chunk = chunk.to_vec();
                let out = Arc::new(Mutex::new(Vec::new()));
                let o = out.clone();
                let h = self.submit(move || {
                    *o.lock().unwrap() = chunk.into_iter().map(f).collect();
                    0
                });
                (h, out)
            })
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for (h, out) in handles {
            self.join(h);
            all.append(&mut out.lock().unwrap());
        }
        all
    }

    /// Lets the pool start its threads before anything is measured.
    fn warm(&self) {
        let h = self.submit(|| 0);
        self.join(h);
    }
}

/// Runs every selected pool contender's version of one workload for one rep: `$body` runs
/// with the type `$c` bound to each of ours, rayon spawn+oneshot, threadpool, tokio and the
/// Mutex/Condvar pool in turn, and `$name` to its table name, if `$s.wants` it. (A thread
/// per task and rayon's `scope` take part only where a workload says so.)
macro_rules! each_contender {
    ($s:expr, |$c:ident, $name:ident| $body:expr) => {{
        $crate::contenders::each_contender!(@one $s, $c, $name, $body, $crate::contenders::Ours);
        $crate::contenders::each_contender!(@one $s, $c, $name, $body, $crate::contenders::RayonSpawn);
        $crate::contenders::each_contender!(@one $s, $c, $name, $body, $crate::contenders::ThreadpoolCrate);
        $crate::contenders::each_contender!(@one $s, $c, $name, $body, $crate::contenders::Tokio);
        $crate::contenders::each_contender!(@one $s, $c, $name, $body, $crate::contenders::NaivePool);
    }};
    (@one $s:expr, $c:ident, $name:ident, $body:expr, $ty:ty) => {{
        type $c = $ty;
        let $name = <$ty as $crate::contenders::Contender>::NAME;
        if $s.wants($name) {
            $body
        }
    }};
}
pub(crate) use each_contender;
