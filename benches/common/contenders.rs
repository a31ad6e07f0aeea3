//! The pools the harness compares, behind one generic trait so each is monomorphised and
//! nobody pays for boxing that the others do not.

use concurrent_futures::{Future, MapOptions, ThreadPoolExecutor, as_completed};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

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

/// Our `ThreadPoolExecutor`, with its native `as_completed` and `map`.
pub struct Ours(pub ThreadPoolExecutor);

impl Contender for Ours {
    const NAME: &'static str = "ours";
    type Handle = Future<u64>;

    fn start(workers: usize) -> Self {
        Ours(ThreadPoolExecutor::new(workers).unwrap())
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Future<u64> {
        self.0.submit(f).unwrap()
    }
    fn join(&self, h: Future<u64>) -> u64 {
        *h.result().unwrap()
    }
    fn completion_order<F>(&self, n: usize, f: F, mut each: impl FnMut(u64))
    where
        F: Fn() -> u64 + Send + Sync + Clone + 'static,
    {
        let futs: Vec<Future<u64>> = (0..n).map(|_| self.0.submit(f.clone()).unwrap()).collect();
        for done in as_completed(&futs) {
            each(*done.unwrap().result().unwrap());
        }
    }
    fn map_chunked(&self, items: &[u64], chunksize: usize, f: fn(u64) -> bool) -> Vec<bool> {
        self.0
            .map_with(
                f,
                items.to_vec(),
                MapOptions::default().chunksize(chunksize),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// rayon's `ThreadPool::spawn` with a oneshot channel per task.
pub struct RayonSpawn(pub rayon::ThreadPool);

impl Contender for RayonSpawn {
    const NAME: &'static str = "rayon spawn+oneshot";
    type Handle = oneshot::Receiver<u64>;

    fn start(workers: usize) -> Self {
        RayonSpawn(
            rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .build()
                .unwrap(),
        )
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

/// The `threadpool` crate, with a channel per result.
pub struct ThreadpoolCrate(pub threadpool::ThreadPool);

impl Contender for ThreadpoolCrate {
    const NAME: &'static str = "threadpool+channel";
    type Handle = mpsc::Receiver<u64>;

    fn start(workers: usize) -> Self {
        ThreadpoolCrate(threadpool::ThreadPool::new(workers))
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Self::Handle {
        let (tx, rx) = mpsc::sync_channel(1);
        self.0.execute(move || {
            let _ = tx.send(f());
        });
        rx
    }
    fn join(&self, h: Self::Handle) -> u64 {
        h.recv().unwrap()
    }
}

/// tokio's blocking pool: `spawn_blocking` and its `JoinHandle`.
pub struct Tokio(pub tokio::runtime::Runtime);

impl Contender for Tokio {
    const NAME: &'static str = "tokio spawn_blocking";
    type Handle = tokio::task::JoinHandle<u64>;

    fn start(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(workers)
                .build()
                .unwrap(),
        )
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Self::Handle {
        self.0.spawn_blocking(f)
    }
    fn join(&self, h: Self::Handle) -> u64 {
        self.0.block_on(h).unwrap()
    }
}

type Job = Box<dyn FnOnce() + Send>;
type Slot = Arc<(Mutex<Option<u64>>, Condvar)>;

/// The naive baseline: threads receiving boxed jobs from a crossbeam channel, each result
/// handed back through a Mutex/Condvar slot.
pub struct NaivePool {
    tx: Option<crossbeam_channel::Sender<Job>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Contender for NaivePool {
    const NAME: &'static str = "Mutex/Condvar pool";
    type Handle = Slot;

    fn start(workers: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let threads = (0..workers)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || {
                    for job in rx {
                        job();
                    }
                })
            })
            .collect();
        NaivePool {
            tx: Some(tx),
            threads,
        }
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Slot {
        let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
        let s = slot.clone();
        let job: Job = Box::new(move || {
            let v = f();
            *s.0.lock().unwrap() = Some(v);
            s.1.notify_one();
        });
        self.tx.as_ref().unwrap().send(job).unwrap();
        slot
    }
    fn join(&self, h: Slot) -> u64 {
        let g =
            h.1.wait_while(h.0.lock().unwrap(), |v| v.is_none())
                .unwrap();
        g.unwrap()
    }
}

impl Drop for NaivePool {
    fn drop(&mut self) {
        drop(self.tx.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A new OS thread per task.
pub struct ThreadPerTask;

impl Contender for ThreadPerTask {
    const NAME: &'static str = "std::thread::spawn";
    type Handle = thread::JoinHandle<u64>;

    fn start(_workers: usize) -> Self {
        ThreadPerTask
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Self::Handle {
        thread::spawn(f)
    }
    fn join(&self, h: Self::Handle) -> u64 {
        h.join().unwrap()
    }
}
