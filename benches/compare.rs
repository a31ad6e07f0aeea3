//! The comparison harness: our `ThreadPoolExecutor` and futures beside rayon, the
//! `threadpool` crate, tokio's blocking pool, a naive Mutex/Condvar pool, a thread per task
//! and CPython's `concurrent.futures`, on the same workloads, on this machine.
//!
//! `cargo bench --bench compare` runs the default set (about two minutes on 2 cores) and
//! prints a markdown table; it also writes every raw sample to
//! `target/compare/samples.json` and SVG plots to `target/compare/*.svg`.
//!
//! Flags (after `--`): `--quick` (a smoke run), `--full` (larger sizes, more reps, the
//! 8,000-future drain and the 64-item W4), `--only ours,rayon,...` (contenders, by name
//! prefix), `--workloads W1,W2,...`, `--workers N` (default 2), `--no-python`.
//!
//! How it measures: for each rep, every workload runs for every contender in turn, each with
//! a fresh pool that has run one task first (so its threads exist); CPython runs once per rep
//! as a subprocess. Figures are medians over reps with their min–max, and each contender's
//! ratio to ours is the median of its per-rep ratios, so the drift of a noisy machine hits
//! every contender alike.
//!
//! Workloads:
//! * W1 throughput: submit N empty tasks returning a u64, then wait for all (ns per task;
//!   300,000 tasks, 1,000,000 with `--full`).
//! * W2 latency: submit one task and block on its result, many times (p50, p99, p99.9; CPU
//!   cores used per wall second, from `getrusage`).
//! * W3 fan-out: 10,000 tasks of ~10 µs of spinning, consumed in completion order (× ideal,
//!   ideal = the work divided by the workers; time to first result).
//! * W4 CPU-bound: `map(is_prime)` over the Python documentation's PRIMES, repeated to 16
//!   items (64 with `--full`), chunksize 1 and 8 (× ideal, ideal = inline time ÷ workers).
//! * W5 memory: pending tasks behind a blocked pool (heap bytes per task, handle included;
//!   submit cost while no worker runs; 300,000 tasks, 1,000,000 with `--full`).
//! * W6 waiting at scale (ours and CPython): `wait(AllCompleted)` on 100,000 finished
//!   futures; the `wait(pending, FirstCompleted)` drain of 1,000 / 2,000 / 4,000 (/ 8,000)
//!   futures that another thread finishes one per call.
//! * Floor: the machine's own limits: an uncontended CAS, a lock-free queue push+pop, the
//!   latency of waking a parked thread, a park/unpark ping-pong.

mod common;

use common::contenders::{
    Contender, NaivePool, Ours, RayonSpawn, ThreadPerTask, ThreadpoolCrate, Tokio,
};
use common::{spin_10us, spin_for};
use concurrent_futures::{Future, ReturnWhen, wait};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

// ===== measurement helpers =====

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

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes asked for (net) while `f` runs.
fn counted<R>(f: impl FnOnce() -> R) -> (R, isize) {
    LIVE_BYTES.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    COUNTING.store(false, Ordering::SeqCst);
    (r, LIVE_BYTES.load(Ordering::SeqCst))
}

/// CPU time (user + system) of the whole process, every thread included (`getrusage`).
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6
}

// ===== the workloads, generic over the contender =====

/// W1: ns per task to submit `n` empty tasks returning a u64 and wait for all.
fn w1<C: Contender>(workers: usize, n: usize) -> f64 {
    let pool = C::start(workers);
    pool.warm();
    let t = Instant::now();
    let handles: Vec<C::Handle> = (0..n as u64).map(|i| pool.submit(move || i)).collect();
    let sum: u64 = handles.into_iter().map(|h| pool.join(h)).sum();
    let el = t.elapsed();
    assert_eq!(sum, (n as u64) * (n as u64 - 1) / 2);
    el.as_nanos() as f64 / n as f64
}

/// rayon's `scope`: the same work without a handle per task.
fn w1_rayon_scope(workers: usize, n: usize) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap();
    pool.install(|| ());
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

/// W2: submit one task and block on its result, `n` times: p50, p99, p99.9 (µs) and CPU
/// cores used per wall second.
fn w2<C: Contender>(workers: usize, n: usize) -> [f64; 4] {
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

/// W3: `n` tasks of 10 µs consumed in completion order: (× ideal, ms to the first result).
fn w3<C: Contender>(workers: usize, n: usize) -> [f64; 2] {
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

/// The Python documentation's `is_prime`.
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n == 2 {
        return true;
    }
    if n % 2 == 0 {
        return false;
    }
    let sqrt_n = (n as f64).sqrt().floor() as u64;
    (3..=sqrt_n).step_by(2).all(|i| n % i != 0)
}

/// The Python documentation's PRIMES, repeated to `len` items.
fn primes(len: usize) -> Vec<u64> {
    const PRIMES: [u64; 6] = [
        112272535095293,
        112582705942171,
        112272535095293,
        115280095190773,
        115797848077099,
        1099726899285419,
    ];
    PRIMES.iter().copied().cycle().take(len).collect()
}

/// W4: `map(is_prime)` with `chunksize`, as a multiple of `ideal` seconds.
fn w4<C: Contender>(workers: usize, items: &[u64], chunksize: usize, ideal: f64) -> f64 {
    let pool = C::start(workers);
    pool.warm();
    let t = Instant::now();
    let out = pool.map_chunked(items, chunksize, is_prime);
    let el = t.elapsed().as_secs_f64();
    assert_eq!(out, items.iter().map(|&n| is_prime(n)).collect::<Vec<_>>());
    el / ideal
}

/// W5: heap bytes per pending task (handle included) and ns per submit, for `n` tasks queued
/// behind a pool whose workers are all blocked.
fn w5<C: Contender>(workers: usize, n: usize) -> [f64; 2] {
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

/// W6a: ms for one `wait(AllCompleted)` over `n` finished futures.
fn w6_wait_all(n: usize) -> f64 {
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
fn w6_drain(n: usize) -> f64 {
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

// ===== the machine's floor =====

/// ns per uncontended compare-and-swap.
fn floor_cas() -> f64 {
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
fn floor_queue() -> f64 {
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
fn floor_wake() -> f64 {
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
fn floor_ping_pong() -> f64 {
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

// ===== settings =====

#[derive(Clone)]
struct Settings {
    reps: usize,
    workers: usize,
    w1_n: usize,
    w1_thread_n: usize,
    w2_n: usize,
    w3_n: usize,
    w4_len: usize,
    w5_n: usize,
    w6_all_n: usize,
    w6_drains: Vec<usize>,
    only: Option<Vec<String>>,
    workloads: Option<Vec<String>>,
    python: bool,
    mode: &'static str,
}

fn settings() -> Settings {
    let args: Vec<String> = std::env::args().collect();
    let has = |f: &str| args.iter().any(|a| a == f);
    let value = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let list = |f: &str| value(f).map(|v| v.split(',').map(|s| s.trim().to_lowercase()).collect());
    let mut s = Settings {
        reps: 5,
        workers: 2,
        w1_n: 300_000,
        w1_thread_n: 20_000,
        w2_n: 20_000,
        w3_n: 10_000,
        w4_len: 16,
        w5_n: 300_000,
        w6_all_n: 100_000,
        w6_drains: vec![1000, 2000, 4000],
        only: list("--only"),
        workloads: list("--workloads"),
        python: !has("--no-python"),
        mode: "default",
    };
    if has("--quick") {
        s = Settings {
            reps: 3,
            w1_n: 100_000,
            w1_thread_n: 5_000,
            w2_n: 2_000,
            w3_n: 2_000,
            w4_len: 6,
            w5_n: 100_000,
            w6_drains: vec![1000],
            mode: "quick",
            ..s
        };
    } else if has("--full") {
        s = Settings {
            reps: 9,
            w1_n: 1_000_000,
            w2_n: 50_000,
            w4_len: 64,
            w5_n: 1_000_000,
            w6_drains: vec![1000, 2000, 4000, 8000],
            mode: "full",
            ..s
        };
    }
    if let Some(w) = value("--workers") {
        match w.parse::<usize>() {
            Ok(n) if n > 0 => s.workers = n,
            _ => {
                eprintln!("--workers takes a number above zero, not {w:?}");
                std::process::exit(2);
            }
        }
    }
    s
}

impl Settings {
    fn wants(&self, contender: &str) -> bool {
        contender == "ours"
            || self.only.as_ref().is_none_or(|o| {
                o.iter()
                    .any(|p| contender.to_lowercase().starts_with(p.as_str()))
            })
    }
    fn runs(&self, workload: &str) -> bool {
        self.workloads
            .as_ref()
            .is_none_or(|w| w.iter().any(|x| x.eq_ignore_ascii_case(workload)))
    }
}

// ===== results =====

/// One line of the table: a workload's metric.
struct Metric {
    workload: &'static str,
    what: String,
    unit: &'static str,
    /// contender → one value per rep (None: not run that rep)
    samples: BTreeMap<String, Vec<f64>>,
    order: Vec<String>,
}

#[derive(Default)]
struct Results {
    metrics: Vec<Metric>,
}

impl Results {
    fn add(&mut self, workload: &'static str, what: &str, unit: &'static str, who: &str, v: f64) {
        let m = match self
            .metrics
            .iter_mut()
            .position(|m| m.workload == workload && m.what == what)
        {
            Some(i) => &mut self.metrics[i],
            None => {
                self.metrics.push(Metric {
                    workload,
                    what: what.to_string(),
                    unit,
                    samples: BTreeMap::new(),
                    order: Vec::new(),
                });
                self.metrics.last_mut().unwrap()
            }
        };
        if !m.samples.contains_key(who) {
            m.order.push(who.to_string());
        }
        m.samples.entry(who.to_string()).or_default().push(v);
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn fmt(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The table: one row per (metric, contender).
fn table(results: &Results) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "| workload | metric | unit | contender | median | min–max | vs ours |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---:|---:|---:|").unwrap();
    for m in &results.metrics {
        let ours = m.samples.get("ours");
        for who in &m.order {
            let v = &m.samples[who];
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            // The median of the per-rep ratios: each rep's drift hits both alike.
            let ratio = match ours {
                Some(o) if who != "ours" && o.len() == v.len() => {
                    let r: Vec<f64> = v.iter().zip(o).map(|(x, y)| x / y).collect();
                    format!("{:.2}×", median(&r))
                }
                Some(o) if who != "ours" => format!("{:.2}×", median(v) / median(o)),
                _ => String::new(),
            };
            writeln!(
                out,
                "| {} | {} | {} | {who} | {} | {}–{} | {ratio} |",
                m.workload,
                m.what,
                m.unit,
                fmt(median(v)),
                fmt(lo),
                fmt(hi)
            )
            .unwrap();
        }
    }
    out
}

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every raw sample, as JSON.
fn json(results: &Results, s: &Settings, notes: &[String]) -> String {
    let mut out = String::new();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    write!(
        out,
        "{{\n  \"machine\": {{\"cores\": {cores}, \"os\": \"{}\", \"arch\": \"{}\"}},\n  \"settings\": {{\"mode\": \"{}\", \"reps\": {}, \"workers\": {}}},\n  \"notes\": [{}],\n  \"samples\": [\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        s.mode,
        s.reps,
        s.workers,
        notes.iter().map(|n| format!("\"{}\"", json_escape(n))).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    let mut first = true;
    for m in &results.metrics {
        for who in &m.order {
            if !first {
                out.push_str(",\n");
            }
            first = false;
            let vals: Vec<String> = m.samples[who].iter().map(|v| format!("{v}")).collect();
            write!(
                out,
                "    {{\"workload\": \"{}\", \"metric\": \"{}\", \"unit\": \"{}\", \"contender\": \"{}\", \"values\": [{}]}}",
                m.workload,
                json_escape(&m.what),
                m.unit,
                json_escape(who),
                vals.join(", ")
            )
            .unwrap();
        }
    }
    out.push_str("\n  ]\n}\n");
    out
}

/// SVG plots: one bar chart (median, min–max whisker) per metric; W6 drain on log-log axes.
fn plots(results: &Results, dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    use plotters::prelude::*;
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let colour = |i: usize| Palette99::pick(i).to_rgba();
    for (k, m) in results.metrics.iter().enumerate() {
        if m.workload == "W6b" || m.workload == "floor" {
            continue;
        }
        let path = dir.join(format!("{:02}-{}.svg", k, m.workload));
        let names = m.order.clone();
        let stats: Vec<(f64, f64, f64)> = names
            .iter()
            .map(|n| {
                let v = &m.samples[n];
                let (lo, hi) = v
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                (median(v), lo, hi)
            })
            .collect();
        let top = stats.iter().map(|s| s.2).fold(0.0, f64::max) * 1.15 + 1e-9;
        let bottom = stats.iter().map(|s| s.1).fold(f64::MAX, f64::min).max(1e-9);
        let rows = names.len();
        let root = SVGBackend::new(&path, (760, 90 + 46 * rows as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(std::io::Error::other)?;
        let caption = format!("{} {} ({})", m.workload, m.what, m.unit);
        let y = || -0.5..rows as f64 - 0.5;
        let label = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        // Bars: one per contender, at its row, from the axis to the median, with a min–max
        // whisker. A log axis when the values span more than 20×, so small ones stay visible.
        macro_rules! draw {
            ($x:expr, $base:expr) => {{
                let mut chart = ChartBuilder::on(&root)
                    .caption(&caption, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(30)
                    .y_label_area_size(200)
                    .build_cartesian_2d($x, y())
                    .map_err(std::io::Error::other)?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(rows)
                    .y_label_formatter(&label)
                    .x_desc(m.unit)
                    .draw()
                    .map_err(std::io::Error::other)?;
                for (i, (med, lo, hi)) in stats.iter().enumerate() {
                    let row = i as f64;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [($base, row - 0.35), (*med, row + 0.35)],
                            colour(i).filled(),
                        )))
                        .map_err(std::io::Error::other)?;
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(*lo, row), (*hi, row)],
                            BLACK.stroke_width(2),
                        )))
                        .map_err(std::io::Error::other)?;
                }
            }};
        }
        if top / bottom > 20.0 {
            draw!((bottom * 0.5..top * 2.0).log_scale(), bottom * 0.5);
        } else {
            draw!(0.0..top, 0.0);
        }
        root.present().map_err(std::io::Error::other)?;
        drop(root);
        written.push(path);
    }
    // W6b on log-log axes: n vs ms, one line per contender.
    let drains: Vec<&Metric> = results
        .metrics
        .iter()
        .filter(|m| m.workload == "W6b")
        .collect();
    if !drains.is_empty() {
        let path = dir.join("w6-drain-loglog.svg");
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for m in &drains {
            let n: f64 = m.what.trim_start_matches("n=").parse().unwrap_or(1.0);
            for (who, v) in &m.samples {
                series.entry(who.clone()).or_default().push((n, median(v)));
            }
        }
        let ys = series.values().flatten().map(|p| p.1);
        let (ymin, ymax) = ys.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        let xs = series.values().flatten().map(|p| p.0);
        let (xmin, xmax) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let root = SVGBackend::new(&path, (760, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(std::io::Error::other)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "W6b wait(pending, FirstCompleted) drain loop",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (xmin * 0.8..xmax * 1.25).log_scale(),
                (ymin * 0.5..ymax * 2.0).log_scale(),
            )
            .map_err(std::io::Error::other)?;
        chart
            .configure_mesh()
            .x_desc("futures drained (n)")
            .y_desc("ms")
            .draw()
            .map_err(std::io::Error::other)?;
        for (i, (who, pts)) in series.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(std::io::Error::other)?
                .label(who.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .map_err(std::io::Error::other)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(std::io::Error::other)?;
        root.present().map_err(std::io::Error::other)?;
        drop(chart);
        drop(root);
        written.push(path);
    }
    Ok(written)
}

// ===== CPython =====

/// Runs the Python script once (one rep) and adds its figures; `Err` says why it did not.
fn cpython(s: &Settings, heavy: bool, results: &mut Results) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/wait_bench.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(format!("--workers={}", s.workers))
        .arg(format!("--mode={}", s.mode))
        .arg(format!("--w4-len={}", s.w4_len))
        .arg(format!("--w6-all={}", s.w6_all_n))
        .arg(format!(
            "--w6-drains={}",
            s.w6_drains
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ))
        .arg(format!(
            "--workloads={}",
            s.workloads
                .as_ref()
                .map_or("all".to_string(), |w| w.join(","))
        ));
    if heavy {
        cmd.arg("--heavy");
    }
    let out = cmd.output().map_err(|e| format!("no python3 ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "the script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // One line per figure: `workload<TAB>metric<TAB>unit<TAB>contender<TAB>value`.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if let [w, m, u, who, v] = f[..] {
            let Ok(v) = v.parse::<f64>() else { continue };
            let workload = WORKLOADS.iter().copied().find(|x| *x == w).unwrap_or("?");
            let unit = UNITS.iter().copied().find(|x| *x == u).unwrap_or("?");
            results.add(workload, m, unit, who, v);
        }
    }
    Ok(())
}

const WORKLOADS: [&str; 8] = ["W1", "W2", "W3", "W4", "W5", "W6a", "W6b", "floor"];
const UNITS: [&str; 7] = ["ns/task", "µs", "cores", "× ideal", "ms", "B/task", "ns"];

// ===== the run =====

/// Runs every selected contender's version of one workload for one rep.
macro_rules! each_contender {
    ($s:expr, |$c:ident, $name:ident| $body:expr) => {{
        {
            type $c = Ours;
            let $name = <Ours as Contender>::NAME;
            if $s.wants($name) {
                $body
            }
        }
        {
            type $c = RayonSpawn;
            let $name = <RayonSpawn as Contender>::NAME;
            if $s.wants($name) {
                $body
            }
        }
        {
            type $c = ThreadpoolCrate;
            let $name = <ThreadpoolCrate as Contender>::NAME;
            if $s.wants($name) {
                $body
            }
        }
        {
            type $c = Tokio;
            let $name = <Tokio as Contender>::NAME;
            if $s.wants($name) {
                $body
            }
        }
        {
            type $c = NaivePool;
            let $name = <NaivePool as Contender>::NAME;
            if $s.wants($name) {
                $body
            }
        }
    }};
}

fn main() {
    let s = settings();
    let w = s.workers;
    let mut r = Results::default();
    let mut notes = Vec::new();
    let mut python = s.python;

    let steps_per_rep = ["W1", "W2", "W3", "W4", "W5", "W6a", "W6b", "floor"]
        .iter()
        .filter(|x| s.runs(x))
        .count()
        + usize::from(s.python);
    let bar = indicatif::ProgressBar::new((s.reps * steps_per_rep) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} {msg}")
            .unwrap(),
    );
    let items = primes(s.w4_len);
    for rep in 0..s.reps {
        let step = |bar: &indicatif::ProgressBar, what: &str| {
            bar.set_message(format!("rep {}/{}: {what}", rep + 1, s.reps));
        };
        if s.runs("W1") {
            step(&bar, "W1 throughput");
            let what = "submit N empty tasks, wait all";
            each_contender!(s, |C, name| r.add(
                "W1",
                what,
                "ns/task",
                name,
                w1::<C>(w, s.w1_n)
            ));
            if s.wants("rayon scope") {
                r.add(
                    "W1",
                    what,
                    "ns/task",
                    "rayon scope (no handle)",
                    w1_rayon_scope(w, s.w1_n),
                );
            }
            if s.wants("std::thread::spawn") {
                // A thread per task cannot take a million: the same per-task figure on fewer.
                let v = w1::<ThreadPerTask>(w, s.w1_thread_n);
                r.add("W1", what, "ns/task", "std::thread::spawn", v);
            }
            bar.inc(1);
        }
        if s.runs("W2") {
            step(&bar, "W2 latency");
            let trips = s.w2_n;
            let mut add = |name: &str, v: [f64; 4]| {
                r.add("W2", "round trip p50", "µs", name, v[0]);
                r.add("W2", "round trip p99", "µs", name, v[1]);
                r.add("W2", "round trip p99.9", "µs", name, v[2]);
                r.add("W2", "CPU per wall second", "cores", name, v[3]);
            };
            each_contender!(s, |C, name| add(name, w2::<C>(w, trips)));
            if s.wants("std::thread::spawn") {
                add("std::thread::spawn", w2::<ThreadPerTask>(w, trips / 4));
            }
            bar.inc(1);
        }
        if s.runs("W3") {
            step(&bar, "W3 fan-out");
            let n = s.w3_n;
            let mut add = |name: &str, v: [f64; 2]| {
                r.add("W3", "10 µs tasks, completion order", "× ideal", name, v[0]);
                r.add("W3", "time to first result", "ms", name, v[1]);
            };
            each_contender!(s, |C, name| add(name, w3::<C>(w, n)));
            if s.wants("std::thread::spawn") {
                add("std::thread::spawn", w3::<ThreadPerTask>(w, n));
            }
            bar.inc(1);
        }
        if s.runs("W4") {
            step(&bar, "W4 CPU-bound map(is_prime)");
            // The ideal: the better of two inline runs, divided by the workers.
            let inline = (0..2)
                .map(|_| {
                    let t = Instant::now();
                    black_box(items.iter().map(|&n| is_prime(n)).collect::<Vec<bool>>());
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::MAX, f64::min);
            let ideal = inline / w as f64;
            for chunk in [1, 8] {
                let what = format!("map(is_prime) × {}, chunksize {chunk}", items.len());
                each_contender!(s, |C, name| r.add(
                    "W4",
                    &what,
                    "× ideal",
                    name,
                    w4::<C>(w, &items, chunk, ideal)
                ));
            }
            bar.inc(1);
        }
        if s.runs("W5") {
            step(&bar, "W5 memory");
            let n = s.w5_n;
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
            bar.inc(1);
        }
        if s.runs("W6a") {
            step(&bar, "W6a wait over finished futures");
            r.add(
                "W6a",
                &format!("wait(AllCompleted), {} finished", s.w6_all_n),
                "ms",
                "ours",
                w6_wait_all(s.w6_all_n),
            );
            bar.inc(1);
        }
        if s.runs("W6b") {
            step(&bar, "W6b FirstCompleted drain loop");
            for &n in &s.w6_drains {
                r.add("W6b", &format!("n={n}"), "ms", "ours", w6_drain(n));
            }
            bar.inc(1);
        }
        if s.runs("floor") {
            step(&bar, "the machine's floor");
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
            bar.inc(1);
        }
        if python {
            step(&bar, "CPython");
            if let Err(why) = cpython(&s, rep == 0, &mut r) {
                notes.push(format!("CPython skipped: {why}"));
                python = false;
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let version = Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "concurrent-futures comparison, {} run: {} reps, {} workers per pool, {cores} cores{}",
        s.mode,
        s.reps,
        s.workers,
        if s.python && !version.is_empty() {
            format!(", {version}")
        } else {
            String::new()
        }
    );
    println!();
    print!("{}", table(&r));
    println!();
    println!(
        "Medians over reps (min–max); \"vs ours\" is the median of per-rep ratios, above 1× = slower (or larger) than ours."
    );
    println!(
        "Sizes: W1 {} tasks (std::thread::spawn {}), W2 {} round trips, W3 {} tasks, W4 {} items, W5 {} tasks.",
        s.w1_n, s.w1_thread_n, s.w2_n, s.w3_n, s.w4_len, s.w5_n
    );
    if s.python {
        println!(
            "CPython rows use smaller sizes where CPython needs seconds (per-task and normalised figures, so rows compare); its W4 and W6b ran on the first rep only (benches/python/wait_bench.py)."
        );
    }
    for n in &notes {
        println!("{n}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compare");
    let _ = std::fs::create_dir_all(&dir);
    match std::fs::write(dir.join("samples.json"), json(&r, &s, &notes)) {
        Ok(()) => println!("Raw samples: {}", dir.join("samples.json").display()),
        Err(e) => println!("Could not write the samples: {e}"),
    }
    match plots(&r, &dir) {
        Ok(files) => println!("Plots: {} SVG files in {}", files.len(), dir.display()),
        Err(e) => println!("Could not draw the plots: {e}"),
    }
}
