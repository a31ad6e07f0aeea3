//! The naive baseline: a Mutex/Condvar pool.

use super::Contender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

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
