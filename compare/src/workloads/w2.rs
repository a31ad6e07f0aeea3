//! W2 latency: submit one task and block on its result, many times (p50, p99, p99.9; CPU
//! cores used per wall second, from `getrusage`).

use crate::contenders::{Contender, ThreadPerTask, each_contender};
use crate::results::Results;
use crate::settings::Settings;
use crate::stats::percentile;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// CPU time (user + system) of the whole process, every thread included (`getrusage`).
pub fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes only into the struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// W2: submit one task and block on its result, `n` times: p50, p99, p99.9 (µs) and CPU
/// cores used per wall second.
pub fn w2<C: Contender>(workers: usize, n: usize) -> [f64; 4] {
    let pool = C::start(workers);
    pool.warm();
    let mut lat = Vec::with_capacity(n);
    let (t0, c0) = (Instant::now(), cpu_time());
    for i in 0..n as u64 {
        let t = Instant::now();
        let h = pool.submit(move || i);
        black_box(pool.join(h));
        lat.push(t.elapsed());
    }
    let (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
    lat.sort();
    [
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        cpu.as_secs_f64() / wall.as_secs_f64(),
    ]
}

/// One rep of W2 in each machine state: the pools, a thread per task on a quarter of the
/// round trips, and our process pool.
pub fn rep(s: &Settings, r: &mut Results) {
    let (w, trips) = (s.workers, s.w2_n);
    for &state in &s.states {
        let sfx = state.suffix();
        let mut add = |name: &str, v: [f64; 4]| {
            r.add("W2", &format!("round trip p50{sfx}"), "µs", name, v[0]);
            r.add("W2", &format!("round trip p99{sfx}"), "µs", name, v[1]);
            r.add("W2", &format!("round trip p99.9{sfx}"), "µs", name, v[2]);
            r.add(
                "W2",
                &format!("CPU per wall second{sfx}"),
                "cores",
                name,
                v[3],
            );
        };
        state.run(|| {
            each_contender!(s, |C, name| add(name, w2::<C>(w, trips)));
            if s.wants(ThreadPerTask::NAME) {
                add(ThreadPerTask::NAME, w2::<ThreadPerTask>(w, trips / 4));
            }
        });
        state.run(|| crate::workloads::process::rep_w2(s, sfx, r));
    }
}
