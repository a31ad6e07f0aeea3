//! tokio's blocking pool: `spawn_blocking` and its `JoinHandle`.

use super::Contender;

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
