//! A new OS thread per task (W1, W2 and W3, on fewer tasks where a thread each is too many).

use super::Contender;
use std::thread;

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
