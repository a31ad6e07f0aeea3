//! Ours: `ThreadPoolExecutor`, with its native `as_completed` and `map` where a workload uses
//! them, and built with each wake policy (W2) and with metrics off (W1, W2).

use super::Contender;
use concurrent_futures::{
    Future, MapOptions, ThreadPoolBuilder, ThreadPoolExecutor, WakePolicy, as_completed,
};
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

/// Ours built otherwise than by default, for the rows that show what a setting trades.
pub trait Variant {
    /// The name in the table.
    const NAME: &'static str;
    /// The builder with the setting.
    fn builder() -> ThreadPoolBuilder;
}

/// [`WakePolicy::Latency`]: always spin before sleeping.
pub struct Latency;
impl Variant for Latency {
    const NAME: &'static str = "ours, Latency";
    fn builder() -> ThreadPoolBuilder {
        ThreadPoolExecutor::builder().wake_policy(WakePolicy::Latency)
    }
}

/// [`WakePolicy::Efficiency`]: never spin.
pub struct Efficiency;
impl Variant for Efficiency {
    const NAME: &'static str = "ours, Efficiency";
    fn builder() -> ThreadPoolBuilder {
        ThreadPoolExecutor::builder().wake_policy(WakePolicy::Efficiency)
    }
}

/// Metrics off: what the counts cost.
pub struct NoMetrics;
impl Variant for NoMetrics {
    const NAME: &'static str = "ours, metrics off";
    fn builder() -> ThreadPoolBuilder {
        ThreadPoolExecutor::builder().metrics(false)
    }
}

/// Ours built as variant `V` says (the plain [`Ours`] row is the default build).
pub struct OursWith<V>(Ours, PhantomData<V>);

impl<V: Variant> Contender for OursWith<V> {
    const NAME: &'static str = V::NAME;
    type Handle = Future<u64>;

    fn start(workers: usize) -> Self {
        let pool = V::builder().max_workers(workers).build().unwrap();
        OursWith(Ours(pool), PhantomData)
    }
    fn submit<F: FnOnce() -> u64 + Send + 'static>(&self, f: F) -> Future<u64> {
        self.0.submit(f)
    }
    fn join(&self, h: Future<u64>) -> u64 {
        self.0.join(h)
    }
}
