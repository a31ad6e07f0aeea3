//! W6 waiting at scale (ours and CPython): `wait(AllCompleted)` on finished futures (W6a);
//! the `wait(pending, FirstCompleted)` drain of futures that another thread finishes one per
//! call (W6b).

use crate::results::Results;
use crate::settings::Settings;
use concurrent_futures::{Future, ReturnWhen, wait};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// W6a: ms for one `wait(AllCompleted)` over `n` finished futures.
pub fn wait_all(n: usize) -> f64 {
    let futs: Vec<Future<usize>> = (0..n)
        .map(|i| {
            let f = Future::new();
            f.set_result(i).unwrap();
            f
        })
        .collect();
    let t = Instant::now();
    let r = wait(&futs, ReturnWhen::AllCompleted);
    let el = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(r.done.len(), n);
    el
}

/// W6b: ms to drain `n` futures with the `wait(pending, FirstCompleted)` loop while another
/// thread finishes one future per call (and waits for the loop to take it).
pub fn drain(n: usize) -> f64 {
    let futs: Vec<Future<u8>> = (0..n).map(|_| Future::new()).collect();
    let consumed = Arc::new((Mutex::new(0usize), Condvar::new()));
    let producer = {
        let (futs, consumed) = (futs.clone(), consumed.clone());
        thread::spawn(move || {
            for f in &futs {
                f.set_result(1).unwrap();
                let (m, cv) = &*consumed;
                let mut g = cv.wait_while(m.lock().unwrap(), |c| *c == 0).unwrap();
                *g -= 1;
            }
        })
    };
    let t = Instant::now();
    let mut pending: Vec<&Future<u8>> = futs.iter().collect();
    while !pending.is_empty() {
        let r = wait(pending, ReturnWhen::FirstCompleted);
        let (m, cv) = &*consumed;
        *m.lock().unwrap() += r.done.len();
        cv.notify_one();
        pending = r.not_done;
    }
    let el = t.elapsed().as_secs_f64() * 1e3;
    producer.join().unwrap();
    el
}

/// One rep of W6a.
pub fn rep_wait_all(s: &Settings, r: &mut Results) {
    r.add(
        "W6a",
        &format!("wait(AllCompleted), {} finished", s.w6_all_n),
        "ms",
        "ours",
        wait_all(s.w6_all_n),
    );
}

/// One rep of W6b, every drain size in turn.
pub fn rep_drain(s: &Settings, r: &mut Results) {
    for &n in &s.w6_drains {
        r.add("W6b", &format!("n={n}"), "ms", "ours", drain(n));
    }
}
