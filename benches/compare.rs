//! The comparison harness: our futures beside their peers on the same workloads, interleaved
//! rep by rep in one process, printed as a markdown table of medians (min–max) with every
//! figure also given as a ratio to ours.
//!
//! Run with `cargo bench --bench compare` (add `-- --full` for the larger sizes, `-- --quick`
//! for a smoke run). CPython's `concurrent.futures` is measured by `benches/python/wait_bench.py`
//! when `python3` is on the PATH, and skipped with a note otherwise.
//!
//! Workloads (pools run with 2 workers each):
//! * W1: submit N empty tasks returning a u64, then wait for all (ns per task).
//! * W2: submit one task and block on its result, many times (p50, p99; CPU per wall).
//! * W3: 10,000 tasks of ~10 µs of spinning, consumed in completion order (× ideal).
//! * W5: 1,000,000 pending tasks behind a blocked pool (bytes per task, handle included).
//! * W2-future: one blocking hand-off each way between two threads (ping-pong), per round trip.
//! * W6a: `wait(AllCompleted)` over 100,000 futures that are all finished.
//! * W6b: the loop of `wait(pending, FirstCompleted)` while another thread finishes one future
//!   per call, draining 1,000 / 2,000 / 4,000 (`--full`: 8,000) futures.

mod common;

use common::{WORKERS, rayon_pool, spin_10us};

use concurrent_futures::{Executor, Future, ReturnWhen, ThreadPoolExecutor, as_completed, wait};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Counts heap bytes asked for while `COUNTING` is on (W5 only, so the shared counter does
/// not tax the other workloads' allocations).
struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(l.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(l.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
}

/// Heap bytes asked for (net) while `f` runs.
fn counted<R>(f: impl FnOnce() -> R) -> (R, isize) {
    LIVE_BYTES.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    COUNTING.store(false, Ordering::SeqCst);
    (r, LIVE_BYTES.load(Ordering::SeqCst))
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// CPU time (user + system) of the whole process, every thread included, from
/// `getrusage(RUSAGE_SELF)` (microsecond resolution).
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes only into the struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// W1: ns per task to submit `n` empty tasks returning a u64 and wait for all.
fn w1(kind: &str, n: usize) -> f64 {
    match kind {
        "ours" => {
            let pool = ThreadPoolExecutor::new(WORKERS).unwrap();
            pool.submit(|| 0u64).unwrap().result().unwrap(); // warm: threads started
            let t = Instant::now();
            let futs: Vec<Future<u64>> = (0..n as u64)
                .map(|i| pool.submit(move || i).unwrap())
                .collect();
            let sum: u64 = futs.iter().map(|f| *f.result().unwrap()).sum();
            let el = t.elapsed();
            assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
            el.as_nanos() as f64 / n as f64
        }
        "rayon spawn+oneshot" => {
            let pool = rayon_pool();
            let t = Instant::now();
            let rxs: Vec<oneshot::Receiver<u64>> = (0..n as u64)
                .map(|i| {
                    let (tx, rx) = oneshot::channel();
                    pool.spawn(move || {
                        let _ = tx.send(i);
                    });
                    rx
                })
                .collect();
            let sum: u64 = rxs.into_iter().map(|rx| rx.recv().unwrap()).sum();
            let el = t.elapsed();
            assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
            el.as_nanos() as f64 / n as f64
        }
        "rayon scope (no handle)" => {
            let pool = rayon_pool();
            let t = Instant::now();
            pool.scope(|s| {
                for i in 0..n as u64 {
                    s.spawn(move |_| {
                        black_box(i);
                    });
                }
            });
            t.elapsed().as_nanos() as f64 / n as f64
        }
        _ => unreachable!(),
    }
}

/// W2: submit one task and block on its result, `n` times: (p50 µs, p99 µs, CPU cores).
fn w2(kind: &str, n: usize) -> (f64, f64, f64) {
    let mut lat = Vec::with_capacity(n);
    let (wall, cpu);
    match kind {
        "ours" => {
            let pool = ThreadPoolExecutor::new(WORKERS).unwrap();
            pool.submit(|| 0u64).unwrap().result().unwrap();
            let (t0, c0) = (Instant::now(), cpu_time());
            for i in 0..n as u64 {
                let t = Instant::now();
                let f = pool.submit(move || i).unwrap();
                black_box(*f.result().unwrap());
                lat.push(t.elapsed());
            }
            (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
        }
        "rayon spawn+oneshot" => {
            let pool = rayon_pool();
            let (t0, c0) = (Instant::now(), cpu_time());
            for i in 0..n as u64 {
                let t = Instant::now();
                let (tx, rx) = oneshot::channel();
                pool.spawn(move || {
                    let _ = tx.send(i);
                });
                black_box(rx.recv().unwrap());
                lat.push(t.elapsed());
            }
            (wall, cpu) = (t0.elapsed(), cpu_time() - c0);
        }
        _ => unreachable!(),
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    (pct(0.5), pct(0.99), cpu.as_secs_f64() / wall.as_secs_f64())
}

/// W3: 10,000 × 10 µs tasks consumed in completion order, as a multiple of ideal (the
/// tasks' inline time divided by the workers).
fn w3(kind: &str, n: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        black_box(spin_10us());
    }
    let ideal = t.elapsed().as_secs_f64() / WORKERS as f64;
    let t = Instant::now();
    match kind {
        "ours" => {
            let pool = ThreadPoolExecutor::new(WORKERS).unwrap();
            let futs: Vec<Future<u64>> = (0..n).map(|_| pool.submit(spin_10us).unwrap()).collect();
            let got = as_completed(&futs).filter(|f| f.is_ok()).count();
            assert_eq!(got, n);
        }
        "rayon spawn+channel" => {
            let pool = rayon_pool();
            let (tx, rx) = mpsc::channel();
            for _ in 0..n {
                let tx = tx.clone();
                pool.spawn(move || {
                    let _ = tx.send(spin_10us());
                });
            }
            drop(tx);
            assert_eq!(rx.iter().count(), n);
        }
        _ => unreachable!(),
    }
    t.elapsed().as_secs_f64() / ideal
}

/// W5: heap bytes per pending task (handle included) for `n` tasks queued behind a pool
/// whose workers are blocked.
fn w5(kind: &str, n: usize) -> f64 {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let block = {
        let gate = gate.clone();
        move || {
            let (m, cv) = &*gate;
            drop(cv.wait_while(m.lock().unwrap(), |open| !*open).unwrap());
        }
    };
    let open = || {
        let (m, cv) = &*gate;
        *m.lock().unwrap() = true;
        cv.notify_all();
    };
    let bytes = match kind {
        "ours" => {
            let pool = ThreadPoolExecutor::new(WORKERS).unwrap();
            let blockers: Vec<Future<()>> = (0..WORKERS)
                .map(|_| pool.submit(block.clone()).unwrap())
                .collect();
            while pool.threads_started() < WORKERS {
                std::thread::yield_now();
            }
            let (handles, bytes) = counted(|| {
                let mut handles: Vec<Future<u64>> = Vec::with_capacity(n);
                for i in 0..n as u64 {
                    handles.push(pool.submit(move || i).unwrap());
                }
                handles
            });
            open();
            drop((blockers, handles, pool));
            bytes
        }
        "rayon spawn+oneshot" => {
            let pool = rayon_pool();
            for _ in 0..WORKERS {
                pool.spawn(block.clone());
            }
            let (rxs, bytes) = counted(|| {
                let mut rxs: Vec<oneshot::Receiver<u64>> = Vec::with_capacity(n);
                for i in 0..n as u64 {
                    let (tx, rx) = oneshot::channel();
                    pool.spawn(move || {
                        let _ = tx.send(i);
                    });
                    rxs.push(rx);
                }
                rxs
            });
            open();
            drop((rxs, pool));
            bytes
        }
        _ => unreachable!(),
    };
    bytes as f64 / n as f64
}

struct Settings {
    reps: usize,
    wait_all_n: usize,
    drain_ns: Vec<usize>,
    round_trips: usize,
    w1_n: usize,
    w2_n: usize,
    w3_n: usize,
    w5_n: usize,
}

const QUICK: Settings = Settings {
    reps: 3,
    wait_all_n: 100_000,
    drain_ns: Vec::new(),
    round_trips: 500,
    w1_n: 200_000,
    w2_n: 5_000,
    w3_n: 2_000,
    w5_n: 200_000,
};

fn settings() -> Settings {
    let args: Vec<String> = std::env::args().collect();
    let has = |f: &str| args.iter().any(|a| a == f);
    let drain = args
        .iter()
        .position(|a| a == "--drain")
        .and_then(|i| args.get(i + 1));
    if let Some(n) = drain {
        let n = n.parse().expect("--drain N");
        Settings {
            drain_ns: vec![n],
            ..QUICK
        }
    } else if has("--quick") {
        Settings {
            drain_ns: vec![1000],
            ..QUICK
        }
    } else if has("--full") {
        Settings {
            reps: 9,
            wait_all_n: 100_000,
            drain_ns: vec![1000, 2000, 4000, 8000],
            round_trips: 5000,
            w1_n: 1_000_000,
            w2_n: 50_000,
            w3_n: 10_000,
            w5_n: 1_000_000,
        }
    } else {
        Settings {
            reps: 5,
            wait_all_n: 100_000,
            drain_ns: vec![1000, 2000, 4000],
            round_trips: 2000,
            w1_n: 1_000_000,
            w2_n: 20_000,
            w3_n: 10_000,
            w5_n: 1_000_000,
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
    let pool_rows = rows.len();
    rows.push(Row::new(
        format!("W1 submit {} empty tasks, wait all", s.w1_n),
        "ns/task",
        1.0,
    ));
    rows.push(Row::new(
        format!("W2 pool round trip p50 ({} trips)", s.w2_n),
        "µs",
        1.0,
    ));
    rows.push(Row::new(
        format!("W2 pool round trip p99 ({} trips)", s.w2_n),
        "µs",
        1.0,
    ));
    rows.push(Row::new("W2 pool round trip CPU", "cores", 1.0));
    rows.push(Row::new(
        format!("W3 {} × 10 µs tasks, completion order", s.w3_n),
        "× ideal",
        1.0,
    ));
    rows.push(Row::new(
        format!("W5 {} pending tasks, heap asked", s.w5_n),
        "B/task",
        1.0,
    ));
    rows.push(Row::new(
        format!("W5 {} pending tasks, RSS growth", s.w5_n),
        "B/task",
        1.0,
    ));
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
        let p = pool_rows;
        for kind in ["ours", "rayon spawn+oneshot", "rayon scope (no handle)"] {
            rows[p].add(kind, w1(kind, s.w1_n));
        }
        for kind in ["ours", "rayon spawn+oneshot"] {
            let (p50, p99, cores) = w2(kind, s.w2_n);
            rows[p + 1].add(kind, p50);
            rows[p + 2].add(kind, p99);
            rows[p + 3].add(kind, cores);
        }
        for (kind, label) in [
            ("ours", "ours"),
            ("rayon spawn+channel", "rayon spawn+channel"),
        ] {
            rows[p + 4].add(label, w3(kind, s.w3_n));
        }
        for kind in ["ours", "rayon spawn+oneshot"] {
            rows[p + 5].add(kind, w5(kind, s.w5_n));
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
}
