//! W2 latency: submit one task and block on its result, many times (p50, p99, p99.9; CPU
//! cores used per wall second, from `getrusage`), back to back and with 10 or 50 µs of the
//! caller's own work between submits; ours with each wake policy and with metrics off.

use crate::contenders::{
    Contender, Efficiency, Latency, NoMetrics, OursWith, ThreadPerTask, each_contender,
};
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
    w2_spaced::<C>(workers, n, Duration::ZERO)
}

/// W2 spaced: as [`w2`], but the caller works (spins) for `gap` before each submit, as a
/// service that does something between its tasks: what an idle worker's wait costs and
/// gains. The CPU figure includes the caller's own work, so 1.0 is the caller alone.
///
/// It runs on a fresh thread (with the caller's CPU affinity), so that no thread-local
/// state of one row's waits (a waiter's memory of contention, `preempt.rs`) carries into
/// the next row.
pub fn w2_spaced<C: Contender>(workers: usize, n: usize, gap: Duration) -> [f64; 4] {
    std::thread::scope(|s| {
        s.spawn(|| measure::<C>(workers, n, gap))
            .join()
            .expect("a W2 measurement panicked")
    })
}

fn measure<C: Contender>(workers: usize, n: usize, gap: Duration) -> [f64; 4] {
    let pool = C::start(workers);
    pool.warm();
    let mut lat = Vec::with_capacity(n);
    let (t0, c0) = (Instant::now(), cpu_time());
    for i in 0..n as u64 {
        if !gap.is_zero() {
            let busy = Instant::now();
            while busy.elapsed() < gap {
                std::hint::spin_loop();
            }
        }
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

/// The caller's work between the submits of the spaced rows: shorter than a full spin,
/// and longer.
pub const GAPS: [Duration; 2] = [Duration::from_micros(10), Duration::from_micros(50)];

/// One rep of W2 in each machine state: the pools (ours with each wake policy), a thread
/// per task on a quarter of the round trips, our process pool, and the spaced rows.
pub fn rep(s: &Settings, r: &mut Results) {
    let (w, trips) = (s.workers, s.w2_n);
    for &state in &s.states {
        let sfx = state.suffix();
        let add = |r: &mut Results, what: &str, name: &str, v: [f64; 4]| {
            r.add(
                "W2",
                &format!("round trip p50{what}{sfx}"),
                "µs",
                name,
                v[0],
            );
            r.add(
                "W2",
                &format!("round trip p99{what}{sfx}"),
                "µs",
                name,
                v[1],
            );
            r.add(
                "W2",
                &format!("round trip p99.9{what}{sfx}"),
                "µs",
                name,
                v[2],
            );
            r.add(
                "W2",
                &format!("CPU per wall second{what}{sfx}"),
                "cores",
                name,
                v[3],
            );
        };
        state.run(|| {
            each_contender!(s, |C, name| add(r, "", name, w2::<C>(w, trips)));
            each_variant!(s, |C, name| add(r, "", name, w2::<C>(w, trips)));
            if s.wants(ThreadPerTask::NAME) {
                add(
                    r,
                    "",
                    ThreadPerTask::NAME,
                    w2::<ThreadPerTask>(w, trips / 4),
                );
            }
        });
        state.run(|| crate::workloads::process::rep_w2(s, sfx, r));
        let n = (trips / 10).max(1);
        for gap in GAPS {
            let spaced = format!(", {} µs apart", gap.as_micros());
            state.run(|| {
                each_contender!(s, |C, name| add(
                    r,
                    &spaced,
                    name,
                    w2_spaced::<C>(w, n, gap)
                ));
                each_variant!(s, |C, name| add(
                    r,
                    &spaced,
                    name,
                    w2_spaced::<C>(w, n, gap)
                ));
            });
        }
    }
}

/// Runs `$body` for ours built with each wake policy other than the default, and with
/// metrics off, if wanted.
macro_rules! each_variant {
    ($s:expr, |$c:ident, $name:ident| $body:expr) => {{
        each_variant!(@one $s, $c, $name, $body, OursWith<Latency>);
        each_variant!(@one $s, $c, $name, $body, OursWith<Efficiency>);
        each_variant!(@one $s, $c, $name, $body, OursWith<NoMetrics>);
    }};
    (@one $s:expr, $c:ident, $name:ident, $body:expr, $ty:ty) => {{
        type $c = $ty;
        let $name = <$c as Contender>::NAME;
        if $s.wants($name) {
            $body
        }
    }};
}
use each_variant;
