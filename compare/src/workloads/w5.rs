//! W5 memory: pending tasks behind a blocked pool (heap bytes per task, handle included;
//! submit cost while no worker runs). The bytes come from the counting allocator
//! ([`crate::alloc`]), which only the binary installs.

use crate::alloc::counted;
use crate::contenders::{Contender, each_contender};
use crate::results::Results;
use crate::settings::Settings;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// W5: heap bytes per pending task (handle included) and ns per submit, for `n` tasks queued
/// behind a pool whose workers are all blocked.
pub fn w5<C: Contender>(workers: usize, n: usize) -> [f64; 2] {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let pool = C::start(workers);
    let running = Arc::new(AtomicU64::new(0));
    let blockers: Vec<C::Handle> = (0..workers)
        .map(|_| {
            let (gate, running) = (gate.clone(), running.clone());
            pool.submit(move || {
                running.fetch_add(1, Ordering::SeqCst);
                let (m, cv) = &*gate;
                drop(cv.wait_while(m.lock().unwrap(), |open| !*open).unwrap());
                0
            })
        })
        .collect();
    while running.load(Ordering::SeqCst) < workers as u64 {
        thread::yield_now();
    }
    let t = Instant::now();
    let (handles, bytes) = counted(|| {
        let mut handles: Vec<C::Handle> = Vec::with_capacity(n);
        for i in 0..n as u64 {
            handles.push(pool.submit(move || i));
        }
        handles
    });
    let submit_ns = t.elapsed().as_nanos() as f64 / n as f64;
    {
        let (m, cv) = &*gate;
        *m.lock().unwrap() = true;
        cv.notify_all();
    }
    for h in blockers.into_iter().chain(handles) {
        pool.join(h);
    }
    // The `Vec` of handles was counted too: one handle per task.
    [bytes as f64 / n as f64, submit_ns]
}

/// One rep of W5 for the pools.
pub fn rep(s: &Settings, r: &mut Results) {
    let (w, n) = (s.workers, s.w5_n);
    let mut add = |name: &str, v: [f64; 2]| {
        r.add(
            "W5",
            "pending tasks, heap incl. handle",
            "B/task",
            name,
            v[0],
        );
        r.add("W5", "submit while no worker runs", "ns/task", name, v[1]);
    };
    each_contender!(s, |C, name| add(name, w5::<C>(w, n)));
}
