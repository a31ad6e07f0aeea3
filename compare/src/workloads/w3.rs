//! W3 fan-out: tasks of ~10 µs of spinning, consumed in completion order (× ideal, ideal =
//! the work divided by the workers; time to first result).

use crate::contenders::{Contender, ThreadPerTask, each_contender};
use crate::results::Results;
use crate::settings::Settings;
use crate::shared::spin_10us;
use std::time::Instant;

/// W3: `n` tasks of 10 µs consumed in completion order: (× ideal, ms to the first result).
pub fn w3<C: Contender>(workers: usize, n: usize) -> [f64; 2] {
    let pool = C::start(workers);
    pool.warm();
    let ideal = n as f64 * 10e-6 / workers as f64;
    let t = Instant::now();
    let mut first = None;
    let mut got = 0;
    pool.completion_order(n, spin_10us, |_| {
        first.get_or_insert_with(|| t.elapsed());
        got += 1;
    });
    assert_eq!(got, n);
    [
        t.elapsed().as_secs_f64() / ideal,
        first.unwrap().as_secs_f64() * 1e3,
    ]
}

/// One rep of W3 in each machine state: the pools and a thread per task.
pub fn rep(s: &Settings, r: &mut Results) {
    let (w, n) = (s.workers, s.w3_n);
    for &state in &s.states {
        let sfx = state.suffix();
        let mut add = |name: &str, v: [f64; 2]| {
            let what = format!("10 µs tasks, completion order{sfx}");
            r.add("W3", &what, "× ideal", name, v[0]);
            r.add(
                "W3",
                &format!("time to first result{sfx}"),
                "ms",
                name,
                v[1],
            );
        };
        state.run(|| {
            each_contender!(s, |C, name| add(name, w3::<C>(w, n)));
            if s.wants(ThreadPerTask::NAME) {
                add(ThreadPerTask::NAME, w3::<ThreadPerTask>(w, n));
            }
        });
    }
}
