//! The comparison harness: our futures beside their peers on the same workloads, interleaved
//! rep by rep in one process, printed as a markdown table of medians (min–max) with every
//! figure also given as a ratio to ours.
//!
//! Run with `cargo bench --bench compare` (add `-- --full` for the larger sizes, `-- --quick`
//! for a smoke run). CPython's `concurrent.futures` is measured by `benches/python/wait_bench.py`
//! when `python3` is on the PATH, and skipped with a note otherwise.
//!
//! Workloads present so far (issue #4 adds the executor workloads W1–W5):
//! * W2-future: one blocking hand-off each way between two threads (ping-pong), per round trip.
//! * W6a: `wait(AllCompleted)` over 100,000 futures that are all finished.
//! * W6b: the loop of `wait(pending, FirstCompleted)` while another thread finishes one future
//!   per call, draining 1,000 / 2,000 / 4,000 (`--full`: 8,000) futures.

use concurrent_futures::{Future, ReturnWhen, wait};
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

struct Settings {
    reps: usize,
    wait_all_n: usize,
    drain_ns: Vec<usize>,
    round_trips: usize,
}

fn settings() -> Settings {
    let args: Vec<String> = std::env::args().collect();
    let has = |f: &str| args.iter().any(|a| a == f);
    if let Some(n) = args
        .iter()
        .position(|a| a == "--drain")
        .and_then(|i| args.get(i + 1))
    {
        let n = n.parse().expect("--drain N");
        Settings {
            reps: 3,
            wait_all_n: 100_000,
            drain_ns: vec![n],
            round_trips: 500,
        }
    } else if has("--quick") {
        Settings {
            reps: 3,
            wait_all_n: 100_000,
            drain_ns: vec![1000],
            round_trips: 500,
        }
    } else if has("--full") {
        Settings {
            reps: 9,
            wait_all_n: 100_000,
            drain_ns: vec![1000, 2000, 4000, 8000],
            round_trips: 5000,
        }
    } else {
        Settings {
            reps: 5,
            wait_all_n: 100_000,
            drain_ns: vec![1000, 2000, 4000],
            round_trips: 2000,
        }
    }
}

/// Seconds for one `wait(AllCompleted)` over `n` finished futures.
fn ours_wait_all(n: usize) -> f64 {
    let futs: Vec<Future<usize>> = (0..n)
        .map(|i| {
            let f = Future::new();
            f.set_result(i).unwrap();
            f
        })
        .collect();
    let t = Instant::now();
    let r = wait(&futs, ReturnWhen::AllCompleted);
    let el = t.elapsed().as_secs_f64();
    assert_eq!(r.done.len(), n);
    el
}

/// A counting semaphore, the same hand-back the Python script uses.
#[derive(Default)]
struct Semaphore {
    n: Mutex<usize>,
    cv: Condvar,
}
impl Semaphore {
    fn release(&self) {
        *self.n.lock().unwrap() += 1;
        self.cv.notify_one();
    }
    fn acquire(&self) {
        let mut g = self
            .cv
            .wait_while(self.n.lock().unwrap(), |n| *n == 0)
            .unwrap();
        *g -= 1;
    }
}

/// Seconds to drain `n` futures with the `wait(pending, FirstCompleted)` loop while another
/// thread finishes one future per call.
fn ours_drain(n: usize) -> f64 {
    let futs: Vec<Future<u8>> = (0..n).map(|_| Future::new()).collect();
    let consumed = Arc::new(Semaphore::default());
    let producer = {
        let (futs, consumed) = (futs.clone(), consumed.clone());
        thread::spawn(move || {
            for f in &futs {
                f.set_result(1).unwrap();
                consumed.acquire();
            }
        })
    };
    let t = Instant::now();
    let mut pending: Vec<&Future<u8>> = futs.iter().collect();
    while !pending.is_empty() {
        let r = wait(pending, ReturnWhen::FirstCompleted);
        for _ in &r.done {
            consumed.release();
        }
        pending = r.not_done;
    }
    let el = t.elapsed().as_secs_f64();
    producer.join().unwrap();
    el
}

/// Seconds per round trip: this thread hands a "go" to a producer, which answers; both
/// directions block. `kind` picks the primitive.
fn round_trip(kind: &str, n: usize) -> f64 {
    match kind {
        "ours" => {
            let go: Vec<Future<()>> = (0..n).map(|_| Future::new()).collect();
            let req: Vec<Future<usize>> = (0..n).map(|_| Future::new()).collect();
            let producer = {
                let (go, req) = (go.clone(), req.clone());
                thread::spawn(move || {
                    for i in 0..n {
                        go[i].result().unwrap();
                        req[i].set_result(i).unwrap();
                    }
                })
            };
            let t = Instant::now();
            for i in 0..n {
                go[i].set_result(()).unwrap();
                assert_eq!(*req[i].result().unwrap(), i);
            }
            let el = t.elapsed().as_secs_f64() / n as f64;
            producer.join().unwrap();
            el
        }
        "std mpsc" => {
            let (go_tx, go_rx) = mpsc::channel::<usize>();
            let (req_tx, req_rx) = mpsc::channel::<usize>();
            let producer = thread::spawn(move || {
                for i in go_rx {
                    req_tx.send(i).unwrap();
                }
            });
            let t = Instant::now();
            for i in 0..n {
                go_tx.send(i).unwrap();
                assert_eq!(req_rx.recv().unwrap(), i);
            }
            let el = t.elapsed().as_secs_f64() / n as f64;
            drop(go_tx);
            producer.join().unwrap();
            el
        }
        "Mutex+Condvar" => {
            let slot = Arc::new((Mutex::new((None::<usize>, None::<usize>)), Condvar::new()));
            let producer = {
                let slot = slot.clone();
                thread::spawn(move || {
                    for _ in 0..n {
                        let (m, cv) = &*slot;
                        let mut g = cv.wait_while(m.lock().unwrap(), |s| s.0.is_none()).unwrap();
                        let i = g.0.take().unwrap();
                        g.1 = Some(i);
                        cv.notify_all();
                    }
                })
            };
            let t = Instant::now();
            for i in 0..n {
                let (m, cv) = &*slot;
                m.lock().unwrap().0 = Some(i);
                cv.notify_all();
                let mut g = cv.wait_while(m.lock().unwrap(), |s| s.1.is_none()).unwrap();
                assert_eq!(g.1.take(), Some(i));
            }
            let el = t.elapsed().as_secs_f64() / n as f64;
            producer.join().unwrap();
            el
        }
        _ => unreachable!(),
    }
}

/// Samples per (workload, contender).
struct Row {
    workload: String,
    unit: &'static str,
    scale: f64,
    samples: Vec<(String, Vec<f64>)>,
}

impl Row {
    fn new(workload: impl Into<String>, unit: &'static str, scale: f64) -> Self {
        Row {
            workload: workload.into(),
            unit,
            scale,
            samples: Vec::new(),
        }
    }
    fn add(&mut self, who: &str, v: f64) {
        match self.samples.iter_mut().find(|(w, _)| w == who) {
            Some((_, s)) => s.push(v),
            None => self.samples.push((who.to_string(), vec![v])),
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Runs the Python script, if there is a python3, and adds its figures to `rows`.
fn cpython(s: &Settings, rows: &mut [Row]) -> Option<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/wait_bench.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(s.reps.to_string())
        .arg(s.wait_all_n.to_string());
    for n in &s.drain_ns {
        cmd.arg(n.to_string());
    }
    let out = match cmd.output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            return Some(format!(
                "CPython skipped: the script failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return Some(format!("CPython skipped: no python3 ({e})")),
    };
    let version = Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // {"workload": "x", "n": 1, "seconds": [..]}: a fixed shape, read without a JSON crate.
        let field = |name: &str| {
            let start = line.find(&format!("\"{name}\": "))? + name.len() + 4;
            Some(&line[start..])
        };
        let (Some(w), Some(n), Some(secs)) = (field("workload"), field("n"), field("seconds"))
        else {
            continue;
        };
        let w = w.trim_start_matches('"').split('"').next().unwrap_or("");
        let n: usize = n
            .split(',')
            .next()
            .unwrap_or("0")
            .trim()
            .parse()
            .unwrap_or(0);
        let secs: Vec<f64> = secs
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("")
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        let key = match w {
            "wait_all_finished" => "W6a wait(AllCompleted), finished".to_string(),
            "round_trip" => "W2-future round trip".to_string(),
            "drain_first_completed" => format!("W6b FirstCompleted drain loop, n={n}"),
            _ => continue,
        };
        if let Some(row) = rows.iter_mut().find(|r| r.workload.starts_with(&key)) {
            for v in secs {
                row.add("CPython", v * row.scale);
            }
        }
    }
    Some(format!("CPython: {version}"))
}

fn main() {
    let s = settings();
    let mut rows = vec![
        Row::new(
            format!("W6a wait(AllCompleted), finished, n={}", s.wait_all_n),
            "ms",
            1e3,
        ),
        Row::new("W2-future round trip (p50 of reps)", "µs", 1e6),
    ];
    for n in &s.drain_ns {
        rows.push(Row::new(
            format!("W6b FirstCompleted drain loop, n={n}"),
            "ms",
            1e3,
        ));
    }
    eprintln!(
        "running {} reps of each workload, contenders interleaved rep by rep",
        s.reps
    );
    for rep in 0..s.reps {
        eprint!("\rrep {}/{}", rep + 1, s.reps);
        rows[0].add("ours", ours_wait_all(s.wait_all_n) * 1e3);
        for kind in ["ours", "std mpsc", "Mutex+Condvar"] {
            rows[1].add(kind, round_trip(kind, s.round_trips) * 1e6);
        }
        for (i, n) in s.drain_ns.clone().into_iter().enumerate() {
            rows[2 + i].add("ours", ours_drain(n) * 1e3);
        }
    }
    eprintln!();
    let note = if std::env::args().any(|a| a == "--no-python") {
        Some("CPython skipped: --no-python".to_string())
    } else {
        cpython(&s, &mut rows)
    };

    println!("| workload | unit | contender | median | min–max | ratio to ours |");
    println!("|---|---|---|---:|---:|---:|");
    for row in &rows {
        let ours = row
            .samples
            .iter()
            .find(|(w, _)| w == "ours")
            .map(|(_, v)| median(v));
        for (who, v) in &row.samples {
            let m = median(v);
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let ratio = ours.map(|o| format!("{:.1}×", m / o)).unwrap_or_default();
            println!(
                "| {} | {} | {who} | {} | {}–{} | {ratio} |",
                row.workload,
                row.unit,
                fmt(m),
                fmt(lo),
                fmt(hi)
            );
        }
    }
    if let Some(n) = note {
        println!("\n{n}");
    }
    let cores = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("Machine: {cores} cores. Ratios above 1× mean the contender is slower than ours.");
    let _ = Duration::ZERO;
}
