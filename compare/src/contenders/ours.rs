//! Ours: `ThreadPoolExecutor`, with its native `as_completed` and `map` where a workload uses
//! them.

use super::Contender;
use concurrent_futures::{Future, MapOptions, ThreadPoolExecutor, as_completed};

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
