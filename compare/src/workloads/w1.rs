//! W1 throughput: submit N empty tasks returning a u64, then wait for all (ns per task).

use crate::contenders::rayon_spawn::{SCOPE_NAME, scope_w1};
use crate::contenders::{Contender, NoMetrics, OursWith, ThreadPerTask, each_contender};
use crate::results::Results;
use crate::settings::Settings;
use std::time::Instant;

/// W1: ns per task to submit `n` empty tasks returning a u64 and wait for all.
pub fn w1<C: Contender>(workers: usize, n: usize) -> f64 {
    let pool = C::start(workers);
    pool.warm();
    let t = Instant::now();
    let handles: Vec<C::Handle> = (0..n as u64).map(|i| pool.submit(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| pool.join(h)).sum();
    let el = t.elapsed();
    assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
    el.as_nanos() as f64 / n as f64
}

/// One rep of W1: the pools, ours with metrics off, rayon's `scope`, and a thread per task
/// on fewer tasks.
pub fn rep(s: &Settings, r: &mut Results) {
    let w = s.workers;
    let what = "submit N empty tasks, wait all";
    each_contender!(s, |C, name| r.add(
        "W1",
        what,
        "ns/task",
        name,
        w1::<C>(w, s.w1_n)
    ));
    if s.wants(OursWith::<NoMetrics>::NAME) {
        let v = w1::<OursWith<NoMetrics>>(w, s.w1_n);
        r.add("W1", what, "ns/task", OursWith::<NoMetrics>::NAME, v);
    }
    if s.wants("rayon scope") {
        r.add("W1", what, "ns/task", SCOPE_NAME, scope_w1(w, s.w1_n));
    }
    if s.wants(ThreadPerTask::NAME) {
        // A thread per task cannot take a million: the same per-task figure on fewer.
        let v = w1::<ThreadPerTask>(w, s.w1_thread_n);
        r.add("W1", what, "ns/task", ThreadPerTask::NAME, v);
    }
}
