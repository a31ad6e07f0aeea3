//! The `threadpool` crate, with a channel per result.

use super::Contender;
use std::sync::mpsc;

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
