//! The machine's floor, its own limits: an uncontended CAS, a lock-free queue push+pop, the
//! latency of waking a parked thread, a park/unpark ping-pong.

use crate::results::Results;
use crate::shared::spin_for;
use crate::stats::percentile;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// ns per uncontended compare-and-swap.
pub fn floor_cas() -> f64 {
    let a = AtomicU64::new(0);
    let n = 1_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        let _ = black_box(&a).compare_exchange(i, i + 1, Ordering::AcqRel, Ordering::Acquire);
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// ns per push+pop on a lock-free queue (crossbeam's `SegQueue`, the one our pool uses), one
/// thread.
pub fn floor_queue() -> f64 {
    let q = crossbeam_queue::SegQueue::new();
    let n = 1_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        q.push(i);
        black_box(q.pop());
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// µs from `unpark` of a parked thread to that thread running (p50 over rounds).
pub fn floor_wake() -> f64 {
    let rounds = 2000;
    let stamp = Arc::new(Mutex::new(None::<Instant>));
    let go = Arc::new(AtomicBool::new(false));
    let (s, g) = (stamp.clone(), go.clone());
    let sleeper = thread::spawn(move || {
        let mut lat = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            while !g.swap(false, Ordering::AcqRel) {
                thread::park();
            }
            let sent = s.lock().unwrap().take().unwrap();
            lat.push(sent.elapsed());
        }
        lat
    });
    for _ in 0..rounds {
        // Let the sleeper park, then wake it.
        spin_for(Duration::from_micros(50));
        *stamp.lock().unwrap() = Some(Instant::now());
        go.store(true, Ordering::Release);
        sleeper.thread().unpark();
        while go.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
    }
    let mut lat = sleeper.join().unwrap();
    lat.sort();
    percentile(&lat, 0.5)
}

/// µs per round trip of a park/unpark ping-pong between two threads.
pub fn floor_ping_pong() -> f64 {
    let rounds = 5000u64;
    let turn = Arc::new(AtomicU64::new(0));
    let main = thread::current();
    let t2 = turn.clone();
    let other = thread::spawn(move || {
        for r in 0..rounds {
            while t2.load(Ordering::Acquire) != 2 * r + 1 {
                thread::park();
            }
            t2.store(2 * r + 2, Ordering::Release);
            main.unpark();
        }
    });
    let t = Instant::now();
    for r in 0..rounds {
        turn.store(2 * r + 1, Ordering::Release);
        other.thread().unpark();
        while turn.load(Ordering::Acquire) != 2 * r + 2 {
            thread::park();
        }
    }
    let el = t.elapsed();
    other.join().unwrap();
    el.as_secs_f64() * 1e6 / rounds as f64
}

/// One rep of the floor.
pub fn rep(r: &mut Results) {
    r.add("floor", "uncontended CAS", "ns", "machine", floor_cas());
    r.add(
        "floor",
        "lock-free queue push+pop (one thread)",
        "ns",
        "machine",
        floor_queue(),
    );
    r.add(
        "floor",
        "wake a parked thread (p50)",
        "µs",
        "machine",
        floor_wake(),
    );
    r.add(
        "floor",
        "park/unpark ping-pong round trip",
        "µs",
        "machine",
        floor_ping_pong(),
    );
}
