//! Ours: `ThreadPoolExecutor`, with its native `as_completed` and `map` where a workload uses
//! them, and built with each wake policy for W2.

use super::Contender;
use concurrent_futures::{Future, MapOptions, ThreadPoolExecutor, WakePolicy, as_completed};
use std::marker::PhantomData;

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

/// A wake policy other than the default, for the rows that show what each one trades.
pub trait Policy {
    /// The name in the table.
    const NAME: &'static str;
    /// The policy the pool is built with.
    const POLICY: WakePolicy;
}

/// [`WakePolicy::Latency`]: always spin before sleeping.
pub struct Latency;
impl Policy for Latency {
    const NAME: &'static str = "ours, Latency";
    const POLICY: WakePolicy = WakePolicy::Latency;
}

/// [`WakePolicy::Efficiency`]: never spin.
pub struct Efficiency;
impl Policy for Efficiency {
    const NAME: &'static str = "ours, Efficiency";
    const POLICY: WakePolicy = WakePolicy::Efficiency;
}

/// Ours built with wake policy `P` (the plain [`Ours`] row is the default, `Balanced`).
pub struct OursWith<P>(Ours, PhantomData<P>);

impl<P: Policy> Contender for OursWith<P> {
    const NAME: &'static str = P::NAME;
    type Handle = Future<u64>;

    fn start(workers: usize) -> Self {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(workers)
            .wake_policy(P::POLICY)
            .build()
            .unwrap();
        OursWith(Ours(pool), PhantomData)
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Future<u64> {
        self.0.submit(f)
    }
    fn join(&self, h: Future<u64>) -> u64 {
        self.0.join(h)
    }
}
